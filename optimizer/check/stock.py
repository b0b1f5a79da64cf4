"""Nodes: no more shipped of a SKU than held (or inbound in time; made-to-order goods take
no stock), no order leaving before its made-to-order goods are there, no more parcels
than a node can pick in a day."""

from __future__ import annotations

from collections import Counter, defaultdict

from optimizer.check.figures import _clock
from optimizer.check.records import Lines, _Context, _place_lines, _Plan, _stop_lines
from optimizer.model import Node, Order


def _shipments(ctx: _Context, plan: _Plan) -> list[tuple[Order, Node, Lines]]:
    """Every routed or collected parcel (a whole order or a part of a split one) of the
    scenario's orders, with the node it ships from and its lines."""
    out = []
    for order_id, where in plan.places().items():
        order = ctx.order(order_id)
        for place in where:
            node = ctx.scenario.nodes.get(place.node_id or "")
            if order is not None and node is not None and place.status != "unassigned":
                out.append((order, node, _place_lines(order, place)))
    return out


def _check_stock(ctx: _Context, plan: _Plan) -> None:
    shipped: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for order, node, lines in _shipments(ctx, plan):
        for sku, qty in lines:
            if ctx.scenario.lead_time_days(node.node_id, sku) is None:  # else made to order
                shipped[node.node_id, sku].append((order.order_id, qty))
    for (node_id, sku), parts in sorted(shipped.items()):
        qty = sum(q for _, q in parts)
        held = ctx.scenario.stock.get((node_id, sku), 0)
        if qty > held and not _inbound_in_time(ctx, plan, node_id, sku):
            detail = ", ".join(f"{oid} x{q}" for oid, q in parts)
            ctx.flag("stock_exceeded", f"{node_id} ships {qty} x {sku} ({detail}) but holds {held}")


def _check_ready(ctx: _Context, plan: _Plan) -> None:
    """No order with a ready time (``Order.ready_s``: its made-to-order goods at the node)
    leaves before it: not on a tour starting earlier, nor ready for collection earlier."""
    for route in plan.routes:
        for stop in route.stops:
            order = None if stop.pickup else ctx.order(stop.order_id)
            if order is None or order.ready_s is None or route.start_s is None:
                continue
            if route.start_s < order.ready_s:
                ctx.flag("goods_not_ready", f"{route.label} leaves at {_clock(route.start_s)} "
                         f"with {order.order_id}, whose goods are ready at "
                         f"{_clock(order.ready_s)}")  # fmt: skip
    for c in plan.collections:
        order = ctx.order(c.order_id)
        if order is None or order.ready_s is None or c.ready_by_s is None:
            continue
        if c.ready_by_s < order.ready_s:
            ctx.flag("goods_not_ready", f"{order.order_id} is ready for collection at "
                     f"{_clock(c.ready_by_s)}, its goods at {_clock(order.ready_s)}")  # fmt: skip


def _inbound_in_time(ctx: _Context, plan: _Plan, node_id: str, sku: str) -> bool:
    """Whether stock on hand plus the inbound deliveries to the node (``inbound.csv``)
    cover its shipments of the SKU in time: by every shipment's time (a route's start, a
    collection's ready time), what has left is no more than what has arrived."""
    arrivals = sorted((i.arrives_at_s, i.qty) for i in ctx.scenario.inbound
                      if i.node_id == node_id and i.sku == sku)  # fmt: skip
    if not arrivals:
        return False
    # Each parcel once (a whole order, or one part of a split one, with its own lines),
    # when it first leaves: a failed attempt and its retry are one parcel taken once.
    first: dict[str, tuple[int, int]] = {}

    def need(key: str, when: int, lines) -> None:
        q = sum(qty for s, qty in lines if s == sku)
        if key not in first or when < first[key][0]:
            first[key] = (when, q)

    for route in plan.routes:
        if route.node_id == node_id and route.start_s is not None:
            for stop in route.stops:
                order = None if stop.pickup else ctx.order(stop.order_id)
                if order is not None:
                    need(stop.parcel_id or order.order_id, route.start_s, _stop_lines(order, stop))
    for c in plan.collections:
        order = ctx.order(c.order_id)
        if order is not None and c.stock_node_id == node_id:
            when = c.ready_by_s if c.ready_by_s is not None else order.slot_start_s
            lines = c.lines or tuple((x.sku, x.qty) for x in order.lines)
            need(c.parcel_id or order.order_id, when, lines)
    needs = list(first.values())
    supply, shipped, k = ctx.scenario.stock.get((node_id, sku), 0), 0, 0
    for when, q in sorted(needs):
        while k < len(arrivals) and arrivals[k][0] <= when:
            supply += arrivals[k][1]
            k += 1
        shipped += q
        if shipped > supply:
            return False
    return True


def _check_picking(ctx: _Context, plan: _Plan) -> None:
    picked = Counter(node.node_id for _, node, _ in _shipments(ctx, plan))
    for node_id, n in sorted(picked.items()):
        node = ctx.scenario.nodes[node_id]
        if n > node.pick_capacity_per_day:
            ctx.flag(
                "pick_capacity_exceeded",
                f"{node_id} ships {n} parcels, over the {node.pick_capacity_per_day} it can "
                f"pick in a day ({node.pick_capacity_per_hour:g}/h, open "
                f"{_clock(node.opens_s)}-{_clock(node.closes_s)})",
            )
