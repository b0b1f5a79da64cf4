"""Walking a route with the travel model: distances, arrival, slot, service and departure
times, reload and breaks on the way, back by the route's end."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from optimizer.check.figures import TOLERANCE_M, TOLERANCE_S, _clock, _span
from optimizer.check.handling import install_words
from optimizer.check.records import _Context, _Plan, _Route, _Stop, _Walk
from optimizer.model import Order
from optimizer.travel import Profile, speed_profile

HOUR_S = 3600


def _walk_routes(ctx: _Context, plan: _Plan) -> None:
    for route in plan.routes:
        route.walk = _walk(ctx, route)


def _walk(ctx: _Context, route: _Route) -> _Walk | None:
    """Drive the route with the travel model: node, stops, node.

    The walk keeps the plan's own times where they are physically possible (within
    :data:`TOLERANCE_S` per leg for rounding) and the earliest possible ones where they are
    not, so one impossible time is reported once and does not push every later stop.
    """
    orders = [ctx.visit(s) for s in route.stops]
    if route.vehicle_type is None or route.base is None or any(o is None for o in orders):
        return None  # unknown_vehicle, vehicle_mismatch or unknown_order says why
    lat = np.array([route.base.lat] + [o.lat for o in orders], dtype=np.float64)
    lon = np.array([route.base.lon] + [o.lon for o in orders], dtype=np.float64)
    dist_m, dur_s = ctx.travel.matrices(lat, lon, Profile.of(route.vehicle_type))
    hours = speed_profile(ctx.travel).of(route.vehicle_type.mode).factors
    n = len(orders)
    legs = [(k, k + 1) for k in range(n)] + [(n, 0)]
    walk = _Walk(distance_m=int(sum(dist_m[a, b] for a, b in legs)), service_start_s=[])
    _check_distances(ctx, route, orders, [int(dist_m[a, b]) for a, b in legs], walk.distance_m)
    if route.start_s is None:
        return walk
    reload_s = route.vehicle_type.reload_s if route.tour > 1 else 0
    t = _rest(ctx, route, 0, route.start_s + reload_s)
    for k, (stop, order) in enumerate(zip(route.stops, orders, strict=True)):
        arrival_s = _arrival_s(hours, t, int(dur_s[k, k + 1]))
        if k == 0 and reload_s and stop.arrival_s is not None and not stop.locked:
            if stop.arrival_s < arrival_s - TOLERANCE_S:
                ctx.flag(
                    "reload_too_short",
                    f"{route.label} is at {order.order_id} at {_clock(stop.arrival_s)}: "
                    f"reloading {_span(reload_s)} at {route.base.node_id} from "
                    f"{_clock(route.start_s)}, it cannot get there before {_clock(arrival_s)}",
                    order.order_id,
                    route.vehicle_id,
                )
                stop = replace(stop, arrival_s=None)
        service_s, t = _serve(ctx, route, stop, order, arrival_s)
        walk.service_start_s.append(service_s)
        t = _rest(ctx, route, k + 1, t)
    back_s = _arrival_s(hours, t, int(dur_s[n, 0]))
    done = bool(route.stops) and all(stop.locked for stop in route.stops)
    if route.end_s is not None and back_s > route.end_s + TOLERANCE_S and not done:
        ctx.flag(
            "back_after_route_end",
            f"{route.label} cannot be back at {route.base.node_id} before "
            f"{_clock(back_s)}, after the route's end {_clock(route.end_s)}",
            vehicle_id=route.vehicle_id,
        )
    elif route.end_s is None and route.vehicle and back_s > route.vehicle.shift_end_s:
        ctx.flag(
            "after_shift_end",
            f"{route.label} cannot be back before {_clock(back_s)}, after the shift "
            f"ends {_clock(route.vehicle.shift_end_s)}",
            vehicle_id=route.vehicle_id,
        )
    return walk


def _arrival_s(hours: tuple[float, ...], depart_s: int, free_s: int) -> int:
    """When a leg of ``free_s`` free-flow seconds leaving at ``depart_s`` arrives, driven
    at each hour's duration factor (``hours[h]``, local time) for the part of it in that
    hour; rounded up to the second. The checker's own reckoning of the profile."""
    if all(f == 1.0 for f in hours):
        return depart_s + free_s
    t, left = float(depart_s), float(free_s)
    while left > 0:
        hour = int(t // HOUR_S)
        factor, hour_end = hours[hour % len(hours)], (hour + 1) * HOUR_S
        if t + left * factor <= hour_end:
            t, left = t + left * factor, 0.0
        else:
            left -= (hour_end - t) / factor
            t = float(hour_end)
    return math.ceil(t - 1e-6)


def _rest(ctx: _Context, route: _Route, after_stop: int, free_s: int) -> int:
    """Take the breaks the plan puts after ``after_stop`` stops: when the vehicle is free
    at ``free_s`` (a break over service, travel or reload is flagged), until its end."""
    t = free_s
    for b in route.breaks:
        if b.after_stop != after_stop or b.start_s is None or b.end_s is None:
            continue
        if b.start_s < t - TOLERANCE_S:
            ctx.flag(
                "break_overlap",
                f"{route.label}: the break from {_clock(b.start_s)} after stop {after_stop} "
                f"starts before the vehicle is free at {_clock(t)}",
                vehicle_id=route.vehicle_id,
            )
        t = max(t, b.end_s)
    return t


def _check_distances(
    ctx: _Context, route: _Route, orders: list[Order], legs_m: list[int], total_m: int
) -> None:
    for stop, order, leg_m in zip(route.stops, orders, legs_m, strict=False):
        said = stop.distance_from_prev_m
        if said is not None and abs(said - leg_m) > TOLERANCE_M:
            ctx.flag(
                "distance_mismatch",
                f"{order.order_id} on {route.label}: distance_from_prev_m is {said:g} m, "
                f"the travel model gives {leg_m} m",
                order.order_id,
                route.vehicle_id,
            )
    if route.distance_m is not None and abs(route.distance_m - total_m) > TOLERANCE_M * len(legs_m):
        ctx.flag(
            "distance_mismatch",
            f"{route.label}: distance_m is {route.distance_m:g} m, the travel model gives "
            f"{total_m} m for its {len(legs_m)} legs",
            vehicle_id=route.vehicle_id,
        )


def _serve(
    ctx: _Context, route: _Route, stop: _Stop, order: Order, earliest_arrival_s: int
) -> tuple[int, int]:
    """Arrive, wait for the slot, serve, leave: (service start, departure) the plan keeps.

    A locked stop (it happened, or is under way, before a re-plan) keeps its reported
    times: they are facts, not the travel model's; only their order is checked."""
    who = f"{order.order_id} on {route.label}"
    if stop.locked and None not in (stop.arrival_s, stop.service_start_s, stop.departure_s):
        if not stop.arrival_s <= stop.service_start_s <= stop.departure_s:
            ctx.flag(
                "teleport",
                f"{who}: the reported times (arrival {_clock(stop.arrival_s)}, service "
                f"{_clock(stop.service_start_s)}, departure {_clock(stop.departure_s)}) are "
                "not in order",
                order.order_id,
                route.vehicle_id,
            )
        return stop.service_start_s, stop.departure_s
    ids = order.order_id, route.vehicle_id
    arrival_s = _kept(
        ctx, who, ids, "arrival", stop.arrival_s, earliest_arrival_s, "it cannot get there before"
    )
    said_service_s = stop.service_start_s
    if said_service_s is not None and said_service_s < order.slot_start_s:
        ctx.flag(
            "early_stop",
            f"{who}: service starts {_clock(said_service_s)}, before the slot opens "
            f"{_clock(order.slot_start_s)}",
            *ids,
        )
        said_service_s = None
    service_s = _kept(
        ctx,
        who,
        ids,
        "service start",
        said_service_s,
        max(arrival_s, order.slot_start_s),
        "it is not at the door before",
    )
    if service_s > order.slot_end_s:
        ctx.flag(
            "late_stop",
            f"{who}: service starts {_clock(service_s)}, after the slot ends "
            f"{_clock(order.slot_end_s)} ({_span(service_s - order.slot_end_s)} late)",
            *ids,
        )
    installs = "" if stop.pickup else install_words(ctx.scenario, order)
    departure_s = _kept(
        ctx,
        who,
        ids,
        "departure",
        stop.departure_s,
        service_s + order.service_time_s,
        f"service takes {_span(order.service_time_s)}{installs}, it cannot leave before",
        "install_too_short" if installs else "teleport",
    )
    return service_s, departure_s


def _kept(
    ctx: _Context,
    who: str,
    ids: tuple[str, str | None],
    what: str,
    said_s: int | None,
    earliest_s: int,
    because: str,
    code: str = "teleport",
) -> int:
    """The plan's time if it is physically possible, else the earliest possible one
    (flagged as ``code``)."""
    if said_s is None:
        return earliest_s
    if said_s < earliest_s - TOLERANCE_S:
        ctx.flag(
            code,
            f"{who}: {what} {_clock(said_s)} is earlier than possible: {because} "
            f"{_clock(earliest_s)} ({_span(earliest_s - said_s)} too early)",
            *ids,
        )
        return earliest_s
    return said_s
