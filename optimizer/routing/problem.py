"""The routing interface: arrays in, routes out.

A :class:`RoutingProblem` knows nothing of orders, zones or files: locations, vehicles
and stops as numpy arrays. The planner builds it from the scenario and the travel
model; any engine behind :class:`RoutingEngine` solves it. Units: metres, seconds,
grams, millilitres, euros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optimizer.travel import HourFactors

NO_STOP_LIMIT = 2**31 - 1  # vehicle_max_stops of a vehicle whose tours have no limit


@dataclass(frozen=True)
class RoutingProblem:
    """One routing problem.

    Locations are indices into the per-profile matrices. Vehicle ``v`` uses profile
    ``vehicle_profile[v]``: ``distance_m[p]`` and ``duration_s[p]`` are ``(L, L)`` int
    matrices. Stop ``i`` is at ``stop_location[i]``, is served by one of the vehicles
    where ``allowed[i, v]`` is true, with service starting in
    ``[tw_start_s[i], tw_end_s[i]]``; leaving it unserved costs ``penalty_eur[i]``.
    """

    distance_m: list[np.ndarray]
    duration_s: list[np.ndarray]
    # vehicles
    vehicle_profile: np.ndarray  # (V,) int
    vehicle_start_location: np.ndarray  # (V,) int, the depot (also where it ends, by default)
    vehicle_earliest_start_s: np.ndarray  # (V,) int
    vehicle_latest_start_s: np.ndarray  # (V,) int, e.g. when the depot closes
    vehicle_latest_end_s: np.ndarray  # (V,) int
    vehicle_capacity: np.ndarray  # (V, D) int: grams, millilitres
    vehicle_max_distance_m: np.ndarray  # (V,) int
    vehicle_fixed_cost_eur: np.ndarray  # (V,) float
    vehicle_cost_per_m_eur: np.ndarray  # (V,) float
    vehicle_cost_per_s_eur: np.ndarray  # (V,) float, paid from leaving to coming back
    # stops
    stop_location: np.ndarray  # (S,) int
    stop_demand: np.ndarray  # (S, D) int
    stop_service_s: np.ndarray  # (S,) int
    tw_start_s: np.ndarray  # (S,) int
    tw_end_s: np.ndarray  # (S,) int
    allowed: np.ndarray  # (S, V) bool
    penalty_eur: np.ndarray  # (S,) float
    # Several tours a shift: vehicle v may drive up to vehicle_max_trips[v] tours,
    # reloading vehicle_reload_s[v] at its depot between two (None: one tour each).
    # The range (vehicle_max_distance_m) is for the whole shift, all tours together.
    vehicle_max_trips: np.ndarray | None = None  # (V,) int >= 1
    vehicle_reload_s: np.ndarray | None = None  # (V,) int
    # Breaks: a vehicle out longer than break_over_s (first departure to last return)
    # stops break_s once, with at most max_work_before_break_s of work before and after
    # it (0: no breaks).
    break_s: int = 0
    max_work_before_break_s: int = 0
    break_over_s: int = 0
    # Where each vehicle ends, when not where it starts (a re-plan starts a vehicle that
    # is out at its last stop and brings it back to its node); None: at its start.
    vehicle_end_location: np.ndarray | None = None  # (V,) int
    # Pickups (returns): stop i boards stop_pickup[i] at its location and rides back to
    # the depot. A tour leaves with the demand of its deliveries on board; at every
    # point of the tour the load (deliveries still to drop + pickups boarded) stays
    # within capacity. None: no pickups.
    stop_pickup: np.ndarray | None = None  # (S, D) int
    # Stops a tour of vehicle v may make at most (an exchange's visit is one stop);
    # NO_STOP_LIMIT for a vehicle without a limit, None: no vehicle has one.
    vehicle_max_stops: np.ndarray | None = None  # (V,) int >= 1
    # Time of day: ``hours[p]`` are profile p's hourly duration factors and
    # ``free_flow_s[p]`` its free-flow durations; ``duration_s[p]`` then holds them at
    # the worst hour of its vehicles' shifts, what the engines plan on, and the schedule
    # times each leg from its departure (:meth:`leg_s`). None: durations are the same
    # at every hour.
    free_flow_s: list[np.ndarray] | None = None
    hours: list[HourFactors] | None = None

    def leg_s(self, prof: int, a: int, b: int, depart_s: int) -> int:
        """Seconds from location ``a`` to ``b`` for profile ``prof`` leaving at
        ``depart_s``."""
        if self.hours is None:
            return int(self.duration_s[prof][a, b])
        return self.hours[prof].duration_s(depart_s, int(self.free_flow_s[prof][a, b]))

    @property
    def pickup(self) -> np.ndarray:
        """(S, D) load each stop boards (zeros without pickups)."""
        if self.stop_pickup is None:
            return np.zeros_like(self.stop_demand)
        return self.stop_pickup

    def load_fits(self, v: int, trip: list[int]) -> bool:
        """Whether the load along one tour of vehicle v stays within its capacity: it
        leaves with every delivery of the tour, drops each, boards each pickup."""
        capacity = self.vehicle_capacity[v]
        load = self.stop_demand[trip].sum(axis=0) if trip else np.zeros_like(capacity)
        if np.any(load > capacity):
            return False
        if self.stop_pickup is None:
            return True
        for i in trip:
            load = load - self.stop_demand[i] + self.stop_pickup[i]
            if np.any(load > capacity):
                return False
        return True

    @property
    def end_location(self) -> np.ndarray:
        """Where each vehicle ends its route."""
        if self.vehicle_end_location is None:
            return self.vehicle_start_location
        return self.vehicle_end_location

    @property
    def num_vehicles(self) -> int:
        return len(self.vehicle_profile)

    @property
    def num_stops(self) -> int:
        return len(self.stop_location)

    def max_trips(self, v: int) -> int:
        return 1 if self.vehicle_max_trips is None else int(self.vehicle_max_trips[v])

    def reload_s(self, v: int) -> int:
        return 0 if self.vehicle_reload_s is None else int(self.vehicle_reload_s[v])

    def max_stops(self, v: int) -> int:
        """Stops a tour of vehicle v may make at most (all of them without a limit)."""
        if self.vehicle_max_stops is None:
            return max(1, self.num_stops)
        return min(int(self.vehicle_max_stops[v]), max(1, self.num_stops))

    def may_need_break(self, v: int) -> bool:
        """Whether vehicle v's shift is long enough for its work to need a break."""
        shift_s = int(self.vehicle_latest_end_s[v]) - int(self.vehicle_earliest_start_s[v])
        return self.break_s > 0 and shift_s > self.break_over_s

    def validate(self) -> None:
        """Refuse arrays of the wrong shape or sign before an engine sees them."""
        v, s = self.num_vehicles, self.num_stops
        for name in (
            "vehicle_start_location",
            "vehicle_earliest_start_s",
            "vehicle_latest_start_s",
            "vehicle_latest_end_s",
            "vehicle_max_distance_m",
            "vehicle_fixed_cost_eur",
            "vehicle_cost_per_m_eur",
            "vehicle_cost_per_s_eur",
        ):
            if len(getattr(self, name)) != v:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, not {v}.")
        for name in ("stop_service_s", "tw_start_s", "tw_end_s", "penalty_eur"):
            if len(getattr(self, name)) != s:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, not {s}.")
        if self.allowed.shape != (s, v):
            raise ValueError(f"allowed has shape {self.allowed.shape}, not {(s, v)}.")
        if self.stop_demand.shape != (s, self.vehicle_capacity.shape[1]):
            raise ValueError("stop_demand and vehicle_capacity disagree on dimensions.")
        if self.stop_pickup is not None and self.stop_pickup.shape != self.stop_demand.shape:
            raise ValueError("stop_pickup and stop_demand disagree on shape.")
        if np.any(self.tw_end_s < self.tw_start_s):
            raise ValueError("a time window ends before it starts.")
        if len(self.end_location) != v:
            raise ValueError(f"vehicle_end_location has {len(self.end_location)} entries, not {v}.")
        elsewhere = self.end_location != self.vehicle_start_location
        if any(elsewhere[k] and self.max_trips(k) > 1 for k in range(v)):
            raise ValueError("a vehicle that ends elsewhere than it starts drives one tour.")
        if len(self.distance_m) != len(self.duration_s):
            raise ValueError("distance_m and duration_s have different profile counts.")
        for name in ("vehicle_max_trips", "vehicle_reload_s", "vehicle_max_stops"):
            value = getattr(self, name)
            if value is not None and len(value) != v:
                raise ValueError(f"{name} has {len(value)} entries, not {v}.")
        if self.vehicle_max_trips is not None and np.any(self.vehicle_max_trips < 1):
            raise ValueError("vehicle_max_trips < 1 not understood.")
        if self.vehicle_reload_s is not None and np.any(self.vehicle_reload_s < 0):
            raise ValueError("vehicle_reload_s < 0 not understood.")
        if self.vehicle_max_stops is not None and np.any(self.vehicle_max_stops < 1):
            raise ValueError("vehicle_max_stops < 1 not understood.")
        if min(self.break_s, self.max_work_before_break_s, self.break_over_s) < 0:
            raise ValueError("break_s, max_work_before_break_s, break_over_s < 0 not understood.")
        if self.break_s > 0 and self.max_work_before_break_s <= 0:
            raise ValueError("a break with max_work_before_break_s <= 0 not understood.")


@dataclass
class BreakResult:
    """A break of ``duration_s`` from ``start_s`` in tour ``trip`` of a route, after its
    first ``after_stop`` stops (0: at the depot, before the tour leaves)."""

    trip: int
    after_stop: int
    start_s: int
    duration_s: int


@dataclass
class RouteResult:
    """A vehicle's day: ``stops`` in visiting order across its tours; ``trip_sizes``
    cuts them into tours (empty: one tour). The first tour leaves at ``start_s``; each
    later one starts when the previous is back, reloads, then leaves. ``rest`` is the
    driver's break, if the day needs one (``break`` is a Python keyword)."""

    vehicle: int
    stops: list[int]  # stop indices in visiting order
    start_s: int  # when the vehicle leaves its depot
    trip_sizes: list[int] = field(default_factory=list)
    rest: BreakResult | None = None

    def trips(self) -> list[list[int]]:
        """The stops of each tour."""
        if not self.trip_sizes:
            return [list(self.stops)]
        out, k = [], 0
        for n in self.trip_sizes:
            out.append(list(self.stops[k : k + n]))
            k += n
        return out


@dataclass
class RoutingResult:
    routes: list[RouteResult] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    objective_eur: float = 0.0
    solve_s: float = 0.0


class RoutingEngine(Protocol):
    name: str

    def solve(self, problem: RoutingProblem, time_limit_s: float) -> RoutingResult: ...
