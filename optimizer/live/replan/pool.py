"""Routing the pool: the orders to route again from their node (trips not started,
parcels recovered from broken-down vehicles, new orders, retried failed deliveries),
as one routing problem per node over the vehicles that still work, and the fixes
after the solve (a tour waits for a retried parcel; ``auto`` prefers click & collect
when a retry's detour costs more)."""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from optimizer.live.replan.ledger import _Ledger, _nearest_store
from optimizer.live.replan.state import _Failed, _Vehicle
from optimizer.live.replan.times import _retimed, _variable_cost
from optimizer.model import Collection, Route, Scenario, Service, Unassigned
from optimizer.planning import NodeProblem, build_node_problem, fleet_full_unassigned, to_routes
from optimizer.sourcing import GreedySourcing
from optimizer.sourcing.returns import reroute_price_eur
from optimizer.travel import TravelProvider


def _source_new(
    day: Scenario, travel: TravelProvider, sources: dict[str, str], new_orders: list[str]
) -> tuple[dict[str, str], list[Unassigned], list[Collection]]:
    """Nodes for the orders confirmed since the plan: the node they were promised from,
    else the sourcing's choice with the stock the plan already ships held."""
    out: dict[str, str] = {}
    collections: list[Collection] = []
    todo = []
    for order_id in new_orders:
        order = day.orders_by_id[order_id]
        if order.service is Service.CLICK_COLLECT and order.collect_node_id:
            out[order_id] = order.collect_node_id
            collections.append(Collection(order_id, order.collect_node_id, order.slot_start_s))
        elif order.ship_from_node_id:
            out[order_id] = order.ship_from_node_id
        else:
            todo.append(order_id)
    unassigned: list[Unassigned] = []
    if todo:
        sourcing = GreedySourcing(day, travel)
        for order_id, node_id in {**sources, **out}.items():
            sourcing.hold(order_id, node_id)
        chosen = sourcing.assign(todo)
        unassigned += chosen.unassigned
        out.update({o: d.node_id for o, d in chosen.decisions.items()})
        for o, n in chosen.collections.items():
            out[o] = n
            collections.append(Collection(o, n, day.orders_by_id[o].slot_start_s))
    return out, unassigned, collections


def _take_new_orders(
    day: Scenario, travel: TravelProvider, book: _Ledger, new_orders: list[str]
) -> list[str]:
    """The orders confirmed since the plan get a node (:func:`_source_new`), in the
    ledger; returns those to route (not collected, not unassigned)."""
    new_sources, new_unassigned, new_collections = _source_new(
        day, travel, book.sources, new_orders
    )
    book.sources.update(new_sources)
    book.unassigned += new_unassigned
    book.collections += new_collections
    collected_new = {c.order_id for c in new_collections}
    return [o for o in new_orders if o in new_sources and o not in collected_new]


def _route_pool(
    day: Scenario,
    travel: TravelProvider,
    engine,
    units: list[str],
    book: _Ledger,
    retry: dict[str, _Failed],
    fleet: dict[str, _Vehicle],
    recovered: set[str],
    ends: dict[str, list[str]],
    started: float,
) -> list[Route]:
    """Route the pool, node by node, on the vehicles that still work, sharing what is
    left of the budget (counted from ``started``) by the nodes' stops; what no route
    takes is settled in the ledger (:func:`_settle_dropped`). Returns the new tours."""
    by_node: dict[str, list[str]] = {}
    for order_id in units:
        by_node.setdefault(book.sources[order_id], []).append(order_id)
    batches = {
        nid: _node_batch(day, travel, nid, ids, fleet, retry, book.now)
        for nid, ids in by_node.items()
    }
    remaining = max(0.1, book.params.time_limit_s - (time.perf_counter() - started))
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
            _settle_dropped(day, book, retry, recovered, ends, order_id, nid)
    return fresh


def _settle_dropped(
    day: Scenario,
    book: _Ledger,
    retry: dict[str, _Failed],
    recovered: set[str],
    ends: dict[str, list[str]],
    order_id: str,
    node_id: str,
) -> None:
    """An order no new tour of its node takes: a retry falls back (click & collect or
    unassigned), a parcel of a broken-down vehicle is stranded, anything else is
    unassigned (``fleet_full``, saying why)."""
    if order_id in retry:
        book.fall_back(retry, order_id, "no later slot today fits the routes")
    elif order_id in recovered and order_id not in ends:
        book.stranded(order_id, node_id)
    else:
        u = fleet_full_unassigned(day, order_id, node_id)
        if order_id in recovered:
            u.reason = "its vehicle broke down and " + u.reason
        book.unassigned.append(u)
        book.sources.pop(order_id, None)


def _node_batch(
    day: Scenario,
    travel: TravelProvider,
    node_id: str,
    order_ids: list[str],
    fleet: dict[str, _Vehicle],
    retry: dict[str, _Failed],
    now: int,
) -> NodeProblem:
    """The node's routing problem for the rest of the day: its vehicles that still work,
    each leaving no earlier than it is free, with the range it has left and no fixed
    cost if it already drove today; a retried parcel goes on a trip leaving after it is
    back at the node."""
    batch = build_node_problem(day, travel, node_id, order_ids)
    p = batch.problem
    live = [fleet[v.vehicle_id] for v in batch.vehicles]
    # The vehicle rules are the plan's arrays (vehicle_arrays), less what today used.
    # A vehicle back from a tour reloads before the next (the checker's rule too).
    available = [v.available_s + (p.reload_s(k) if v.trips else 0) for k, v in enumerate(live)]
    earliest = np.maximum(p.vehicle_earliest_start_s, available)
    trips_left = np.array([p.max_trips(k) - v.trips for k, v in enumerate(live)])
    node = day.nodes[node_id]
    usable = np.array(
        [
            not v.broken
            and trips_left[k] > 0
            and e < v.vehicle.shift_end_s
            and e <= node.closes_s
            and v.used_m < p.vehicle_max_distance_m[k]
            for k, (v, e) in enumerate(zip(live, earliest, strict=True))
        ],
        dtype=bool,
    )
    allowed = p.allowed & usable[None, :]
    # A retried parcel is back at the node at ready_s: a vehicle that may still leave
    # then may take it (a tour leaving earlier is delayed or loses it, _wait_for_parcels).
    leave_by = np.minimum(p.vehicle_latest_start_s, p.vehicle_latest_end_s)
    for i, order_id in enumerate(batch.order_ids):  # (an exchange's two halves: one stop)
        if order_id in retry:
            allowed[i] &= leave_by >= retry[order_id].ready_s
    problem = replace(
        p,
        vehicle_earliest_start_s=np.minimum(earliest, p.vehicle_latest_end_s).astype(np.int64),
        vehicle_max_distance_m=np.maximum(
            0, p.vehicle_max_distance_m - np.array([v.used_m for v in live], dtype=np.int64)
        ),
        vehicle_fixed_cost_eur=np.where(
            [v.used_today for v in live], 0.0, p.vehicle_fixed_cost_eur
        ),
        allowed=allowed,
        vehicle_max_trips=np.maximum(1, trips_left).astype(np.int64),
    )
    return replace(batch, problem=problem)


def _after_earlier_tours(day: Scenario, live: _Vehicle, route: Route) -> Route:
    """A new tour of a vehicle that already drove today: numbered after its tours, and
    its first new one starts when the vehicle is back, reloading before it leaves."""
    if not live.trips:
        return route
    if route.trip > 1:
        return replace(route, trip=route.trip + live.trips)
    reload_s = day.vehicle_types[route.vehicle_type_id].reload_s
    return replace(route, trip=live.trips + 1, start_s=route.start_s - reload_s, reload_s=reload_s)


def _wait_for_parcels(
    travel: TravelProvider, routes: list[Route], retry: dict[str, _Failed], book: _Ledger
) -> list[Route]:
    """A tour carrying a retried parcel leaves once the parcel is back at the node: the
    tour starts later if all its stops still keep their slots and the shift, else the
    parcel goes to click & collect (or is unassigned)."""
    out = []
    for route in routes:
        ready = max((retry[s.order_id].ready_s for s in route.stops if s.order_id in retry),
                    default=None)  # fmt: skip
        if ready is None or route.start_s + route.reload_s >= ready:
            out.append(route)
            continue
        day = book.day
        later = _retimed(day, travel, replace(route, start_s=ready - route.reload_s), route.stops)
        vehicle = day.vehicles_by_id[route.vehicle_id]
        node = day.nodes[route.node_id]
        if (
            not route.breaks
            and later.end_s <= vehicle.shift_end_s
            and ready <= node.closes_s
            and all(
                s.service_start_s <= day.orders_by_id[s.order_id].slot_end_s for s in later.stops
            )
        ):
            out.append(later)
            continue
        removed = set()
        for stop in route.stops:
            if stop.order_id in retry and retry[stop.order_id].ready_s > route.start_s:
                removed.add(stop.order_id)
                book.fall_back(
                    retry,
                    stop.order_id,
                    "no tour leaves after the parcel is back in time for a later slot",
                )
        kept = [s for s in route.stops if s.order_id not in removed]
        if kept:
            out.append(_retimed(book.day, travel, route, kept))
    return out


def _cheaper_collect(
    travel: TravelProvider, routes: list[Route], retry: dict[str, _Failed], book: _Ledger
) -> list[Route]:
    """``auto``: a retried order whose detour costs more than click & collect (the
    compensation and the store's handling) is offered click & collect instead, when a
    store has the stock. (A failed pickup keeps its later slot.)"""
    params = book.params
    out = []
    for route in routes:
        vt = book.scenario.vehicle_types[route.vehicle_type_id]
        for stop in list(route.stops):
            if stop.order_id not in retry or retry[stop.order_id].pickup:
                continue
            day = book.day
            without = _retimed(day, travel, route, [s for s in route.stops if s is not stop])
            saved = _variable_cost(vt, route) - _variable_cost(vt, without)
            ready = book.now + params.collect_ready_after_s
            store = _nearest_store(day, book.sources, stop.order_id, ready)
            if store is None:
                continue
            collect_eur = params.collect_compensation_eur + day.nodes[store].handling_cost_eur
            if saved > collect_eur:
                book.fall_back(
                    retry, stop.order_id, f"a later slot would cost {saved:.2f} EUR of detour"
                )
                route = without
        if route.stops:
            out.append(route)
    return out


def _can_leave(day: Scenario, live: _Vehicle) -> bool:
    """Whether the vehicle may still leave on a tour today (as :func:`_node_batch` lets
    it): working, a tour left, back and reloaded before its shift and its node end."""
    vehicle = live.vehicle
    vt = day.vehicle_types[vehicle.vehicle_type_id]
    leaves = max(vehicle.shift_start_s, live.available_s + (vt.reload_s if live.trips else 0))
    return (
        not live.broken
        and live.trips < vt.max_trips
        and leaves < vehicle.shift_end_s
        and leaves <= day.nodes[vehicle.node_id].closes_s
        and live.used_m < vt.range_m
    )


def _reroute_returns(
    day: Scenario,
    pickups: list[str],
    ends: dict[str, list[str]],
    sources: dict[str, str],
    fleet: dict[str, _Vehicle],
) -> list[dict]:
    """A pickup still to do whose end node has no vehicle left that may carry it (broken
    down, its tours or shift over) goes to the cheapest other candidate end node that
    has one (out and back with such a vehicle, plus that node's handling: the rule of
    planning, docs/scenario-format.md); ``sources`` is updated. Returns what moved."""
    free: dict[str, set[str]] = {}
    for live in fleet.values():
        if _can_leave(day, live):
            free.setdefault(live.vehicle.node_id, set()).add(live.vehicle.vehicle_id)
    returns = day.returns_by_id
    moved = []
    for rid in pickups:
        node_id = sources[rid]
        if reroute_price_eur(day, returns[rid], node_id, free.get(node_id, set())) < math.inf:
            continue
        prices = {n: reroute_price_eur(day, returns[rid], n, free.get(n, set())) for n in ends[rid]}
        best = min(sorted(prices), key=lambda n: prices[n], default=None)
        if best is None or prices[best] == math.inf:
            continue  # nowhere else: routed from its node, unassigned with the reason
        sources[rid] = best
        moved.append({
            "return_id": rid,
            "from_node_id": node_id,
            "to_node_id": best,
            "reason": f"no vehicle of {node_id} can still pick it up today; {best} can, "
                      f"for {prices[best]:.2f} EUR with its handling",
        })  # fmt: skip
    return moved
