"""The daily plan: sourcing, then routes per node, then a :class:`Plan`.

1. Every order gets a node (:mod:`optimizer.sourcing`); click & collect orders are
   picked at their store and not routed.
2. Each node's orders become one :class:`RoutingProblem` over that node's fleet, solved
   by the chosen engine; nodes are solved in parallel processes.
3. Orders a node's routes could not fit are re-sourced to the next node with the stock
   and that node is solved again (one retry round).
4. Whatever is still unserved is listed with a reason a planner can act on.

Returns (``scenario.returns``) are pickups: each gets its end node by cost
(:mod:`optimizer.sourcing.returns`) and is routed as a stop of that node's batch, with a
pickup load (the tour leaves with its deliveries; pickups board); a pickup the routes
cannot fit is listed in ``Plan.returns`` as unassigned with the reason.

An exchange is one visit: when its delivery ships whole from node N, its pickup ends at
N and the two are one stop of N's routing problem (:func:`build_problem`), expanded into
the delivery then the pickup in the plan. The pair stays at N (the joint problem offers
the order no other node, the retry round does not move it): if N's routes cannot fit the
visit, the order is unassigned and the return too, each with the reason.

A split order is routed as its parcels (``ORDER/1``, ``ORDER/2``: each a stop with the
order's address and slot and the part's lines), each in its node's batch. It is served
only if all its parcels are: when one is left out even after the retry round, the order
is listed unassigned with that parcel's reason and its other parcels come off their
routes (their stock and picking are given back), so nothing is half delivered.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

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
    Vehicle,
)
from optimizer.processes import worker_pool
from optimizer.routing import (
    ENGINES,
    RouteResult,
    RoutingEngine,
    RoutingProblem,
    RoutingResult,
)
from optimizer.sourcing import GreedySourcing, SourcingDecision, SourcingParams
from optimizer.sourcing.returns import choose_return_nodes
from optimizer.travel import GreatCircle, Profile, TravelProvider

Progress = Callable[[float, str], None]

# Share of the time limit given to the first routing round; the rest goes to the
# nodes that take over orders another node could not fit.
FIRST_ROUND_SHARE = 0.9


@dataclass(frozen=True)
class PlanParams:
    """How to plan the day.

    Parameters
    ----------
    time_limit_s
        Wall-clock budget for routing (all nodes, all rounds).
    engine
        Routing engine name (see ``optimizer.routing.ENGINES``). PyVRP by default: on the
        Solomon instances at 10 s it reaches a 0.19 % mean gap against OR-Tools' 3.35 %, and
        it routes the Paris day cheaper at the same time (``lastmile bench``).
    workers
        Processes solving nodes in parallel.
    sourcing
        How nodes are chosen (:class:`optimizer.sourcing.SourcingParams`).
    joint
        Also solve one routing problem over every node in which each order may ship
        from its chosen node or up to three alternatives with stock (the engine picks),
        and keep the better plan (days up to ``JOINT_MAX_ORDERS`` orders).
    """

    time_limit_s: float = 30.0
    engine: str = "pyvrp"
    workers: int = 2
    sourcing: SourcingParams = field(default_factory=SourcingParams)
    joint: bool = True

    def __post_init__(self):
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s <= 0 not understood.")
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r} not understood; one of {sorted(ENGINES)}.")
        if self.workers < 1:
            raise ValueError("workers < 1 not understood.")


@dataclass
class NodeProblem:
    """A node's routing problem and what its indices stand for.

    Stop ``i`` (location ``i + 1``) is ``order_ids[i]``. An exchange whose delivery and
    pickup are both in the batch is one stop (one visit at the door), keyed by the
    delivery's order id; ``pickup_of`` names the return merged into it.
    """

    node_id: str
    order_ids: list[str]
    vehicles: list[Vehicle]
    problem: RoutingProblem
    pickup_of: dict[str, str] = field(default_factory=dict)  # order -> exchange's return

    def members(self, i: int) -> list[str]:
        """What stop ``i`` serves: its order (or return, or parcel), and an exchange's
        pickup after its delivery."""
        key = self.order_ids[i]
        return [key, self.pickup_of[key]] if key in self.pickup_of else [key]

    @property
    def unit_ids(self) -> list[str]:
        """Every order, parcel and return of the batch, an exchange's pickup after its
        delivery."""
        return [u for i in range(len(self.order_ids)) for u in self.members(i)]


def plan_day(
    scenario: Scenario,
    params: PlanParams | None = None,
    travel: TravelProvider | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Plan the day: every order routed, collected, or unassigned with a reason."""
    params = params or PlanParams()
    travel = travel or GreatCircle()
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    engine = ENGINES[params.engine]()

    report(0.0, "sourcing")
    sourcing = GreedySourcing(scenario, travel, params.sourcing)
    chosen = sourcing.assign([o.order_id for o in scenario.orders])
    unassigned = list(chosen.unassigned)
    decisions = dict(chosen.decisions)
    # What is routed: whole orders and the parcels of split ones ("units"), by node.
    units = {u: n for d in decisions.values() for u, n in _units(d).items()}
    node_orders: dict[str, list[str]] = {}
    for unit_id, node_id in units.items():
        node_orders.setdefault(node_id, []).append(unit_id)
    # Returns: each pickup is routed from (and restocked at) the end node chosen by cost.
    shipped = {o: d.node_id for o, d in decisions.items() if not d.parts}
    returns = choose_return_nodes(scenario, sourcing, shipped)
    for return_id, node_id in returns.node_of.items():
        node_orders.setdefault(node_id, []).append(return_id)
    return_failed: dict[str, tuple[str, Unassigned]] = {}  # return -> (node, why)
    routing = _with_parcels(scenario, sourcing)  # parcels and returns are order-like stops

    batches = {
        nid: build_node_problem(routing, travel, nid, ids) for nid, ids in node_orders.items()
    }
    candidates: dict[str, set[str]] = {}
    paired = {o: r for r, o in returns.tied.items()}  # an exchange's order -> its return
    if params.joint and 0 < len(units) <= JOINT_MAX_ORDERS:
        candidates = _joint_candidates(scenario, sourcing, units, pinned=set(paired))
        if any(len(c) > 1 for c in candidates.values()):
            candidates |= {r: {n} for r, n in returns.node_of.items()}  # returns stay put
            batches[JOINT] = build_problem(
                routing, travel, JOINT, [*units, *returns.node_of], scenario.vehicles, candidates
            )
    budget = params.time_limit_s * FIRST_ROUND_SHARE
    results = _solve_batches(batches, budget, engine, params.workers, report)

    # Keep the better of sourcing-then-routing and routing with alternative origins.
    solved = {nid: (batches[nid], results[nid]) for nid in node_orders}
    retry: dict[str, set[str]] = {}  # order -> nodes that could not take it
    for nid, (batch, result) in solved.items():
        for i in result.dropped:
            retry |= {u: {nid} for u in batch.members(i)}
    if JOINT in results and _better(
        routing, (batches[JOINT], results[JOINT]), list(solved.values())
    ):
        solved, retry = _adopt_joint(
            routing, travel, sourcing, decisions, batches[JOINT], results[JOINT], candidates
        )
    node_orders = {}
    for nid, (batch, result) in solved.items():
        dropped = {u for i in result.dropped for u in batch.members(i)}
        node_orders[nid] = [o for o in batch.unit_ids if o not in dropped]
        result.dropped = []  # handled below, as a retry

    # A return the routes of its end node could not fit is not moved: listed below. Nor
    # is an exchange's order: its pickup goes with it (both unassigned).
    for return_id in [o for o in retry if o in scenario.returns_by_id]:
        node_id = returns.node_of[return_id]
        return_failed[return_id] = (node_id, _return_full(routing, return_id, node_id))
        del retry[return_id]
    for order_id in [o for o in retry if o in paired]:
        node_id = decisions[order_id].node_id
        return_failed[paired[order_id]] = (node_id, _visit_full(routing, paired[order_id], node_id))
        decisions.pop(order_id)
        sourcing.release(order_id)
        unassigned.append(_visit_full(routing, order_id, node_id, paired[order_id]))
        del retry[order_id]
    # Retry: orders the routes could not fit go to the next node with stock and room.
    if retry:
        for order_id in retry:
            sourcing.release(order_id)
            decisions.pop(order_id, None)  # a parcel's order keeps its decision
        second = sourcing.assign(list(retry), exclude=retry)
        unassigned += second.unassigned
        touched = set()
        for order_id, decision in second.decisions.items():
            if order_id in sourcing.parcels:  # a parcel, from another node now
                parent = decisions[sourcing.parcels[order_id].order_id]
                parent.move_part(order_id, decision.node_id, decision.terms)
            else:
                decisions[order_id] = decision
            for unit_id, node_id in _units(decision).items():
                node_orders.setdefault(node_id, []).append(unit_id)
                touched.add(node_id)
        routing = _with_parcels(scenario, sourcing)  # the retry may split an order too
        remaining = max(1.0, params.time_limit_s - (time.perf_counter() - started))
        again = {nid: build_node_problem(routing, travel, nid, node_orders[nid]) for nid in touched}
        resolved = _solve_batches(again, remaining, engine, params.workers, report)
        solved.update({nid: (again[nid], resolved[nid]) for nid in touched})

    for node_id, (node_problem, result) in sorted(solved.items()):
        for order_id in [u for i in result.dropped for u in node_problem.members(i)]:
            if order_id in returns.tied:
                return_failed[order_id] = (node_id, _visit_full(routing, order_id, node_id))
                continue
            if order_id in scenario.returns_by_id:
                return_failed[order_id] = (node_id, _return_full(routing, order_id, node_id))
                continue
            decisions.pop(order_id, None)
            sourcing.release(order_id)
            if order_id in paired:
                unassigned.append(_visit_full(routing, order_id, node_id, paired[order_id]))
            else:
                unassigned.append(fleet_full_unassigned(routing, order_id, node_id))
    unassigned, held_back = _whole_orders(sourcing, decisions, unassigned)
    routes: list[Route] = []
    for _, (node_problem, result) in sorted(solved.items()):
        kept = _without(node_problem, result, held_back)
        routes += [_as_parcels(r, sourcing) for r in to_routes(routing, node_problem, kept)]

    collections = [_collection(scenario.orders_by_id[o], n) for o, n in chosen.collections.items()]
    sources = {o: d.node_id for o, d in decisions.items() if not d.parts} | {
        c.order_id: c.transfer_from_node_id or c.node_id for c in collections
    }
    report(1.0, "done")
    picked = {s.return_id: r for r in routes for s in r.stops if s.is_pickup}
    return_plan = list(returns.unassigned)
    for return_id, node_id in returns.node_of.items():
        priced = returns.priced.get(return_id, {})
        if return_id in picked:
            vehicle_id = picked[return_id].vehicle_id
            note = returns.note.get(return_id)
            return_plan.append(
                ReturnAssignment(
                    return_id, "routed", node_id, vehicle_id, reason=note, candidates=priced
                )
            )
        else:
            node_id, why = return_failed.get(return_id, (node_id, None))
            reason = why.reason if why else f"the routes of {node_id} could not fit it"
            return_plan.append(
                ReturnAssignment(
                    return_id,
                    "unassigned",
                    node_id,
                    code=UnassignedCode.FLEET_FULL.value,
                    reason=reason,
                    candidates=priced,
                )
            )
    return Plan(
        scenario_name=scenario.settings.name,
        sources=sources,
        routes=sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)),
        collections=sorted(collections, key=lambda c: c.order_id),
        unassigned=sorted(unassigned, key=lambda u: u.order_id),
        engine=engine.name,
        solve_s=time.perf_counter() - started,
        decisions=decisions,
        parcels=dict(sorted(sourcing.parcels.items())),
        max_split=sourcing.max_split,
        returns=sorted(return_plan, key=lambda a: a.return_id),
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


# -- split orders: routed as parcels, served whole or not at all ------------------------


def _units(decision: SourcingDecision) -> dict[str, str]:
    """What a decision routes: the order itself, or each of its parcels, with its node."""
    if decision.parts:
        return {p.parcel_id: p.node_id for p in decision.parts}
    return {decision.order_id: decision.node_id}


def _with_parcels(scenario: Scenario, sourcing: GreedySourcing) -> Scenario:
    """The scenario the routing sees: its orders and, as order-like stops, the parcels of
    split orders (the order's address and slot with the part's lines) and the returns
    (pickups; ``build_problem`` knows them by ``scenario.returns_by_id``)."""
    if not sourcing.parcel_orders and not scenario.returns:
        return scenario
    return replace(
        scenario,
        orders=[
            *scenario.orders,
            *sourcing.parcel_orders.values(),
            *(r.as_stop() for r in scenario.returns),
        ],
    )


def _whole_orders(
    sourcing: GreedySourcing, decisions: dict, unassigned: list[Unassigned]
) -> tuple[list[Unassigned], set[str]]:
    """Turn unserved parcels into their unserved orders. A split order with a parcel left
    out is unassigned whole, with that parcel's reason; its other parcels give back their
    stock and picking and are returned (``held back``) to come off their routes."""
    out: list[Unassigned] = []
    failed: dict[str, list[Unassigned]] = {}
    for u in unassigned:
        parcel = sourcing.parcels.get(u.order_id)
        if parcel is None:
            out.append(u)
        else:
            failed.setdefault(parcel.order_id, []).append(u)
    held_back: set[str] = set()
    for order_id, reasons in failed.items():
        first = reasons[0]
        parcels = [p for p in sourcing.parcels.values() if p.order_id == order_id]
        lost = {u.order_id for u in reasons}
        others = [p.parcel_id for p in parcels if p.parcel_id not in lost]
        for parcel_id in others:
            if parcel_id in sourcing.held:
                sourcing.release(parcel_id)
            held_back.add(parcel_id)
        lines = ", ".join(f"{x.sku} x{x.qty}" for x in sourcing.parcels[first.order_id].lines)
        also = f"; its other parcel(s) {', '.join(others)} are not shipped" if others else ""
        out.append(
            Unassigned(
                order_id,
                first.code,
                f"the order is split and parcel {first.order_id} ({lines}) cannot be served: "
                f"{first.reason}{also}, so nothing is half delivered",
                first.node_id,
            )
        )
        decisions.pop(order_id, None)
        sourcing.forget(order_id)
    return out, held_back


def _without(node_problem: NodeProblem, result: RoutingResult, units: set[str]) -> RoutingResult:
    """The routes without the stops of ``units``: tours left empty are dropped, a break
    stays after the same stops (in the next tour, before it leaves, if its tour is gone;
    or at the end of the last one), and a route left with no tour is dropped."""
    if not units:
        return result
    routes = []
    for r in result.routes:
        trips, rest = [], r.rest
        for k, trip in enumerate(r.trips()):
            kept = [i for i in trip if node_problem.order_ids[i] not in units]
            if rest is not None and rest.trip == k:
                after = sum(node_problem.order_ids[i] not in units for i in trip[: rest.after_stop])
                rest = replace(rest, trip=len(trips) if kept else -1, after_stop=after)
            if kept:
                trips.append(kept)
            elif rest is not None and rest.trip == -1 and k + 1 < len(r.trips()):
                rest = replace(rest, trip=len(trips), after_stop=0)  # before the next tour
        if not trips:
            continue
        if rest is not None and rest.trip in (-1, len(trips)):
            rest = replace(rest, trip=len(trips) - 1, after_stop=len(trips[-1]))
        routes.append(
            replace(
                r,
                stops=[i for trip in trips for i in trip],
                trip_sizes=[len(t) for t in trips] if r.trip_sizes else [],
                rest=rest,
            )
        )
    return replace(result, routes=routes)


def _as_parcels(route: Route, sourcing: GreedySourcing) -> Route:
    """Stops of parcels carry their order's id and their own parcel id."""
    if not any(s.order_id in sourcing.parcels for s in route.stops):
        return route
    stops = [
        replace(s, order_id=sourcing.parcels[s.order_id].order_id, parcel_id=s.order_id)
        if s.order_id in sourcing.parcels
        else s
        for s in route.stops
    ]
    return replace(route, stops=stops)


# -- joint mode: the routing engine chooses among alternative origins -------------------

JOINT = "*joint*"
# One problem over every node and order: its matrices grow with the square of the
# orders, so bigger days use sourcing-then-routing only (and decomposition).
JOINT_MAX_ORDERS = 1500
JOINT_EXTRA_NODES = 3  # alternatives per order besides the sourcing choice
# What placing one order in the retry round may cost at most, to compare plans that leave
# out different numbers of orders (a van's fixed cost and an hour's work, roughly).
RETRY_ALLOWANCE_EUR = 50.0


def _joint_candidates(
    scenario: Scenario,
    sourcing: GreedySourcing,
    units: dict[str, str],
    pinned: set[str] = frozenset(),
) -> dict[str, set[str]]:
    """Per order: its sourcing choice plus up to three more nodes that could serve it,
    cheapest first. An alternative's stock and picking are set aside for that order, so
    any combination the engine picks is covered: no stock is promised twice. A parcel of a
    split order stays at its node, and so does a ``pinned`` order (an exchange's: its
    pickup ends at that node)."""
    spare = sourcing.stock.copy()
    picks = sourcing.picks_left.copy()
    out = {}
    for order_id in sorted(units):
        node_ids = {units[order_id]}
        whole = order_id not in sourcing.parcels and order_id not in pinned
        if whole and scenario.orders_by_id[order_id].ship_from_node_id is None:
            r, i = sourcing.reach_row[order_id], sourcing.row[order_id]
            estimate = sourcing.handling + sourcing.delivery_cost[r]
            # The node an OMS would pick on handling cost first, then the cheapest by
            # estimate: the engine can then do at least as well as that rule.
            by_handling = np.lexsort((estimate, sourcing.handling))
            by_estimate = np.argsort(estimate, kind="stable")
            for j in list(dict.fromkeys([*by_handling[:1], *by_estimate])):
                if len(node_ids) > JOINT_EXTRA_NODES:
                    break
                if not np.isfinite(estimate[j]) or sourcing.node_ids[j] in node_ids:
                    continue
                if picks[j] <= 0:
                    continue
                if np.all(spare[j] >= sourcing.basket[i]):
                    spare[j] -= sourcing.basket[i]
                    picks[j] -= 1
                    node_ids.add(sourcing.node_ids[j])
        out[order_id] = node_ids
    return out


def _cost(scenario: Scenario, pairs: list[tuple[NodeProblem, RoutingResult]]) -> tuple:
    """(orders dropped, route + handling cost) of routing results, to compare plans."""
    dropped = sum(len(result.dropped) for _, result in pairs)
    cost = 0.0
    for batch, result in pairs:
        for route in to_routes(scenario, batch, result):
            cost += route.cost_eur + scenario.nodes[route.node_id].handling_cost_eur * len(
                route.stops
            )
    return dropped, cost


def _better(scenario: Scenario, joint: tuple, per_node: list[tuple]) -> bool:
    """Whether the joint routes beat the per-node ones. An order either leaves out goes
    to the retry round, where placing it rarely costs more than ``RETRY_ALLOWANCE_EUR``."""
    joint_dropped, joint_cost = _cost(scenario, [joint])
    node_dropped, node_cost = _cost(scenario, per_node)
    return joint_cost + RETRY_ALLOWANCE_EUR * joint_dropped < (
        node_cost + RETRY_ALLOWANCE_EUR * node_dropped
    )


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


# -- node problems ---------------------------------------------------------------------


def build_node_problem(
    scenario: Scenario, travel: TravelProvider, node_id: str, order_ids: list[str]
) -> NodeProblem:
    """The routing problem of one node: its vehicles and the orders sourced to it."""
    vehicles = [v for v in scenario.vehicles if v.node_id == node_id]
    return build_problem(scenario, travel, node_id, order_ids, vehicles)


def build_problem(
    scenario: Scenario,
    travel: TravelProvider,
    key: str,
    order_ids: list[str],
    vehicles: list[Vehicle],
    candidates: dict[str, set[str]] | None = None,
) -> NodeProblem:
    """A routing problem over ``vehicles`` (of one node or several) and ``order_ids``.

    Locations are the vehicles' nodes, then the orders. An order may go on a vehicle
    whose type may deliver it (zones, service, size) and, when ``candidates`` is given,
    whose node is one of the order's candidate nodes.

    An exchange whose delivery order and pickup (return) are both in ``order_ids`` is one
    stop, so every engine keeps them together: the order's size is delivered and the
    return's picked up there; its service time is both handovers' (the order's then the
    return's ``service_time_s``: the driver hands over the replacement, then takes the
    old item back, two handovers at the door); it must start early enough for the pickup
    to start in the slot too (the slot's end less the delivery's service time); a vehicle
    may serve it if it may serve both; leaving it out costs both penalties. When no
    vehicle may serve both halves they stay two stops.
    """
    orders = [scenario.orders_by_id[o] for o in order_ids]
    depots = list(dict.fromkeys(v.node_id for v in vehicles))
    depot_index = {n: k for k, n in enumerate(depots)}
    nodes = [scenario.nodes[n] for n in depots]
    types = [scenario.vehicle_types[v.vehicle_type_id] for v in vehicles]

    baskets = [
        (o.service, scenario.weight_kg(o), scenario.volume_l(o), scenario.zones_at(o.lat, o.lon))
        for o in orders
    ]
    allowed_by_type = {
        vt.vehicle_type_id: np.array([vt.may_carry(*b) for b in baskets], dtype=bool)
        for vt in set(types)
    }
    may = np.zeros((len(orders), len(vehicles)), dtype=bool)  # per order (or return)
    for v, vehicle in enumerate(vehicles):
        may[:, v] = allowed_by_type[vehicle.vehicle_type_id]
        if candidates is not None:
            may[:, v] &= np.array([vehicle.node_id in candidates[o] for o in order_ids])
    size = np.array(
        [[_grams(scenario.weight_kg(o)), _ml(scenario.volume_l(o))] for o in orders],
        dtype=np.int64,
    ).reshape(len(orders), 2)

    # An exchange is one stop when a vehicle may serve both halves (else two, as today).
    row = {o: k for k, o in enumerate(order_ids)}
    pickup_of = {
        o: r
        for o, r in _exchanges(scenario, order_ids).items()
        if np.any(may[row[o]] & may[row[r]])
    }
    along = set(pickup_of.values())
    keys = [o for o in order_ids if o not in along]  # stop i is keys[i]
    rows = [row[o] for o in keys]
    stops = [orders[k] for k in rows]
    lat = np.array([n.lat for n in nodes] + [o.lat for o in stops])
    lon = np.array([n.lon for n in nodes] + [o.lon for o in stops])
    profiles = sorted({Profile.of(vt) for vt in types}, key=lambda p: (p.mode, p.speed_kmh))
    matrices = [travel.matrices(lat, lon, p) for p in profiles]
    profile_index = {p: k for k, p in enumerate(profiles)}

    node_of = [scenario.nodes[v.node_id] for v in vehicles]
    is_pickup = np.array([o in scenario.returns_by_id for o in keys], dtype=bool)
    demand = np.where(is_pickup[:, None], 0, size[rows])
    pickup = np.where(is_pickup[:, None], size[rows], 0)
    allowed = may[rows]
    service_s = np.array([o.service_time_s for o in stops], dtype=np.int64)
    tw_end_s = np.array([o.slot_end_s for o in stops], dtype=np.int64)
    penalty_eur = np.full(len(keys), scenario.settings.unserved_penalty_eur)
    for i, order_id in enumerate(keys):
        if order_id not in pickup_of:
            continue
        back = row[pickup_of[order_id]]
        allowed[i] &= may[back]
        pickup[i] = size[back]
        service_s[i] += orders[back].service_time_s
        tw_end_s[i] = max(stops[i].slot_start_s, stops[i].slot_end_s - stops[i].service_time_s)
        penalty_eur[i] *= 2
    problem = RoutingProblem(
        distance_m=[m[0] for m in matrices],
        duration_s=[m[1] for m in matrices],
        vehicle_profile=np.array([profile_index[Profile.of(vt)] for vt in types], dtype=np.int64),
        vehicle_start_location=np.array([depot_index[v.node_id] for v in vehicles], dtype=np.int64),
        vehicle_earliest_start_s=np.array(
            [max(v.shift_start_s, n.opens_s) for v, n in zip(vehicles, node_of, strict=True)],
            dtype=np.int64,
        ),
        vehicle_latest_start_s=np.array([n.closes_s for n in node_of], dtype=np.int64),
        vehicle_latest_end_s=np.array([v.shift_end_s for v in vehicles], dtype=np.int64),
        vehicle_capacity=np.array(
            [[_grams(vt.capacity_kg, floor=True), _ml(vt.capacity_l, floor=True)] for vt in types],
            dtype=np.int64,
        ).reshape(len(vehicles), 2),
        vehicle_max_distance_m=np.array([int(vt.range_km * 1000) for vt in types], dtype=np.int64),
        vehicle_fixed_cost_eur=np.array([vt.fixed_cost_eur for vt in types], dtype=np.float64),
        vehicle_cost_per_m_eur=np.array([vt.cost_per_km_eur / 1000 for vt in types]),
        vehicle_cost_per_s_eur=np.array([vt.cost_per_hour_eur / 3600 for vt in types]),
        stop_location=np.arange(len(depots), len(depots) + len(keys), dtype=np.int64),
        stop_demand=demand,
        stop_pickup=pickup if is_pickup.any() or pickup_of else None,
        stop_service_s=service_s,
        tw_start_s=np.array([o.slot_start_s for o in stops], dtype=np.int64),
        tw_end_s=tw_end_s,
        allowed=allowed,
        penalty_eur=penalty_eur,
        vehicle_max_trips=np.array([vt.max_trips for vt in types], dtype=np.int64),
        vehicle_reload_s=np.array([vt.reload_s for vt in types], dtype=np.int64),
        break_s=scenario.settings.break_duration_s,
        max_work_before_break_s=scenario.settings.max_work_before_break_s,
        break_over_s=scenario.settings.break_over_s,
    )
    return NodeProblem(
        node_id=key,
        order_ids=keys,
        vehicles=vehicles,
        problem=problem,
        pickup_of=pickup_of,
    )


def _exchanges(scenario: Scenario, ids: list[str]) -> dict[str, str]:
    """order -> return of each exchange whose delivery and pickup are both in ``ids``
    and may be one visit (:meth:`Scenario.exchange_order`)."""
    present = set(ids)
    out = {}
    for return_id in ids:
        ret = scenario.returns_by_id.get(return_id)
        order = scenario.exchange_order(ret) if ret is not None else None
        if order is not None and order.order_id in present:
            out[order.order_id] = return_id
    return out


def _grams(kg: float, floor: bool = False) -> int:
    # Loads are integers in the engine: demands round up and capacities down, so a plan
    # that fits in grams also fits in kilograms.
    return int(math.floor(kg * 1000 + 1e-6)) if floor else int(math.ceil(kg * 1000 - 1e-6))


def _ml(litres: float, floor: bool = False) -> int:
    return _grams(litres, floor)


def _solve_batches(
    batches: dict[str, NodeProblem],
    budget_s: float,
    engine: RoutingEngine,
    workers: int,
    report: Progress,
) -> dict[str, RoutingResult]:
    """Solve every batch within ``budget_s`` of wall time on ``workers`` processes. The
    joint problem, if any, gets a worker and the whole budget to itself; node problems
    share the other workers' time in proportion to their stops."""
    batches = {k: b for k, b in batches.items() if b.problem.num_stops}
    joint = JOINT in batches
    node_keys = [k for k in batches if k != JOINT]
    node_workers = max(1, workers - 1) if joint and workers > 1 else workers
    node_budget = budget_s / 2 if joint and workers == 1 else budget_s
    total = sum(batches[k].problem.num_stops for k in node_keys) or 1
    limits = {
        k: min(
            node_budget, max(0.5, node_budget * node_workers * batches[k].problem.num_stops / total)
        )
        for k in node_keys
    }
    if joint:
        limits[JOINT] = budget_s / 2 if workers == 1 else budget_s
    # The joint problem first, then the largest: the longest solves do not start last.
    order = sorted(batches, key=lambda k: (k != JOINT, -batches[k].problem.num_stops))
    out: dict[str, RoutingResult] = {}
    if workers == 1 or len(order) == 1:
        for n, k in enumerate(order):
            out[k] = engine.solve(batches[k].problem, limits[k])
            report((n + 1) / len(order), f"routed {k}")
        return out
    with worker_pool(workers) as pool:
        futures = {k: pool.submit(engine.solve, batches[k].problem, limits[k]) for k in order}
        for n, k in enumerate(order):
            out[k] = futures[k].result()
            report((n + 1) / len(order), f"routed {k}")
    return out


# -- results -----------------------------------------------------------------------------


def to_routes(scenario: Scenario, node_problem: NodeProblem, result: RoutingResult) -> list[Route]:
    """Turn engine routes into timed, loaded, costed :class:`Route` objects, one per tour:
    a later tour starts when the previous one is back and reloads before leaving; the
    vehicle's fixed cost is on its first tour only. An exchange's stop becomes two plan
    stops at the address: the delivery, then the pickup (arriving when the delivery is
    done, no leg between)."""
    p = node_problem.problem
    out = []
    for r in result.routes:
        vehicle = node_problem.vehicles[r.vehicle]
        vt = scenario.vehicle_types[vehicle.vehicle_type_id]
        dist = p.distance_m[p.vehicle_profile[r.vehicle]]
        dur = p.duration_s[p.vehicle_profile[r.vehicle]]
        depot = int(p.vehicle_start_location[r.vehicle])
        start = int(r.start_s)
        for k, trip in enumerate(r.trips()):
            reload_s = p.reload_s(r.vehicle) if k else 0
            rest = r.rest if r.rest is not None and r.rest.trip == k else None
            breaks: list[Break] = []

            def take_break(served: int, after_stop: int, t: int, rest=rest, breaks=breaks) -> int:
                # ``served``: the engine's stops so far; ``after_stop``: the plan's
                if rest is None or rest.after_stop != served:
                    return t
                breaks.append(Break(rest.start_s, rest.start_s + rest.duration_s, after_stop))
                return max(t, rest.start_s + rest.duration_s)

            # (engine stop, order-like visit): an exchange's stop is two visits
            visits = [(i, scenario.orders_by_id[u]) for i in trip for u in node_problem.members(i)]
            orders = [o for _, o in visits]
            pickup = [o.order_id in scenario.returns_by_id for o in orders]
            load_kg = sum(
                scenario.weight_kg(o) for o, up in zip(orders, pickup, strict=True) if not up
            )
            load_l = sum(
                scenario.volume_l(o) for o, up in zip(orders, pickup, strict=True) if not up
            )
            t, prev, total_m = take_break(0, 0, start + reload_s), depot, 0
            stops = []
            kg, litres = load_kg, load_l
            served = 0
            for j, (i, order) in enumerate(visits, 1):
                loc = int(p.stop_location[i])
                same_visit = j > 1 and visits[j - 2][0] == i  # an exchange's pickup
                arrival = t if same_visit else t + int(dur[prev, loc])
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
                        kind="pickup" if pickup[j - 1] else "delivery",
                        return_id=order.order_id if pickup[j - 1] else None,
                    )
                )
                sign = -1 if pickup[j - 1] else 1  # a delivery leaves, a pickup boards
                kg -= sign * scenario.weight_kg(order)
                litres -= sign * scenario.volume_l(order)
                t, prev = begin + order.service_time_s, loc
                if j == len(visits) or visits[j][0] != i:  # the engine's stop is done
                    served += 1
                    t = take_break(served, j, t)
            end = t + int(dur[prev, depot])
            total_m += int(dist[prev, depot])
            hours = (end - start) / 3600
            fixed = vt.fixed_cost_eur if k == 0 else 0.0
            cost = fixed + vt.cost_per_km_eur * total_m / 1000 + vt.cost_per_hour_eur * hours
            out.append(
                Route(
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
            )
            start = end
    return out


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
