"""Time of day: hourly duration factors per mode, applied by the plan, the checker, the
ETAs and the promise (optimizer/travel/time_of_day.py, docs/time-of-day.md)."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.check import check_plan
from optimizer.check.walk import _arrival_s
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.io.problems import ScenarioError
from optimizer.kpis import plan_kpis
from optimizer.live import Fix, Waypoint, estimate
from optimizer.model import FleetEntry, Mode, TravelSettings
from optimizer.planning import PlanParams, plan_day
from optimizer.planning.problem import build_node_problem
from optimizer.routing.schedule import schedule_route
from optimizer.travel import (
    DEFAULT,
    FREE_FLOW,
    GreatCircle,
    HourFactors,
    Profile,
    SpeedProfile,
    TimedTravel,
    travel_of,
)
from optimizer.travel.time_of_day import FLAT
from tests import factory as f

PARIS = Path(__file__).resolve().parent.parent / "data" / "paris"
H = 3600
VAN = Profile(Mode.VAN, 25.0)

hour_factors = st.lists(st.floats(1.0, 3.0), min_size=24, max_size=24).map(
    lambda fs: HourFactors(tuple(fs))
)


# --- the factors and the leg's duration ------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    hour_factors,
    st.integers(0, 2 * 24 * H),
    st.integers(0, 3 * H),
    st.integers(0, 2 * H),
    st.integers(0, 3 * H),
)
def test_leaving_later_never_arrives_earlier(hours, depart_s, wait_s, free_s, more_s):
    # FIFO, for the plan's reckoning and the checker's own; and they agree to the second.
    later = depart_s + wait_s
    assert hours.arrival_s(later, free_s) >= hours.arrival_s(depart_s, free_s)
    assert _arrival_s(hours.factors, later, free_s) >= _arrival_s(hours.factors, depart_s, free_s)
    assert abs(hours.arrival_s(depart_s, free_s) - _arrival_s(hours.factors, depart_s, free_s)) <= 1
    # A longer leg never arrives sooner, and never faster than free flow nor slower
    # than its worst hour.
    assert hours.arrival_s(depart_s, free_s + more_s) >= hours.arrival_s(depart_s, free_s)
    took = hours.duration_s(depart_s, free_s)
    assert free_s <= took <= np.ceil(free_s * hours.worst(depart_s, depart_s + took)) + 1


def test_the_factor_of_an_hour_and_a_leg_across_an_hour_boundary():
    peak = SpeedProfile.from_hours({Mode.VAN: {(7, 9): 1.5}}).of(Mode.VAN)
    assert peak.factor(6 * H + 3599) == 1.0
    assert peak.factor(7 * H) == peak.factor(8 * H + 3599) == 1.5
    assert peak.factor(9 * H) == 1.0
    assert peak.factor(24 * H + 7 * H) == 1.5  # past midnight: the next day's hours
    # 10 free-flow minutes from 06:55: 5 at free flow to 07:00, the other 5 at x1.5.
    assert peak.duration_s(6 * H + 3300, 600) == 300 + 450
    # From 08:55: 5 min at x1.5 cover 200 s of free flow, the other 400 s at free flow.
    assert peak.duration_s(8 * H + 3300, 600) == 300 + 400
    assert peak.duration_s(12 * H, 600) == 600 and peak.duration_s(8 * H, 0) == 0
    assert peak.worst(6 * H, 7 * H) == 1.5 and peak.worst(9 * H, 23 * H) == 1.0
    assert SpeedProfile().of(Mode.CARGO_BIKE) is FLAT
    with pytest.raises(ValueError, match="< 1"):
        HourFactors((0.9,) + (1.0,) * 23)


def test_the_default_profile_slows_vans_in_the_peaks_and_bikes_barely():
    van, bike = DEFAULT.of(Mode.VAN), DEFAULT.of(Mode.CARGO_BIKE)
    assert van.factor(8 * H) >= 1.3 and van.factor(17 * H) >= 1.3 and van.factor(12 * H) == 1.0
    assert 1.0 < bike.factor(8 * H) <= 1.05 and bike.factor(12 * H) == 1.0
    assert van.factor(3 * H) == 1.0


# --- scenario.yaml ---------------------------------------------------------------------


def _copy(tmp_path: Path, travel_block: str) -> Path:
    folder = tmp_path / "day"
    shutil.copytree(PARIS, folder)
    with (folder / "scenario.yaml").open("a", encoding="utf-8") as out:
        out.write(travel_block)
    return folder


def test_the_travel_block_names_hours_per_mode(tmp_path):
    folder = _copy(
        tmp_path, 'travel:\n  time_of_day:\n    van:\n      "07-09": 1.4\n      "16-19": 1.3\n'
    )
    scenario = load_scenario(folder)
    hours = scenario.settings.travel.time_of_day
    assert set(hours) == {Mode.VAN}
    assert hours[Mode.VAN][7] == hours[Mode.VAN][8] == 1.4 and hours[Mode.VAN][9] == 1.0
    assert hours[Mode.VAN][16] == hours[Mode.VAN][18] == 1.3 and hours[Mode.VAN][19] == 1.0
    travel = travel_of(scenario)
    assert isinstance(travel, TimedTravel) and isinstance(travel.inner, GreatCircle)
    assert travel.speed.of(Mode.VAN).factor(8 * H) == 1.4
    assert travel.speed.of(Mode.CARGO_BIKE) is FLAT
    assert travel.detour_factor[Mode.VAN] == 1.35  # the wrapped provider's own figures


def test_the_default_and_none_profiles_by_name(tmp_path):
    scenario = load_scenario(_copy(tmp_path, "travel:\n  time_of_day: default\n"))
    assert travel_of(scenario).speed == DEFAULT
    scenario = load_scenario(_copy(tmp_path / "b", "travel:\n  time_of_day: none\n"))
    assert scenario.settings.travel == TravelSettings()
    assert isinstance(travel_of(scenario), GreatCircle)


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ('    van:\n      "09-07": 1.2\n', "travel.time_of_day.van", "hour range '09-07'"),
        ('    van:\n      "07-25": 1.2\n', "travel.time_of_day.van", "00 <= start < end <= 24"),
        ('    van:\n      "morning": 1.2\n', "travel.time_of_day.van", "expected HH-HH"),
        ('    van:\n      "07-09": 0.8\n', "travel.time_of_day.van", "factor 0.8"),
        ('    van:\n      "07-09": 1.2\n      "08-10": 1.3\n', "travel.time_of_day.van", "overlap"),
        ('    lorry:\n      "07-09": 1.2\n', "travel.time_of_day.lorry", "unknown mode"),
        ("    van: 1.3\n", "travel.time_of_day.van", "mapping of hours"),
        ("    rush\n", "travel.time_of_day", "none, default or a mapping"),
    ],
)
def test_a_bad_time_of_day_is_a_clear_problem(tmp_path, block, field, message):
    folder = _copy(tmp_path, "travel:\n  time_of_day:\n" + block)
    with pytest.raises(ScenarioError) as error:
        load_scenario(folder)
    problems = [p for p in error.value.problems if p.column == field]
    assert problems, str(error.value)
    assert message in problems[0].message, str(error.value)


# --- the plan and the checker ----------------------------------------------------------

MORNING_PEAK = {Mode.VAN: tuple(2.0 if 7 <= h < 10 else 1.0 for h in range(24))}
PEAK = SpeedProfile({Mode.VAN: HourFactors(MORNING_PEAK[Mode.VAN])})


def _morning_day(time_of_day=None):
    """Six sofas (vans only) 2-4 km south-east of the hub, due early in the morning."""
    spots = [(48.838, 2.385), (48.832, 2.392), (48.842, 2.398), (48.828, 2.378)]
    spots += [(48.836, 2.402), (48.845, 2.392)]
    orders = [
        f.order(f"O{k}", lat, lon, [("SOFA", 1)], slot=(7, 9) if k < 3 else (8, 10))
        for k, (lat, lon) in enumerate(spots)
    ]
    day = f.scenario(
        orders, stock={("HUB", "SOFA"): 10}, fleet=[FleetEntry("HUB", "van", 2, 7 * H, 15 * H)]
    )
    travel = TravelSettings(time_of_day=time_of_day or {})
    return dataclasses.replace(day, settings=dataclasses.replace(day.settings, travel=travel))


def _planned(day):
    plan = plan_day(day, PlanParams(time_limit_s=2, workers=1, joint=False))
    return plan, json.loads(to_json(plan_to_dict(day, plan, plan_kpis(day, plan))))


def test_a_day_planned_with_the_morning_peak_holds_under_it_and_one_planned_without_does_not():
    peak_day, free_day = _morning_day(MORNING_PEAK), _morning_day()
    plan, document = _planned(peak_day)
    report = check_plan(peak_day, document)
    assert report.ok, [str(v) for v in report.violations]
    assert sum(len(r.stops) for r in plan.routes) >= 4  # the peak costs stops, not all
    free_plan, free_document = _planned(free_day)
    assert check_plan(free_day, free_document).ok
    late = check_plan(peak_day, free_document)  # free-flow times driven in the peak
    assert not late.ok
    assert {v.code for v in late.violations} & {"teleport", "late_stop", "back_after_route_end"}
    # Each leg of the peak plan takes its hour's time: the first stop of each route is
    # reached in twice its free-flow time (a 07-10 departure).
    free_first = {
        s.order_id: s.arrival_s - r.start_s for r in free_plan.routes for s in r.stops[:1]
    }
    for route in plan.routes:
        first = route.stops[0]
        if first.order_id in free_first and route.start_s + 2 * free_first[first.order_id] < 10 * H:
            assert abs(first.arrival_s - route.start_s - 2 * free_first[first.order_id]) <= 2


def test_the_solver_plans_each_leg_at_its_worst_hour_and_times_hour_by_hour():
    day = _morning_day(MORNING_PEAK)
    travel = travel_of(day)
    problem = build_node_problem(day, travel, "HUB", [o.order_id for o in day.orders]).problem
    free = problem.free_flow_s[0]
    assert problem.hours[0].factor(8 * H) == 2.0
    assert np.array_equal(problem.duration_s[0], np.ceil(free * 2.0).astype(np.int64))
    assert problem.leg_s(0, 0, 1, 8 * H) == 2 * int(free[0, 1])
    assert problem.leg_s(0, 0, 1, 12 * H) == int(free[0, 1])


def test_legs_that_can_only_be_driven_at_midday_are_planned_at_midday_speed():
    day = _morning_day(MORNING_PEAK)
    noon = [dataclasses.replace(o, slot_start_s=12 * H, slot_end_s=14 * H) for o in day.orders]
    day = dataclasses.replace(day, orders=noon)
    problem = build_node_problem(day, travel_of(day), "HUB", [o.order_id for o in noon]).problem
    free, planned = problem.free_flow_s[0], problem.duration_s[0]
    stops = problem.stop_location
    # Between two noon stops: free flow; out of the hub (vans leave from 07:00): the peak.
    assert np.array_equal(planned[np.ix_(stops, stops)], free[np.ix_(stops, stops)])
    assert np.array_equal(planned[0, stops], 2 * free[0, stops])
    assert np.array_equal(planned[stops, 0], free[stops, 0])  # back after 12:05


def test_without_a_profile_the_problem_and_its_timing_are_todays():
    day = _morning_day()
    plain = build_node_problem(day, GreatCircle(), "HUB", [o.order_id for o in day.orders])
    timed = build_node_problem(
        day, TimedTravel(GreatCircle(), FREE_FLOW), "HUB", [o.order_id for o in day.orders]
    )
    assert plain.problem.hours is None and timed.problem.hours is None
    assert np.array_equal(plain.problem.duration_s[0], timed.problem.duration_s[0])
    # A flat profile given explicitly times routes to the same second as none.
    p = plain.problem
    flat = dataclasses.replace(p, free_flow_s=p.duration_s, hours=[FLAT] * len(p.duration_s))
    trips = [[0, 1, 2], [3, 4, 5]]
    assert schedule_route(p, 0, trips) == schedule_route(flat, 0, trips)


def test_the_shipped_sample_has_no_time_of_day():
    scenario = load_scenario(PARIS)
    assert scenario.settings.travel.time_of_day == {}
    assert not isinstance(travel_of(scenario), TimedTravel)


# --- ETAs and the promise --------------------------------------------------------------


def test_etas_shift_with_the_hour():
    timed = TimedTravel(
        GreatCircle(), SpeedProfile({Mode.VAN: HourFactors(MORNING_PEAK[Mode.VAN])})
    )
    stops = [Waypoint("A", 48.84, 2.39, 0, 23 * H, 120), Waypoint("B", 48.83, 2.40, 0, 23 * H, 120)]
    fix_at = lambda t: Fix(48.85, 2.37, t)  # noqa: E731
    free_8 = estimate(stops, fix_at(8 * H), GreatCircle(), VAN)
    peak_8 = estimate(stops, fix_at(8 * H), timed, VAN)
    peak_12 = estimate(stops, fix_at(12 * H), timed, VAN)
    first_leg = free_8[0].arrival_s - 8 * H
    assert peak_8[0].arrival_s - 8 * H == 2 * first_leg
    assert peak_8[1].arrival_s > free_8[1].arrival_s
    assert [e.arrival_s - 4 * H for e in peak_12] == [e.arrival_s for e in free_8]


def test_the_promise_tests_insertions_at_the_slowest_hour():
    from optimizer.insertion import LiveRoutes

    day = _morning_day()
    found = {}
    for name, travel in (("free", GreatCircle()), ("peak", TimedTravel(GreatCircle(), PEAK))):
        live = LiveRoutes(day, travel)
        allowed = np.ones(len(live.vehicles), dtype=bool)
        found[name] = live.cheapest_insertions(
            48.836, 2.402, 300, 45, 900, [(12 * H, 14 * H)], allowed
        )[0]
    # The drive out is timed at the day's slowest hour (x2), whatever the slot.
    assert found["peak"].added_s - 300 == 2 * (found["free"].added_s - 300)


def test_a_replan_in_the_peak_times_with_it_and_stays_checker_clean():
    from optimizer.live.replan import LiveState, ReplanParams, StopFact, TripFacts, replan

    day = _morning_day(MORNING_PEAK)
    plan, _ = _planned(day)
    route = max(plan.routes, key=lambda r: len(r.stops))
    first = route.stops[0]
    facts = TripFacts(
        route.start_s,
        (StopFact(first.order_id, "delivered", first.arrival_s + 300, first.departure_s + 300),),
    )
    new_order = f.order("NEW", 48.840, 2.388, [("SOFA", 1)], slot=(9, 11))
    day = dataclasses.replace(day, orders=day.orders + [new_order])
    state = LiveState(now_s=first.departure_s + 300, trips={route.vehicle_id: (facts,)})
    new, _ = replan(day, plan, state, ReplanParams(time_limit_s=0.5))
    doc = json.loads(to_json(plan_to_dict(day, new, plan_kpis(day, new))))
    report = check_plan(day, doc)
    assert report.ok, [str(v) for v in report.violations]
    kept = next(r for r in new.routes if r.vehicle_id == route.vehicle_id)
    # The on-board stops are re-timed from the delivered one, each leg in the peak.
    after, nxt = kept.stops[0], kept.stops[1]
    lat = np.array([after.lat, nxt.lat])
    lon = np.array([after.lon, nxt.lon])
    _, free = GreatCircle().matrices(lat, lon, Profile.of(day.vehicle_types["van"]))
    assert nxt.arrival_s == after.departure_s + PEAK.of(Mode.VAN).duration_s(
        after.departure_s, int(free[0, 1])
    )


def test_a_road_day_with_the_default_profile_plans_clean_and_draws_along_the_streets(tmp_path):
    from optimizer.io.road_cache import load_road_travel
    from optimizer.travel.route_lines import OSM_CREDIT, route_lines
    from tests.test_road_scenario import KBH, _kbh_day

    day = _kbh_day(load_road_travel(KBH, tmp_path / "cache"))
    hours = {mode: factors.factors for mode, factors in DEFAULT.by_mode.items()}
    travel = dataclasses.replace(day.settings.travel, time_of_day=hours)
    day = dataclasses.replace(day, settings=dataclasses.replace(day.settings, travel=travel))
    assert isinstance(travel_of(day), TimedTravel)
    plan, document = _planned(day)
    report = check_plan(day, document)
    assert report.ok, [str(v) for v in report.violations]
    assert plan.routes and route_lines(day, plan.routes).credit == OSM_CREDIT
