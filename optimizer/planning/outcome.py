"""What the plan says: timed routes, collections, and why an order is not served.

:func:`to_routes` turns the engine's routes into :class:`Route` objects; the
``*_full`` helpers give the reason a planner can act on when the routes could not fit
an order, an exchange's visit or a return's pickup.
"""

from __future__ import annotations

import time

from optimizer.model import (
    Break,
    Collection,
    Order,
    Plan,
    ReturnAssignment,
    Route,
    Scenario,
    Stop,
    Unassigned,
    UnassignedCode,
)
from optimizer.planning.parcels import _as_parcels, _whole_orders, _without
from optimizer.planning.problem import NodeProblem
from optimizer.planning.state import DayState
from optimizer.routing import BreakResult, RouteResult, RoutingResult


def to_routes(scenario: Scenario, node_problem: NodeProblem, result: RoutingResult) -> list[Route]:
    """Turn engine routes into timed, loaded, costed :class:`Route` objects, one per tour:
    a later tour starts when the previous one is back and reloads before leaving; the
    vehicle's fixed cost is on its first tour only. An exchange's stop becomes two plan
    stops at the address: the delivery, then the pickup (arriving when the delivery is
    done, no leg between)."""
    out = []
    for r in result.routes:
        start = int(r.start_s)
        for k, trip in enumerate(r.trips()):
            out.append(_tour(scenario, node_problem, r, k, trip, start))
            start = out[-1].end_s
    return out


def _tour(
    scenario: Scenario, node_problem: NodeProblem, r: RouteResult, k: int, trip: list, start: int
) -> Route:
    """Tour ``k`` of the engine's route ``r`` (its stops ``trip``), starting at ``start``:
    from the second tour on, with the reload at the node first."""
    p = node_problem.problem
    vehicle = node_problem.vehicles[r.vehicle]
    vt = scenario.vehicle_types[vehicle.vehicle_type_id]
    reload_s = p.reload_s(r.vehicle) if k else 0
    rest = r.rest if r.rest is not None and r.rest.trip == k else None
    # (engine stop, order-like visit): an exchange's stop is two visits
    visits = [(i, scenario.orders_by_id[u]) for i in trip for u in node_problem.members(i)]
    orders = [o for _, o in visits]
    pickup = [o.order_id in scenario.returns_by_id for o in orders]
    load_kg = sum(scenario.weight_kg(o) for o, up in zip(orders, pickup, strict=True) if not up)
    load_l = sum(scenario.volume_l(o) for o, up in zip(orders, pickup, strict=True) if not up)
    stops, breaks, end, total_m = _drive(
        scenario, node_problem, r.vehicle, visits, rest, start + reload_s, (load_kg, load_l)
    )
    hours = (end - start) / 3600
    fixed = vt.fixed_cost_eur if k == 0 else 0.0
    cost = fixed + vt.cost_per_km_eur * total_m / 1000 + vt.cost_per_hour_eur * hours
    return Route(
        vehicle_id=vehicle.vehicle_id,
        vehicle_type_id=vt.vehicle_type_id,
        node_id=vehicle.node_id,
        mode=str(vt.mode),
        start_s=start,
        end_s=end,
        stops=stops,
        distance_m=total_m,
        load_kg=round(load_kg, 3),
        load_l=round(load_l, 3),
        cost_eur=round(cost, 6),
        co2_g=round(vt.co2_g_per_km * total_m / 1000, 6),
        trip=k + 1,
        reload_s=reload_s,
        breaks=breaks,
    )


def _drive(
    scenario: Scenario,
    node_problem: NodeProblem,
    v: int,
    visits: list,
    rest: BreakResult | None,
    leave_s: int,
    load: tuple[float, float],
) -> tuple[list[Stop], list[Break], int, int]:
    """Drive one tour of vehicle ``v`` leaving its depot at ``leave_s`` with ``load``
    (kg, litres) on board: its plan stops, its break, when it is back, and its metres."""
    p = node_problem.problem
    dist = p.distance_m[p.vehicle_profile[v]]
    prof = int(p.vehicle_profile[v])
    depot = int(p.vehicle_start_location[v])
    breaks: list[Break] = []

    def take_break(served: int, after_stop: int, t: int) -> int:
        # ``served``: the engine's stops so far; ``after_stop``: the plan's
        if rest is None or rest.after_stop != served:
            return t
        breaks.append(Break(rest.start_s, rest.start_s + rest.duration_s, after_stop))
        return max(t, rest.start_s + rest.duration_s)

    t, prev, total_m = take_break(0, 0, leave_s), depot, 0
    stops = []
    kg, litres = load
    served = 0
    for j, (i, order) in enumerate(visits, 1):
        is_pickup = order.order_id in scenario.returns_by_id
        loc = int(p.stop_location[i])
        same_visit = j > 1 and visits[j - 2][0] == i  # an exchange's pickup
        arrival = t if same_visit else t + p.leg_s(prof, prev, loc, t)
        begin = max(arrival, order.slot_start_s)
        leg = 0 if same_visit else int(dist[prev, loc])
        total_m += leg
        stops.append(
            Stop(
                order_id=order.order_id,
                lat=order.lat,
                lon=order.lon,
                arrival_s=arrival,
                service_start_s=begin,
                departure_s=begin + order.service_time_s,
                distance_from_prev_m=leg,
                load_kg=round(kg, 3),
                load_l=round(litres, 3),
                kind="pickup" if is_pickup else "delivery",
                return_id=order.order_id if is_pickup else None,
            )
        )
        sign = -1 if is_pickup else 1  # a delivery leaves, a pickup boards
        kg -= sign * scenario.weight_kg(order)
        litres -= sign * scenario.volume_l(order)
        t, prev = begin + order.service_time_s, loc
        if j == len(visits) or visits[j][0] != i:  # the engine's stop is done
            served += 1
            t = take_break(served, j, t)
    end = t + p.leg_s(prof, prev, depot, t)
    total_m += int(dist[prev, depot])
    return stops, breaks, end, total_m


def _slot(scenario: Scenario, stop) -> str:
    """A stop's slot (an order's, a return's) as a planner reads it: 10:00-12:00."""
    to = scenario.settings.to_datetime
    return f"{to(stop.slot_start_s):%H:%M}-{to(stop.slot_end_s):%H:%M}"


def fleet_full_unassigned(scenario: Scenario, order_id: str, node_id: str) -> Unassigned:
    """The order is left out because ``node_id``'s routes (and every other stocked
    node's) are full in its slot; shared with the re-plan (:mod:`optimizer.live.replan`)."""
    order = scenario.orders_by_id[order_id]
    return Unassigned(
        order_id=order_id,
        code=UnassignedCode.FLEET_FULL,
        reason=(
            f"the routes of {node_id} (and of every other node with the stock) are full in "
            f"slot {_slot(scenario, order)}"
        ),
        node_id=node_id,
    )


def _visit_full(
    scenario: Scenario, unit_id: str, node_id: str, return_id: str | None = None
) -> Unassigned:
    """Why an exchange is not served: its visit (the delivery and the pickup, one stop)
    does not fit the routes of ``node_id``. ``unit_id`` is the order (``return_id`` its
    pickup) or the return."""
    slot = _slot(scenario, scenario.orders_by_id[unit_id])
    if return_id is None:
        ret = scenario.returns_by_id[unit_id]
        what = (
            f"an exchange picked up in the visit delivering {ret.order_id}: the routes of "
            f"{node_id}, which ships it, have no room for that visit in slot {slot}, so "
            "neither the delivery nor the pickup is served"
        )
    else:
        what = (
            f"an exchange: the delivery and the pickup of {return_id} are one visit, and the "
            f"routes of {node_id} have no room for it in slot {slot} (the load along the "
            "route, the shifts or the slot do not allow it); the order is not moved to "
            "another node because its pickup goes with it"
        )
    return Unassigned(unit_id, UnassignedCode.FLEET_FULL, what, node_id)


def _return_full(scenario: Scenario, return_id: str, node_id: str) -> Unassigned:
    """Why a return's pickup is not routed: its end node's routes are full in its slot."""
    ret = scenario.returns_by_id[return_id]
    return Unassigned(
        order_id=return_id,
        code=UnassignedCode.FLEET_FULL,
        reason=(
            f"the routes of {node_id}, the cheapest node to take it back, have no room "
            f"to pick it up in slot {_slot(scenario, ret)} "
            "(the load along the route, the shifts or the slot do not allow it)"
        ),
        node_id=node_id,
    )


def _collection(order: Order, node_id: str) -> Collection:
    """A click & collect ready when promised; a basket from another node comes by the
    store shuttle (``transfer_from_node_id``, leaving at ``transfer_departs_s``)."""
    source = order.ship_from_node_id
    transfer = source is not None and source != node_id
    return Collection(
        order_id=order.order_id,
        node_id=node_id,
        ready_by_s=order.slot_start_s,
        transfer_from_node_id=source if transfer else None,
        transfer_departs_s=order.transfer_departs_s if transfer else None,
    )


def list_dropped(day: DayState, solved: dict[str, tuple[NodeProblem, RoutingResult]]) -> None:
    """Give a reason for every unit still left out after the retry round: a return (or
    an exchange's pickup) in ``day.return_failed``, an order in ``day.unassigned`` (its
    stock and picking given back)."""
    routing = day.routing
    for node_id, (node_problem, result) in sorted(solved.items()):
        for order_id in [u for i in result.dropped for u in node_problem.members(i)]:
            if order_id in day.returns.tied:
                day.return_failed[order_id] = (node_id, _visit_full(routing, order_id, node_id))
                continue
            if order_id in day.scenario.returns_by_id:
                day.return_failed[order_id] = (node_id, _return_full(routing, order_id, node_id))
                continue
            day.decisions.pop(order_id, None)
            day.sourcing.release(order_id)
            if order_id in day.paired:
                why = _visit_full(routing, order_id, node_id, day.paired[order_id])
            else:
                why = fleet_full_unassigned(routing, order_id, node_id)
            day.unassigned.append(why)


def plan_routes(day: DayState, solved: dict[str, tuple[NodeProblem, RoutingResult]]) -> list[Route]:
    """The plan's routes: a split order with a parcel left out is unassigned whole and
    its other parcels come off their routes; parcels' stops name their order."""
    day.unassigned, held_back = _whole_orders(day.sourcing, day.decisions, day.unassigned)
    routes: list[Route] = []
    for _, (node_problem, result) in sorted(solved.items()):
        kept = _without(node_problem, result, held_back)
        routes += [_as_parcels(r, day.sourcing) for r in to_routes(day.routing, node_problem, kept)]
    return routes


def day_plan(day: DayState, routes: list[Route], engine: str, started: float) -> Plan:
    """The :class:`Plan`: routes, collections, where each order ships from, what is left
    out and why, and each return's fate; ``started`` is the planning's start
    (``time.perf_counter()``)."""
    scenario = day.scenario
    collections = [_collection(scenario.orders_by_id[o], n) for o, n in day.collections.items()]
    sources = {o: d.node_id for o, d in day.decisions.items() if not d.parts} | {
        c.order_id: c.transfer_from_node_id or c.node_id for c in collections
    }
    return Plan(
        scenario_name=scenario.settings.name,
        sources=sources,
        routes=sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)),
        collections=sorted(collections, key=lambda c: c.order_id),
        unassigned=sorted(day.unassigned, key=lambda u: u.order_id),
        engine=engine,
        solve_s=time.perf_counter() - started,
        decisions=day.decisions,
        parcels=dict(sorted(day.sourcing.parcels.items())),
        max_split=day.sourcing.max_split,
        returns=sorted(_return_plan(day, routes), key=lambda a: a.return_id),
    )


def _return_plan(day: DayState, routes: list[Route]) -> list[ReturnAssignment]:
    """Each return: routed (on which vehicle, how its node was chosen) or unassigned
    with the reason, and the price of each candidate end node."""
    returns = day.returns
    picked = {s.return_id: r for r in routes for s in r.stops if s.is_pickup}
    out = list(returns.unassigned)
    for return_id, node_id in returns.node_of.items():
        priced = returns.priced.get(return_id, {})
        if return_id in picked:
            vehicle_id = picked[return_id].vehicle_id
            note = returns.note.get(return_id)
            out.append(
                ReturnAssignment(
                    return_id, "routed", node_id, vehicle_id, reason=note, candidates=priced
                )
            )
        else:
            node_id, why = day.return_failed.get(return_id, (node_id, None))
            reason = why.reason if why else f"the routes of {node_id} could not fit it"
            out.append(
                ReturnAssignment(
                    return_id,
                    "unassigned",
                    node_id,
                    code=UnassignedCode.FLEET_FULL.value,
                    reason=reason,
                    candidates=priced,
                )
            )
    return out
