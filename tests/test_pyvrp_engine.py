"""The PyVRP engine on the hand-checked cases of test_routing, plus vehicle rules and depots."""

import numpy as np
import pytest

from optimizer.routing import ENGINES, PyVrpEngine
from optimizer.routing.pyvrp_engine import _Model
from optimizer.routing.schedule import schedule_route
from tests.test_routing import DAY, line_problem, total_distance

LIMIT_S = 0.3


@pytest.fixture(scope="module")
def engine():
    return PyVrpEngine()


def assert_schedule_holds(problem, result):
    """Walk every route forward from its start_s: windows, leave-by, latest end, allowed."""
    for r in result.routes:
        v = r.vehicle
        dur = problem.duration_s[problem.vehicle_profile[v]]
        depot = int(problem.vehicle_start_location[v])
        assert problem.vehicle_earliest_start_s[v] <= r.start_s
        assert r.start_s <= problem.vehicle_latest_start_s[v]
        t, at = r.start_s, depot
        for i in r.stops:
            assert problem.allowed[i, v], f"stop {i} is not allowed on vehicle {v}"
            loc = int(problem.stop_location[i])
            begin = max(t + int(dur[at, loc]), int(problem.tw_start_s[i]))
            assert begin <= problem.tw_end_s[i]
            t, at = begin + int(problem.stop_service_s[i]), loc
        assert t + int(dur[at, depot]) <= problem.vehicle_latest_end_s[v]
    served = sorted(i for r in result.routes for i in r.stops)
    assert sorted(served + list(result.dropped)) == list(range(problem.num_stops))


def test_pyvrp_is_a_registered_engine():
    assert ENGINES["pyvrp"] is PyVrpEngine


def test_one_vehicle_on_a_line_goes_out_and_back(engine):
    problem = line_problem([1000, 2000, 3000])
    result = engine.solve(problem, LIMIT_S)
    assert result.dropped == []
    assert total_distance(problem, result) == 6000
    assert_schedule_holds(problem, result)


def test_capacity_splits_two_clusters_between_two_vehicles(engine):
    problem = line_problem([1000, 2000, -1000, -2000], vehicles=2, capacity=(2, 2))
    result = engine.solve(problem, LIMIT_S)
    assert result.dropped == []
    assert total_distance(problem, result) == 8000
    assert sorted(sorted(r.stops) for r in result.routes) == [[0, 1], [2, 3]]


def test_time_windows_force_the_far_stop_first(engine):
    problem = line_problem(
        [1000, 2000], tw_start_s=np.array([3500, 0]), tw_end_s=np.array([4000, 2500])
    )
    result = engine.solve(problem, LIMIT_S)
    assert [r.stops for r in result.routes] == [[1, 0]]
    assert total_distance(problem, result) == 4000
    assert_schedule_holds(problem, result)


def test_a_stop_only_allowed_on_one_vehicle_goes_to_it(engine):
    allowed = np.array([[True, True], [False, True]])
    problem = line_problem(
        [1000, 1100], vehicles=2, allowed=allowed, vehicle_fixed_cost_eur=np.array([0.0, 5.0])
    )
    result = engine.solve(problem, LIMIT_S)
    by_vehicle = {r.vehicle: r.stops for r in result.routes}
    assert 1 in by_vehicle.get(1, [])
    assert_schedule_holds(problem, result)


def test_unreachable_slot_and_range_are_dropped_not_violated(engine):
    problem = line_problem(
        [5000, -9000, 500],
        tw_end_s=np.array([1000, DAY, DAY]),
        vehicle_max_distance_m=np.array([12000]),
    )
    result = engine.solve(problem, LIMIT_S)
    assert sorted(result.dropped) == [0, 1]
    assert [r.stops for r in result.routes] == [[2]]


def test_fixed_cost_makes_one_vehicle_do_both_stops(engine):
    problem = line_problem([1000, -1000], vehicles=2, vehicle_fixed_cost_eur=np.array([50.0, 50.0]))
    result = engine.solve(problem, LIMIT_S)
    assert len(result.routes) == 1
    assert total_distance(problem, result) == 4000


def test_departure_is_as_late_as_the_slots_allow(engine):
    problem = line_problem(
        [1000],
        tw_start_s=np.array([10000]),
        tw_end_s=np.array([10600]),
        vehicle_cost_per_s_eur=np.array([0.01]),
    )
    result = engine.solve(problem, LIMIT_S)
    assert result.routes[0].start_s == 9000


def test_a_vehicle_that_must_leave_early_cannot_serve_a_late_slot(engine):
    problem = line_problem(
        [1000], tw_start_s=np.array([20000]), vehicle_latest_start_s=np.array([10000])
    )
    result = engine.solve(problem, LIMIT_S)
    assert result.routes[0].start_s <= 10000
    assert_schedule_holds(problem, result)


def test_a_stop_cheaper_to_drop_than_to_serve_is_dropped(engine):
    # 200 km round trip at 1 EUR/km against a 1 EUR penalty.
    problem = line_problem([1000, 100_000], penalty_eur=np.array([1000.0, 1.0]))
    result = engine.solve(problem, LIMIT_S)
    assert result.dropped == [1]
    assert result.objective_eur == pytest.approx(2.0 + 1.0)


def test_only_stops_dearer_to_drop_than_any_route_are_made_must_serve():
    # The dearest route: 4 arcs of at most 100 km at 1 EUR/km, so 400 EUR.
    problem = line_problem([1000, 100_000, 2000], penalty_eur=np.array([1000.0, 1.0, 399.0]))
    assert _Model(problem).must_serve == [0]


def test_a_forbidden_vehicle_is_never_used_for_a_stop_even_when_cheaper(engine):
    # Vehicle 0 is free; vehicle 1 costs 50 EUR to use. Stop 2 may not go on
    # vehicle 0 (a zone rule), so it takes vehicle 1; stop 3 may go on neither.
    allowed = np.array([[True, True], [True, True], [False, True], [False, False]])
    problem = line_problem(
        [1000, 2000, 3000, 500],
        vehicles=2,
        allowed=allowed,
        vehicle_fixed_cost_eur=np.array([0.0, 50.0]),
    )
    result = engine.solve(problem, LIMIT_S)
    by_vehicle = {r.vehicle: r.stops for r in result.routes}
    assert 2 in by_vehicle[1]
    assert 2 not in by_vehicle.get(0, [])
    assert result.dropped == [3]
    assert_schedule_holds(problem, result)


def test_each_depot_serves_its_own_side_in_a_two_depot_problem(engine):
    # Depot A at 0 m, depot B at 10 km; one stop 1 km from each. Vehicle 1 (at B) is a
    # bike: its own profile, half the speed of the van at A.
    pos = np.array([0, 10_000, 1_000, 9_000])
    dist = np.abs(pos[:, None] - pos[None, :])
    problem = line_problem(
        [1_000, 9_000],
        vehicles=2,
        distance_m=[dist, dist.copy()],
        duration_s=[dist.copy(), 2 * dist],
        vehicle_profile=np.array([0, 1]),
        vehicle_start_location=np.array([0, 1]),
        stop_location=np.array([2, 3]),
    )
    result = engine.solve(problem, LIMIT_S)
    by_vehicle = {r.vehicle: r.stops for r in result.routes}
    assert by_vehicle == {0: [0], 1: [1]}
    assert_schedule_holds(problem, result)


def test_heterogeneous_vehicles_respect_both_load_dimensions(engine):
    # Vehicle 0 carries 10 kg / 100 l, vehicle 1 100 kg / 10 l; stop 0 is bulky
    # (50 l), stop 1 heavy (50 kg): each goes to the one vehicle that can carry it.
    problem = line_problem(
        [1000, 1000],
        vehicles=2,
        capacity=(0, 0),
        vehicle_capacity=np.array([[10_000, 100_000], [100_000, 10_000]]),
        stop_demand=np.array([[1_000, 50_000], [50_000, 1_000]]),
    )
    result = engine.solve(problem, LIMIT_S)
    by_vehicle = {r.vehicle: r.stops for r in result.routes}
    assert by_vehicle == {0: [0], 1: [1]}


def test_the_route_check_drops_forbidden_and_late_stops_it_is_handed():
    allowed = np.array([[True], [False], [True], [True]])
    problem = line_problem(
        [1000, 1500, 2000, 3000], allowed=allowed, tw_end_s=np.array([DAY, DAY, 500, DAY])
    )
    route, dropped, cost = schedule_route(problem, 0, [[0, 1, 2, 3]])
    assert route.stops == [0, 3] and dropped == [1, 2]
    assert route.start_s == 0
    assert cost == pytest.approx(6.0)


def test_bad_arrays_and_seeds_are_refused(engine):
    problem = line_problem([1000, 2000], allowed=np.ones((3, 1), bool))
    with pytest.raises(ValueError, match="allowed"):
        engine.solve(problem, LIMIT_S)
    with pytest.raises(ValueError, match="not understood"):
        PyVrpEngine(seed=-1)
    with pytest.raises(ValueError, match="not understood"):
        engine.solve(line_problem([1000]), 0)
