"""PyVRP routing engine: iterated local search on the general :class:`RoutingProblem`.

PyVRP (MIT, https://github.com/PyVRP/PyVRP) handles multi-depot, heterogeneous
vehicles, several load dimensions, time windows, shifts, range, fixed and per-unit
costs and optional clients with a prize. What it lacks is a client-vehicle
compatibility rule; ``allowed[stop, vehicle]`` is modelled with one PyVRP profile per
distinct (travel profile, allowed pattern) whose arcs into forbidden stops are
prohibitively long in distance and in time (so any route using one is infeasible),
and every returned route is re-checked (:mod:`optimizer.routing.schedule`): a stop a
vehicle may not serve, or one that breaks a window, the capacity, the range or the
shift, is dropped, never returned.

Several tours a shift are PyVRP's reloads: a vehicle type with ``max_trips > 1`` may
come back to a copy of its depot whose service duration is the reload time (and
whose window closes when the last tour must leave), up to ``max_trips - 1`` times; the
range (``max_distance``) is PyVRP's per route, so it holds for the whole shift.
PyVRP has no breaks: a vehicle whose shift is long enough to need one gets a route
duration at most its shift less the break (and twice the work allowed between breaks),
and the schedule places the break in the route afterwards, dropping a stop if it cannot.

PyVRP has no stop limit either: a problem with ``vehicle_max_stops`` gets one more load
dimension in which every client weighs 1 and a vehicle carries its max_stops; a reload
empties it, so the limit holds per tour.

Costs are integers in PyVRP: ``COST_SCALE`` units per euro, as in the OR-Tools engine.
Loads stay in the problem's grams and millilitres. PyVRP penalises a violation per
unit (second of lateness, gram of overload, metre over range) with a weight it adapts
between bounds scaled by the largest per-unit travel cost, so they mean the same
whatever the cost scale, starting from weights that make a typical violation cost about
a typical leg (:meth:`_Model.starting_penalties`), not from the bounds' midpoint.

Every stop is optional, its penalty the prize for serving it. PyVRP searches better
without optional clients, so once its best solution serves every stop whose penalty
exceeds the dearest route any vehicle could drive (dropping one of those never pays),
the search goes on from that solution with them required.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyvrp

from optimizer.routing.problem import RouteResult, RoutingProblem, RoutingResult
from optimizer.routing.schedule import reinsert, route_cost_eur, schedule_route

COST_SCALE = 1_000_000  # integer cost units per euro (a micro-euro resolution)

# PyVRP's own penalty bounds (pyvrp.PenaltyParams), per unit of violation, for a unit
# travel cost of 1; multiplied by the problem's largest per-unit travel cost. The search
# does not start at their midpoint, as PyVRP's does, but at :meth:`_Model.starting_penalties`.
MIN_PENALTY, MAX_PENALTY = 0.1, 100_000.0
# A typical violation first costs about this many typical legs. Measured (one run each,
# loaded machine; commit adding it), the joint problem of the peers' 600-order day at
# 27 s: 2,200 EUR at 1, 2,168 at 3, 2,292 at 10, 2,779 at 0.1 (raw PyVRP at 30 s:
# 2,258); a 2,000-order day of that kind at 40 s: 0 orders left out at 1, 3 and 10
# (6,642 / 6,945 / 7,067 EUR), 30 at 100, 57 from the bounds' midpoint; Solomon R101,
# R105, RC101, RC105 at 3 s: 3 and 10 within 0.7 % of the midpoint's distances or
# shorter, 1 was 4-8 % longer.
STARTING_LEGS = 3.0

# Most of the budget the first stage (every stop optional) may take before the second.
FIRST_STAGE_SHARE = 0.5


class PyVrpEngine:
    """PyVRP's iterated local search with a fixed seed.

    Parameters
    ----------
    seed
        Seed of PyVRP's random number stream (same problem, same seed, same time
        budget on the same machine: the same kind of answer).
    """

    name = "pyvrp"

    def __init__(self, seed: int = 1):
        if seed < 0:
            raise ValueError("seed < 0 not understood.")
        self.seed = seed

    def other_search(self, k: int) -> PyVrpEngine:
        """The same engine on the ``k``-th other seed stream: a search of a problem uses
        ``seed`` and ``seed + 1`` (its two stages), so streams are two apart."""
        return PyVrpEngine(self.seed + 2 * k)

    def solve(
        self,
        problem: RoutingProblem,
        time_limit_s: float,
        initial: list[RouteResult] | None = None,
    ) -> RoutingResult:
        """Routes for ``problem`` within ``time_limit_s``. ``initial`` (routes of this
        problem, say the per-node plan's) is where the search starts: a warm start,
        the search keeping the best it finds from there."""
        if time_limit_s <= 0:
            raise ValueError("time_limit_s <= 0 not understood.")
        problem.validate()
        started = time.perf_counter()
        model = _Model(problem)
        if not model.clients:
            return RoutingResult(
                dropped=list(range(problem.num_stops)), solve_s=time.perf_counter() - started
            )
        ref = max(1, max(vt.unit_distance_cost + vt.unit_duration_cost for vt in model.types))
        penalty = _Penalties(
            min_penalty=MIN_PENALTY * ref,
            max_penalty=MAX_PENALTY * ref,
            starting=model.starting_penalties(),
        )
        deadline = started + time_limit_s
        start = model.solution_of(initial) if initial else None

        if not model.must_serve:
            found = pyvrp.solve(
                model.data,
                _Deadline(deadline),
                seed=self.seed,
                collect_stats=False,
                params=pyvrp.SolveParams(penalty=penalty),
                initial_solution=start,
            )
            best = found.best
        else:
            best = self._two_stages(model, penalty, started, deadline, start)
        result = model.extract(best)
        result.solve_s = time.perf_counter() - started
        return result

    def _two_stages(
        self,
        model: _Model,
        penalty: pyvrp.PenaltyParams,
        started: float,
        deadline: float,
        initial: pyvrp.Solution | None = None,
    ) -> pyvrp.Solution:
        """Search with every stop optional until the must-serve ones are all served (or
        ``FIRST_STAGE_SHARE`` of the budget is gone), then, from that solution, with
        them required: PyVRP searches much better without optional clients (measured
        on the Gehring-Homberger R1 400s: 1.5 % gap instead of 2.3 % at 60 s)."""
        watch = _MustServeWatch(model.must_serve)
        found = pyvrp.solve(
            model.data,
            _Deadline(started + FIRST_STAGE_SHARE * (deadline - started), watch.done),
            seed=self.seed,
            collect_stats=False,
            params=pyvrp.SolveParams(
                ils=pyvrp.IteratedLocalSearchParams(callbacks=watch), penalty=penalty
            ),
            initial_solution=initial,
        )
        if time.perf_counter() >= deadline:
            return found.best
        data = model.with_required(model.must_serve) if watch.done() else model.data
        start = pyvrp.Solution(
            data,
            [
                pyvrp.Route(
                    data, [pyvrp.Activity(a.type, a.idx) for a in list(r)[1:-1]], r.vehicle_type()
                )
                for r in found.best.routes()
            ],
        )
        found = pyvrp.solve(
            data,
            _Deadline(deadline),
            seed=self.seed + 1,
            collect_stats=False,
            params=pyvrp.SolveParams(penalty=penalty),
            initial_solution=start,
        )
        return found.best


@dataclass
class _Penalties(pyvrp.PenaltyParams):
    """PyVRP's penalty parameters, the search starting at ``starting`` (per load
    dimension, time warp, distance) rather than at the bounds' midpoint.

    PyVRP 0.14 starts every weight at the midpoint of its bounds: with costs in
    micro-euros that made a gram of overload or a second of lateness cost ~360 EUR at the
    start on the peers' kind of day, and the search dropped orders rather than explore
    (57 of 2,000 left unserved at 40 s, against 3 with the start below; raw PyVRP with
    its defaults left 3-4 at 60 s: `lastmile bench domain`)."""

    starting: tuple = ([], 0.0, 0.0)

    def midpoint_penalties(self, data: pyvrp.ProblemData) -> tuple[list[float], float, float]:
        return self.starting


class _Deadline:
    """Stopping criterion at a wall-clock instant (so building the model and PyVRP's
    construction count against the time limit too), or earlier when ``done()``."""

    def __init__(self, deadline: float, done: Callable[[], bool] = lambda: False):
        self.deadline = deadline
        self.done = done

    def __call__(self, best_cost: int) -> bool:
        return self.done() or time.perf_counter() >= self.deadline


class _MustServeWatch(pyvrp.IteratedLocalSearchCallbacks):
    """Notes when PyVRP's best solution is feasible and serves every must-serve client."""

    def __init__(self, must_serve: list[int]):
        self.must_serve = set(must_serve)
        self.all_served = False

    def done(self) -> bool:
        return self.all_served

    def on_best(self, best: pyvrp.Solution) -> None:
        unplanned = {a.idx for a in best.unplanned() if a.is_client()}
        self.all_served = best.is_feasible() and not (unplanned & self.must_serve)


@dataclass(frozen=True)
class _TypeKey:
    """What makes two vehicles interchangeable for PyVRP."""

    depot: int
    end_depot: int
    reload_depot: int | None
    max_trips: int
    profile: int
    capacity: tuple[int, ...]
    earliest: int
    leave_by: int
    latest_end: int
    max_duration: int | None
    max_distance: int
    fixed: int
    per_m: int
    per_s: int


class _Model:
    """The PyVRP model of one :class:`RoutingProblem`.

    Nodes are the depots (distinct start locations) then one node per servable stop,
    so two stops at the same place can still differ in which vehicles may serve them.
    """

    def __init__(self, problem: RoutingProblem):
        self.problem = p = problem
        usable = p.vehicle_latest_end_s >= p.vehicle_earliest_start_s
        servable = p.allowed.any(axis=1) & p.allowed[:, usable].any(axis=1)
        self.clients = [int(i) for i in np.flatnonzero(servable)]  # client c is stop clients[c]
        if not self.clients:
            return
        self.usable = [int(v) for v in np.flatnonzero(usable)]
        # A tour's stops are counted as one more load dimension: each client delivers
        # 1 and a vehicle's capacity is its max_stops (PyVRP reloads empty it per tour).
        self.counts_stops = p.vehicle_max_stops is not None
        self._depots()
        self._profiles()
        self._vehicle_types()
        self._client_args = [self._client(c, i) for c, i in enumerate(self.clients)]
        self.must_serve = self._must_serve()
        self.data = pyvrp.ProblemData(
            locations=[pyvrp.Location(0.0, 0.0) for _ in self.node_location],
            clients=[pyvrp.Client(**args) for args in self._client_args],
            depots=[pyvrp.Depot(location=d) for d in range(len(self.depots))]
            + [
                # The reload starts by the last departure minus the reload time.
                pyvrp.Depot(
                    location=d, tw_late=max(0, leave_by - reload_s), service_duration=reload_s
                )
                for (_, reload_s, leave_by), d in self.reload_of.items()
            ],
            vehicle_types=self.types,
            distance_matrices=self.distance,
            duration_matrices=self.duration,
        )

    def _depots(self) -> None:
        """PyVRP's nodes: the depots (distinct start and end locations of usable
        vehicles), a reload depot per (location, reload time, last departure), then one
        node per client."""
        p = self.problem
        usable = self.usable
        self.depots = np.unique(
            np.concatenate([p.vehicle_start_location[usable], p.end_location[usable]])
        )
        self.depot_of = {int(loc): d for d, loc in enumerate(self.depots)}
        self.reload_of: dict[tuple[int, int, int], int] = {}
        for v in usable:
            if p.max_trips(v) > 1:
                key = (int(p.vehicle_start_location[v]), p.reload_s(v), _leave_by(p, v))
                self.reload_of.setdefault(key, len(self.depots) + len(self.reload_of))
        depot_location = np.concatenate([self.depots, [k[0] for k in self.reload_of]])
        depot_location = depot_location.astype(np.int64)
        node_location = np.concatenate([depot_location, p.stop_location[self.clients]])
        self.node_location = node_location.astype(np.int64)
        self.first_client = len(depot_location)

    def _profiles(self) -> None:
        """One PyVRP profile per (travel profile, allowed pattern over the clients):
        PyVRP has no client-vehicle rule, so arcs into a client a vehicle may not serve
        are prohibitively long in its profile. ``profile_of_vehicle[v]`` is v's."""
        p = self.problem
        grid = np.ix_(self.node_location, self.node_location)
        horizon = int(max(p.vehicle_latest_end_s.max(), p.tw_end_s.max()))
        self.distance: list[np.ndarray] = []
        self.duration: list[np.ndarray] = []
        self.profile_of_vehicle: dict[int, int] = {}
        self.longest_arc: dict[int, int] = {}  # longest arc between the nodes, per vehicle
        profile_of: dict[tuple[int, bytes], int] = {}
        longest: dict[int, int] = {}  # the same, per travel profile
        for v in self.usable:
            prof = int(p.vehicle_profile[v])
            if prof not in longest:
                longest[prof] = int(p.distance_m[prof][grid].max())
            self.longest_arc[v] = longest[prof]
            pattern = p.allowed[self.clients, v]
            key = (prof, pattern.tobytes())
            if key not in profile_of:
                dist = p.distance_m[prof][grid].astype(np.int64)
                dur = p.duration_s[prof][grid].astype(np.int64)
                forbidden = self.first_client + np.flatnonzero(~pattern)
                if len(forbidden):
                    # Long enough in time to arrive after every window and shift has
                    # closed (infeasible whatever the penalty weights), and in
                    # distance to cost more than any detour.
                    big_dist = 10 * int(dist.max()) + 1
                    big_dur = horizon + 10 * int(dur.max()) + 1
                    dist[:, forbidden] = big_dist
                    dur[:, forbidden] = big_dur
                    dist[forbidden, forbidden] = 0
                    dur[forbidden, forbidden] = 0
                profile_of[key] = len(self.distance)
                self.distance.append(dist)
                self.duration.append(dur)
            self.profile_of_vehicle[v] = profile_of[key]

    def _type_key(self, v: int) -> _TypeKey:
        """What PyVRP knows of vehicle v: two vehicles with the same key are one type."""
        p = self.problem
        earliest = int(p.vehicle_earliest_start_s[v])
        latest_end = int(p.vehicle_latest_end_s[v])
        max_duration = None
        if p.may_need_break(v):
            # PyVRP has no breaks: the day's span leaves room for one in the shift
            # (the schedule places it, leaving earlier or coming back later), and
            # no more work than one break allows.
            max_duration = max(
                0, min(latest_end - earliest - p.break_s, 2 * p.max_work_before_break_s)
            )
        trips = p.max_trips(v)
        loc = int(p.vehicle_start_location[v])
        reload_key = (loc, p.reload_s(v), _leave_by(p, v))
        return _TypeKey(
            depot=self.depot_of[loc],
            end_depot=self.depot_of[int(p.end_location[v])],
            reload_depot=self.reload_of[reload_key] if trips > 1 else None,
            max_trips=trips,
            profile=self.profile_of_vehicle[v],
            capacity=tuple(int(c) for c in p.vehicle_capacity[v])
            + ((p.max_stops(v),) if self.counts_stops else ()),
            earliest=earliest,
            leave_by=max(earliest, min(_leave_by(p, v), latest_end)),
            latest_end=latest_end,
            max_duration=max_duration,
            max_distance=int(p.vehicle_max_distance_m[v]),
            fixed=_scaled(p.vehicle_fixed_cost_eur[v]),
            per_m=_scaled(p.vehicle_cost_per_m_eur[v]),
            per_s=_scaled(p.vehicle_cost_per_s_eur[v]),
        )

    def _vehicle_types(self) -> None:
        """PyVRP's vehicle types: the usable vehicles grouped by :class:`_TypeKey`
        (``type_vehicles[t]`` are type t's vehicles)."""
        type_vehicles: dict[_TypeKey, list[int]] = {}
        for v in self.usable:
            type_vehicles.setdefault(self._type_key(v), []).append(v)
        self.type_vehicles = list(type_vehicles.values())
        self.types = [
            pyvrp.VehicleType(
                num_available=len(vehicles),
                capacity=list(k.capacity),
                start_depot=k.depot,
                end_depot=k.end_depot,
                fixed_cost=k.fixed,
                tw_early=k.earliest,
                tw_late=k.latest_end,
                start_late=k.leave_by,
                **({} if k.max_duration is None else {"shift_duration": k.max_duration}),
                **(
                    {}
                    if k.reload_depot is None
                    else {"reload_depots": [k.reload_depot], "max_reloads": k.max_trips - 1}
                ),
                max_distance=k.max_distance,
                unit_distance_cost=k.per_m,
                unit_duration_cost=k.per_s,
                profile=k.profile,
            )
            for k, vehicles in type_vehicles.items()
        ]

    def _client(self, c: int, i: int) -> dict:
        """PyVRP's client ``c``, stop ``i`` of the problem, as keyword arguments."""
        p = self.problem
        count = [1] if self.counts_stops else []  # the stop-count dimension
        return dict(
            location=self.first_client + c,
            delivery=[int(x) for x in p.stop_demand[i]] + count,
            # PyVRP checks the load along the route: a tour leaves with its
            # deliveries and pickups board (returns).
            pickup=[int(x) for x in p.pickup[i]] + [0] * len(count),
            service_duration=int(p.stop_service_s[i]),
            tw_early=int(p.tw_start_s[i]),
            tw_late=int(p.tw_end_s[i]),
            prize=_scaled(p.penalty_eur[i]),
            required=False,
        )

    def _must_serve(self) -> list[int]:
        """Clients whose penalty is above the cost of the dearest route any vehicle
        could drive (fixed cost, its range or every arc once, its whole shift):
        leaving one unserved never pays once it is served."""
        p = self.problem
        nodes = len(self.node_location)
        dearest = max(
            float(p.vehicle_fixed_cost_eur[v])
            + float(p.vehicle_cost_per_m_eur[v])
            * min(int(p.vehicle_max_distance_m[v]), (nodes + 1) * self.longest_arc[v])
            + float(p.vehicle_cost_per_s_eur[v])
            * (int(p.vehicle_latest_end_s[v]) - int(p.vehicle_earliest_start_s[v]))
            for v in self.longest_arc
        )
        return [c for c, i in enumerate(self.clients) if float(p.penalty_eur[i]) > dearest]

    def with_required(self, clients: list[int]) -> pyvrp.ProblemData:
        """The same data with ``clients`` required (no longer optional)."""
        required = set(clients)
        return self.data.replace(
            clients=[
                pyvrp.Client(**(args | {"required": c in required}))
                for c, args in enumerate(self._client_args)
            ]
        )

    def starting_penalties(self) -> tuple[list[float], float, float]:
        """First penalty weights (per unit of load in each dimension, second of time
        warp, metre over range): overloading by an average stop's load, arriving an
        average leg's duration late, or driving an average leg over range each cost
        about what driving ``STARTING_LEGS`` average legs costs (PyVRP 0.9's
        ``init_from`` rule, times ``STARTING_LEGS``)."""
        p = self.problem
        grid = np.ix_(self.node_location, self.node_location)
        distance_m = max(1.0, float(np.mean(p.distance_m[0][grid])))
        duration_s = max(1.0, float(np.mean(p.duration_s[0][grid])))
        per_m = max(vt.unit_distance_cost for vt in self.types)
        per_s = max(vt.unit_duration_cost for vt in self.types)
        leg = max(1.0, per_m * distance_m + per_s * duration_s)
        loads = np.array(
            [np.maximum(c["delivery"], c["pickup"]) for c in self._client_args], dtype=float
        )
        leg *= STARTING_LEGS
        per_load = [leg / max(1.0, float(x)) for x in loads.mean(axis=0)]
        return per_load, leg / duration_s, leg / distance_m

    def solution_of(self, routes: list[RouteResult]) -> pyvrp.Solution:
        """A PyVRP solution of ``routes`` (a warm start): each route on its vehicle's
        type, its tours cut by the type's reload depot; stops the model cannot serve
        and vehicles it does not use are left out (the search puts them back)."""
        client_of = {int(i): c for c, i in enumerate(self.clients)}
        type_of = {int(v): t for t, vehicles in enumerate(self.type_vehicles) for v in vehicles}
        depot, client = pyvrp.ActivityType.DEPOT, pyvrp.ActivityType.CLIENT
        out = []
        for route in routes:
            t = type_of.get(route.vehicle)
            if t is None:
                continue
            reload = self.types[t].reload_depots
            activities = []
            for k, trip in enumerate(route.trips()):
                if k and reload:
                    activities.append(pyvrp.Activity(depot, reload[0]))
                activities += [pyvrp.Activity(client, client_of[i]) for i in trip if i in client_of]
            if any(a.is_client() for a in activities):
                out.append(pyvrp.Route(self.data, activities, t))
        return pyvrp.Solution(self.data, out)

    def extract(self, solution: pyvrp.Solution) -> RoutingResult:
        result = RoutingResult()
        free = [list(vehicles) for vehicles in self.type_vehicles]
        left_out: list[int] = []  # stops the schedule could not keep on their route
        for route in solution.routes():
            vehicle = free[route.vehicle_type()].pop(0)
            trips: list[list[int]] = [[]]
            for a in list(route)[1:-1]:
                if a.is_depot():
                    trips.append([])
                elif a.is_client():
                    trips[-1].append(self.clients[a.idx])
            kept, dropped, _ = schedule_route(self.problem, vehicle, trips)
            if kept is not None:
                result.routes.append(kept)
            left_out += dropped
        result.routes, _ = reinsert(self.problem, result.routes, left_out)
        served = {i for r in result.routes for i in r.stops}
        result.dropped = [i for i in range(self.problem.num_stops) if i not in served]
        result.objective_eur = sum(route_cost_eur(self.problem, r) for r in result.routes) + float(
            self.problem.penalty_eur[result.dropped].sum()
        )
        return result


def _scaled(eur: float) -> int:
    return int(round(float(eur) * COST_SCALE))


def _leave_by(p: RoutingProblem, v: int) -> int:
    """When vehicle v's last tour must leave its depot at the latest."""
    earliest = int(p.vehicle_earliest_start_s[v])
    return max(earliest, min(int(p.vehicle_latest_start_s[v]), int(p.vehicle_latest_end_s[v])))
