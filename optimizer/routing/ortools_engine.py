"""OR-Tools routing engine: capacities, time windows, range, stops per tour, per-vehicle
costs.

Every figure is integer inside OR-Tools: costs are scaled by ``COST_SCALE`` units per
euro. Matrices go in with ``RegisterTransitMatrix`` (no Python callback per arc), so
the search runs at C++ speed.

One tour per vehicle: OR-Tools could chain copies of a vehicle in time for several
tours, but that multiplies the fleet the search works on; with OR-Tools a bike drives
``max_trips`` = 1 whatever its type says (the plan holds, it just uses more bikes; the
PyVRP engine reloads). Breaks: a vehicle whose shift may need one gets its span capped
at its shift less the break (and twice the work allowed between breaks), and the
shared schedule (:mod:`optimizer.routing.schedule`) places the break
and re-checks every route, as for PyVRP, so the domain rules hold with both engines.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from optimizer.routing.problem import RoutingProblem, RoutingResult
from optimizer.routing.schedule import reinsert, schedule_route

COST_SCALE = 1_000_000  # integer cost units per euro (a micro-euro resolution)


class OrToolsEngine:
    """OR-Tools' routing library with a construction heuristic and a metaheuristic.

    Parameters
    ----------
    first_solution
        Name of a ``FirstSolutionStrategy`` (default: parallel cheapest insertion,
        which finds feasible starts on tight time windows where path-cheapest-arc fails).
    metaheuristic
        Name of a ``LocalSearchMetaheuristic`` (default: guided local search).
    """

    name = "ortools"

    def __init__(
        self,
        first_solution: str = "PARALLEL_CHEAPEST_INSERTION",
        metaheuristic: str = "GUIDED_LOCAL_SEARCH",
    ):
        self.first_solution = _enum_value(
            routing_enums_pb2.FirstSolutionStrategy, first_solution, "first_solution"
        )
        self.metaheuristic = _enum_value(
            routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic, "metaheuristic"
        )

    def solve(self, problem: RoutingProblem, time_limit_s: float) -> RoutingResult:
        if time_limit_s <= 0:
            raise ValueError("time_limit_s <= 0 not understood.")
        problem.validate()
        started = time.perf_counter()
        if problem.num_stops == 0:
            return RoutingResult(solve_s=time.perf_counter() - started)
        model = _Model(problem)
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = self.first_solution
        params.local_search_metaheuristic = self.metaheuristic
        params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
        solution = model.routing.SolveWithParameters(params)
        if solution is None:  # cannot happen with every stop droppable; keep it explicit
            return RoutingResult(
                dropped=list(range(problem.num_stops)), solve_s=time.perf_counter() - started
            )
        result = model.extract(solution)
        result.solve_s = time.perf_counter() - started
        return result


def _enum_value(enum, name: str, what: str) -> int:
    values = enum.DESCRIPTOR.enum_types[0].values_by_name
    if name not in values:
        raise ValueError(f"{what} {name!r} not understood; one of {', '.join(values)}.")
    return values[name].number


class _Model:
    """The OR-Tools model of one :class:`RoutingProblem`."""

    def __init__(self, problem: RoutingProblem):
        self.problem = p = problem
        depots = np.unique(np.concatenate([p.vehicle_start_location, p.end_location]))
        self.num_depots = len(depots)
        depot_node = {int(loc): i for i, loc in enumerate(depots)}
        starts = [depot_node[int(loc)] for loc in p.vehicle_start_location]
        ends = [depot_node[int(loc)] for loc in p.end_location]
        node_location = np.concatenate([depots, p.stop_location]).astype(np.int64)
        self.manager = pywrapcp.RoutingIndexManager(
            len(node_location), p.num_vehicles, starts, ends
        )
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.grid = np.ix_(node_location, node_location)
        self._profiles()
        self._arc_costs()
        self._distance_and_time()
        self._loads()
        self._stop_counts()
        self._shifts()
        self._stops()

    def _profiles(self) -> None:
        """Distance and travel-time (the drive plus the service at the node left) transit
        matrices per travel profile."""
        p, routing = self.problem, self.routing
        service_s = np.concatenate([np.zeros(self.num_depots, np.int64), p.stop_service_s])
        self.distance_cb, self.time_cb = {}, {}
        for prof in sorted(set(int(x) for x in p.vehicle_profile)):
            distance = p.distance_m[prof][self.grid]
            self.distance_cb[prof] = routing.RegisterTransitMatrix(distance.tolist())
            travel = p.duration_s[prof][self.grid] + service_s[:, None]
            self.time_cb[prof] = routing.RegisterTransitMatrix(travel.tolist())

    def _arc_costs(self) -> None:
        """Each vehicle pays its cost per metre on its profile's distances, and its
        fixed cost if used."""
        p, routing = self.problem, self.routing
        cost_cb = {}
        for v in range(p.num_vehicles):
            prof = int(p.vehicle_profile[v])
            per_m = int(round(p.vehicle_cost_per_m_eur[v] * COST_SCALE))
            key = (prof, per_m)
            if key not in cost_cb:
                cost = p.distance_m[prof][self.grid] * per_m
                cost_cb[key] = routing.RegisterTransitMatrix(cost.tolist())
            routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], v)
            routing.SetFixedCostOfVehicle(int(round(p.vehicle_fixed_cost_eur[v] * COST_SCALE)), v)

    def _distance_and_time(self) -> None:
        """The range (a distance dimension) and the clock (a time dimension)."""
        p, routing = self.problem, self.routing
        profiles = [int(x) for x in p.vehicle_profile]
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [self.distance_cb[x] for x in profiles],
            0,
            [int(x) for x in p.vehicle_max_distance_m],
            True,
            "distance",
        )
        horizon = int(max(p.vehicle_latest_end_s.max(), p.tw_end_s.max())) + 1
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [self.time_cb[x] for x in profiles], horizon, [horizon] * p.num_vehicles, False, "time"
        )
        self.time = routing.GetDimensionOrDie("time")

    def _loads(self) -> None:
        """One load dimension per capacity dimension (and, with pickups, the load on
        board along the route)."""
        p, routing = self.problem, self.routing
        zeros = np.zeros(self.num_depots, np.int64)
        for d in range(p.stop_demand.shape[1]):
            capacity = [int(x) for x in p.vehicle_capacity[:, d]]
            demand = np.concatenate([zeros, p.stop_demand[:, d]])
            cb = routing.RegisterUnaryTransitVector(demand.tolist())
            routing.AddDimensionWithVehicleCapacity(cb, 0, capacity, True, f"load{d}")
            if p.stop_pickup is None or not p.stop_pickup[:, d].any():
                continue
            # Load along the route with pickups: "onboard" starts at the tour's
            # deliveries (the end value of load{d}), drops each delivery, boards each
            # pickup, and stays within [0, capacity] at every stop.
            delivered = routing.GetDimensionOrDie(f"load{d}")
            change = np.concatenate([zeros, p.stop_pickup[:, d] - p.stop_demand[:, d]])
            change_cb = routing.RegisterUnaryTransitVector(change.tolist())
            routing.AddDimensionWithVehicleCapacity(change_cb, 0, capacity, False, f"onboard{d}")
            onboard = routing.GetDimensionOrDie(f"onboard{d}")
            for v in range(p.num_vehicles):
                routing.solver().Add(
                    onboard.CumulVar(routing.Start(v)) == delivered.CumulVar(routing.End(v))
                )

    def _stop_counts(self) -> None:
        """A counter dimension: each stop adds 1, a vehicle's tour at most its max_stops
        (one tour per vehicle here)."""
        p, routing = self.problem, self.routing
        if p.vehicle_max_stops is None:
            return
        one = np.concatenate([np.zeros(self.num_depots, np.int64), np.ones(p.num_stops, np.int64)])
        cb = routing.RegisterUnaryTransitVector(one.tolist())
        limits = [p.max_stops(v) for v in range(p.num_vehicles)]
        routing.AddDimensionWithVehicleCapacity(cb, 0, limits, True, "stops")

    def _shifts(self) -> None:
        """Each vehicle's shift, last departure, span for a break, and cost per second."""
        p, routing, time_dim = self.problem, self.routing, self.time
        for v in range(p.num_vehicles):
            earliest, latest = int(p.vehicle_earliest_start_s[v]), int(p.vehicle_latest_end_s[v])
            leave_by = min(int(p.vehicle_latest_start_s[v]), latest)
            if p.may_need_break(v):
                # The day's span leaves room in the shift for the break the schedule
                # places, and no more work than one break allows.
                span = min(latest - earliest - p.break_s, 2 * p.max_work_before_break_s)
                time_dim.SetSpanUpperBoundForVehicle(max(0, span), v)
            start, end = routing.Start(v), routing.End(v)
            time_dim.CumulVar(start).SetRange(earliest, max(earliest, min(leave_by, latest)))
            time_dim.CumulVar(end).SetRange(earliest, latest)
            time_dim.SetSpanCostCoefficientForVehicle(
                int(round(p.vehicle_cost_per_s_eur[v] * COST_SCALE)), v
            )
        # Among schedules of equal cost, come back as early as possible (so stops are
        # served early in their slots, leaving room for delays), then leave as late.
        for v in range(p.num_vehicles):
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))
        for v in range(p.num_vehicles):
            routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(routing.Start(v)))

    def _stops(self) -> None:
        """Each stop's window, the vehicles that may serve it, and its penalty if left
        out (every stop is optional)."""
        p, routing = self.problem, self.routing
        all_vehicles = np.arange(p.num_vehicles)
        for i in range(p.num_stops):
            index = self.manager.NodeToIndex(self.num_depots + i)
            self.time.CumulVar(index).SetRange(int(p.tw_start_s[i]), int(p.tw_end_s[i]))
            forbidden = all_vehicles[~p.allowed[i]]
            if len(forbidden):
                routing.VehicleVar(index).RemoveValues([int(x) for x in forbidden])
            routing.AddDisjunction([index], int(round(p.penalty_eur[i] * COST_SCALE)))

    def extract(self, solution) -> RoutingResult:
        routing, manager = self.routing, self.manager
        result = RoutingResult(objective_eur=solution.ObjectiveValue() / COST_SCALE)
        left_out: list[int] = []  # stops the schedule could not keep on their route
        for v in range(self.problem.num_vehicles):
            index = solution.Value(routing.NextVar(routing.Start(v)))
            stops = []
            while not routing.IsEnd(index):
                stops.append(manager.IndexToNode(index) - self.num_depots)
                index = solution.Value(routing.NextVar(index))
            if stops:
                # Timed (and the break placed) by the shared schedule, which keeps the
                # departure as late as it can be without coming back later.
                route, dropped, _ = schedule_route(self.problem, v, [stops])
                if route is not None:
                    result.routes.append(route)
                left_out += dropped
        result.routes, _ = reinsert(self.problem, result.routes, left_out)
        served = {i for r in result.routes for i in r.stops}
        result.dropped = [i for i in range(self.problem.num_stops) if i not in served]
        return result
