"""Re-planning a day with pickups: each routed return is an order-like stop of its end
node, re-planned like an order, and so is each return booked since the plan
(:mod:`.booked`); the return rows and the loads along the new routes follow."""

from __future__ import annotations

from dataclasses import replace

from optimizer.live.replan.parcels import _replan_parcels
from optimizer.model import (
    Plan,
    ReturnAssignment,
    Route,
    Scenario,
    Stop,
    Unassigned,
    UnassignedCode,
)
from optimizer.sourcing.returns import candidate_nodes


def _replan_returns(
    scenario, plan, state, params, travel, picked: dict[str, str], booked: list[str] = ()
):
    """Re-plan a day with pickups: each routed return is an order-like stop of its end
    node (as in planning), locked, kept on board or re-routed from that node like an
    order; a failed pickup is retried in a later slot today, else unassigned with the
    reason. Returns the plan unassigned in the morning stay so. A return ``booked`` since
    the plan is routed like a new order or unassigned with the reason (:mod:`.booked`);
    its row is added. The loads along the new routes are walked again (a tour leaves
    with its deliveries; pickups board)."""
    returns = scenario.returns_by_id
    stops = [returns[r].as_stop() for r in [*picked, *booked]]
    units = replace(scenario, orders=scenario.orders + stops)
    # The other end nodes a return may go to when its node can no longer send a vehicle.
    shipped = plan.sources | {p.order_id: p.node_id for p in plan.parcels.values()}
    ends = {
        r: [n for n in candidate_nodes(scenario, returns[r], shipped) if n != node_id]
        for r, node_id in picked.items()
    }
    new, report = _replan_parcels(
        units, replace(plan, sources=plan.sources | picked), state, params, travel, ends, booked
    )
    new.routes = [_walk_loads(scenario, new, r) for r in new.routes]
    pickups = set(picked) | set(booked)
    new.sources = {o: n for o, n in new.sources.items() if o not in pickups}
    dropped = {u.order_id: u for u in new.unassigned if u.order_id in pickups}
    new.unassigned = [u for u in new.unassigned if u.order_id not in pickups]
    on_route = {
        s.order_id: r for r in new.routes for s in r.stops if s.is_pickup and not s.failed_attempt
    }
    rows = []
    for row in plan.returns:
        if row.return_id in on_route:
            route = on_route[row.return_id]
            rows.append(replace(row, status="routed", node_id=route.node_id,
                                vehicle_id=route.vehicle_id, code=None, reason=None))  # fmt: skip
        elif row.return_id in picked and (row.return_id in dropped or row.status == "routed"):
            why = dropped.get(row.return_id)
            rows.append(replace(
                row, status="unassigned", vehicle_id=None,
                code=str(why.code) if why else UnassignedCode.FLEET_FULL.value,
                reason=why.reason if why else "the re-plan could not keep the pickup on a route",
            ))  # fmt: skip
        else:  # unassigned in the morning, or given up by an earlier re-plan (its
            rows.append(row)  # failed attempt still on a route): as it was
    added = _booked_rows(report.returns_added, on_route, dropped)
    new.returns = rows + added
    report.returns_added = [{k: v for k, v in vars(row).items() if v is not None} for row in added]
    return new, report


def _booked_rows(
    added: list[dict], on_route: dict[str, Route], dropped: dict[str, Unassigned]
) -> list[ReturnAssignment]:
    """The rows of the returns booked since the plan (``added``: return and priced
    candidates): routed, or unassigned with the re-plan's code and reason."""
    rows = []
    for entry in added:
        rid, candidates = entry["return_id"], entry["candidates"]
        if rid in on_route:
            route = on_route[rid]
            rows.append(ReturnAssignment(rid, "routed", route.node_id, route.vehicle_id,
                                         candidates=candidates))  # fmt: skip
            continue
        why = dropped.get(rid)
        rows.append(ReturnAssignment(
            rid, "unassigned", why.node_id if why else None, None,
            code=str(why.code) if why else UnassignedCode.FLEET_FULL.value,
            reason=why.reason if why else "booked after the plan: the re-plan could not "
            "route the pickup",
            candidates=candidates,
        ))  # fmt: skip
    return rows


def _walk_loads(scenario: Scenario, plan: Plan, route: Route) -> Route:
    """The route with its pickups marked and the load on board walked along it: it
    leaves with its deliveries, a delivery leaves (not a failed attempt's), a pickup
    boards."""
    returns = scenario.returns_by_id
    if not any(s.order_id in returns for s in route.stops):
        return route
    cat = scenario.catalogue

    def size(stop: Stop) -> tuple[float, float]:
        if stop.order_id in returns:
            lines = returns[stop.order_id].lines
        elif stop.parcel_id in plan.parcels:
            lines = plan.parcels[stop.parcel_id].lines
        else:
            lines = scenario.orders_by_id[stop.order_id].lines
        return (sum(cat[x.sku].weight_kg * x.qty for x in lines),
                sum(cat[x.sku].volume_l * x.qty for x in lines))  # fmt: skip

    stops = [
        replace(s, kind="pickup", return_id=s.order_id)
        if s.order_id in returns
        else replace(s, kind="delivery", return_id=None)
        for s in route.stops
    ]
    sizes = [size(s) for s in stops]
    kg = sum(w for s, (w, _) in zip(stops, sizes, strict=True) if not s.is_pickup)
    litres = sum(v for s, (_, v) in zip(stops, sizes, strict=True) if not s.is_pickup)
    start = (round(kg, 3), round(litres, 3))
    out = []
    for stop, (w, v) in zip(stops, sizes, strict=True):
        out.append(replace(stop, load_kg=round(kg, 3), load_l=round(litres, 3)))
        if stop.failed_attempt:
            continue
        sign = -1 if stop.is_pickup else 1
        kg, litres = kg - sign * w, litres - sign * v
    return replace(route, stops=out, load_kg=start[0], load_l=start[1])
