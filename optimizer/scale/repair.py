"""The boundary repair: orders a part could not serve, retried across the borders.

A part sees only its region's nodes, fleet and stock: an order near a border whose part
ran out of room (its vehicles full, its picking used, its share of a SKU given away, no
bike left in its sector) may still be served by a neighbour with a vehicle to spare. So
once the parts are merged, the orders they left unserved (not those no node of the
network can take, :attr:`Decomposition.unassigned`) are planned again, as one more part
(:func:`repair_part`) holding what the day has left: every vehicle no part used, and at
their nodes the stock and picking the merged plan did not take. Nothing the parts
planned is moved, so the repaired day uses no vehicle, unit of stock or parcel of
picking twice (:func:`with_repair` puts the two plans together).

Not retried (kept as the parts left them): click & collect orders (their store is in
one part already), orders promised from a node, and an exchange's delivery (one visit
with its pickup, in its part).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from optimizer.model import Plan, Scenario, Service
from optimizer.scale.decompose import Decomposition, Part
from optimizer.scale.split import fleet_rows, with_picking


def repair_part(scenario: Scenario, decomposition: Decomposition, plan: Plan) -> Part | None:
    """The orders ``plan`` (the parts merged) left unserved that another region might
    serve, with the day's unused vehicles and their nodes' stock and picking left; None
    when there is nothing to retry or no vehicle to spare."""
    network_wide = {u.order_id for u in decomposition.unassigned}
    tied = {r.order_id for r in scenario.returns if scenario.exchange_order(r) is not None}
    orders = []
    for u in plan.unassigned:
        order = scenario.orders_by_id.get(u.order_id)
        if (
            order is not None
            and u.order_id not in network_wide | tied
            and order.service is not Service.CLICK_COLLECT
            and order.ship_from_node_id is None
        ):
            orders.append(order)
    used = {r.vehicle_id for r in plan.routes}
    free = [v for v in scenario.vehicles if v.vehicle_id not in used]
    if not orders or not free:
        return None
    bases = {v.node_id for v in free}
    shipped, parcels = Counter(), Counter()
    for node_id, lines in plan.shipments(scenario):
        parcels[node_id] += 1
        for line in lines:
            shipped[node_id, line.sku] += line.qty
    stock = {
        (n, sku): held - shipped[n, sku]
        for (n, sku), held in scenario.stock.items()
        if n in bases and held > shipped[n, sku]
    }
    nodes = {
        n: with_picking(node, max(0, node.pick_capacity_per_day - parcels[n]))
        for n, node in scenario.nodes.items()
        if n in bases
    }
    # No inbound stock: what arrives may already be promised to the parts' parcels.
    sub = replace(
        scenario,
        nodes=nodes,
        fleet=fleet_rows(free),
        stock=stock,
        orders=orders,
        inbound=[],
        returns=[],
    )
    names = {
        mine.vehicle_id: day.vehicle_id
        for mine, day in zip(sub.vehicles, free, strict=True)
        if mine.vehicle_id != day.vehicle_id
    }
    return Part(
        index=len(decomposition.parts),
        node_ids=sorted(nodes),
        scenario=sub,
        routed_orders=len(orders),
        vehicle_names=names,
    )


def with_repair(plan: Plan, part: Part, repaired: Plan) -> Plan:
    """``plan`` with what the repair part served added (routes under the day's vehicle
    ids); an order the repair could not serve either keeps its part's reason."""
    served = set(repaired.sources) | {p.order_id for p in repaired.parcels.values()}
    routes = [replace(r, vehicle_id=part.global_vehicle_id(r.vehicle_id)) for r in repaired.routes]
    return replace(
        plan,
        routes=sorted(plan.routes + routes, key=lambda r: (r.vehicle_id, r.start_s)),
        sources=plan.sources | repaired.sources,
        decisions=plan.decisions | {o: d for o, d in repaired.decisions.items() if o in served},
        parcels=dict(sorted((plan.parcels | repaired.parcels).items())),
        unassigned=[u for u in plan.unassigned if u.order_id not in served],
        max_split=max(plan.max_split, repaired.max_split),
    )
