"""The re-plan itself, over order-like units (orders, parcels, returns' pickups): lock
what happened, settle the failed deliveries, route the pool, and write the new plan
and what changed."""

from __future__ import annotations

import time

from optimizer.live.replan.booked import _take_booked_returns
from optimizer.live.replan.ledger import _Ledger, _settle_failed
from optimizer.live.replan.locked import _lock_trips
from optimizer.live.replan.pool import (
    _cheaper_collect,
    _reroute_returns,
    _route_pool,
    _take_new_orders,
    _wait_for_parcels,
)
from optimizer.live.replan.report import ReplanReport, _report
from optimizer.live.replan.state import (
    FailedPolicy,
    LiveState,
    ReplanParams,
    _validate,
    _Vehicle,
)
from optimizer.live.replan.times import _costed, _snap_retry_slots
from optimizer.model import OrderChange, Plan, Route, Scenario, with_order_changes
from optimizer.routing import ENGINES
from optimizer.travel import TravelProvider, travel_of


def _replan(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None,
    travel: TravelProvider | None,
    split: set[str] = frozenset(),
    ends: dict[str, list[str]] | None = None,
    booked: list[str] = (),
) -> tuple[Plan, ReplanReport]:
    """The re-plan itself, over order-like units (orders, parcels, returns' pickups).
    ``ends``: the pickups among the units the plan routed, each with the other end nodes
    it may go to; ``booked``: the returns booked since the plan (units too, their nodes
    still to choose: :mod:`.booked`)."""
    params = params or ReplanParams()
    ends = dict(ends or {})
    travel = travel or travel_of(scenario)
    started = time.perf_counter()
    now = state.now_s
    _validate(scenario, plan, state)
    changes: list[OrderChange] = list(plan.order_changes)
    day = with_order_changes(scenario, changes)
    fleet = _fleet(scenario, state)
    engine = ENGINES[params.engine]()
    # Re-sequencing what is on board: a small share of the budget per vehicle out.
    tail_s = min(0.2, 0.25 * params.time_limit_s / max(1, len(state.trips)))
    locked = _lock_trips(day, travel, engine, plan, state, fleet, set(ends), tail_s)

    new_orders = _new_orders(scenario, plan, split | set(booked))
    book = _Ledger(
        scenario,
        params,
        now,
        dict(plan.sources),
        changes,
        list(plan.collections),
        [u for u in plan.unassigned if u.order_id in scenario.orders_by_id],
    )
    pool = locked.pool + _take_new_orders(day, travel, book, new_orders)
    failed_ids = {f.order_id for f in locked.failed}
    pool = [o for o in pool if o not in failed_ids]
    retry = _settle_failed(book, locked.failed)
    day = book.day
    added, priced = _take_booked_returns(day, book, set(pool), list(booked), locked.kept)
    ends |= added
    units = pool + list(added) + list(retry)
    rerouted = _reroute_returns(day, [o for o in units if o in ends], ends, book.sources, fleet)

    fresh = _route_pool(day, travel, engine, units, book, retry, fleet, locked.recovered, ends,
                        started)  # fmt: skip
    fresh = _wait_for_parcels(travel, fresh, retry, book)
    if params.policy is FailedPolicy.AUTO and retry:
        fresh = _cheaper_collect(travel, fresh, retry, book)
    # Retried slots: the slot (of the order's own length) its new service start falls in.
    book.changes = _snap_retry_slots(scenario, fresh, book.changes)

    new_plan = _new_plan(scenario, plan, book, locked.kept + fresh, engine.name, started)
    report = _report(scenario, plan, new_plan, new_orders, locked.stops)
    report.returns_rerouted = rerouted
    report.returns_added = [{"return_id": r, "candidates": priced.get(r, {})} for r in booked]
    report.solve_s = new_plan.solve_s
    return new_plan, report


def _fleet(scenario: Scenario, state: LiveState) -> dict[str, _Vehicle]:
    """Every vehicle, free from ``now`` (or its shift's start), the broken-down ones
    marked."""
    now = state.now_s
    return {
        v.vehicle_id: _Vehicle(
            v, max(now, v.shift_start_s), broken=v.vehicle_id in state.broken_down
        )
        for v in scenario.vehicles
    }


def _new_orders(scenario: Scenario, plan: Plan, split: set[str]) -> list[str]:
    """The orders confirmed since the plan: neither on a route, collected nor unassigned
    in it (nor a split order, whose parcels are the units)."""
    placed = {s.order_id for r in plan.routes for s in r.stops} | split
    placed |= {c.order_id for c in plan.collections} | {u.order_id for u in plan.unassigned}
    return [o.order_id for o in scenario.orders if o.order_id not in placed]


def _new_plan(
    scenario: Scenario,
    plan: Plan,
    book: _Ledger,
    routes: list[Route],
    engine_name: str,
    started: float,
) -> Plan:
    """The re-planned day: the routes costed, the ledger's collections, unassigned and
    changes, the sources and decisions of what is still placed."""
    routes = _costed(scenario, routes)
    collections, unassigned = book.collections, book.unassigned
    placed_now = {s.order_id for r in routes for s in r.stops if not s.failed_attempt}
    placed_now |= {c.order_id for c in collections}
    sources = {o: n for o, n in book.sources.items() if o in placed_now}
    return Plan(
        scenario_name=plan.scenario_name,
        sources=sources,
        routes=sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)),
        collections=sorted(collections, key=lambda c: c.order_id),
        unassigned=sorted(unassigned, key=lambda u: u.order_id),
        engine=engine_name,
        solve_s=time.perf_counter() - started,
        decisions={o: d for o, d in plan.decisions.items() if o in sources},
        order_changes=sorted(book.changes, key=lambda c: c.order_id),
        replan={"now": scenario.settings.to_iso(book.now), "policy": book.params.policy.value},
    )
