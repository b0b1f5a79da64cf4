"""Click & collect: collected at its own store and ready in time, by the store shuttle
only on a scheduled departure; never delivered by a vehicle."""

from __future__ import annotations

from optimizer.check.figures import _clock
from optimizer.check.records import _Collection, _Context, _Plan
from optimizer.model import Order, Service


def _check_collections(ctx: _Context, plan: _Plan) -> None:
    for c in plan.collections:
        order = ctx.parcel(c.order_id, c.parcel_id)
        if order is None:
            continue
        if order.service is not Service.CLICK_COLLECT:
            ctx.flag(
                "not_click_collect",
                f"{order.order_id} is a {order.service.value} order to deliver, but the "
                f"plan has it collected at {c.node_id}",
                order.order_id,
            )
            continue
        if c.node_id != order.collect_node_id:
            ctx.flag(
                "wrong_collect_node",
                f"{order.order_id} is to be collected at {order.collect_node_id}, "
                f"not at {c.node_id}",
                order.order_id,
            )
        if c.ready_by_s is not None and c.ready_by_s > order.slot_start_s:
            ctx.flag(
                "collect_not_ready",
                f"{order.order_id} is ready at {c.node_id} by {_clock(c.ready_by_s)}, "
                f"after the customer may collect it from {_clock(order.slot_start_s)}",
                order.order_id,
            )
        _check_transfer(ctx, c, order)
    for route in plan.routes:
        for stop in route.stops:
            order = ctx.visit(stop)
            if stop.failed_attempt:
                continue  # its order may have become click & collect since
            if order is not None and order.service is Service.CLICK_COLLECT:
                ctx.flag(
                    "collect_routed",
                    f"{order.order_id} is click & collect at {order.collect_node_id}, "
                    f"but is delivered by {route.label}",
                    order.order_id,
                    route.vehicle_id,
                )


def _check_transfer(ctx: _Context, c: _Collection, order: Order) -> None:
    """A basket by the store shuttle: from the node the order was promised from (when it
    was), another known node, on a scheduled departure, and ready only once the shuttle
    is in (``lead``) and the basket is on the shelf (``prepare``), within the store's
    opening hours (scenario.yaml ``transfers``)."""
    source, shuttle = c.transfer_from_node_id, ctx.scenario.settings.transfer
    promised = order.ship_from_node_id
    if source is None:
        if promised not in (None, c.node_id):
            ctx.flag("bad_transfer", f"{order.order_id} was promised by shuttle from "
                     f"{promised}, but the plan takes it from {c.node_id}'s stock",
                     order.order_id)  # fmt: skip
        return
    problems = []
    if source not in ctx.scenario.nodes or source == c.node_id:
        problems.append(f"{source} is not another node of the scenario")
    elif promised is not None and source != promised:
        problems.append(f"it was promised from {promised}")
    departs = c.transfer_departs_s
    if departs is not None and departs % 86_400 not in shuttle.departures_s:
        problems.append(f"no shuttle leaves at {_clock(departs % 86_400)}")
    if departs is not None and c.ready_by_s is not None:
        earliest = departs + shuttle.lead_s + shuttle.prepare_s
        if c.ready_by_s < earliest:
            problems.append(f"ready by {_clock(c.ready_by_s)}, before {_clock(earliest)} "
                            f"(shuttle in {shuttle.lead_s // 60} min, "
                            f"{shuttle.prepare_s // 60} min to prepare)")  # fmt: skip
    node = ctx.scenario.nodes.get(c.node_id or "")
    arrives = None if departs is None else departs + shuttle.lead_s
    if node is not None and arrives is not None and arrives % 86_400 > node.closes_s:
        problems.append(f"the shuttle is in at {_clock(arrives % 86_400)}, after "
                        f"{node.node_id} closes")  # fmt: skip
    if (
        node is not None
        and c.ready_by_s is not None
        and not (node.opens_s <= c.ready_by_s <= node.closes_s)
    ):
        problems.append(f"ready by {_clock(c.ready_by_s)}, outside {node.node_id}'s hours")
    if problems:
        ctx.flag("bad_transfer", f"{order.order_id} by shuttle from {source} to {c.node_id}: "
                 + "; ".join(problems), order.order_id)  # fmt: skip
