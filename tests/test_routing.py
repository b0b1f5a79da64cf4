"""The routing engine on small cases whose optimum is known by hand."""

import numpy as np
import pytest

from optimizer.routing import OrToolsEngine, RoutingProblem

DAY = 24 * 3600


def line_problem(positions_m, vehicles=1, capacity=(10**6, 10**6), demand=(1, 1), **over):
    """Depot at 0 m, stops on a straight line at ``positions_m``; 1 m = 1 s of travel."""
    pos = np.array([0, *positions_m], dtype=np.int64)
    dist = np.abs(pos[:, None] - pos[None, :])
    n = len(positions_m)
    fields = dict(
        distance_m=[dist],
        duration_s=[dist.copy()],
        vehicle_profile=np.zeros(vehicles, np.int64),
        vehicle_start_location=np.zeros(vehicles, np.int64),
        vehicle_earliest_start_s=np.zeros(vehicles, np.int64),
        vehicle_latest_start_s=np.full(vehicles, DAY, np.int64),
        vehicle_latest_end_s=np.full(vehicles, DAY, np.int64),
        vehicle_capacity=np.tile(np.array(capacity, np.int64), (vehicles, 1)),
        vehicle_max_distance_m=np.full(vehicles, 10**9, np.int64),
        vehicle_fixed_cost_eur=np.zeros(vehicles),
        vehicle_cost_per_m_eur=np.full(vehicles, 0.001),
        vehicle_cost_per_s_eur=np.zeros(vehicles),
        stop_location=np.arange(1, n + 1, dtype=np.int64),
        stop_demand=np.tile(np.array(demand, np.int64), (n, 1)),
        stop_service_s=np.zeros(n, np.int64),
        tw_start_s=np.zeros(n, np.int64),
        tw_end_s=np.full(n, DAY, np.int64),
        allowed=np.ones((n, vehicles), bool),
        penalty_eur=np.full(n, 1000.0),
    )
    fields.update(over)
    return RoutingProblem(**fields)


def total_distance(problem, result):
    dist = problem.distance_m[0]
    total = 0
    for r in result.routes:
        path = [0, *[int(problem.stop_location[i]) for i in r.stops], 0]
        total += sum(int(dist[a, b]) for a, b in zip(path, path[1:], strict=False))
    return total


@pytest.fixture(scope="module")
def engine():
    return OrToolsEngine()


def test_one_vehicle_on_a_line_goes_out_and_back(engine):
    problem = line_problem([1000, 2000, 3000])
    result = engine.solve(problem, 0.5)
    assert result.dropped == []
    assert total_distance(problem, result) == 6000


def test_capacity_splits_two_clusters_between_two_vehicles(engine):
    # Two stops each side of the depot, two stops per vehicle: optimum 2 x 4 km.
    problem = line_problem([1000, 2000, -1000, -2000], vehicles=2, capacity=(2, 2))
    result = engine.solve(problem, 0.5)
    assert result.dropped == []
    assert total_distance(problem, result) == 8000
    assert sorted(sorted(r.stops) for r in result.routes) == [[0, 1], [2, 3]]


def test_time_windows_force_the_far_stop_first(engine):
    # B (2 km) must be served before t=2500 s, A (1 km) not before t=3500 s.
    problem = line_problem(
        [1000, 2000], tw_start_s=np.array([3500, 0]), tw_end_s=np.array([4000, 2500])
    )
    result = engine.solve(problem, 0.5)
    assert [r.stops for r in result.routes] == [[1, 0]]
    assert total_distance(problem, result) == 4000


def test_a_stop_only_allowed_on_one_vehicle_goes_to_it(engine):
    allowed = np.array([[True, True], [False, True]])
    problem = line_problem(
        [1000, 1100], vehicles=2, allowed=allowed, vehicle_fixed_cost_eur=np.array([0.0, 5.0])
    )
    result = engine.solve(problem, 0.5)
    by_vehicle = {r.vehicle: r.stops for r in result.routes}
    assert 1 in by_vehicle.get(1, [])


def test_unreachable_slot_and_range_are_dropped_not_violated(engine):
    # Stop 0 is 5 km out but its slot closes at 1000 s; stop 1 is beyond the range.
    problem = line_problem(
        [5000, -9000, 500],
        tw_end_s=np.array([1000, DAY, DAY]),
        vehicle_max_distance_m=np.array([12000]),
    )
    result = engine.solve(problem, 0.5)
    assert sorted(result.dropped) == [0, 1]
    assert [r.stops for r in result.routes] == [[2]]


def test_fixed_cost_makes_one_vehicle_do_both_stops(engine):
    problem = line_problem([1000, -1000], vehicles=2, vehicle_fixed_cost_eur=np.array([50.0, 50.0]))
    result = engine.solve(problem, 0.5)
    assert len(result.routes) == 1
    assert total_distance(problem, result) == 4000


def test_departure_is_as_late_as_the_slots_allow(engine):
    # Paid per second of route: leave at 9000 s to be at the 1 km stop at 10000 s.
    problem = line_problem(
        [1000],
        tw_start_s=np.array([10000]),
        tw_end_s=np.array([10600]),
        vehicle_cost_per_s_eur=np.array([0.01]),
    )
    result = engine.solve(problem, 0.5)
    assert result.routes[0].start_s == 9000


def test_a_vehicle_that_must_leave_early_cannot_serve_a_late_slot(engine):
    problem = line_problem(
        [1000], tw_start_s=np.array([20000]), vehicle_latest_start_s=np.array([10000])
    )
    result = engine.solve(problem, 0.5)
    assert result.routes[0].start_s <= 10000


def test_bad_arrays_are_refused(engine):
    problem = line_problem([1000, 2000], allowed=np.ones((3, 1), bool))
    with pytest.raises(ValueError, match="allowed"):
        engine.solve(problem, 0.5)
    with pytest.raises(ValueError, match="not understood"):
        OrToolsEngine(first_solution="NOPE")


@pytest.mark.parametrize("name", ["ortools", "pyvrp"])
def test_a_vehicle_may_end_elsewhere_than_it_starts(name):
    """Start at 3000 m, end at the depot (0 m), stops at 1000 and 2000 m: the engine goes
    2000, 1000, then home (3000 m driven), not the way a round trip from 3000 m would."""
    from optimizer.routing import ENGINES

    pos = np.array([0, 3000, 1000, 2000], dtype=np.int64)
    dist = np.abs(pos[:, None] - pos[None, :])
    problem = line_problem(
        [1000, 2000],
        distance_m=[dist],
        duration_s=[dist.copy()],
        vehicle_start_location=np.array([1], np.int64),
        vehicle_end_location=np.array([0], np.int64),
        stop_location=np.array([2, 3], np.int64),
        vehicle_max_distance_m=np.array([3000], np.int64),  # exactly the one-way drive
    )
    result = ENGINES[name]().solve(problem, 0.3)
    assert result.dropped == []
    assert [int(problem.stop_location[i]) for i in result.routes[0].stops] == [3, 2]


def test_end_location_of_the_wrong_length_is_refused():
    problem = line_problem([1000], vehicle_end_location=np.array([0, 0], np.int64))
    with pytest.raises(ValueError, match="vehicle_end_location"):
        problem.validate()
