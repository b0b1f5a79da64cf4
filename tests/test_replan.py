"""Re-planning the rest of the day (optimizer.live.replan) on small hand-built days."""

import json
from dataclasses import replace

import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_from_dict, plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.live.replan import (
    FailedPolicy,
    LiveState,
    ReplanError,
    ReplanParams,
    StopFact,
    TripFacts,
    replan,
)
from optimizer.live.replan.times import _retimed
from optimizer.model import (
    FleetEntry,
    NodeKind,
    Route,
    with_order_changes,
)
from optimizer.planning import PlanParams, plan_day
from optimizer.travel import GreatCircle
from tests import factory as f

H = 3600


def _day(n=6, fleet=None):
    """``n`` book orders south-east of the HUB, slots 09-11, 10-12, 11-13 in turn."""
    orders = [
        f.order(
            f"O{i}",
            48.840 + 0.003 * i,
            2.365 + 0.002 * (i % 3),
            [("BOOK", 1)],
            slot=(9 + i % 3, 11 + i % 3),
        )  # fmt: skip
        for i in range(n)
    ]
    scenario = f.scenario(orders, zones=False, fleet=fleet)
    plan = plan_day(scenario, PlanParams(time_limit_s=1, workers=1, joint=False))
    assert not plan.unassigned
    return scenario, plan


def _checked(scenario, plan):
    """plan.json of the re-planned plan, as the service writes it, and the checker's
    verdict on it against the day's scenario (with the plan's order changes)."""
    day = with_order_changes(scenario, plan.order_changes)
    doc = json.loads(json.dumps(plan_to_dict(day, plan, plan_kpis(day, plan))))
    return doc, check_plan(scenario, doc)


def _facts(route: Route, done: int, fail: set[str] = frozenset(), delay_s: int = 0):
    """The route's first ``done`` stops happened (``delay_s`` late), the next is under way."""
    facts = []
    for k, stop in enumerate(route.stops[: done + 1]):
        outcome = "in_progress" if k == done else "failed" if stop.order_id in fail else "delivered"
        facts.append(
            StopFact(stop.order_id, outcome, stop.arrival_s + delay_s,
                     stop.departure_s + delay_s, "nobody_home" if outcome == "failed" else None)
        )  # fmt: skip
    return TripFacts(route.start_s, tuple(facts))


def _first_stop_fails(plan):
    """The longest route's first stop failed; the vehicle is at its second: (route, the
    failed order, the live state)."""
    route = max(plan.routes, key=lambda r: len(r.stops))
    failed = route.stops[0].order_id
    facts = _facts(route, done=1, fail={failed})
    return (
        route,
        failed,
        LiveState(now_s=facts.stops[-1].arrival_s, trips={route.vehicle_id: (facts,)}),
    )


def _broke_down_after_one(route):
    """The route's vehicle delivered its first stop, then broke down a minute later."""
    facts = _facts(route, done=1)
    facts = replace(facts, stops=facts.stops[:1])
    return facts, LiveState(
        now_s=facts.stops[0].departure_s + 60,
        trips={route.vehicle_id: (facts,)},
        broken_down=frozenset({route.vehicle_id}),
    )


def _route_of(plan, vehicle_id, trip=0) -> Route:
    return sorted((r for r in plan.routes if r.vehicle_id == vehicle_id), key=lambda r: r.start_s)[
        trip
    ]


def test_replan_keeps_locked_stops_verbatim_and_inserts_a_new_order():
    scenario, plan = _day()
    route = max(plan.routes, key=lambda r: len(r.stops))
    facts = _facts(route, done=2, delay_s=240)
    now = facts.stops[-1].arrival_s - 60
    new_order = f.order("NEW", 48.852, 2.372, [("BOOK", 1)], slot=(14, 16))
    day = replace(scenario, orders=scenario.orders + [new_order])
    state = LiveState(now_s=now, trips={route.vehicle_id: (facts,)})

    new, report = replan(day, plan, state, ReplanParams(time_limit_s=0.5))

    kept = _route_of(new, route.vehicle_id)
    assert [s.order_id for s in kept.stops[:3]] == [f.order_id for f in facts.stops]
    for stop, fact in zip(kept.stops, facts.stops, strict=False):
        assert stop.locked and stop.outcome == fact.outcome
        assert (stop.arrival_s, stop.departure_s) == (fact.arrival_s, fact.departure_s)
    assert kept.start_s == route.start_s
    assert {s.order_id for r in new.routes for s in r.stops} >= {"NEW"}
    assert report.inserted and report.inserted[0]["order_id"] == "NEW"
    assert report.locked_stops == 3
    doc, check = _checked(day, new)
    assert check.ok, check.violations
    stop_json = doc["routes"][[r["vehicle_id"] for r in doc["routes"]].index(route.vehicle_id)]
    assert stop_json["stops"][0]["locked"] is True


def test_on_board_stops_stay_on_their_vehicle_retimed_from_the_locked_stop():
    scenario, plan = _day()
    route = max(plan.routes, key=lambda r: len(r.stops))
    facts = _facts(route, done=1, delay_s=120)
    state = LiveState(now_s=facts.stops[-1].arrival_s, trips={route.vehicle_id: (facts,)})
    new, _ = replan(scenario, plan, state, ReplanParams(time_limit_s=0.5))
    kept = _route_of(new, route.vehicle_id)
    assert [s.order_id for s in kept.stops[:2]] == [s.order_id for s in route.stops[:2]]
    assert {s.order_id for s in kept.stops} == {s.order_id for s in route.stops}
    tail = kept.stops[2]
    assert tail.arrival_s >= kept.stops[1].departure_s  # from the locked stop, not the plan
    assert _checked(scenario, new)[1].ok


def test_a_broken_down_vehicle_stops_move_to_another_vehicle_or_are_unassigned_with_a_reason():
    fleet = [
        FleetEntry("HUB", "van", 2, 7 * H, 19 * H),
        FleetEntry("HUB", "bike", 1, 8 * H, 19 * H),
    ]
    scenario, plan = _day(fleet=fleet)
    route = max(plan.routes, key=lambda r: len(r.stops))
    facts, state = _broke_down_after_one(route)
    new, report = replan(scenario, plan, state, ReplanParams(time_limit_s=0.5))
    on_broken = [
        s.order_id for r in new.routes if r.vehicle_id == route.vehicle_id for s in r.stops
    ]
    assert on_broken == [facts.stops[0].order_id]
    moved = {s.order_id for s in route.stops[1:]}
    elsewhere = {
        s.order_id for r in new.routes if r.vehicle_id != route.vehicle_id for s in r.stops
    }
    reasons = {u.order_id: u.reason for u in new.unassigned}
    assert moved <= elsewhere | set(reasons)
    assert all("broke down" in reasons[o] for o in moved - elsewhere)
    assert route.vehicle_id in report.vehicles_changed
    assert _checked(scenario, new)[1].ok


def test_a_broken_down_vehicle_with_no_other_to_take_its_parcels_offers_click_and_collect():
    scenario, plan = _day(fleet=[FleetEntry("HUB", "van", 1, 7 * H, 19 * H)])
    (route,) = plan.routes
    facts, state = _broke_down_after_one(route)
    new, report = replan(scenario, plan, state, ReplanParams(time_limit_s=0.5))
    stranded = {s.order_id for s in route.stops[1:]}
    assert {c.order_id for c in new.collections} == stranded  # STORE holds the books
    assert {c.node_id for c in new.collections} == {"STORE"}
    changes = {c.order_id: c for c in new.order_changes}
    assert set(changes) == stranded
    assert all(c.kind == "click_and_collect" and "broke down" in c.reason
               for c in changes.values())  # fmt: skip
    assert not new.unassigned
    assert _checked(scenario, new)[1].ok


def test_stops_on_board_that_run_too_late_ride_back_and_the_plan_stays_checker_clean():
    scenario, plan = _day()
    route = max(plan.routes, key=lambda r: len(r.stops))
    first = route.stops[0]
    # The first stop took until 14:00: every slot after it (the latest ends 13:00) is lost.
    facts = TripFacts(route.start_s, (StopFact(first.order_id, "delivered", first.arrival_s,
                                               14 * H),))  # fmt: skip
    state = LiveState(now_s=14 * H, trips={route.vehicle_id: (facts,)})
    params = ReplanParams(policy=FailedPolicy.RETRY_LATER_SLOT, time_limit_s=0.5)
    new, _ = replan(scenario, plan, state, params)
    late = {s.order_id for s in route.stops[1:]}
    kept = _route_of(new, route.vehicle_id)
    assert [s.order_id for s in kept.stops] == [first.order_id]  # the rest rode back
    assert {c.order_id for c in new.order_changes} | {u.order_id for u in new.unassigned} == late
    assert all("runs too late" in c.reason for c in new.order_changes)
    doc, check = _checked(scenario, new)
    assert check.ok, [str(v) for v in check.violations]


def test_failed_delivery_is_retried_in_a_later_slot_of_its_own_length():
    scenario, plan = _day()
    route, failed, state = _first_stop_fails(plan)
    params = ReplanParams(policy=FailedPolicy.RETRY_LATER_SLOT, time_limit_s=0.5)
    new, report = replan(scenario, plan, state, params)
    (change,) = new.order_changes
    original = scenario.orders_by_id[failed]
    assert change.kind == "retry_later_slot" and change.order_id == failed
    assert change.slot_start_s > original.slot_start_s
    assert change.slot_end_s - change.slot_start_s == original.slot_end_s - original.slot_start_s
    attempts = [s for r in new.routes for s in r.stops if s.order_id == failed]
    assert [s.failed_attempt for s in attempts] == [True, False]
    retry = attempts[1]
    assert change.slot_start_s <= retry.service_start_s <= change.slot_end_s
    assert "nobody_home" in change.reason
    assert report.order_changes[0]["kind"] == "retry_later_slot"
    doc, check = _checked(scenario, new)
    assert check.ok, check.violations
    assert doc["kpis"]["orders_routed"] == len(scenario.orders)
    # The written plan reads back with its locked stops and changes.
    back = plan_from_dict(with_order_changes(scenario, new.order_changes), doc)
    assert back.order_changes == new.order_changes
    assert sum(s.failed_attempt for r in back.routes for s in r.stops) == 1


def test_failed_delivery_offered_click_and_collect_at_the_nearest_store_with_stock():
    scenario, plan = _day()
    route = max(plan.routes, key=lambda r: len(r.stops))
    failed = route.stops[0].order_id
    facts = _facts(route, done=1, fail={failed})
    now = facts.stops[-1].arrival_s
    state = LiveState(now_s=now, trips={route.vehicle_id: (facts,)})
    params = ReplanParams(policy=FailedPolicy.CLICK_AND_COLLECT, time_limit_s=0.5)
    new, _ = replan(scenario, plan, state, params)
    (change,) = new.order_changes
    assert change.kind == "click_and_collect" and change.node_id == "STORE"
    assert scenario.nodes["STORE"].kind is NodeKind.STORE
    (collection,) = [c for c in new.collections if c.order_id == failed]
    assert collection.node_id == "STORE" and collection.ready_by_s == now + 3600
    assert new.sources[failed] == "STORE"
    doc, check = _checked(scenario, new)
    assert check.ok, check.violations
    assert doc["kpis"]["orders_collected"] == 1


def test_failed_delivery_with_no_later_slot_and_no_store_stock_is_unassigned_with_a_reason():
    scenario, plan = _day()
    scenario = replace(scenario, stock={k: v for k, v in scenario.stock.items() if k[0] != "STORE"})
    route, failed, state = _first_stop_fails(plan)
    params = ReplanParams(time_limit_s=0.5, delivery_end_s=12 * H)  # no later slot left
    new, report = replan(scenario, plan, state, params)
    (u,) = [u for u in new.unassigned if u.order_id == failed]
    assert u.code.value == "delivery_failed" and "nobody_home" in u.reason
    assert report.newly_unassigned[0]["order_id"] == failed
    assert _checked(scenario, new)[1].ok


def test_auto_prefers_the_retry_when_its_detour_costs_less_than_click_and_collect():
    scenario, plan = _day()
    route, failed, state = _first_stop_fails(plan)
    cheap = replan(scenario, plan, state, ReplanParams(time_limit_s=0.5))[0]
    assert [c.kind for c in cheap.order_changes] == ["retry_later_slot"]
    dear = replan(
        scenario, plan, state, ReplanParams(time_limit_s=0.5, collect_compensation_eur=0.0)
    )[0]
    # With click & collect free, any detour costs more: the store gets it.
    assert [c.kind for c in dear.order_changes] == ["click_and_collect"]
    assert _checked(scenario, dear)[1].ok


def test_replan_refuses_facts_that_do_not_fit_the_plan_with_where():
    scenario, plan = _day()
    route = plan.routes[0]
    bad = TripFacts(route.start_s, (StopFact("NOPE", "delivered", 9 * H, 9 * H + 60),))
    state = LiveState(now_s=10 * H, trips={route.vehicle_id: (bad,), "X/van/9": (bad,)},
                      broken_down=frozenset({"GHOST"}))  # fmt: skip
    with pytest.raises(ReplanError) as err:
        replan(scenario, plan, state)
    where = [w for w, _ in err.value.problems]
    assert f"trips[{route.vehicle_id}][0].stops[0]" in where
    assert "trips[X/van/9]" in where and "broken_down[GHOST]" in where


def test_checker_refuses_order_changes_a_customer_could_not_have_been_offered():
    scenario, plan = _day()
    route, failed, state = _first_stop_fails(plan)
    params = ReplanParams(policy=FailedPolicy.CLICK_AND_COLLECT, time_limit_s=0.5)
    doc, _ = _checked(scenario, replan(scenario, plan, state, params)[0])
    doc["order_changes"][0]["node_id"] = "HUB"  # not a store
    doc["order_changes"][0]["reason"] = " "
    codes = [v.code for v in check_plan(scenario, doc).violations]
    assert codes.count("bad_order_change") == 2
    # Without the change, the failed order is a delivery marked as collected.
    del doc["order_changes"]
    assert "not_click_collect" in [v.code for v in check_plan(scenario, doc).violations]


def test_checker_does_not_count_a_failed_attempt_as_where_the_order_ends():
    scenario, plan = _day()
    route = plan.routes[0]
    doc, _ = _checked(scenario, plan)
    stop = doc["routes"][0]["stops"][0]
    stop |= {"locked": True, "outcome": "failed"}
    codes = {v.code for v in check_plan(scenario, doc).violations}
    # The order is now nowhere: its assignment row points at a failed attempt.
    assert "order_missing" in codes
    assert route.stops[0].order_id == stop["order_id"]


def test_a_second_replan_keeps_what_the_first_locked_and_does_not_handle_a_failure_twice():
    scenario, plan = _day()
    route, failed, state = _first_stop_fails(plan)
    params = ReplanParams(policy=FailedPolicy.CLICK_AND_COLLECT, time_limit_s=0.5)
    first, _ = replan(scenario, plan, state, params)
    # Later, the live state only knows the trip (its stops are in the plan, locked).
    later = LiveState(
        now_s=state.now_s + 600, trips={route.vehicle_id: (TripFacts(route.start_s),)}
    )
    second, _ = replan(scenario, first, later, params)
    kept = _route_of(second, route.vehicle_id)
    assert [(s.order_id, s.outcome) for s in kept.stops[:1]] == [(failed, "failed")]
    assert [c.order_id for c in second.collections if c.order_id == failed] == [failed]
    assert len(second.order_changes) == 1
    assert _checked(scenario, second)[1].ok


def test_a_retry_that_fails_again_is_offered_click_and_collect_once():
    scenario, plan = _day()
    route, failed, state = _first_stop_fails(plan)
    retry = ReplanParams(policy=FailedPolicy.RETRY_LATER_SLOT, time_limit_s=0.5)
    first, _ = replan(scenario, plan, state, retry)
    (change,) = first.order_changes
    assert change.kind == "retry_later_slot"
    # Every tour up to the retried one ran; at the retry, nobody is home again.
    again = next(r for r in first.routes for s in r.stops if s.order_id == failed and not s.locked)
    trips = {}
    for r in sorted(first.routes, key=lambda r: r.start_s):
        if r.vehicle_id != again.vehicle_id and r.start_s > again.start_s:
            continue
        stops = []
        for stop in r.stops:
            fails = stop.failed_attempt or (r is again and stop.order_id == failed)
            stops.append(StopFact(stop.order_id, "failed" if fails else "delivered",
                                  stop.arrival_s, stop.departure_s,
                                  "nobody_home" if fails else None))  # fmt: skip
            if r is again and stop.order_id == failed:
                break
        back = None if r is again else r.end_s
        trips.setdefault(r.vehicle_id, []).append(TripFacts(r.start_s, tuple(stops), back))
        if r is again:
            break
    now = max(f.departure_s for t in trips.values() for trip in t for f in trip.stops)
    later = LiveState(now_s=now, trips={v: tuple(t) for v, t in trips.items()})
    collect = ReplanParams(policy=FailedPolicy.CLICK_AND_COLLECT, time_limit_s=0.5)
    second, _ = replan(scenario, first, later, collect)
    assert [(c.order_id, c.kind) for c in second.order_changes] == [(failed, "click_and_collect")]
    assert [c.order_id for c in second.collections] == [failed]
    attempts = [s.outcome for r in second.routes for s in r.stops if s.order_id == failed]
    assert attempts == ["failed", "failed"]
    doc, check = _checked(scenario, second)
    assert check.ok, [str(v) for v in check.violations]


def test_on_board_stops_are_resequenced_from_the_last_locked_stop():
    """The plan's trip is given in a poor order after its first stop (reversed): the
    re-plan delivers what is on board in a shorter order, from where the vehicle is."""
    scenario, plan = _day(n=9)
    route = max(plan.routes, key=lambda r: len(r.stops))
    assert len(route.stops) >= 4
    poor = replace(route, stops=route.stops[:1] + route.stops[1:][::-1])
    plan = replace(plan, routes=[poor if r is route else r for r in plan.routes])
    facts = _facts(poor, done=0)
    facts = replace(facts, stops=(replace(facts.stops[0], outcome="delivered"),))
    state = LiveState(now_s=facts.stops[0].departure_s, trips={route.vehicle_id: (facts,)})
    kept_order = replan(scenario, plan, state, ReplanParams(time_limit_s=0.5))[0]
    new = _route_of(kept_order, route.vehicle_id)
    assert new.stops[0].order_id == poor.stops[0].order_id and new.stops[0].locked
    reversed_tail = _retimed(scenario, GreatCircle(), poor, poor.stops).stops[1:]
    new_m = sum(s.distance_from_prev_m for s in new.stops[1:])
    assert new_m < sum(s.distance_from_prev_m for s in reversed_tail)
    assert _checked(scenario, kept_order)[1].ok


def test_an_on_board_stop_rides_back_when_the_break_still_due_would_end_the_shift_late():
    from optimizer.live.replan.locked import _locked_route
    from optimizer.live.replan.state import _Vehicle
    from optimizer.model import Break

    scenario, plan = _day()
    route = max(plan.routes, key=lambda r: len(r.stops))
    facts = TripFacts(route.start_s, _facts(route, done=1).stops[:1])
    rest = [s.order_id for s in route.stops[1:]]
    vehicle = scenario.vehicles_by_id[route.vehicle_id]
    travel = GreatCircle()
    # Without a break the rest fits with 10 minutes to spare...
    free, _ = _locked_route(scenario, travel, route, facts, rest, _Vehicle(vehicle, facts.start_s))
    tight = replace(vehicle, shift_end_s=free.end_s + 600)
    # ...but a 20-minute break is still due after the last stop: the tour must be back by
    # the shift's end with it, so a stop rides back rather than the shift running over.
    due = replace(route, breaks=[Break(0, 1200, len(route.stops))])
    new, carried = _locked_route(scenario, travel, due, facts, rest, _Vehicle(tight, facts.start_s))
    assert carried and new.end_s <= tight.shift_end_s
    assert [b.end_s - b.start_s for b in new.breaks] == [1200]
