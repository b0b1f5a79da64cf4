"""Several tours a shift (reloads at the hub) and drivers' breaks, engine to checker."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_from_dict, plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.model import FleetEntry, Service
from optimizer.planning import PlanParams, plan_day
from optimizer.routing import ENGINES
from optimizer.routing.schedule import reinsert, schedule_route
from tests import factory
from tests.test_routing import line_problem

H = 3600
LIMIT_S = 1.0


def walk(problem, route):
    """Drive a route independently of the engines: every tour, reload and the break.

    Returns (first departure, last return); asserts windows, loads per tour, the range
    for the whole shift, the node's last departure and the shift's end.
    """
    v = route.vehicle
    dist = problem.distance_m[problem.vehicle_profile[v]]
    dur = problem.duration_s[problem.vehicle_profile[v]]
    depot = int(problem.vehicle_start_location[v])
    assert route.start_s >= problem.vehicle_earliest_start_s[v]
    trips = route.trips()
    assert len(trips) <= problem.max_trips(v)
    t, metres = int(route.start_s), 0
    rest = route.rest
    for k, trip in enumerate(trips):
        if k:
            t += problem.reload_s(v)
        if rest is not None and (rest.trip, rest.after_stop) == (k, 0):
            assert rest.start_s >= t
            t = rest.start_s + rest.duration_s
        assert t <= problem.vehicle_latest_start_s[v], "a tour leaves after the node closes"
        load = np.zeros(problem.vehicle_capacity.shape[1], np.int64)
        at = depot
        for j, i in enumerate(trip, 1):
            assert problem.allowed[i, v]
            loc = int(problem.stop_location[i])
            begin = max(t + int(dur[at, loc]), int(problem.tw_start_s[i]))
            assert begin <= problem.tw_end_s[i], f"stop {i} late"
            load += problem.stop_demand[i]
            metres += int(dist[at, loc])
            t, at = begin + int(problem.stop_service_s[i]), loc
            if rest is not None and (rest.trip, rest.after_stop) == (k, j):
                assert rest.start_s >= t
                t = rest.start_s + rest.duration_s
        assert np.all(load <= problem.vehicle_capacity[v]), f"tour {k} overloaded"
        metres += int(dist[at, depot])
        t += int(dur[at, depot])
    assert t <= problem.vehicle_latest_end_s[v]
    assert metres <= problem.vehicle_max_distance_m[v]
    return int(route.start_s), t


def assert_breaks_hold(problem, result):
    for route in result.routes:
        start, end = walk(problem, route)
        if problem.break_s and end - start > problem.break_over_s:
            rest = route.rest
            assert rest is not None, f"vehicle {route.vehicle} works {end - start} s, no break"
            assert rest.duration_s >= problem.break_s
            assert rest.start_s - start <= problem.max_work_before_break_s
            assert end - (rest.start_s + rest.duration_s) <= problem.max_work_before_break_s


# --- several tours ------------------------------------------------------------------------


def reload_problem(max_trips: int, vehicles: int = 1, fixed_eur: float = 0.0):
    """Six stops 1.0-1.5 km out, a vehicle takes two at a time."""
    return line_problem(
        [1000, 1100, 1200, 1300, 1400, 1500],
        vehicles=vehicles,
        capacity=(2, 2),
        vehicle_fixed_cost_eur=np.full(vehicles, fixed_eur),
        vehicle_max_trips=np.full(vehicles, max_trips),
        vehicle_reload_s=np.full(vehicles, 600),
    )


@pytest.mark.parametrize("engine", ["pyvrp"])
def test_a_bike_that_reloads_serves_every_stop_one_tour_cannot(engine):
    solver = ENGINES[engine]()
    one = solver.solve(reload_problem(max_trips=1), LIMIT_S)
    three = solver.solve(reload_problem(max_trips=3), LIMIT_S)
    assert len(one.dropped) == 4  # two stops fit in one tour
    assert three.dropped == []
    (route,) = three.routes
    assert [len(t) for t in route.trips()] == [2, 2, 2]
    walk(reload_problem(max_trips=3), route)


def test_reloading_is_cheaper_than_a_second_bike():
    solver = ENGINES["pyvrp"]()
    without = solver.solve(reload_problem(max_trips=1, vehicles=3, fixed_eur=50.0), LIMIT_S)
    with_reloads = solver.solve(reload_problem(max_trips=3, vehicles=3, fixed_eur=50.0), LIMIT_S)
    assert without.dropped == [] and with_reloads.dropped == []
    assert len(without.routes) == 3 and len(with_reloads.routes) == 1
    assert with_reloads.objective_eur < without.objective_eur - 90  # two fixed costs saved


def test_a_tour_that_would_leave_after_the_node_closes_is_not_driven():
    problem = replace(
        reload_problem(max_trips=3), vehicle_latest_start_s=np.array([2500], np.int64)
    )
    result = ENGINES["pyvrp"]().solve(problem, LIMIT_S)
    for route in result.routes:
        walk(problem, route)
    # The first tour (about 2 km, 2000 s) then a 600 s reload: the second would leave
    # after 2500 s, so only the first tour's two stops are served.
    assert len(result.dropped) == 4


def test_ortools_drives_one_tour_whatever_max_trips_says():
    problem = reload_problem(max_trips=3, vehicles=3, fixed_eur=50.0)
    result = ENGINES["ortools"]().solve(problem, LIMIT_S)
    assert result.dropped == []
    assert all(len(r.trips()) == 1 for r in result.routes)


# --- breaks -------------------------------------------------------------------------------


def break_problem(vehicles: int = 1, **over):
    """Ten stops 1 km out in a row (1 m is 1 s), 30 min of service each, windows over the
    day: about 5 h 30 of work for one vehicle; the rule: 20 min once the day passes 4 h, at most 4 h
    of work before or after it."""
    n = 10
    fields = dict(
        stop_service_s=np.full(n, 1800, np.int64),
        break_s=1200,
        max_work_before_break_s=4 * H,
        break_over_s=4 * H,
        vehicle_latest_end_s=np.full(vehicles, 10 * H, np.int64),
        vehicle_latest_start_s=np.full(vehicles, 10 * H, np.int64),
    )
    fields.update(over)
    return line_problem([1000 + 100 * k for k in range(n)], vehicles=vehicles, **fields)


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_a_long_day_gets_its_break_with_both_engines(engine):
    problem = break_problem()
    result = ENGINES[engine]().solve(problem, LIMIT_S)
    assert result.dropped == []
    (route,) = result.routes
    assert route.rest is not None
    assert_breaks_hold(problem, result)


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_the_break_goes_into_waiting_time_when_there_is_some(engine):
    # The vehicle leaves at 0 and stops 5-9 open at 3 h 30: it waits for them anyway
    # (about 35 min), the break costs nothing.
    tw_start = np.array([0] * 5 + [12_600] * 5, np.int64)
    problem = break_problem(
        tw_start_s=tw_start,
        vehicle_latest_start_s=np.array([0]),
        vehicle_cost_per_s_eur=np.array([0.01]),  # time counts: no needless waiting
    )
    no_break = replace(problem, break_s=0)
    solver = ENGINES[engine]()
    with_rest, without = solver.solve(problem, LIMIT_S), solver.solve(no_break, LIMIT_S)
    assert_breaks_hold(problem, with_rest)
    (a,), (b,) = with_rest.routes, without.routes
    assert a.rest is not None and b.rest is None
    assert walk(problem, a)[1] == walk(no_break, b)[1]  # back at the same time


def test_a_day_with_no_room_for_the_break_drops_a_stop_rather_than_break_the_rule():
    # Every window is a single instant, one after the other: no slack anywhere.
    problem = break_problem()
    t, at, begins = 0, 0, []
    for i in range(problem.num_stops):
        loc = int(problem.stop_location[i])
        t += int(problem.duration_s[0][at, loc])
        begins.append(t)
        t += int(problem.stop_service_s[i])
        at = loc
    tight = replace(problem, tw_start_s=np.array(begins), tw_end_s=np.array(begins))
    route, dropped, _ = schedule_route(tight, 0, [list(range(problem.num_stops))])
    assert dropped, "a stop must make room for the break"
    result = type("R", (), {"routes": [route]})()
    assert_breaks_hold(tight, result)


def test_a_stop_left_out_for_the_break_goes_to_another_vehicle():
    problem = break_problem(vehicles=2)
    t, at, begins = 0, 0, []
    for i in range(problem.num_stops):
        loc = int(problem.stop_location[i])
        t += int(problem.duration_s[0][at, loc])
        begins.append(t)
        t += int(problem.stop_service_s[i])
        at = loc
    tight = replace(problem, tw_start_s=np.array(begins), tw_end_s=np.array(begins))
    route, dropped, _ = schedule_route(tight, 0, [list(range(problem.num_stops))])
    routes, left = reinsert(tight, [route], dropped)
    assert left == [] and {r.vehicle for r in routes} == {0, 1}
    assert sorted(i for r in routes for i in r.stops) == list(range(problem.num_stops))
    assert_breaks_hold(tight, type("R", (), {"routes": routes})())


def test_short_days_have_no_break_and_pure_vrptw_is_unchanged():
    problem = line_problem([1000, 2000, 3000])
    result = ENGINES["pyvrp"]().solve(problem, LIMIT_S)
    assert all(r.rest is None and r.trip_sizes == [] for r in result.routes)
    assert result.routes[0].start_s == 0 and problem.break_s == 0


def test_bad_trip_and_break_arrays_are_refused():
    with pytest.raises(ValueError, match="vehicle_max_trips"):
        ENGINES["pyvrp"]().solve(line_problem([1000], vehicle_max_trips=np.array([0])), LIMIT_S)
    with pytest.raises(ValueError, match="max_work_before_break_s"):
        ENGINES["pyvrp"]().solve(line_problem([1000], break_s=600), LIMIT_S)


# --- the whole plan, checked ----------------------------------------------------------------


def bike_day(max_trips: int):
    """One bike at the hub, 12 green orders of a 150 l TV around it (three fit in the
    bike's 500 l), slots over the whole day (the bike works 8-20 h)."""
    lines = [("TV", 1)]
    orders = [
        factory.order(
            f"O{k:02d}",
            48.850 + 0.002 * (k % 4),
            2.370 + 0.002 * (k // 4),
            lines,
            service=Service.GREEN,
            slot=(8, 20),
        )
        for k in range(12)
    ]
    sc = factory.scenario(
        orders,
        stock={("HUB", "TV"): 100},
        fleet=[FleetEntry("HUB", "bike", 1, 8 * H, 20 * H)],
        zones=False,
    )
    bike = replace(sc.vehicle_types["bike"], max_trips=max_trips)
    return replace(sc, vehicle_types={**sc.vehicle_types, "bike": bike})


def planned(sc, engine="pyvrp"):
    plan = plan_day(sc, PlanParams(time_limit_s=2, engine=engine, workers=1, joint=False))
    document = plan_to_dict(sc, plan, plan_kpis(sc, plan))
    report = check_plan(sc, document)
    assert report.ok, [str(v) for v in report.violations]
    return plan, document


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_a_bike_day_with_reloads_serves_more_and_passes_the_checker(engine):
    one_plan, _ = planned(bike_day(max_trips=1), engine)
    plan, document = planned(bike_day(max_trips=4), engine)
    if engine == "ortools":  # one tour per vehicle with OR-Tools
        assert len(plan.routes) == 1
        return
    assert len(plan.unassigned) < len(one_plan.unassigned)
    tours = [r for r in document["routes"] if r["vehicle_id"] == "HUB/bike/1"]
    assert [r["trip"] for r in tours] == list(range(1, len(tours) + 1)) and len(tours) > 1
    assert tours[1]["reload_s"] == 600 and tours[0]["reload_s"] == 0
    assert tours[1]["cost_eur"] < tours[0]["cost_eur"]  # the fixed cost on the first only
    assert document["kpis"]["vehicles_used"] == 1
    # plan.json reads back with its tours and breaks.
    again = plan_from_dict(bike_day(max_trips=4), document)
    assert [(r.trip, r.reload_s, r.breaks) for r in again.routes] == [
        (r.trip, r.reload_s, r.breaks) for r in plan.routes
    ]
