"""The independent checker: does a plan hold, re-derived from the scenario alone?

It reads ``plan.json`` as parsed JSON, not the solver's Python objects, so it checks
exactly what the planner wrote, and it shares no code with the solvers: only the model
(:mod:`optimizer.model`) and the travel model (:mod:`optimizer.travel`). A malformed
plan never makes it raise: a missing key or an unreadable value is a violation like
any other, with a message a planner understands.

Times in the plan are ISO 8601 datetimes with a UTC offset; inside the checker they are
seconds since local midnight of the scenario's day, like everywhere in the core.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from optimizer.check.access import _check_access
from optimizer.check.breaks import _check_breaks
from optimizer.check.collect import _check_collections
from optimizer.check.costs import _check_route_figures, _Cost, _route_costs
from optimizer.check.exchanges import _check_exchanges
from optimizer.check.figures import _close, _is_number, _num, _pct
from optimizer.check.loads import _check_capacity, _check_reported_loads
from optimizer.check.orders import _check_assignments, _check_order_coverage, _check_unassigned
from optimizer.check.read import _read_order_changes, _read_plan
from optimizer.check.records import _Context, _Plan
from optimizer.check.report import CODES, CheckReport, Violation
from optimizer.check.returns import _check_restock, _check_returns
from optimizer.check.stock import _check_picking, _check_stock, _shipments
from optimizer.check.vehicles import (
    _check_range,
    _check_shifts,
    _check_trips,
    _check_vehicle_identity,
)
from optimizer.check.walk import _walk_routes
from optimizer.model import Scenario, UnassignedCode, with_order_changes
from optimizer.travel import GreatCircle, TravelProvider

__all__ = ["CODES", "CheckReport", "Violation", "check_plan"]


# --- entry point -------------------------------------------------------------------------


def check_plan(scenario: Scenario, plan: dict, travel: TravelProvider | None = None) -> CheckReport:
    """Check a plan (the parsed ``plan.json``) against its scenario.

    Parameters
    ----------
    scenario
        The day the plan was made for.
    plan
        ``plan.json`` as parsed JSON; anything else is reported, never raised on.
    travel
        The travel model to drive the routes with (default: :class:`GreatCircle`); use
        the one the plan was made with.
    """
    ctx = _Context(scenario, travel if travel is not None else GreatCircle())
    if isinstance(plan, dict) and plan.get("order_changes") is not None:
        changes = _read_order_changes(ctx, plan)
        ctx.scenario = with_order_changes(scenario, changes)
        ctx.parcel_changes = {c.parcel_id: c for c in changes if c.parcel_id is not None}
    parsed = _read_plan(ctx, plan)
    for check in (  # in this order: _check_range needs the routes walked
        _check_order_coverage,
        _check_unassigned,
        _check_assignments,
        _check_collections,
        _check_stock,
        _check_picking,
        _check_vehicle_identity,
        _check_shifts,
        _check_access,
        _check_capacity,
        _check_reported_loads,
        _check_trips,
        _walk_routes,
        _check_range,
        _check_breaks,
        _check_returns,
        _check_restock,
        _check_exchanges,
    ):
        check(ctx, parsed)
    costs = _route_costs(parsed)
    _check_route_figures(ctx, parsed, costs)
    kpis = _recompute_kpis(ctx, parsed, costs)
    if parsed.kpis is not None and len(costs) == len(parsed.routes):
        _check_kpis(ctx, parsed.kpis, kpis)
    return CheckReport(ctx.violations, kpis)


# --- KPIs --------------------------------------------------------------------------------

_COUNT_KPIS = (
    "orders_total",
    "orders_routed",
    "orders_collected",
    "orders_unassigned",
    "orders_deliverable",
    "vehicles_used",
)
# Added with split baskets and returns: compared when the plan reports them (older plans
# do not).
_NEWER_COUNT_KPIS = (
    "orders_split",
    "parcels_shipped",
    "parcels_unassigned",
    "returns_total",
    "returns_routed",
    "returns_unassigned",
)
_FIGURE_KPIS = ("served_deliverable_pct", "on_time_pct", "handling_cost_eur", "cost_eur", "co2_g")
_COUNT_MAP_KPIS = ("vehicles_used_by_mode", "unassigned_by_reason")
_FIGURE_MAP_KPIS = ("distance_km_by_mode", "route_cost_eur_by_mode")


def _recompute_kpis(ctx: _Context, plan: _Plan, costs: dict[int, _Cost]) -> dict[str, Any]:
    orders = ctx.scenario.orders_by_id
    routed = {
        s.order_id
        for r in plan.routes
        for s in r.stops
        if s.order_id in orders and not s.failed_attempt
    }
    parcels = sum(
        1 for r in plan.routes for s in r.stops if s.order_id in orders and not s.failed_attempt
    ) + sum(1 for c in plan.collections if c.order_id in orders)
    split = {o for o, where in plan.places().items() if o in orders and len(where) > 1}
    # An order counts once: routed while a parcel of it is on a route, else collected;
    # unassigned when all of it is (not one parcel left after the others were delivered).
    collected = {c.order_id for c in plan.collections if c.order_id in orders} - routed
    unassigned = {
        u.order_id: u.code for u in plan.unassigned if u.order_id in orders and u.parcel_id is None
    }
    parcels_unassigned = sum(
        1 for u in plan.unassigned if u.order_id in orders and u.parcel_id is not None
    )
    not_deliverable = sum(1 for code in unassigned.values() if not _deliverable(code))
    deliverable = len(orders) - not_deliverable
    served_s: dict[str, list[bool]] = defaultdict(list)  # per order, each parcel on time?
    for route in plan.routes:
        if route.walk is None:
            continue
        for stop, service_s in zip(route.stops, route.walk.service_start_s, strict=False):
            if stop.failed_attempt or stop.pickup or stop.order_id not in orders:
                continue
            slot_end_s = ctx.parcel(stop.order_id, stop.parcel_id).slot_end_s
            served_s[stop.order_id].append(service_s <= slot_end_s)
    on_time = {o for o, ok in served_s.items() if all(ok)}  # all its parcels on time
    distance_km: dict[str, float] = defaultdict(float)
    route_cost_eur: dict[str, float] = defaultdict(float)
    for cost in costs.values():
        distance_km[cost.mode] += cost.km
        route_cost_eur[cost.mode] += cost.cost_eur
    used = {r.vehicle_id for r in plan.routes if r.vehicle_id is not None}
    mode_of = {
        r.vehicle_id: r.vehicle_type.mode.value
        for r in plan.routes
        if r.vehicle_id is not None and r.vehicle_type is not None
    }
    handling_eur = sum(node.handling_cost_eur for _, node, _ in _shipments(ctx, plan))
    # A return picked up is checked back into stock at the node its tour ends at.
    handling_eur += sum(
        route.base.handling_cost_eur
        for route in plan.routes
        if route.base is not None
        for s in route.stops
        if s.pickup and not s.failed_attempt and s.order_id in ctx.scenario.returns_by_id
    )
    return {
        "orders_total": len(orders),
        "orders_routed": len(routed),
        "orders_collected": len(collected),
        "orders_unassigned": len(unassigned),
        "orders_deliverable": deliverable,
        "orders_split": len(split),
        "parcels_shipped": parcels,
        "parcels_unassigned": parcels_unassigned,
        # Nothing to serve (or to route) counts as all of it served (on time).
        "served_deliverable_pct": _pct(len(routed) + len(collected), deliverable),
        "on_time_pct": _pct(len(on_time), len(routed)),
        "distance_km_by_mode": dict(distance_km),
        "route_cost_eur_by_mode": dict(route_cost_eur),
        "handling_cost_eur": handling_eur,
        "cost_eur": sum(route_cost_eur.values()) + handling_eur,
        "co2_g": sum(cost.co2_g for cost in costs.values()),
        "vehicles_used": len(used),
        "vehicles_used_by_mode": dict(Counter(mode_of.values())),
        "unassigned_by_reason": dict(Counter(c for c in unassigned.values() if c is not None)),
        "returns_total": len(ctx.scenario.returns),
        "returns_routed": len(
            {
                s.order_id
                for r in plan.routes
                for s in r.stops
                if s.pickup and not s.failed_attempt and s.order_id in ctx.scenario.returns_by_id
            }
        ),
        "returns_unassigned": sum(
            1
            for _, row in plan.returns or []
            if row.get("status") == "unassigned"
            and row.get("return_id") in ctx.scenario.returns_by_id
        ),
    }


def _check_kpis(ctx: _Context, said: dict, kpis: dict[str, Any]) -> None:
    for key in _COUNT_KPIS + _FIGURE_KPIS:
        _check_kpi(ctx, f"kpis.{key}", said.get(key), kpis[key], exact=key in _COUNT_KPIS)
    for key in _NEWER_COUNT_KPIS:
        if key in said:
            _check_kpi(ctx, f"kpis.{key}", said[key], kpis[key], exact=True)
    for key in _COUNT_MAP_KPIS + _FIGURE_MAP_KPIS:
        reported = said.get(key)
        if not isinstance(reported, dict):
            what = "is missing" if reported is None else "is not an object"
            ctx.flag("malformed", f"kpis.{key} {what}")
            continue
        for k in sorted(set(reported) | set(kpis[key]), key=str):
            _check_kpi(
                ctx,
                f"kpis.{key}.{k}",
                reported.get(k, 0),
                kpis[key].get(k, 0),
                exact=key in _COUNT_MAP_KPIS,
            )


def _check_kpi(ctx: _Context, name: str, said: Any, actual: float, exact: bool) -> None:
    if said is None:
        ctx.flag("malformed", f"{name} is missing")
    elif not _is_number(said):
        ctx.flag("malformed", f"{name} {said!r} is not a number")
    elif (said != actual) if exact else not _close(said, actual):
        ctx.flag("kpi_mismatch", f"{name} is {_num(said)}, recomputed from the plan {_num(actual)}")


# --- small helpers -----------------------------------------------------------------------


def _deliverable(code: str | None) -> bool:
    return code in {c.value for c in UnassignedCode if c.deliverable}
