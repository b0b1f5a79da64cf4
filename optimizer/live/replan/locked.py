"""The part of the day that stays: each trip's stops that happened or are under way,
as reported, then what is on board, re-sequenced and re-timed from the last of them
(a stop that no longer fits its slot, the shift or the range rides back)."""

from __future__ import annotations

import math

import numpy as np

from optimizer.live.replan.state import StopFact, TripFacts, _Vehicle
from optimizer.model import Break, ReturnKind, Route, Scenario, Stop
from optimizer.routing import RoutingProblem
from optimizer.travel import Profile, TravelProvider


def _prior_facts(route: Route) -> list[StopFact]:
    """The stops an earlier re-plan locked as done (delivered or failed): facts still."""
    return [
        StopFact(s.order_id, s.outcome, s.arrival_s, s.departure_s)
        for s in route.stops
        if s.locked and s.outcome in ("delivered", "failed")
    ]


def _on_board_loads(day: Scenario, vt, facts: TripFacts, orders: list) -> tuple:
    """Capacity, demand and pickup arrays for re-sequencing what is on board: without
    pickups in the rest, no load to model (it is on board already); with them, the rest
    leaves with its deliveries and boards its pickups within the capacity the returns
    already picked up on this trip leave (grams, millilitres)."""
    n = len(orders)
    returns = day.returns_by_id
    if not any(o.order_id in returns for o in orders):
        return np.ones((1, 1), dtype=np.int64), np.zeros((n, 1), dtype=np.int64), None
    picked = [returns[f.order_id] for f in facts.stops
              if f.order_id in returns and f.outcome == "delivered"]  # fmt: skip
    kg = vt.capacity_kg - sum(day.weight_kg(r) for r in picked)
    litres = vt.capacity_l - sum(day.volume_l(r) for r in picked)
    capacity = np.array([[max(0, int(kg * 1000)), max(0, int(litres * 1000))]], dtype=np.int64)
    size = np.array(
        [[math.ceil(day.weight_kg(o) * 1000), math.ceil(day.volume_l(o) * 1000)] for o in orders],
        dtype=np.int64,
    ).reshape(n, 2)
    is_pickup = np.array([o.order_id in returns for o in orders], dtype=bool)[:, None]
    return capacity, np.where(is_pickup, 0, size), np.where(is_pickup, size, 0)


def _resequence(
    day: Scenario,
    travel: TravelProvider,
    engine,
    live: _Vehicle,
    facts: TripFacts,
    rest: list[str],
    budget_s: float,
) -> list[str]:
    """The order to deliver what is on board in: a routing problem whose one vehicle
    starts at its last locked stop when it leaves it (or at its node when it left) and
    ends at its node, with the range it has left. Stops it cannot fit keep their place
    at the end (the re-timing then decides whether they ride back)."""
    vehicle = live.vehicle
    vt = day.vehicle_types[vehicle.vehicle_type_id]
    node = day.nodes[vehicle.node_id]
    done = [day.orders_by_id[f.order_id] for f in facts.stops]
    orders = [day.orders_by_id[o] for o in rest]
    lat = np.array([node.lat] + [o.lat for o in done + orders])
    lon = np.array([node.lon] + [o.lon for o in done + orders])
    dist, dur = travel.matrices(lat, lon, Profile.of(vt))
    path = [0, *range(1, len(done) + 1)]
    driven = sum(int(dist[a, b]) for a, b in zip(path, path[1:], strict=False))
    start = len(done)  # the last locked stop, or the node
    t = facts.stops[-1].departure_s if facts.stops else facts.start_s
    locations = np.array([start, 0, *range(len(done) + 1, len(done) + 1 + len(orders))])
    grid = np.ix_(locations, locations)
    n = len(orders)
    capacity, demand, pickup = _on_board_loads(day, vt, facts, orders)
    problem = RoutingProblem(
        distance_m=[dist[grid]],
        duration_s=[dur[grid]],
        vehicle_profile=np.zeros(1, dtype=np.int64),
        vehicle_start_location=np.zeros(1, dtype=np.int64),
        vehicle_earliest_start_s=np.array([t], dtype=np.int64),
        vehicle_latest_start_s=np.array([t], dtype=np.int64),
        vehicle_latest_end_s=np.array([max(t, vehicle.shift_end_s)], dtype=np.int64),
        vehicle_capacity=capacity,  # loaded already (pickups: the load along the rest)
        vehicle_max_distance_m=np.array(
            [max(0, int(vt.range_km * 1000) - live.used_m - driven)], dtype=np.int64
        ),
        vehicle_fixed_cost_eur=np.zeros(1),
        vehicle_cost_per_m_eur=np.array([vt.cost_per_km_eur / 1000]),
        vehicle_cost_per_s_eur=np.array([vt.cost_per_hour_eur / 3600]),
        stop_location=np.arange(2, 2 + n, dtype=np.int64),
        stop_demand=demand,
        stop_pickup=pickup,
        stop_service_s=np.array([o.service_time_s for o in orders], dtype=np.int64),
        tw_start_s=np.array([o.slot_start_s for o in orders], dtype=np.int64),
        tw_end_s=np.array([o.slot_end_s for o in orders], dtype=np.int64),
        allowed=np.ones((n, 1), dtype=bool),
        penalty_eur=np.full(n, day.settings.unserved_penalty_eur),
        vehicle_end_location=np.ones(1, dtype=np.int64),
    )
    result = engine.solve(problem, max(0.02, budget_s))
    order = [rest[i] for r in result.routes for i in r.stops]
    last = facts.stops[-1].order_id if facts.stops else None
    return _exchanges_together(day, order + [o for o in rest if o not in order], last)


def _exchanges_together(day: Scenario, rest: list[str], last: str | None) -> list[str]:
    """The on-board stops with each exchange's two halves one visit again: the pickup
    right after its delivery, or first when its delivery (or pickup) is the stop just
    locked (the engine above sequenced them one by one; the re-timing keeps the slots)."""
    out = list(rest)
    for ret in day.returns:
        delivery, pickup = ret.order_id, ret.return_id
        if ret.kind is not ReturnKind.EXCHANGE or delivery is None:
            continue
        if pickup in out and delivery in out:
            out.remove(pickup)
            out.insert(out.index(delivery) + 1, pickup)
        elif last in (delivery, pickup):
            other = pickup if last == delivery else delivery
            if other in out:
                out.remove(other)
                out.insert(0, other)
    return out


def _locked_route(
    day: Scenario,
    travel: TravelProvider,
    route: Route,
    facts: TripFacts,
    rest: list[str],
    live: _Vehicle,
) -> tuple[Route, list[str]]:
    """The trip's locked stops as reported, then what is on board re-timed from the last
    one, keeping a stop only while its slot, the shift and the range still hold. Returns
    the route and the orders that ride back to the node."""
    vehicle = live.vehicle
    vt = day.vehicle_types[vehicle.vehicle_type_id]
    node = day.nodes[vehicle.node_id]
    ids = [f.order_id for f in facts.stops] + rest
    orders = [day.orders_by_id[o] for o in ids]
    lat = np.array([node.lat] + [o.lat for o in orders])
    lon = np.array([node.lon] + [o.lon for o in orders])
    dist, dur = travel.matrices(lat, lon, Profile.of(vt))
    range_m = int(vt.range_km * 1000) - live.used_m

    t, at, metres = facts.start_s, 0, 0
    plan: list[tuple[int, int, int, int, StopFact | None]] = []  # index, arrival, begin, leave
    for k, f in enumerate(facts.stops, 1):
        begin = max(f.arrival_s, min(orders[k - 1].slot_start_s, f.departure_s))
        plan.append((k, f.arrival_s, begin, f.departure_s, f))
        metres += int(dist[at, k])
        t, at = f.departure_s, k
    carried = []
    # The tour's planned breaks still ahead, by how many stops come before them.
    pauses = sorted(
        (b.after_stop - len(facts.stops), b.end_s - b.start_s)
        for b in route.breaks
        if b.after_stop >= len(facts.stops) and facts.back_s is None
    )
    breaks: list[Break] = []

    def pause(t: int, served: int) -> int:
        while pauses and pauses[0][0] <= served:
            _, length = pauses.pop(0)
            breaks.append(Break(t, t + length, len(plan)))
            t += length
        return t

    if rest:
        t = pause(t, 0)
    for k in range(len(facts.stops) + 1, len(ids) + 1):
        order = orders[k - 1]
        arrival = t + int(dur[at, k])
        begin = max(arrival, order.slot_start_s)
        leave = begin + order.service_time_s
        pending_s = sum(length for _, length in pauses)  # breaks still to take today
        if (
            begin > order.slot_end_s
            or leave + pending_s + int(dur[k, 0]) > vehicle.shift_end_s
            or metres + int(dist[at, k]) + int(dist[k, 0]) > range_m
        ):
            carried.append(order.order_id)
            continue
        plan.append((k, arrival, begin, leave, None))
        metres += int(dist[at, k])
        t, at = leave, k
        t = pause(t, len(plan) - len(facts.stops))
    while pauses:  # the tour ended sooner than planned: the break before going back
        t = pause(t, pauses[0][0])
    metres += int(dist[at, 0])
    end = t + int(dur[at, 0])
    if facts.back_s is not None and not plan[len(facts.stops) :] and not live.broken:
        end = facts.back_s  # the trip is over: when it was back is a fact too

    # The load of the stops the trip serves (the checker's reading: a parcel riding back
    # unserved is no stop of the trip; it fitted when the trip left, with the others).
    on_board = [orders[k - 1] for k, *_ in plan]
    kg = sum(day.weight_kg(o) for o in on_board)
    litres = sum(day.volume_l(o) for o in on_board)
    load_kg, load_l = kg, litres
    stops, prev = [], 0
    for k, arrival, begin, leave, f in plan:
        order = orders[k - 1]
        stops.append(
            Stop(
                order_id=order.order_id,
                lat=order.lat,
                lon=order.lon,
                arrival_s=arrival,
                service_start_s=begin,
                departure_s=leave,
                distance_from_prev_m=int(dist[prev, k]),
                load_kg=round(kg, 3),
                load_l=round(litres, 3),
                locked=f is not None,
                outcome=f.outcome if f is not None else None,
            )
        )
        if f is None or f.outcome != "failed":
            kg -= day.weight_kg(order)
            litres -= day.volume_l(order)
        prev = k
    return (
        Route(
            vehicle_id=vehicle.vehicle_id,
            vehicle_type_id=vt.vehicle_type_id,
            node_id=vehicle.node_id,
            mode=str(vt.mode),
            start_s=facts.start_s,
            end_s=end,
            stops=stops,
            distance_m=metres,
            load_kg=round(load_kg, 3),
            load_l=round(load_l, 3),
            cost_eur=0.0,  # set by _costed, once the vehicle's first route is known
            co2_g=0.0,
            trip=live.trips + 1,
            reload_s=route.reload_s,
            breaks=breaks,
        ),
        carried,
    )
