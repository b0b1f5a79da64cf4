"""The re-plan itself, over order-like units (orders, parcels, returns' pickups): lock
what happened, settle the failed deliveries, route the pool, and write the new plan
and what changed."""

from __future__ import annotations

import time
from dataclasses import replace

from optimizer.live.replan.ledger import _Ledger
from optimizer.live.replan.locked import _locked_route, _prior_facts, _resequence
from optimizer.live.replan.pool import (
    _after_earlier_tours,
    _cheaper_collect,
    _node_batch,
    _reroute_returns,
    _source_new,
    _wait_for_parcels,
)
from optimizer.live.replan.report import ReplanReport, _report
from optimizer.live.replan.state import (
    FailedPolicy,
    LiveState,
    ReplanParams,
    TripFacts,
    _Failed,
    _validate,
    _Vehicle,
)
from optimizer.live.replan.times import _clock, _costed, _later_window, _snap_retry_slots
from optimizer.model import OrderChange, Plan, Route, Scenario, with_order_changes
from optimizer.planning import fleet_full_unassigned, to_routes
from optimizer.routing import ENGINES
from optimizer.travel import GreatCircle, TravelProvider


def _replan(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None,
    travel: TravelProvider | None,
    split: set[str] = frozenset(),
    ends: dict[str, list[str]] | None = None,
) -> tuple[Plan, ReplanReport]:
    """The re-plan itself, over order-like units (orders, parcels, returns' pickups).
    ``ends``: the pickups among the units, each with the other end nodes it may go to."""
    params = params or ReplanParams()
    ends = ends or {}
    pickups = set(ends)
    travel = travel or GreatCircle()
    started = time.perf_counter()
    now = state.now_s
    _validate(scenario, plan, state)
    changes: list[OrderChange] = list(plan.order_changes)
    day = with_order_changes(scenario, changes)
    sources = dict(plan.sources)

    by_vehicle: dict[str, list[Route]] = {}
    for route in sorted(plan.routes, key=lambda r: (r.vehicle_id, r.start_s)):
        by_vehicle.setdefault(route.vehicle_id, []).append(route)

    fleet = {
        v.vehicle_id: _Vehicle(
            v, max(now, v.shift_start_s), broken=v.vehicle_id in state.broken_down
        )
        for v in scenario.vehicles
    }
    engine = ENGINES[params.engine]()
    # Re-sequencing what is on board: a small share of the budget per vehicle out.
    tail_s = min(0.2, 0.25 * params.time_limit_s / max(1, len(state.trips)))
    kept: list[Route] = []
    pool: list[str] = []  # orders to route again from their node
    failed: list[_Failed] = []
    recovered: set[str] = set()  # parcels of broken-down vehicles
    locked = 0
    for vid, routes in by_vehicle.items():
        live = fleet[vid]
        trips = state.trips.get(vid, ())
        for k, route in enumerate(routes):
            prior = _prior_facts(route)
            if k >= len(trips) and not prior:
                pool += [s.order_id for s in route.stops]
                continue
            facts = trips[k] if k < len(trips) else TripFacts(route.start_s)
            new_facts = [f for f in facts.stops if f.order_id not in {p.order_id for p in prior}]
            facts = replace(facts, stops=tuple(prior + new_facts))
            done = {f.order_id for f in facts.stops}
            rest = [s.order_id for s in route.stops if s.order_id not in done]
            locked += len(facts.stops)
            if facts.back_s is not None or live.broken:
                # Back at the node (or stuck): what it did not deliver is at the node.
                pool += rest
                if live.broken:
                    recovered.update(rest)
                rest = []
            if len(rest) > 1:
                rest = _resequence(day, travel, engine, live, facts, rest, tail_s)
            new, carried = _locked_route(day, travel, route, facts, rest, live)
            kept.append(new)
            live.used_today = True
            live.trips += 1
            live.used_m += new.distance_m
            live.available_s = max(live.available_s, new.end_s)
            # A failed parcel is back at the node with its vehicle (or recovered from a
            # broken-down one from now).
            ready = now if live.broken else max(now, new.end_s)
            for f in new_facts:  # (an earlier re-plan placed the earlier ones again)
                if f.outcome == "failed":
                    up = f.order_id in pickups  # nothing rides back: retried from now
                    failed.append(
                        _Failed(
                            f.order_id,
                            route.node_id,
                            now if up else ready,
                            f"{'pickup' if up else 'delivery'} failed "
                            f"({f.failure_reason or 'other'}) at {_clock(f.arrival_s)} on {vid}",
                            up,
                        )
                    )
            for order_id in carried:
                up = order_id in pickups
                failed.append(
                    _Failed(
                        order_id,
                        route.node_id,
                        now if up else new.end_s,
                        f"{vid} runs too late to "
                        + (
                            "pick it up in its slot"
                            if up
                            else f"deliver it in its slot; it rides back to {route.node_id}"
                        ),
                        up,
                    )  # fmt: skip
                )

    placed = {s.order_id for r in plan.routes for s in r.stops} | split
    placed |= {c.order_id for c in plan.collections} | {u.order_id for u in plan.unassigned}
    new_orders = [o.order_id for o in scenario.orders if o.order_id not in placed]
    book = _Ledger(
        scenario,
        params,
        now,
        sources,
        changes,
        list(plan.collections),
        [u for u in plan.unassigned if u.order_id in scenario.orders_by_id],
    )
    new_sources, new_unassigned, new_collections = _source_new(day, travel, sources, new_orders)
    sources.update(new_sources)
    book.unassigned += new_unassigned
    book.collections += new_collections
    collected_new = {c.order_id for c in new_collections}
    pool += [o for o in new_orders if o in new_sources and o not in collected_new]

    # Failed deliveries: a later slot (routed with the pool), or click & collect. A
    # failed pickup: a later slot, else unassigned.
    failed_ids = {f.order_id for f in failed}
    pool = [o for o in pool if o not in failed_ids]
    retry: dict[str, _Failed] = {}
    for f in failed:
        if params.policy is FailedPolicy.CLICK_AND_COLLECT and not f.pickup:
            book.collect_or_give_up(f)
            continue
        window = _later_window(book.day.orders_by_id[f.order_id], f.ready_s, params)
        if window is None:
            book.collect_or_give_up(f)
            continue
        retry[f.order_id] = f
        book.retry(f, window)
    day = book.day
    rerouted = _reroute_returns(day, [o for o in pool + list(retry) if o in ends], ends,
                                sources, fleet)  # fmt: skip

    # Route the pool, node by node, on the vehicles that still work.
    by_node: dict[str, list[str]] = {}
    for order_id in pool + list(retry):
        by_node.setdefault(sources[order_id], []).append(order_id)
    batches = {
        nid: _node_batch(day, travel, nid, ids, fleet, retry, now) for nid, ids in by_node.items()
    }
    remaining = max(0.1, params.time_limit_s - (time.perf_counter() - started))
    total = sum(b.problem.num_stops for b in batches.values()) or 1
    results = {
        nid: engine.solve(b.problem, max(0.05, remaining * b.problem.num_stops / total))
        for nid, b in batches.items()
        if b.problem.num_stops
    }
    fresh: list[Route] = []
    for nid, batch in sorted(batches.items()):
        result = results.get(nid)
        dropped = (  # (an exchange's stop drops both halves)
            [u for i in result.dropped for u in batch.members(i)] if result else batch.unit_ids
        )
        if result is not None:
            fresh += [
                _after_earlier_tours(day, fleet[r.vehicle_id], r)
                for r in to_routes(day, batch, result)
            ]
        for order_id in dropped:
            if order_id in retry:
                book.fall_back(retry, order_id, "no later slot today fits the routes")
            elif order_id in recovered and order_id not in ends:
                book.stranded(order_id, nid)
            else:
                u = fleet_full_unassigned(day, order_id, nid)
                if order_id in recovered:
                    u.reason = "its vehicle broke down and " + u.reason
                book.unassigned.append(u)
                sources.pop(order_id, None)

    fresh = _wait_for_parcels(travel, fresh, retry, book)
    if params.policy is FailedPolicy.AUTO and retry:
        fresh = _cheaper_collect(travel, fresh, retry, book)
    # Retried slots: the slot (of the order's own length) its new service start falls in.
    changes = book.changes = _snap_retry_slots(scenario, fresh, book.changes)
    collections, unassigned = book.collections, book.unassigned

    routes = _costed(scenario, kept + fresh)
    placed_now = {s.order_id for r in routes for s in r.stops if not s.failed_attempt}
    placed_now |= {c.order_id for c in collections}
    sources = {o: n for o, n in sources.items() if o in placed_now}
    new_plan = Plan(
        scenario_name=plan.scenario_name,
        sources=sources,
        routes=sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)),
        collections=sorted(collections, key=lambda c: c.order_id),
        unassigned=sorted(unassigned, key=lambda u: u.order_id),
        engine=engine.name,
        solve_s=time.perf_counter() - started,
        decisions={o: d for o, d in plan.decisions.items() if o in sources},
        order_changes=sorted(changes, key=lambda c: c.order_id),
        replan={"now": scenario.settings.to_iso(now), "policy": params.policy.value},
    )
    report = _report(scenario, plan, new_plan, new_orders, locked)
    report.returns_rerouted = rerouted
    report.solve_s = new_plan.solve_s
    return new_plan, report
