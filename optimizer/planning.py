"""The daily plan: sourcing, then routes per node, then a :class:`Plan`.

1. Every order gets a node (:mod:`optimizer.sourcing`); click & collect orders are
   picked at their store and not routed.
2. Each node's orders become one :class:`RoutingProblem` over that node's fleet, solved
   by the chosen engine; nodes are solved in parallel processes.
3. Orders a node's routes could not fit are re-sourced to the next node with the stock
   and that node is solved again (one retry round).
4. Whatever is still unserved is listed with a reason a planner can act on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from optimizer.model import (
    Collection,
    Plan,
    Route,
    Scenario,
    Stop,
    Unassigned,
    UnassignedCode,
    Vehicle,
)
from optimizer.routing import ENGINES, RoutingEngine, RoutingProblem, RoutingResult
from optimizer.sourcing import GreedySourcing, SourcingParams
from optimizer.travel import GreatCircle, Profile, TravelProvider

Progress = Callable[[float, str], None]

# Share of the time limit given to the first routing round; the rest goes to the
# nodes that take over orders another node could not fit.
FIRST_ROUND_SHARE = 0.8


@dataclass(frozen=True)
class PlanParams:
    """How to plan the day.

    Parameters
    ----------
    time_limit_s
        Wall-clock budget for routing (all nodes, all rounds).
    engine
        Routing engine name (see ``optimizer.routing.ENGINES``).
    workers
        Processes solving nodes in parallel.
    sourcing
        How nodes are chosen (:class:`optimizer.sourcing.SourcingParams`).
    """

    time_limit_s: float = 30.0
    engine: str = "ortools"
    workers: int = 2
    sourcing: SourcingParams = field(default_factory=SourcingParams)

    def __post_init__(self):
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s <= 0 not understood.")
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r} not understood; one of {sorted(ENGINES)}.")
        if self.workers < 1:
            raise ValueError("workers < 1 not understood.")


@dataclass
class NodeProblem:
    """A node's routing problem and what its indices stand for."""

    node_id: str
    order_ids: list[str]  # stop i is order_ids[i]; location i + 1
    vehicles: list[Vehicle]
    problem: RoutingProblem


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
    node_orders: dict[str, list[str]] = {}
    for order_id, decision in chosen.decisions.items():
        node_orders.setdefault(decision.node_id, []).append(order_id)
    decisions = dict(chosen.decisions)

    budget = params.time_limit_s * FIRST_ROUND_SHARE
    solved = _solve_nodes(scenario, travel, engine, node_orders, budget, params.workers, report)

    # Retry: orders a node could not fit go to the next node with stock and room.
    dropped = {nid: [np_.order_ids[i] for i in res.dropped] for nid, (np_, res) in solved.items()}
    retry_ids = [o for ids in dropped.values() for o in ids]
    if retry_ids:
        for order_id in retry_ids:
            sourcing.release(order_id)
            del decisions[order_id]
        exclude = {o: {nid} for nid, ids in dropped.items() for o in ids}
        second = sourcing.assign(retry_ids, exclude=exclude)
        unassigned += second.unassigned
        touched: dict[str, list[str]] = {}
        for order_id, decision in second.decisions.items():
            decisions[order_id] = decision
            touched.setdefault(decision.node_id, [])
        for nid, ids in dropped.items():
            node_orders[nid] = [o for o in node_orders[nid] if o not in set(ids)]
        for order_id, decision in second.decisions.items():
            node_orders.setdefault(decision.node_id, []).append(order_id)
        remaining = max(1.0, params.time_limit_s - (time.perf_counter() - started))
        resolved = _solve_nodes(
            scenario,
            travel,
            engine,
            {nid: node_orders[nid] for nid in touched},
            remaining,
            params.workers,
            report,
        )
        for nid in dropped:  # their dropped orders were re-sourced above
            solved[nid][1].dropped = []
        solved.update(resolved)

    routes: list[Route] = []
    for node_id, (node_problem, result) in sorted(solved.items()):
        routes += _routes(scenario, node_problem, result)
        for i in result.dropped:
            order_id = node_problem.order_ids[i]
            decisions.pop(order_id, None)
            sourcing.release(order_id)
            unassigned.append(_fleet_full(scenario, order_id, node_id))

    collections = [
        Collection(order_id=o, node_id=n, ready_by_s=scenario.orders_by_id[o].slot_start_s)
        for o, n in chosen.collections.items()
    ]
    sources = {o: d.node_id for o, d in decisions.items()} | dict(chosen.collections)
    report(1.0, "done")
    return Plan(
        scenario_name=scenario.settings.name,
        sources=sources,
        routes=sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)),
        collections=sorted(collections, key=lambda c: c.order_id),
        unassigned=sorted(unassigned, key=lambda u: u.order_id),
        engine=engine.name,
        solve_s=time.perf_counter() - started,
        decisions=decisions,
    )


# -- node problems ---------------------------------------------------------------------


def build_node_problem(
    scenario: Scenario, travel: TravelProvider, node_id: str, order_ids: list[str]
) -> NodeProblem:
    """The routing problem of one node: its vehicles and the orders sourced to it."""
    node = scenario.nodes[node_id]
    orders = [scenario.orders_by_id[o] for o in order_ids]
    vehicles = [v for v in scenario.vehicles if v.node_id == node_id]
    types = [scenario.vehicle_types[v.vehicle_type_id] for v in vehicles]
    lat = np.array([node.lat] + [o.lat for o in orders])
    lon = np.array([node.lon] + [o.lon for o in orders])

    profiles = sorted({Profile.of(vt) for vt in types}, key=lambda p: (p.mode, p.speed_kmh))
    matrices = [travel.matrices(lat, lon, p) for p in profiles]
    profile_index = {p: k for k, p in enumerate(profiles)}

    allowed_by_type = {}
    for vt in set(types):
        allowed_by_type[vt.vehicle_type_id] = np.array(
            [
                scenario.may_deliver(vt, o)
                and scenario.weight_kg(o) <= vt.capacity_kg + 1e-9
                and scenario.volume_l(o) <= vt.capacity_l + 1e-9
                for o in orders
            ],
            dtype=bool,
        )
    allowed = np.zeros((len(orders), len(vehicles)), dtype=bool)
    for v, vehicle in enumerate(vehicles):
        allowed[:, v] = allowed_by_type[vehicle.vehicle_type_id]

    problem = RoutingProblem(
        distance_m=[m[0] for m in matrices],
        duration_s=[m[1] for m in matrices],
        vehicle_profile=np.array([profile_index[Profile.of(vt)] for vt in types], dtype=np.int64),
        vehicle_start_location=np.zeros(len(vehicles), dtype=np.int64),
        vehicle_earliest_start_s=np.array(
            [max(v.shift_start_s, node.opens_s) for v in vehicles], dtype=np.int64
        ),
        vehicle_latest_start_s=np.full(len(vehicles), node.closes_s, dtype=np.int64),
        vehicle_latest_end_s=np.array([v.shift_end_s for v in vehicles], dtype=np.int64),
        vehicle_capacity=np.array(
            [[_grams(vt.capacity_kg, floor=True), _ml(vt.capacity_l, floor=True)] for vt in types],
            dtype=np.int64,
        ).reshape(len(vehicles), 2),
        vehicle_max_distance_m=np.array([int(vt.range_km * 1000) for vt in types], dtype=np.int64),
        vehicle_fixed_cost_eur=np.array([vt.fixed_cost_eur for vt in types], dtype=np.float64),
        vehicle_cost_per_m_eur=np.array([vt.cost_per_km_eur / 1000 for vt in types]),
        vehicle_cost_per_s_eur=np.array([vt.cost_per_hour_eur / 3600 for vt in types]),
        stop_location=np.arange(1, len(orders) + 1, dtype=np.int64),
        stop_demand=np.array(
            [[_grams(scenario.weight_kg(o)), _ml(scenario.volume_l(o))] for o in orders],
            dtype=np.int64,
        ).reshape(len(orders), 2),
        stop_service_s=np.array([o.service_time_s for o in orders], dtype=np.int64),
        tw_start_s=np.array([o.slot_start_s for o in orders], dtype=np.int64),
        tw_end_s=np.array([o.slot_end_s for o in orders], dtype=np.int64),
        allowed=allowed,
        penalty_eur=np.full(len(orders), scenario.settings.unserved_penalty_eur),
    )
    return NodeProblem(
        node_id=node_id, order_ids=list(order_ids), vehicles=vehicles, problem=problem
    )


def _grams(kg: float, floor: bool = False) -> int:
    # Loads are integers in the engine: demands round up and capacities down, so a plan
    # that fits in grams also fits in kilograms.
    return int(math.floor(kg * 1000 + 1e-6)) if floor else int(math.ceil(kg * 1000 - 1e-6))


def _ml(litres: float, floor: bool = False) -> int:
    return _grams(litres, floor)


def _solve_nodes(
    scenario: Scenario,
    travel: TravelProvider,
    engine: RoutingEngine,
    node_orders: dict[str, list[str]],
    budget_s: float,
    workers: int,
    report: Progress,
) -> dict[str, tuple[NodeProblem, RoutingResult]]:
    """Solve each node's problem; the budget is shared in proportion to the stops."""
    problems = {
        nid: build_node_problem(scenario, travel, nid, ids)
        for nid, ids in node_orders.items()
        if ids
    }
    total = sum(p.problem.num_stops for p in problems.values()) or 1
    limits = {
        nid: min(budget_s, max(0.5, budget_s * workers * p.problem.num_stops / total))
        for nid, p in problems.items()
    }
    # Largest first, so the longest solves do not start last.
    order = sorted(problems, key=lambda nid: -problems[nid].problem.num_stops)
    out: dict[str, tuple[NodeProblem, RoutingResult]] = {}
    if workers == 1 or len(order) == 1:
        for k, nid in enumerate(order):
            out[nid] = (problems[nid], engine.solve(problems[nid].problem, limits[nid]))
            report((k + 1) / len(order), f"routed {nid}")
        return out
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            nid: pool.submit(engine.solve, problems[nid].problem, limits[nid]) for nid in order
        }
        for k, nid in enumerate(order):
            out[nid] = (problems[nid], futures[nid].result())
            report((k + 1) / len(order), f"routed {nid}")
    return out


# -- results -----------------------------------------------------------------------------


def _routes(scenario: Scenario, node_problem: NodeProblem, result: RoutingResult) -> list[Route]:
    """Turn engine routes into timed, loaded, costed :class:`Route` objects."""
    p = node_problem.problem
    out = []
    for r in result.routes:
        vehicle = node_problem.vehicles[r.vehicle]
        vt = scenario.vehicle_types[vehicle.vehicle_type_id]
        dist = p.distance_m[p.vehicle_profile[r.vehicle]]
        dur = p.duration_s[p.vehicle_profile[r.vehicle]]
        orders = [scenario.orders_by_id[node_problem.order_ids[i]] for i in r.stops]
        load_kg = sum(scenario.weight_kg(o) for o in orders)
        load_l = sum(scenario.volume_l(o) for o in orders)
        t, prev, total_m = int(r.start_s), 0, 0
        stops = []
        kg, litres = load_kg, load_l
        for i, order in zip(r.stops, orders, strict=True):
            loc = int(p.stop_location[i])
            arrival = t + int(dur[prev, loc])
            begin = max(arrival, order.slot_start_s)
            leg = int(dist[prev, loc])
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
                )
            )
            kg -= scenario.weight_kg(order)
            litres -= scenario.volume_l(order)
            t, prev = begin + order.service_time_s, loc
        end = t + int(dur[prev, 0])
        total_m += int(dist[prev, 0])
        hours = (end - r.start_s) / 3600
        cost = (
            vt.fixed_cost_eur + vt.cost_per_km_eur * total_m / 1000 + vt.cost_per_hour_eur * hours
        )
        out.append(
            Route(
                vehicle_id=vehicle.vehicle_id,
                vehicle_type_id=vt.vehicle_type_id,
                node_id=node_problem.node_id,
                mode=str(vt.mode),
                start_s=int(r.start_s),
                end_s=end,
                stops=stops,
                distance_m=total_m,
                load_kg=round(load_kg, 3),
                load_l=round(load_l, 3),
                cost_eur=round(cost, 6),
                co2_g=round(vt.co2_g_per_km * total_m / 1000, 6),
            )
        )
    return out


def _fleet_full(scenario: Scenario, order_id: str, node_id: str) -> Unassigned:
    order = scenario.orders_by_id[order_id]
    to = scenario.settings.to_datetime
    return Unassigned(
        order_id=order_id,
        code=UnassignedCode.FLEET_FULL,
        reason=(
            f"the routes of {node_id} (and of every other node with the stock) are full in "
            f"slot {to(order.slot_start_s):%H:%M}-{to(order.slot_end_s):%H:%M}"
        ),
        node_id=node_id,
    )
