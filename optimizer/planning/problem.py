"""The one translation of a scenario into a :class:`RoutingProblem`.

A node's batch (or the joint batch over every node) becomes arrays: its vehicles'
nodes then its stops as locations, one matrix pair per travel profile, and per vehicle
and per stop what the engines need (:func:`build_problem`). Every vehicle rule (types,
fleet, shifts, breaks, reloads, range, zone access) is turned into arrays in one place,
:func:`vehicle_arrays`, which the re-plan uses too: a new rule is one array there.
:func:`_solve_batches` solves the day's batches in parallel processes within the time
budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimizer.model import ItemNeeds, Order, Scenario, Service, Vehicle, Zone, grams
from optimizer.processes import worker_pool
from optimizer.routing import (
    NO_STOP_LIMIT,
    RouteResult,
    RoutingEngine,
    RoutingProblem,
    RoutingResult,
)
from optimizer.travel import Profile, TravelProvider, speed_profile
from optimizer.travel.time_of_day import conservative_legs_s

Progress = Callable[[float, str], None]

# The key of the joint batch (one problem over every node, see
# :mod:`optimizer.planning.joint`) among the node ids.
JOINT = "*joint*"
# The joint problem searched a second time, on another seed stream, by the worker the
# node problems leave free (see :func:`_solve_batches`).
JOINT_AGAIN = "*joint*again"
# Share of the budget the node problems get when a second search of the joint problem
# follows them on their worker. With every node a candidate the joint routes won on the
# peers' 600-order day, data/paris and the 2,000-order days measured (docs/both-cores.md),
# so the node problems are mostly the fallback and the warm start of that second search,
# which is worth more of the second core's time.
NODE_SHARE_BESIDE_JOINT = 0.25
MIN_SECOND_SEARCH_S = 2.0  # less is too short for PyVRP to get past its construction


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
    fleet = vehicle_arrays(scenario, vehicles, [_basket(scenario, o) for o in orders])
    may = fleet.may_carry  # per order (or return)
    if candidates is not None:
        for v, vehicle in enumerate(vehicles):
            may[:, v] &= np.array([vehicle.node_id in candidates[o] for o in order_ids])
    stops = _stop_arrays(scenario, order_ids, may)
    nodes = [scenario.nodes[n] for n in fleet.depot_ids]
    places = [scenario.orders_by_id[o] for o in stops.keys]
    lat = np.array([n.lat for n in nodes] + [o.lat for o in places])
    lon = np.array([n.lon for n in nodes] + [o.lon for o in places])
    matrices = [travel.matrices(lat, lon, p) for p in fleet.profiles]
    problem = RoutingProblem(
        distance_m=[m[0] for m in matrices],
        **_durations(travel, fleet, stops, [m[1] for m in matrices]),
        **fleet.routing_fields(),
        stop_location=np.arange(len(nodes), len(nodes) + len(stops.keys), dtype=np.int64),
        **stops.routing_fields(),
    )
    return NodeProblem(
        node_id=key,
        order_ids=stops.keys,
        vehicles=vehicles,
        problem=problem,
        pickup_of=stops.pickup_of,
    )


def _durations(
    travel: TravelProvider, fleet: VehicleArrays, stops: _Stops, free_s: list[np.ndarray]
) -> dict:
    """The duration fields of a :class:`RoutingProblem`: the free-flow matrices when the
    travel has no hours; else, for the engines, each leg at the worst hour it can be
    driven in (from the earliest it can leave its stop, its slot's start plus its service,
    to the latest it may reach the next, its slot's end; a node's from its vehicles'
    earliest start to their latest end), with the free-flow matrices and the hours the
    schedule times the routes with. A route the engines find feasible is then feasible
    hour by hour too: no leg it drives takes longer, and leaving earlier never arrives
    later (docs/time-of-day.md)."""
    speed = speed_profile(travel)
    if speed.is_flat:
        return {"duration_s": free_s}
    hours = [speed.of(p.mode) for p in fleet.profiles]
    planned = []
    for k, (factors, free) in enumerate(zip(hours, free_s, strict=True)):
        leave_s, arrive_s = _leg_bounds(fleet, stops, k, len(free))
        planned.append(conservative_legs_s(free, factors, leave_s, arrive_s))
    return {"duration_s": planned, "free_flow_s": free_s, "hours": hours}


def _leg_bounds(
    fleet: VehicleArrays, stops: _Stops, k: int, locations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per location (the nodes, then the stops): the earliest a vehicle of profile ``k``
    leaves it and the latest it arrives there."""
    mine = fleet.profile == k
    if not mine.any():
        mine = np.ones_like(mine)
    nodes = locations - len(stops.keys)
    leave_s = np.full(locations, fleet.earliest_start_s[mine].min(), dtype=np.int64)
    arrive_s = np.full(locations, fleet.latest_end_s[mine].max(), dtype=np.int64)
    for d in range(nodes):
        here = mine & (fleet.start_location == d)
        if here.any():
            leave_s[d] = fleet.earliest_start_s[here].min()
            arrive_s[d] = fleet.latest_end_s[here].max()
    leave_s[nodes:] = stops.tw_start_s + stops.service_s
    arrive_s[nodes:] = stops.tw_end_s
    return leave_s, arrive_s


# service, weight_kg, volume_l, zones, what the items need (None: nothing)
Basket = tuple[Service, float, float, list[Zone], ItemNeeds | None]


def _basket(scenario: Scenario, order: Order) -> Basket:
    """What decides which vehicle types may carry an order: service, size, zones, and
    what its items need (a parcel's own lines): the modes they allow, the crew and the
    equipment; a return's pickup needs the crew and equipment of its items, not their
    modes (:meth:`Scenario.pickup_needs`)."""
    zones = scenario.zones_at(order.lat, order.lon)
    is_return = order.order_id in scenario.returns_by_id
    needs = scenario.item_needs(order.lines, modes=not is_return)
    return (order.service, scenario.weight_kg(order), scenario.volume_l(order), zones, needs)


@dataclass(frozen=True)
class VehicleArrays:
    """Per vehicle (in the order given to :func:`vehicle_arrays`), every vehicle rule in
    the engines' units: what a :class:`RoutingProblem` knows of its vehicles.

    Locations ``0 .. len(depot_ids) - 1`` are the vehicles' nodes; matrix pair ``k`` is
    for ``profiles[k]``. ``may_carry[b, v]``: vehicle ``v``'s type may carry basket ``b``
    (zone access, service, size, the items' modes, crew and equipment).
    """

    depot_ids: list[str]
    profiles: list[Profile]
    profile: np.ndarray  # (V,) int, index into profiles
    start_location: np.ndarray  # (V,) int, index into depot_ids
    earliest_start_s: np.ndarray  # (V,) int: the shift's start, not before the node opens
    latest_start_s: np.ndarray  # (V,) int: when its node closes
    latest_end_s: np.ndarray  # (V,) int: the shift's end
    capacity: np.ndarray  # (V, 2) int: grams, millilitres (rounded down)
    max_distance_m: np.ndarray  # (V,) int: the range, for the whole shift
    fixed_cost_eur: np.ndarray  # (V,) float
    cost_per_m_eur: np.ndarray  # (V,) float
    cost_per_s_eur: np.ndarray  # (V,) float
    max_trips: np.ndarray  # (V,) int
    reload_s: np.ndarray  # (V,) int
    max_stops: np.ndarray | None  # (V,) int, stops a tour may make; None: no limit at all
    may_carry: np.ndarray  # (B, V) bool
    break_s: int
    max_work_before_break_s: int
    break_over_s: int

    def routing_fields(self) -> dict:
        """The vehicle fields of a :class:`RoutingProblem`."""
        return dict(
            vehicle_profile=self.profile,
            vehicle_start_location=self.start_location,
            vehicle_earliest_start_s=self.earliest_start_s,
            vehicle_latest_start_s=self.latest_start_s,
            vehicle_latest_end_s=self.latest_end_s,
            vehicle_capacity=self.capacity,
            vehicle_max_distance_m=self.max_distance_m,
            vehicle_fixed_cost_eur=self.fixed_cost_eur,
            vehicle_cost_per_m_eur=self.cost_per_m_eur,
            vehicle_cost_per_s_eur=self.cost_per_s_eur,
            vehicle_max_trips=self.max_trips,
            vehicle_reload_s=self.reload_s,
            vehicle_max_stops=self.max_stops,
            break_s=self.break_s,
            max_work_before_break_s=self.max_work_before_break_s,
            break_over_s=self.break_over_s,
        )


def vehicle_arrays(
    scenario: Scenario, vehicles: list[Vehicle], baskets: list[Basket] = ()
) -> VehicleArrays:
    """The one translation of vehicle types, fleet, shifts, breaks, reloads, range and
    zone access into the arrays the engines use (and the re-plan, from the same rules).

    ``baskets`` (service, weight_kg, volume_l, zones at the address, item needs) are the stops to
    test each vehicle's type against (:meth:`VehicleType.may_carry`).
    """
    types = [scenario.vehicle_types[v.vehicle_type_id] for v in vehicles]
    depot_ids = list(dict.fromkeys(v.node_id for v in vehicles))
    depot_index = {n: k for k, n in enumerate(depot_ids)}
    profiles = sorted({Profile.of(vt) for vt in types}, key=lambda p: (p.mode, p.speed_kmh))
    profile_index = {p: k for k, p in enumerate(profiles)}
    node_of = [scenario.nodes[v.node_id] for v in vehicles]
    allowed_by_type = {
        vt.vehicle_type_id: np.array([vt.may_carry(*b) for b in baskets], dtype=bool)
        for vt in set(types)
    }
    may_carry = np.zeros((len(baskets), len(vehicles)), dtype=bool)
    for v, vehicle in enumerate(vehicles):
        may_carry[:, v] = allowed_by_type[vehicle.vehicle_type_id]
    settings = scenario.settings
    return VehicleArrays(
        depot_ids=depot_ids,
        profiles=profiles,
        profile=np.array([profile_index[Profile.of(vt)] for vt in types], dtype=np.int64),
        start_location=np.array([depot_index[v.node_id] for v in vehicles], dtype=np.int64),
        earliest_start_s=np.array(
            [max(v.shift_start_s, n.opens_s) for v, n in zip(vehicles, node_of, strict=True)],
            dtype=np.int64,
        ),
        latest_start_s=np.array([n.closes_s for n in node_of], dtype=np.int64),
        latest_end_s=np.array([v.shift_end_s for v in vehicles], dtype=np.int64),
        capacity=np.array(
            [[vt.capacity_g, vt.capacity_ml] for vt in types], dtype=np.int64
        ).reshape(len(vehicles), 2),
        max_distance_m=np.array([int(vt.range_m) for vt in types], dtype=np.int64),
        fixed_cost_eur=np.array([vt.fixed_cost_eur for vt in types], dtype=np.float64),
        cost_per_m_eur=np.array([vt.cost_per_m_eur for vt in types]),
        cost_per_s_eur=np.array([vt.cost_per_s_eur for vt in types]),
        max_trips=np.array([vt.max_trips for vt in types], dtype=np.int64),
        reload_s=np.array([vt.reload_s for vt in types], dtype=np.int64),
        max_stops=(
            np.array([vt.max_stops or NO_STOP_LIMIT for vt in types], dtype=np.int64)
            if any(vt.max_stops is not None for vt in types)
            else None
        ),
        may_carry=may_carry,
        break_s=settings.break_duration_s,
        max_work_before_break_s=settings.max_work_before_break_s,
        break_over_s=settings.break_over_s,
    )


@dataclass
class _Stops:
    """The stops of a batch: stop ``i`` is ``keys[i]`` (an exchange is one stop, keyed
    by its order; ``pickup_of`` names its return), with their arrays."""

    keys: list[str]
    pickup_of: dict[str, str]
    demand: np.ndarray  # (S, 2) int
    pickup: np.ndarray | None  # (S, 2) int, None without pickups
    service_s: np.ndarray
    tw_start_s: np.ndarray
    tw_end_s: np.ndarray
    allowed: np.ndarray  # (S, V) bool
    penalty_eur: np.ndarray

    def routing_fields(self) -> dict:
        """The stop fields of a :class:`RoutingProblem` (but their locations)."""
        return dict(
            stop_demand=self.demand,
            stop_pickup=self.pickup,
            stop_service_s=self.service_s,
            tw_start_s=self.tw_start_s,
            tw_end_s=self.tw_end_s,
            allowed=self.allowed,
            penalty_eur=self.penalty_eur,
        )


def _stop_arrays(scenario: Scenario, order_ids: list[str], may: np.ndarray) -> _Stops:
    """The stops of ``order_ids``, ``may[k, v]`` telling whether vehicle ``v`` may serve
    ``order_ids[k]``: an exchange is one stop when a vehicle may serve both halves (else
    two, as before exchanges were visits)."""
    orders = [scenario.orders_by_id[o] for o in order_ids]
    size = np.array(
        [[grams(scenario.weight_kg(o)), grams(scenario.volume_l(o))] for o in orders],
        dtype=np.int64,
    ).reshape(len(orders), 2)
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
    return _Stops(
        keys=keys,
        pickup_of=pickup_of,
        demand=demand,
        pickup=pickup if is_pickup.any() or pickup_of else None,
        service_s=service_s,
        tw_start_s=np.array([o.slot_start_s for o in stops], dtype=np.int64),
        tw_end_s=tw_end_s,
        allowed=allowed,
        penalty_eur=penalty_eur,
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


def _solve_batches(
    batches: dict[str, NodeProblem],
    budget_s: float,
    engine: RoutingEngine,
    workers: int,
    report: Progress,
) -> dict[str, RoutingResult]:
    """Solve every batch within ``budget_s`` of wall time on ``workers`` processes.

    The joint problem, if any, gets a worker and the whole budget to itself; node
    problems share the other workers' time in proportion to their stops. With a second
    worker and an engine that can search again on another seed stream
    (``other_search``), the node problems get ``NODE_SHARE_BESIDE_JOINT`` of the budget
    and the joint problem is searched a second time for the rest (key ``JOINT_AGAIN``),
    starting from the node problems' routes: the sourcing's plan is the warm start of a
    search in which every order may still move to any of its candidate nodes. The joint
    routes kept are the better of the two (:mod:`optimizer.planning.joint`)."""
    started = time.perf_counter()
    batches = {k: b for k, b in batches.items() if b.problem.num_stops}
    again = getattr(engine, "other_search", None)
    second = JOINT in batches and workers > 1 and again is not None
    limits = _time_limits(batches, budget_s, workers, NODE_SHARE_BESIDE_JOINT if second else 1.0)
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
        for n, k in enumerate(order[1:] if second else order):
            out[k] = futures[k].result()
            report((n + 1) / len(order), f"routed {k}")
        left_s = budget_s - (time.perf_counter() - started)
        if second and left_s >= MIN_SECOND_SEARCH_S:
            start = _joint_start(batches, out)  # the node problems' routes
            search = pool.submit(again(1).solve, batches[JOINT].problem, left_s, start)
            out[JOINT_AGAIN] = search.result()
        if second:
            out[JOINT] = futures[JOINT].result()
            report(1.0, f"routed {JOINT}")
    return out


def _joint_start(
    batches: dict[str, NodeProblem], results: dict[str, RoutingResult]
) -> list[RouteResult]:
    """The node problems' routes as routes of the joint problem (its warm start); a
    stop the joint problem keys otherwise (an exchange it keeps as two) is left out."""
    joint = batches[JOINT]
    vehicle_of = {v.vehicle_id: k for k, v in enumerate(joint.vehicles)}
    stop_of = {o: i for i, o in enumerate(joint.order_ids)}
    out = []
    for key, result in results.items():
        batch = batches.get(key)
        if key == JOINT or batch is None:
            continue
        for route in result.routes:
            keys = [[batch.order_ids[i] for i in trip] for trip in route.trips()]
            trips = [[stop_of[o] for o in trip if o in stop_of] for trip in keys]
            trips = [t for t in trips if t]
            out.append(
                RouteResult(
                    vehicle=vehicle_of[batch.vehicles[route.vehicle].vehicle_id],
                    stops=[i for t in trips for i in t],
                    start_s=route.start_s,
                    trip_sizes=[len(t) for t in trips] if len(trips) > 1 else [],
                )
            )
    return out


def _time_limits(
    batches: dict[str, NodeProblem], budget_s: float, workers: int, node_share: float
) -> dict[str, float]:
    """Seconds per batch. With a joint problem: on one worker, the node problems get
    ``NODE_SHARE_BESIDE_JOINT`` of the budget after the joint problem's rest; on more,
    the joint problem gets the whole budget on its worker and the node problems
    ``node_share`` of it on the others. Node problems share their time in proportion
    to their stops."""
    joint = JOINT in batches
    node_keys = [k for k in batches if k != JOINT]
    node_workers = max(1, workers - 1) if joint and workers > 1 else workers
    if joint and workers == 1:
        node_share = NODE_SHARE_BESIDE_JOINT
    node_budget = budget_s * node_share
    total = sum(batches[k].problem.num_stops for k in node_keys) or 1
    limits = {
        k: min(
            node_budget, max(0.5, node_budget * node_workers * batches[k].problem.num_stops / total)
        )
        for k in node_keys
    }
    if joint:
        limits[JOINT] = budget_s * (1 - NODE_SHARE_BESIDE_JOINT) if workers == 1 else budget_s
    return limits
