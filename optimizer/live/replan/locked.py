"""The part of the day that stays: each trip's stops that happened or are under way,
as reported, then what is on board, re-sequenced and re-timed from the last of them
(a stop that no longer fits its slot, the shift or the range rides back)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.live.replan.state import LiveState, StopFact, TripFacts, _Failed, _Vehicle
from optimizer.live.replan.times import _clock
from optimizer.model import Break, Plan, Route, Scenario, Stop
from optimizer.planning import vehicle_arrays
from optimizer.routing import RoutingProblem
from optimizer.travel import Profile, TimedLegs, TravelProvider, speed_profile
from optimizer.travel.time_of_day import conservative_s


@dataclass
class _Locked:
    """What locking the plan's trips leaves: the routes kept (locked stops, then what is
    on board), the orders to route again from their node, the failed deliveries to
    settle, the parcels recovered from broken-down vehicles, the stops locked."""

    kept: list[Route] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)
    failed: list[_Failed] = field(default_factory=list)
    recovered: set[str] = field(default_factory=set)
    stops: int = 0


def _lock_trips(
    day: Scenario,
    travel: TravelProvider,
    engine,
    plan: Plan,
    state: LiveState,
    fleet: dict[str, _Vehicle],
    pickups: set[str],
    tail_s: float,
) -> _Locked:
    """Every trip of the plan, vehicle by vehicle: a trip not started (and locked by no
    earlier re-plan) goes back to the pool; one that started is locked (:func:`_lock_trip`)."""
    out = _Locked()
    by_vehicle: dict[str, list[Route]] = {}
    for route in sorted(plan.routes, key=lambda r: (r.vehicle_id, r.start_s)):
        by_vehicle.setdefault(route.vehicle_id, []).append(route)
    for vid, routes in by_vehicle.items():
        trips = state.trips.get(vid, ())
        for k, route in enumerate(routes):
            prior = _prior_facts(route)
            if k >= len(trips) and not prior:
                out.pool += [s.order_id for s in route.stops]
                continue
            facts = trips[k] if k < len(trips) else TripFacts(route.start_s)
            _lock_trip(day, travel, engine, route, facts, prior, fleet[vid],
                       state.now_s, pickups, tail_s, out)  # fmt: skip
    return out


def _lock_trip(
    day: Scenario,
    travel: TravelProvider,
    engine,
    route: Route,
    facts: TripFacts,
    prior: list[StopFact],
    live: _Vehicle,
    now: int,
    pickups: set[str],
    tail_s: float,
    out: _Locked,
) -> None:
    """A trip that started: its stops that happened (and those an earlier re-plan
    locked) stay; what is on board is re-sequenced and kept while it fits, or, the
    vehicle back at its node (or broken down), goes back to the pool. The vehicle's day
    moves on; its failed deliveries and those riding back are to settle."""
    new_facts = [f for f in facts.stops if f.order_id not in {p.order_id for p in prior}]
    facts = replace(facts, stops=tuple(prior + new_facts))
    done = {f.order_id for f in facts.stops}
    rest = [s.order_id for s in route.stops if s.order_id not in done]
    out.stops += len(facts.stops)
    if facts.back_s is not None or live.broken:
        # Back at the node (or stuck): what it did not deliver is at the node.
        out.pool += rest
        if live.broken:
            out.recovered.update(rest)
        rest = []
    if len(rest) > 1:
        rest = _resequence(day, travel, engine, live, facts, rest, tail_s)
    new, carried = _locked_route(day, travel, route, facts, rest, live)
    out.kept.append(new)
    live.used_today = True
    live.trips += 1
    live.used_m += new.distance_m
    live.available_s = max(live.available_s, new.end_s)
    out.failed += _failures(route, new, new_facts, carried, live, now, pickups)


def _failures(
    route: Route,
    new: Route,
    new_facts: list[StopFact],
    carried: list[str],
    live: _Vehicle,
    now: int,
    pickups: set[str],
) -> list[_Failed]:
    """The trip's deliveries to settle: those reported failed since the last re-plan
    (an earlier re-plan placed the earlier ones again) and those riding back. A failed
    parcel is back at the node with its vehicle (or recovered from a broken-down one
    from now); a pickup has nothing riding back: it is retried from now."""
    vid = route.vehicle_id
    failed = []
    ready = now if live.broken else max(now, new.end_s)
    for f in new_facts:
        if f.outcome == "failed":
            up = f.order_id in pickups
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
    return failed


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
    # Its rules as the plan has them (profile, range, costs); no stop limit: what is
    # on board was planned within it, and a stop it cannot fit rides back anyway.
    rules = vehicle_arrays(day, [vehicle])
    node = day.nodes[vehicle.node_id]
    done = [day.orders_by_id[f.order_id] for f in facts.stops]
    orders = [day.orders_by_id[o] for o in rest]
    lat = np.array([node.lat] + [o.lat for o in done + orders])
    lon = np.array([node.lon] + [o.lon for o in done + orders])
    dist, dur = travel.matrices(lat, lon, rules.profiles[0])
    path = [0, *range(1, len(done) + 1)]
    driven = sum(int(dist[a, b]) for a, b in zip(path, path[1:], strict=False))
    start = len(done)  # the last locked stop, or the node
    t = facts.stops[-1].departure_s if facts.stops else facts.start_s
    locations = np.array([start, 0, *range(len(done) + 1, len(done) + 1 + len(orders))])
    grid = np.ix_(locations, locations)
    n = len(orders)
    capacity, demand, pickup = _on_board_loads(day, vt, facts, orders)
    end_s = max(t, vehicle.shift_end_s)
    problem = RoutingProblem(
        distance_m=[dist[grid]],
        **_timed_durations(travel, dur[grid], vt.mode, t, end_s),
        vehicle_profile=np.zeros(1, dtype=np.int64),
        vehicle_start_location=np.zeros(1, dtype=np.int64),
        vehicle_earliest_start_s=np.array([t], dtype=np.int64),
        vehicle_latest_start_s=np.array([t], dtype=np.int64),
        vehicle_latest_end_s=np.array([end_s], dtype=np.int64),
        vehicle_capacity=capacity,  # loaded already (pickups: the load along the rest)
        vehicle_max_distance_m=np.maximum(0, rules.max_distance_m - live.used_m - driven),
        vehicle_fixed_cost_eur=np.zeros(1),
        vehicle_cost_per_m_eur=rules.cost_per_m_eur,
        vehicle_cost_per_s_eur=rules.cost_per_s_eur,
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
        if not ret.kind.one_visit or delivery is None:
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


@dataclass
class _Walk:
    """A trip walked stop by stop: the clock, the stop the vehicle is at (0: its node),
    the metres driven, the stops served as (index, arrival, begin, leave, the fact or
    None) and the tour's planned breaks still ahead as (stops of the rest served before
    it, length in seconds), with the breaks taken."""

    t: int
    at: int = 0
    metres: int = 0
    served: list[tuple[int, int, int, int, StopFact | None]] = field(default_factory=list)
    pauses: list[tuple[int, int]] = field(default_factory=list)
    breaks: list[Break] = field(default_factory=list)

    def pause(self, served: int) -> None:
        """Take the breaks due once ``served`` stops of the rest are served."""
        while self.pauses and self.pauses[0][0] <= served:
            _, length = self.pauses.pop(0)
            self.breaks.append(Break(self.t, self.t + length, len(self.served)))
            self.t += length


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
    dist, free_s = travel.matrices(lat, lon, Profile.of(vt))
    dur = TimedLegs.of(travel, free_s, vt.mode)
    range_m = int(vt.range_m) - live.used_m

    walk = _walk_locked(facts, orders, dist)
    # The tour's planned breaks still ahead, by how many stops come before them.
    walk.pauses = sorted(
        (b.after_stop - len(facts.stops), b.end_s - b.start_s)
        for b in route.breaks
        if b.after_stop >= len(facts.stops) and facts.back_s is None
    )
    carried = _walk_on_board(walk, orders, len(facts.stops), dist, dur,
                             vehicle.shift_end_s, range_m)  # fmt: skip
    walk.metres += int(dist[walk.at, 0])
    end = walk.t + dur(walk.at, 0, walk.t)
    if facts.back_s is not None and not walk.served[len(facts.stops) :] and not live.broken:
        end = facts.back_s  # the trip is over: when it was back is a fact too
    stops, load_kg, load_l = _locked_stops(day, orders, walk.served, dist)
    return (
        Route(
            vehicle_id=vehicle.vehicle_id,
            vehicle_type_id=vt.vehicle_type_id,
            node_id=vehicle.node_id,
            mode=str(vt.mode),
            start_s=facts.start_s,
            end_s=end,
            stops=stops,
            distance_m=walk.metres,
            load_kg=round(load_kg, 3),
            load_l=round(load_l, 3),
            cost_eur=0.0,  # set by _costed, once the vehicle's first route is known
            co2_g=0.0,
            trip=live.trips + 1,
            reload_s=route.reload_s,
            breaks=walk.breaks,
        ),
        carried,
    )


def _timed_durations(
    travel: TravelProvider, free_s: np.ndarray, mode, from_s: int, to_s: int
) -> dict:
    """The one-vehicle problem's durations: free flow, or with a time of day the worst
    hour of ``[from_s, to_s]`` for the engine and the hours for its schedule."""
    hours = speed_profile(travel).of(mode)
    if hours.is_flat:
        return {"duration_s": [free_s]}
    planned = conservative_s(free_s, hours, from_s, to_s)
    return {"duration_s": [planned], "free_flow_s": [free_s], "hours": [hours]}


def _walk_locked(facts: TripFacts, orders: list, dist) -> _Walk:
    """The trip's locked stops as reported (``orders`` starts with theirs)."""
    walk = _Walk(facts.start_s)
    for k, f in enumerate(facts.stops, 1):
        begin = max(f.arrival_s, min(orders[k - 1].slot_start_s, f.departure_s))
        walk.served.append((k, f.arrival_s, begin, f.departure_s, f))
        walk.metres += int(dist[walk.at, k])
        walk.t, walk.at = f.departure_s, k
    return walk


def _walk_on_board(
    walk: _Walk,
    orders: list,
    locked: int,
    dist,
    dur: TimedLegs,
    shift_end_s: int,
    range_m: int,
) -> list[str]:
    """What is on board (``orders`` after the ``locked`` first), re-timed from the last
    locked stop with the breaks still due: a stop is served while its slot, the shift
    (with the breaks still to take) and the range hold, else it rides back. Returns the
    orders that ride back; ends with the breaks not taken yet."""
    carried = []
    if len(orders) > locked:
        walk.pause(0)
    for k in range(locked + 1, len(orders) + 1):
        order = orders[k - 1]
        arrival = walk.t + dur(walk.at, k, walk.t)
        begin = max(arrival, order.slot_start_s)
        leave = begin + order.service_time_s
        pending_s = sum(length for _, length in walk.pauses)  # breaks still to take today
        if (
            begin > order.slot_end_s
            or leave + pending_s + dur(k, 0, leave + pending_s) > shift_end_s
            or walk.metres + int(dist[walk.at, k]) + int(dist[k, 0]) > range_m
        ):
            carried.append(order.order_id)
            continue
        walk.served.append((k, arrival, begin, leave, None))
        walk.metres += int(dist[walk.at, k])
        walk.t, walk.at = leave, k
        walk.pause(len(walk.served) - locked)
    while walk.pauses:  # the tour ended sooner than planned: the break before going back
        walk.pause(walk.pauses[0][0])
    return carried


def _locked_stops(
    day: Scenario, orders: list, served: list[tuple], dist
) -> tuple[list[Stop], float, float]:
    """The trip's stops with the load on board at each, and the load it left with.

    The load of the stops the trip serves (the checker's reading: a parcel riding back
    unserved is no stop of the trip; it fitted when the trip left, with the others)."""
    on_board = [orders[k - 1] for k, *_ in served]
    kg = sum(day.weight_kg(o) for o in on_board)
    litres = sum(day.volume_l(o) for o in on_board)
    load_kg, load_l = kg, litres
    stops, prev = [], 0
    for k, arrival, begin, leave, f in served:
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
    return stops, load_kg, load_l
