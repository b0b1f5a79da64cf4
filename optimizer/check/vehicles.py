"""Vehicles and their tours: in the fleet as the route says, within the shift and the
node's hours, tours not overlapping, within max_trips and the range."""

from __future__ import annotations

from collections import defaultdict

from optimizer.check.figures import EPSILON, _clock, _span
from optimizer.check.records import _Context, _Plan, _Route


def _check_vehicle_identity(ctx: _Context, plan: _Plan) -> None:
    for route in plan.routes:
        vehicle = route.vehicle
        if vehicle is None:
            if route.vehicle_id is not None:
                ctx.flag(
                    "unknown_vehicle",
                    f"{route.label}: no vehicle {route.vehicle_id} in the fleet "
                    "(ids are NODE/TYPE/k)",
                    vehicle_id=route.vehicle_id,
                )
            continue
        mode = ctx.scenario.vehicle_types[vehicle.vehicle_type_id].mode.value
        for key, said, actual in (
            ("node_id", route.node_id, vehicle.node_id),
            ("vehicle_type_id", route.vehicle_type_id, vehicle.vehicle_type_id),
            ("mode", route.mode, mode),
        ):
            if said is not None and said != actual:
                ctx.flag(
                    "vehicle_mismatch",
                    f"{route.label}: {key} is {said!r}, but {vehicle.vehicle_id} has {actual!r}",
                    vehicle_id=vehicle.vehicle_id,
                )


def _check_shifts(ctx: _Context, plan: _Plan) -> None:
    tours: dict[str, list[_Route]] = defaultdict(list)
    for route in plan.routes:
        vehicle, node = route.vehicle, route.base
        if vehicle is None or node is None:
            continue
        vid = vehicle.vehicle_id
        if route.start_s is not None:
            if route.start_s < vehicle.shift_start_s:
                ctx.flag(
                    "before_shift",
                    f"{route.label} leaves at {_clock(route.start_s)}, before the shift "
                    f"starts {_clock(vehicle.shift_start_s)}",
                    vehicle_id=vid,
                )
            if not node.opens_s <= route.start_s <= node.closes_s:
                ctx.flag(
                    "node_closed",
                    f"{route.label} leaves {node.node_id} at {_clock(route.start_s)}, "
                    f"outside its opening hours {_clock(node.opens_s)}-"
                    f"{_clock(node.closes_s)}",
                    vehicle_id=vid,
                )
        done = bool(route.stops) and all(stop.locked for stop in route.stops)
        if route.end_s is not None and route.end_s > vehicle.shift_end_s and not done:
            # (A trip a re-plan found driven to the end is what happened, not a plan.)
            ctx.flag(
                "after_shift_end",
                f"{route.label} is back at {_clock(route.end_s)}, after the shift ends "
                f"{_clock(vehicle.shift_end_s)} "
                f"({_span(route.end_s - vehicle.shift_end_s)} over)",
                vehicle_id=vid,
            )
        if route.start_s is not None and route.end_s is not None:
            tours[vid].append(route)
    for vid, routes in tours.items():
        routes.sort(key=lambda r: (r.start_s, r.index))
        for before, after in zip(routes, routes[1:], strict=False):
            if after.start_s < before.end_s:
                ctx.flag(
                    "vehicle_overlap",
                    f"{after.label} leaves at {_clock(after.start_s)}, before "
                    f"{before.label} is back at {_clock(before.end_s)}",
                    vehicle_id=vid,
                )


def _check_trips(ctx: _Context, plan: _Plan) -> None:
    """Tours per vehicle within its type's max_trips; a later tour leaves (after its
    reload) before the node closes; breaks name a position on their tour."""
    tours: dict[str, list[_Route]] = defaultdict(list)
    for route in plan.routes:
        if route.vehicle is not None:
            tours[route.vehicle.vehicle_id].append(route)
        for b in route.breaks:
            if b.after_stop is not None and b.after_stop > len(route.stops):
                ctx.flag(
                    "malformed",
                    f"{route.label}: a break after stop {b.after_stop} of {len(route.stops)}",
                    vehicle_id=route.vehicle_id,
                )
                b.after_stop = None
    for vid, routes in tours.items():
        vt = routes[0].vehicle_type
        if len(routes) > vt.max_trips:
            ctx.flag(
                "too_many_trips",
                f"{vid} drives {len(routes)} tours, over the {vt.vehicle_type_id}'s "
                f"{vt.max_trips} a shift",
                vehicle_id=vid,
            )
        node = routes[0].base
        for route in routes:
            if route.tour == 1 or route.start_s is None or node is None:
                continue
            leaves_s = route.start_s + vt.reload_s
            if leaves_s > node.closes_s:
                ctx.flag(
                    "node_closed",
                    f"{route.label} leaves {node.node_id} at {_clock(leaves_s)} after its "
                    f"{_span(vt.reload_s)} reload, after it closes {_clock(node.closes_s)}",
                    vehicle_id=vid,
                )


def _check_range(ctx: _Context, plan: _Plan) -> None:
    by_vehicle: dict[str, list[_Route]] = defaultdict(list)
    for route in plan.routes:
        vt = route.vehicle_type
        if route.walk is None or vt is None:
            continue
        if route.walk.distance_m > vt.range_km * 1000 + EPSILON:
            ctx.flag(
                "out_of_range",
                f"{route.label} drives {route.walk.distance_m / 1000:.2f} km, over the "
                f"{vt.vehicle_type_id}'s {vt.range_km:g} km range",
                vehicle_id=route.vehicle_id,
            )
        if route.vehicle is not None:
            by_vehicle[route.vehicle.vehicle_id].append(route)
    for vid, routes in by_vehicle.items():
        vt = routes[0].vehicle_type
        total_m = sum(r.walk.distance_m for r in routes)
        if len(routes) > 1 and total_m > vt.range_km * 1000 + EPSILON:
            ctx.flag(
                "battery_exceeded",
                f"{vid} drives {total_m / 1000:.2f} km in {len(routes)} tours, over its "
                f"{vt.range_km:g} km range for the shift",
                vehicle_id=vid,
            )
