"""Stops per tour: no tour makes more stops than its vehicle type's ``max_stops``.

A stop is a visit at a door: an exchange's delivery and its return's pickup made in one
visit (consecutive stops of the tour, as :mod:`optimizer.check.exchanges` holds them) are
one stop; a failed attempt is a stop too (the driver went there).
"""

from __future__ import annotations

from optimizer.check.records import _Context, _Plan, _Route


def _check_max_stops(ctx: _Context, plan: _Plan) -> None:
    sc = ctx.scenario
    exchange_of: dict[str, str] = {}  # return -> the order delivered in the same visit
    for ret in sc.returns:
        order = sc.exchange_order(ret)
        if order is not None:
            exchange_of[ret.return_id] = order.order_id
    for route in plan.routes:
        vt = route.vehicle_type
        if vt is None or vt.max_stops is None:
            continue
        visits = _visits(route, exchange_of)
        if visits > vt.max_stops:
            ctx.flag(
                "too_many_stops",
                f"{route.label} makes {visits} stops, over the {vt.vehicle_type_id}'s "
                f"{vt.max_stops} a tour (max_stops)",
                vehicle_id=route.vehicle_id,
            )


def _visits(route: _Route, exchange_of: dict[str, str]) -> int:
    """The tour's stops, an exchange's pickup next to its delivery counted with it."""
    stops = route.stops
    together = 0
    for k, stop in enumerate(stops):
        order_id = exchange_of.get(stop.order_id) if stop.pickup else None
        if order_id is None:
            continue
        beside = [stops[j] for j in (k - 1, k + 1) if 0 <= j < len(stops)]
        if any(not s.pickup and s.order_id == order_id for s in beside):
            together += 1
    return len(stops) - together
