"""The entry point of the independent checker: :func:`check_plan` reads the plan and runs
the checks of the modules beside it, in order."""

from __future__ import annotations

from optimizer.check.access import _check_access, _check_item_modes
from optimizer.check.breaks import _check_breaks
from optimizer.check.collect import _check_collections
from optimizer.check.costs import _check_route_figures, _route_costs
from optimizer.check.exchanges import _check_exchanges
from optimizer.check.handling import _check_item_handling
from optimizer.check.kpis import _check_kpis, _recompute_kpis
from optimizer.check.loads import _check_capacity, _check_reported_loads
from optimizer.check.orders import _check_assignments, _check_order_coverage, _check_unassigned
from optimizer.check.read import _read_order_changes, _read_plan
from optimizer.check.records import _Context
from optimizer.check.report import CODES, CheckReport, Violation
from optimizer.check.returns import _check_restock, _check_returns
from optimizer.check.stock import _check_picking, _check_ready, _check_stock
from optimizer.check.stops import _check_max_stops
from optimizer.check.vehicles import (
    _check_range,
    _check_shifts,
    _check_trips,
    _check_vehicle_identity,
)
from optimizer.check.walk import _walk_routes
from optimizer.model import Scenario, with_order_changes
from optimizer.travel import TravelProvider, travel_of

__all__ = ["CODES", "CheckReport", "Violation", "check_plan"]


def check_plan(scenario: Scenario, plan: dict, travel: TravelProvider | None = None) -> CheckReport:
    """Check a plan (the parsed ``plan.json``) against its scenario.

    Parameters
    ----------
    scenario
        The day the plan was made for.
    plan
        ``plan.json`` as parsed JSON; anything else is reported, never raised on.
    travel
        The travel model to drive the routes with (default: the one the scenario names,
        :func:`optimizer.travel.travel_of`: its street network, or great-circle with its
        detour factors); use the one the plan was made with.
    """
    ctx = _Context(scenario, travel if travel is not None else travel_of(scenario))
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
        _check_ready,
        _check_picking,
        _check_vehicle_identity,
        _check_shifts,
        _check_access,
        _check_item_modes,
        _check_item_handling,
        _check_capacity,
        _check_reported_loads,
        _check_trips,
        _check_max_stops,
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
