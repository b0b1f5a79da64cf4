"""KPIs recomputed from the plan's routes, collections and unassigned orders, and
compared with those the plan reports."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, NamedTuple

from optimizer.check.costs import _Cost
from optimizer.check.figures import _close, _is_number, _num, _pct, _shown
from optimizer.check.records import _Context, _Plan
from optimizer.check.stock import _shipments
from optimizer.model import UnassignedCode

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
    served = _served(ctx, plan)
    unassigned = served.unassigned
    not_deliverable = sum(1 for code in unassigned.values() if not _deliverable(code))
    deliverable = len(orders) - not_deliverable
    on_time = _on_time(ctx, plan)
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
    handling_eur = _handling_eur(ctx, plan)
    return {
        "orders_total": len(orders),
        "orders_routed": len(served.routed),
        "orders_collected": len(served.collected),
        "orders_unassigned": len(unassigned),
        "orders_deliverable": deliverable,
        "orders_split": len(served.split),
        "parcels_shipped": served.parcels,
        "parcels_unassigned": served.parcels_unassigned,
        # Nothing to serve (or to route) counts as all of it served (on time).
        "served_deliverable_pct": _pct(len(served.routed) + len(served.collected), deliverable),
        "on_time_pct": _pct(len(on_time), len(served.routed)),
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


class _Served(NamedTuple):
    """How the scenario's orders are served: the orders routed, collected, unassigned
    (with their code) and split, and the parcels shipped and left unassigned."""

    routed: set[str]
    collected: set[str]
    unassigned: dict[str, str | None]
    split: set[str]
    parcels: int
    parcels_unassigned: int


def _served(ctx: _Context, plan: _Plan) -> _Served:
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
    return _Served(routed, collected, unassigned, split, parcels, parcels_unassigned)


def _on_time(ctx: _Context, plan: _Plan) -> set[str]:
    """The routed orders whose every parcel is served within its slot."""
    orders = ctx.scenario.orders_by_id
    served_s: dict[str, list[bool]] = defaultdict(list)  # per order, each parcel on time?
    for route in plan.routes:
        if route.walk is None:
            continue
        for stop, service_s in zip(route.stops, route.walk.service_start_s, strict=False):
            if stop.failed_attempt or stop.pickup or stop.order_id not in orders:
                continue
            slot_end_s = ctx.parcel(stop.order_id, stop.parcel_id).slot_end_s
            served_s[stop.order_id].append(service_s <= slot_end_s)
    return {o for o, ok in served_s.items() if all(ok)}  # all its parcels on time


def _handling_eur(ctx: _Context, plan: _Plan) -> float:
    """The nodes' handling of every shipment, and of every return checked back in."""
    handling_eur = sum(node.handling_cost_eur for _, node, _ in _shipments(ctx, plan))
    # A return picked up is checked back into stock at the node its tour ends at.
    handling_eur += sum(
        route.base.handling_cost_eur
        for route in plan.routes
        if route.base is not None
        for s in route.stops
        if s.pickup and not s.failed_attempt and s.order_id in ctx.scenario.returns_by_id
    )
    return handling_eur


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
        ctx.flag("malformed", f"{name} {_shown(said)} is not a number (within 1e15)")
    elif (said != actual) if exact else not _close(said, actual):
        ctx.flag("kpi_mismatch", f"{name} is {_num(said)}, recomputed from the plan {_num(actual)}")


def _deliverable(code: str | None) -> bool:
    return code in {c.value for c in UnassignedCode if c.deliverable}
