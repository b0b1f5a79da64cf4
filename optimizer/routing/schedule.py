"""Timing one vehicle's day: its tours, reloads and break, checked against every rule.

Both engines hand the order of the stops they chose (and, for PyVRP, where the vehicle
reloads) to :func:`schedule_route`, which never trusts them: it keeps a stop only if
the vehicle may serve it and the load and the stops (per tour), the range (whole shift), its window,
the node's dispatch hours and the return by the shift's end all hold; then it times the
day and places the break when the work is long enough to need one (see
:class:`~optimizer.routing.problem.RoutingProblem`): in waiting time when there is
some, else where the delay it causes keeps every later window, and with the departure
as late as it can be without coming back later. When no placement works, it drops the
stop whose removal costs least (the planner lists it as unserved or re-routes it), so a
returned route always holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.routing.problem import BreakResult, RouteResult, RoutingProblem
from optimizer.travel import HourFactors


@dataclass(frozen=True)
class _Timing:
    start_s: int
    end_s: int
    rest: BreakResult | None


@dataclass
class _Vehicle:
    """The figures of vehicle ``v`` the walk needs."""

    dist: np.ndarray
    dur: np.ndarray
    depot: int
    home: int  # where it ends: its depot, unless a re-plan starts it away from it
    earliest: int
    leave_by: int
    latest_end: int
    reload_s: int
    free: np.ndarray | None = None  # free-flow durations, with ``hours`` (time of day)
    hours: HourFactors | None = None

    def leg(self, a: int, b: int, depart_s: int) -> int:
        """Seconds from ``a`` to ``b`` leaving at ``depart_s``."""
        if self.hours is None:
            return int(self.dur[a, b])
        return self.hours.duration_s(depart_s, int(self.free[a, b]))

    @classmethod
    def of(cls, p: RoutingProblem, v: int) -> _Vehicle:
        prof = int(p.vehicle_profile[v])
        earliest = int(p.vehicle_earliest_start_s[v])
        latest_end = int(p.vehicle_latest_end_s[v])
        return cls(
            dist=p.distance_m[prof],
            dur=p.duration_s[prof],
            depot=int(p.vehicle_start_location[v]),
            home=int(p.end_location[v]),
            earliest=earliest,
            leave_by=max(earliest, min(int(p.vehicle_latest_start_s[v]), latest_end)),
            latest_end=latest_end,
            reload_s=p.reload_s(v),
            free=None if p.free_flow_s is None else p.free_flow_s[prof],
            hours=None if p.hours is None else p.hours[prof],
        )


def schedule_route(
    p: RoutingProblem, v: int, trips: list[list[int]]
) -> tuple[RouteResult | None, list[int], float]:
    """The feasible part of vehicle ``v``'s tours, timed.

    Returns the route (None when no stop is kept), the stops left out, and the route's
    cost in euros (fixed cost once, distance, and time from leaving to coming back).
    """
    trips = [list(t) for t in trips if t]
    most = p.max_trips(v)
    if len(trips) > most:  # never from the engines; the walk then keeps what fits
        trips = trips[: most - 1] + [[i for t in trips[most - 1 :] for i in t]]
    kept = _feasible_part(p, v, trips)
    dropped = [i for t in trips for i in t if i not in {j for k in kept for j in k}]
    while kept:
        timing = _timed(p, v, kept)
        if timing is not None:
            break
        kept, left_out = _cheapest_drop(p, v, kept)
        dropped.append(left_out)
    if not kept:
        return None, dropped, 0.0
    route, cost = _route(p, v, kept, timing)
    return route, dropped, cost


def _route(
    p: RoutingProblem, v: int, trips: list[list[int]], timing: _Timing
) -> tuple[RouteResult, float]:
    route = RouteResult(
        vehicle=v,
        stops=[i for t in trips for i in t],
        start_s=timing.start_s,
        trip_sizes=[len(t) for t in trips] if len(trips) > 1 else [],
        rest=timing.rest,
    )
    cost = (
        float(p.vehicle_fixed_cost_eur[v])
        + float(p.vehicle_cost_per_m_eur[v]) * _distance_m(p, v, trips)
        + float(p.vehicle_cost_per_s_eur[v]) * (timing.end_s - timing.start_s)
    )
    return route, cost


def route_cost_eur(p: RoutingProblem, route: RouteResult) -> float:
    """The cost of a route as :func:`schedule_route` returned it (it holds whole)."""
    trips = route.trips()
    timing = _timed(p, route.vehicle, trips)
    return 0.0 if timing is None else _route(p, route.vehicle, trips, timing)[1]


def _whole(p: RoutingProblem, v: int, trips: list[list[int]]) -> tuple[RouteResult, float] | None:
    """The tours timed if every stop holds as they are (no repair), else None."""
    if sum(map(len, _feasible_part(p, v, trips))) != sum(map(len, trips)):
        return None
    timing = _timed(p, v, trips)
    return None if timing is None else _route(p, v, trips, timing)


def _distance_m(p: RoutingProblem, v: int, trips: list[list[int]]) -> int:
    """Metres driven over the tours, depot to depot."""
    veh = _Vehicle.of(p, v)
    metres = 0
    for trip in trips:
        at = veh.depot
        for i in trip:
            loc = int(p.stop_location[i])
            metres += int(veh.dist[at, loc])
            at = loc
        metres += int(veh.dist[at, veh.home])
    return metres


def _feasible_part(p: RoutingProblem, v: int, trips: list[list[int]]) -> list[list[int]]:
    """Walk the tours from the earliest start and keep a stop only if ``v`` may serve it
    and, with it, its tour's load and stop count, the shift's range, its window, the
    tour's departure before the node closes and the return by the shift's end all hold."""
    veh = _Vehicle.of(p, v)
    max_m = int(p.vehicle_max_distance_m[v])
    out: list[list[int]] = []
    t, metres = veh.earliest, 0
    for k, trip in enumerate(trips):
        if k > 0 and out and out[-1]:
            t += veh.reload_s
        if t > veh.leave_by:
            break
        kept: list[int] = []
        at = veh.depot
        for i in trip:
            loc = int(p.stop_location[i])
            begin = max(t + veh.leg(at, loc, t), int(p.tw_start_s[i]))
            leave = begin + int(p.stop_service_s[i])
            if (
                not p.allowed[i, v]
                or len(kept) >= p.max_stops(v)
                or not p.load_fits(v, [*kept, i])
                or metres + int(veh.dist[at, loc]) + int(veh.dist[loc, veh.home]) > max_m
                or begin > p.tw_end_s[i]
                or leave + veh.leg(loc, veh.home, leave) > veh.latest_end
            ):
                continue
            kept.append(i)
            metres += int(veh.dist[at, loc])
            t, at = leave, loc
        if kept:
            metres += int(veh.dist[at, veh.home])
            t += veh.leg(at, veh.home, t)
            out.append(kept)
    return out


def _walk(
    p: RoutingProblem,
    veh: _Vehicle,
    trips: list[list[int]],
    t0: int,
    rest_at: tuple[int, int] | None = None,
    rest_delay_s: int = 0,
) -> tuple[int, int | None, list[tuple[int, int, int]]] | None:
    """Drive the tours leaving at ``t0``, with the break (if ``rest_at``) after stop
    ``rest_at[1]`` of tour ``rest_at[0]``, ``rest_delay_s`` after the vehicle is free.

    Returns (end, break start, events) or None if a window, the node's dispatch hours or
    the shift's end is missed. Events are (wait before, time, latest time) of every
    service start and tour departure, for :func:`_latest_departure`.
    """
    rest_s = p.break_s
    t, rest_start = t0, None
    events: list[tuple[int, int, int]] = []
    for k, trip in enumerate(trips):
        if k > 0:
            t += veh.reload_s
        if rest_at == (k, 0):
            rest_start = t + rest_delay_s
            t = rest_start + rest_s
        if t > veh.leave_by:
            return None
        events.append((0, t, veh.leave_by))
        at = veh.depot
        for j, i in enumerate(trip, 1):
            loc = int(p.stop_location[i])
            arrive = t + veh.leg(at, loc, t)
            begin = max(arrive, int(p.tw_start_s[i]))
            if begin > p.tw_end_s[i]:
                return None
            events.append((begin - arrive, begin, int(p.tw_end_s[i])))
            t, at = begin + int(p.stop_service_s[i]), loc
            if rest_at == (k, j):
                rest_start = t + rest_delay_s
                t = rest_start + rest_s
        t += veh.leg(at, veh.home, t)
    if t > veh.latest_end:
        return None
    return t, rest_start, events


def _latest_departure(veh: _Vehicle, t0: int, events: list[tuple[int, int, int]]) -> int:
    """The latest departure from ``t0`` that comes back no later and keeps every window:
    a delay d moves event k by max(0, d - waits up to k)."""
    delay, waited = veh.leave_by - t0, 0
    for wait, time_s, latest in events:
        waited += wait
        delay = min(delay, waited + latest - time_s)
    return t0 + max(0, min(delay, waited))


def _latest_walk(
    p: RoutingProblem,
    veh: _Vehicle,
    trips: list[list[int]],
    walked: tuple[int, int | None, list[tuple[int, int, int]]],
    rest_at: tuple[int, int] | None = None,
    rest_delay_s: int = 0,
) -> tuple[int, tuple[int, int | None, list[tuple[int, int, int]]]]:
    """The latest departure (:func:`_latest_departure`) and its walk, from ``walked``
    (the walk from the earliest start). With time of day a delay can grow on the way (a
    leg moved into the peak): then, when leaving late misses a window or makes the day
    longer, the vehicle leaves at its earliest."""
    start = _latest_departure(veh, veh.earliest, walked[2])
    late = _walk(p, veh, trips, start, rest_at, rest_delay_s) if start != veh.earliest else None
    if late is None or late[0] - start > walked[0] - veh.earliest:
        return veh.earliest, walked
    return start, late


def _timed(p: RoutingProblem, v: int, trips: list[list[int]]) -> _Timing | None:
    """The cheapest timing of the tours (shortest day), with the break if the day needs
    one; None if no placement of the break holds."""
    veh = _Vehicle.of(p, v)
    walked = _walk(p, veh, trips, veh.earliest)
    if walked is None:
        return None
    start, (end, _, _) = _latest_walk(p, veh, trips, walked)
    if p.break_s <= 0 or end - start <= p.break_over_s:
        return _Timing(start, end, None)
    best: tuple[tuple[int, int, int], _Timing] | None = None
    positions = [(k, j) for k, trip in enumerate(trips) for j in range(len(trip) + 1)]
    for rest_at in positions:
        for late in (False, True):
            timing = _timed_with_rest(p, veh, trips, rest_at, late)
            if timing is None:
                continue
            # The shortest day (its cost), then back as early as possible (stops served
            # early in their slots), then the latest break.
            key = (timing.end_s - timing.start_s, timing.end_s, -positions.index(rest_at))
            if best is None or key < best[0]:
                best = (key, timing)
    return None if best is None else best[1]


def _timed_with_rest(
    p: RoutingProblem, veh: _Vehicle, trips: list[list[int]], rest_at: tuple[int, int], late: bool
) -> _Timing | None:
    """The break at ``rest_at``, as soon as the vehicle is free or, if ``late``, as late as
    the wait at the next door allows; the departure as late as it can be."""
    walked = _walk(p, veh, trips, veh.earliest, rest_at)
    if walked is None:
        return None
    delay = 0
    if late:
        k, j = rest_at
        position = sum(len(t) + 1 for t in trips[:k]) + j  # events index of the next one
        if j < len(trips[k]):
            delay = walked[2][position + 1][0]
        if delay == 0:
            return None  # the same as taking it at once
    walked = _walk(p, veh, trips, veh.earliest, rest_at, delay)
    if walked is None:
        return None
    start, (end, rest_start, _) = _latest_walk(p, veh, trips, walked, rest_at, delay)
    work = p.max_work_before_break_s
    if rest_start - start > work or end - (rest_start + p.break_s) > work:
        return None
    k, j = rest_at
    return _Timing(start, end, BreakResult(k, j, rest_start, p.break_s))


def _cheapest_drop(
    p: RoutingProblem, v: int, trips: list[list[int]]
) -> tuple[list[list[int]], int]:
    """Leave out the one stop whose removal makes the day feasible at least cost (or,
    if none does, the last stop)."""
    veh = _Vehicle.of(p, v)
    best: tuple[float, list[list[int]], int] | None = None
    for k, trip in enumerate(trips):
        for j, i in enumerate(trip):
            rest = [t[:] for t in trips]
            del rest[k][j]
            rest = [t for t in rest if t]
            timing = _timed(p, v, rest) if rest else _Timing(veh.earliest, veh.earliest, None)
            if timing is None:
                continue
            cost = float(p.vehicle_cost_per_m_eur[v]) * _distance_m(p, v, rest) + float(
                p.vehicle_cost_per_s_eur[v]
            ) * (timing.end_s - timing.start_s)
            if best is None or cost < best[0]:
                best = (cost, rest, i)
    if best is not None:
        return best[1], best[2]
    last = trips[-1][-1]
    rest = [t[:] for t in trips]
    rest[-1].pop()
    return [t for t in rest if t], last


def reinsert(
    p: RoutingProblem, routes: list[RouteResult], stops: list[int]
) -> tuple[list[RouteResult], list[int]]:
    """Put back stops the schedule left out (no room for a break on their route) where
    they cost least: into another tour of any vehicle allowed to serve them, or on an
    unused vehicle, if the day then still holds whole. Returns the routes and the stops
    that still fit nowhere."""
    routes = list(routes)
    left: list[int] = []
    for i in stops:
        used = {r.vehicle for r in routes}
        best: tuple[float, int | None, RouteResult] | None = None
        for k, route in enumerate(routes):
            if not p.allowed[i, route.vehicle]:
                continue
            trips = route.trips()
            before = route_cost_eur(p, route)
            for t, trip in enumerate(trips):
                for j in range(len(trip) + 1):
                    tried = [list(x) for x in trips]
                    tried[t].insert(j, i)
                    found = _whole(p, route.vehicle, tried)
                    if found is not None and (best is None or found[1] - before < best[0]):
                        best = (found[1] - before, k, found[0])
        for v in np.flatnonzero(p.allowed[i]):
            if int(v) in used:
                continue
            found = _whole(p, int(v), [[i]])
            if found is not None and (best is None or found[1] < best[0]):
                best = (found[1], None, found[0])
        if best is None:
            left.append(i)
        elif best[1] is None:
            routes.append(best[2])
        else:
            routes[best[1]] = best[2]
    return routes, left
