"""Exchanges: a delivery and its return's pickup, both routed, are one visit."""

from __future__ import annotations

from collections import defaultdict

from optimizer.check.records import _Context, _Plan, _Route
from optimizer.model import Order, Scenario, Service


def _check_exchanges(ctx: _Context, plan: _Plan) -> None:
    """An exchange is one visit: when its delivery order is routed whole (one stop, not a
    failed attempt) and its pickup is routed too, they are consecutive stops of the same
    tour (the delivery then the pickup, or the reverse). Not held to it: exchanges that
    cannot be one visit (:meth:`Scenario.exchange_order`: not at the order's address or
    slot), split orders, and a pair no vehicle type of the delivery's node may serve
    both halves of (service, zones, size)."""
    sc = ctx.scenario
    deliveries: dict[str, list[tuple[_Route, int]]] = defaultdict(list)
    pickups: dict[str, list[tuple[_Route, int]]] = defaultdict(list)
    for route in plan.routes:
        for k, stop in enumerate(route.stops):
            if stop.order_id is None or stop.failed_attempt:
                continue
            if stop.pickup:
                pickups[stop.order_id].append((route, k))
            elif stop.parcel_id in (None, stop.order_id):
                deliveries[stop.order_id].append((route, k))
    for ret in sc.returns:
        order = sc.exchange_order(ret)
        if order is None:
            continue
        there, back = deliveries.get(order.order_id, []), pickups.get(ret.return_id, [])
        if not there or not back:
            continue
        if any(r is q and abs(k - j) == 1 for r, k in there for q, j in back):
            continue
        (r, k), (q, j) = there[0], back[0]
        if not _one_vehicle_may_serve(sc, order, ret, r.node_id):
            continue
        where = (
            f"stops {k + 1} and {j + 1} of {r.label}"
            if r is q
            else f"stop {k + 1} of {r.label} and stop {j + 1} of {q.label}"
        )
        ctx.flag(
            "exchange_apart",
            f"exchange {ret.return_id}: the delivery of {order.order_id} and its pickup are "
            f"{where}, not one visit (consecutive stops of one tour)",
            ret.return_id,
            q.vehicle_id,
        )


def _one_vehicle_may_serve(sc: Scenario, order: Order, ret, node_id: str | None) -> bool:
    """Whether a vehicle type of the node's fleet may deliver the order and pick up the
    return (any service may pick up; zones, and the items' crew and equipment, apply to
    both)."""
    zones = sc.zones_at(order.lat, order.lon)
    for entry in sc.fleet:
        vt = sc.vehicle_types.get(entry.vehicle_type_id)
        if entry.node_id != node_id or vt is None:
            continue
        delivery = (order.service, sc.weight_kg(order), sc.volume_l(order), zones)
        pickup = (Service.ECO, sc.weight_kg(ret), sc.volume_l(ret), zones)
        if vt.may_carry(*delivery, sc.item_needs(order.lines)) and vt.may_carry(
            *pickup, sc.pickup_needs(ret)
        ):
            return True
    return False
