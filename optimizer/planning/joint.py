"""Joint mode: one routing problem over every node, the engine choosing among origins.

Each order may ship from its sourcing choice or any other node with the stock, picking
and vehicles to serve it (:func:`_joint_candidates`): one multi-depot problem in which
the engine chooses the node. The joint routes are kept when they beat the per-node ones
(:func:`_better`), and then split into per-node problems (:func:`_adopt_joint`).
"""

from __future__ import annotations

import numpy as np

from optimizer.model import Scenario, Vehicle
from optimizer.planning.outcome import to_routes
from optimizer.planning.problem import (
    JOINT,
    JOINT_AGAIN,
    NodeProblem,
    build_node_problem,
    build_problem,
)
from optimizer.planning.state import DayState
from optimizer.routing import RouteResult, RoutingResult
from optimizer.sourcing import GreedySourcing

# One problem over every node and order: its matrices grow with the square of the
# orders (times the PyVRP profiles: one per node and vehicle type when stock binds), so
# bigger days use sourcing-then-routing only, and decomposition cuts them into parts of
# 1,500. Measured: a generated 2,000-order Paris day (stock binding) peaked at 2.9 GB with
# both searches; the peers' kind of 2,000-order day (stock never binds) at 0.9 GB.
JOINT_MAX_ORDERS = 2500


def add_joint_batch(day: DayState, batches: dict[str, NodeProblem]) -> dict[str, set[str]]:
    """Add the joint problem to ``batches`` (key ``JOINT``) when the day is small enough
    and some order has an alternative origin; return each unit's candidate nodes (empty
    when there is no joint problem to compare with)."""
    if not 0 < len(day.units) <= JOINT_MAX_ORDERS:
        return {}
    candidates = _joint_candidates(day.scenario, day.sourcing, day.units, pinned=set(day.paired))
    if any(len(c) > 1 for c in candidates.values()):
        node_of = day.returns.node_of
        candidates |= {r: {n} for r, n in node_of.items()}  # returns stay put
        units = [*day.units, *node_of]
        vehicles = day.scenario.vehicles
        batches[JOINT] = build_problem(day.routing, day.travel, JOINT, units, vehicles, candidates)
    return candidates


def keep_better(
    day: DayState,
    batches: dict[str, NodeProblem],
    results: dict[str, RoutingResult],
    candidates: dict[str, set[str]],
) -> tuple[dict[str, tuple[NodeProblem, RoutingResult]], dict[str, set[str]]]:
    """The per-node routes, or the joint ones when they are better (:func:`_better`),
    as (batch, result) per node; and the units they left out, each with the nodes that
    could not take it (for the retry round). ``day.node_orders`` becomes what each
    node's routes serve; the left-out stops come off the results."""
    solved = {nid: (batches[nid], results[nid]) for nid in day.node_orders}
    retry: dict[str, set[str]] = {}  # order -> nodes that could not take it
    for nid, (batch, result) in solved.items():
        for i in result.dropped:
            retry |= {u: {nid} for u in batch.members(i)}
    again = results.pop(JOINT_AGAIN, None)  # the joint problem's second search, if any
    if again is not None and _better(
        day.routing, (batches[JOINT], again), [(batches[JOINT], results[JOINT])]
    ):
        results[JOINT] = again
    if JOINT in results and _better(
        day.routing, (batches[JOINT], results[JOINT]), list(solved.values())
    ):
        solved, retry = _adopt_joint(
            day.routing,
            day.travel,
            day.sourcing,
            day.decisions,
            batches[JOINT],
            results[JOINT],
            candidates,
        )
    day.node_orders = {}
    for nid, (batch, result) in solved.items():
        dropped = {u for i in result.dropped for u in batch.members(i)}
        day.node_orders[nid] = [o for o in batch.unit_ids if o not in dropped]
        result.dropped = []  # handled as a retry
    return solved, retry


def _joint_candidates(
    scenario: Scenario,
    sourcing: GreedySourcing,
    units: dict[str, str],
    pinned: set[str] = frozenset(),
) -> dict[str, set[str]]:
    """Per order: its sourcing choice and every other node that could ship it, so the
    engine chooses among all of them (a multi-depot problem). Each node's spare stock
    and picking (what sourcing did not hold) are shared out among the orders it would
    serve at the least extra cost over their cheapest node, until they run out: so any
    combination the engine picks is covered and no stock is promised twice, and when a
    node's stock does not reach every order, it goes where it saves most. A parcel of a
    split order stays at its node, and so does a ``pinned`` order (an exchange's: its
    pickup ends at that node)."""
    out = {order_id: {node_id} for order_id, node_id in units.items()}
    free = [
        o
        for o in sorted(units)
        if o not in sourcing.parcels
        and o not in pinned
        and scenario.orders_by_id[o].ship_from_node_id is None
    ]
    if not free:
        return out
    rows = np.array([sourcing.row[o] for o in free])
    estimate = sourcing.handling + sourcing.delivery_cost[[sourcing.reach_row[o] for o in free]]
    best = np.min(estimate, axis=1, keepdims=True)
    # (orders, nodes): what shipping from the node costs over the order's cheapest node;
    # inf where the estimate finds no vehicle of the node able to reach it in its slot.
    extra = np.where(np.isfinite(estimate), estimate - np.where(np.isfinite(best), best, 0), np.inf)
    for j, node_id in enumerate(sourcing.node_ids):
        spare = sourcing.stock[j].copy()
        picks = int(sourcing.picks_left[j])
        # Orders the estimate says the node cannot reach come last but still come: the
        # vehicle rules (zones, sizes, modes, range, slots) are the engine's to enforce,
        # and a node offered to every order its stock covers adds no PyVRP profile.
        for k in np.argsort(extra[:, j], kind="stable"):
            if picks <= 0:
                break
            order_id = free[k]
            if node_id in out[order_id]:
                continue
            basket = sourcing.basket[rows[k]]
            if np.all(spare >= basket):
                spare -= basket
                picks -= 1
                out[order_id].add(node_id)
    return out


def _objective(scenario: Scenario, pairs: list[tuple[NodeProblem, RoutingResult]]) -> float:
    """Route + handling cost of routing results, plus the unserved penalty of each stop
    they leave out."""
    cost = 0.0
    for batch, result in pairs:
        for route in to_routes(scenario, batch, result):
            cost += route.cost_eur + scenario.nodes[route.node_id].handling_cost_eur * len(
                route.stops
            )
        cost += sum(float(batch.problem.penalty_eur[i]) for i in result.dropped)
    return cost


def _better(scenario: Scenario, joint: tuple, per_node: list[tuple]) -> bool:
    """Whether the joint routes beat the per-node ones (:func:`_objective`). An order
    either leaves out costs its penalty: the joint problem has offered it every node
    that could ship it, and the retry round finds room for what the per-node routes
    leave out only where the joint problem found none. (Charging them a retry's cost
    instead kept, on `lastmile bench domain`'s 2,000-order day, a per-node plan that
    ended with 61 orders unserved where the joint routes left 34 out.)"""
    return _objective(scenario, [joint]) < _objective(scenario, per_node)


def _adopt_joint(scenario, travel, sourcing, decisions, batch, result, candidates):
    """Take the joint routes: move the stock of orders the engine shipped from another
    candidate node, and split the routes into per-node problems for the rest of the plan."""
    per_node_orders: dict[str, list[str]] = {}
    per_node_routes: dict[str, list[tuple[Vehicle, list[str], RouteResult]]] = {}
    for r in result.routes:
        vehicle = batch.vehicles[r.vehicle]
        ids = [batch.order_ids[i] for i in r.stops]  # an exchange: keyed by its order
        per_node_orders.setdefault(vehicle.node_id, []).extend(
            u for i in r.stops for u in batch.members(i)
        )
        per_node_routes.setdefault(vehicle.node_id, []).append((vehicle, ids, r))
        for order_id in ids:
            first = decisions.get(order_id)  # None for a parcel: it stays at its node
            if first is not None and vehicle.node_id != first.node_id:
                sourcing.release(order_id)
                sourcing.hold(order_id, vehicle.node_id)
                decisions[order_id] = sourcing.decision(
                    order_id, vehicle.node_id, runner_up=first.node_id, policy="joint"
                )
    solved = {}
    for node_id, ids in per_node_orders.items():
        node_batch = build_node_problem(scenario, travel, node_id, ids)
        index = {o: k for k, o in enumerate(node_batch.order_ids)}
        routes = [
            RouteResult(
                node_batch.vehicles.index(v),
                [index[o] for o in stops],
                r.start_s,
                r.trip_sizes,
                r.rest,
            )
            for v, stops, r in per_node_routes[node_id]
        ]
        solved[node_id] = (node_batch, RoutingResult(routes=routes))
    retry = {u: set(candidates[u]) for i in result.dropped for u in batch.members(i)}
    return solved, retry
