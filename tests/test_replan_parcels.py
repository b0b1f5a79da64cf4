"""Re-planning a split order one parcel at a time: a failed parcel is retried in a later
slot, collected at a store, or left unassigned on its own; the parcel already delivered
stays delivered; the checker agrees."""

import copy
import json

import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_from_dict, plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.live.replan import (
    FailedPolicy,
    LiveState,
    ReplanParams,
    StopFact,
    TripFacts,
    replan,
)
from optimizer.model import FleetEntry
from optimizer.planning import PlanParams, plan_day
from tests.factory import H, order, scenario

NEAR_STORE = (48.868, 2.328)  # 250 m from STORE, 4 km from HUB
HALF_AND_HALF = {("HUB", "TV"): 2, ("STORE", "BOOK"): 5}  # neither holds BOOK + TV


def _document(sc, plan):
    return json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))


def _checked(sc, plan):
    doc = _document(sc, plan)
    report = check_plan(sc, doc)
    assert report.ok, [str(v) for v in report.violations]
    return doc


@pytest.fixture(scope="module")
def split_day():
    sc = scenario(
        [order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)]), order("B", 48.851, 2.371, [("TV", 1)])],
        stock=HALF_AND_HALF,
        # A second bike at STORE: the first one's only tour is over when A/2 fails.
        fleet=[
            FleetEntry("HUB", "van", 2, 7 * H, 15 * H),
            FleetEntry("HUB", "bike", 1, 8 * H, 16 * H),
            FleetEntry("STORE", "bike", 2, 9 * H, 17 * H),
        ],
    )
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1))
    assert set(plan.parcels) == {"A/1", "A/2"}
    return sc, plan


def _fail(plan, failed_sku_node: str):
    """Every route runs to its end; the parcel of A shipped from ``failed_sku_node``
    fails at the door (nobody home), the other is delivered. Now: the last departure."""
    trips = {}
    failed = next(p for p, x in plan.parcels.items() if x.node_id == failed_sku_node)
    for route in plan.routes:
        facts = tuple(
            StopFact(
                s.parcel_id or s.order_id,
                "failed" if s.parcel_id == failed else "delivered",
                s.arrival_s,
                s.departure_s,
                "nobody_home" if s.parcel_id == failed else None,
            )
            for s in route.stops
        )
        trips[route.vehicle_id] = (TripFacts(route.start_s, facts, route.end_s),)
    now = max(r.end_s for r in plan.routes)
    return failed, LiveState(now_s=now, trips=trips)


def test_a_failed_parcel_is_retried_in_a_later_slot_and_its_sibling_stays_delivered(split_day):
    sc, plan = split_day
    failed, state = _fail(plan, "STORE")
    params = ReplanParams(policy=FailedPolicy.RETRY_LATER_SLOT, time_limit_s=0.5)
    new, report = replan(sc, plan, state, params)
    doc = _checked(sc, new)
    (change,) = new.order_changes
    assert (change.order_id, change.parcel_id, change.kind) == ("A", failed, "retry_later_slot")
    stops = [(s.parcel_id, s.outcome) for r in new.routes for s in r.stops if s.order_id == "A"]
    other = next(p for p in ("A/1", "A/2") if p != failed)
    expected = [(other, "delivered"), (failed, "failed"), (failed, None)]
    assert sorted(stops, key=str) == sorted(expected, key=str)
    retry = next(s for r in new.routes for s in r.stops if s.parcel_id == failed and not s.locked)
    assert change.slot_start_s <= retry.service_start_s <= change.slot_end_s
    (row,) = [a for a in doc["assignments"] if a["order_id"] == "A"]
    assert row["status"] == "routed" and {p["parcel_id"] for p in row["parcels"]} == {"A/1", "A/2"}
    (entry,) = [c for c in doc["order_changes"] if c["order_id"] == "A"]
    assert entry["parcel_id"] == failed
    assert report.to_dict()["order_changes"][0]["parcel_id"] == failed
    # The plan reads back, and a second re-plan from it keeps the agreed change.
    again = plan_from_dict(sc, doc)
    assert again.order_changes == new.order_changes and set(again.parcels) == {"A/1", "A/2"}
    later, _ = replan(sc, again, LiveState(now_s=state.now_s), params)
    _checked(sc, later)


def test_a_failed_parcel_is_offered_click_and_collect_at_the_store_holding_its_lines(split_day):
    sc, plan = split_day
    failed, state = _fail(plan, "STORE")  # the BOOK parcel: STORE holds BOOK
    params = ReplanParams(policy=FailedPolicy.CLICK_AND_COLLECT, time_limit_s=0.5)
    new, _ = replan(sc, plan, state, params)
    doc = _checked(sc, new)
    (collection,) = new.collections
    assert (collection.order_id, collection.parcel_id, collection.node_id) == ("A", failed, "STORE")
    assert new.parcels[failed].node_id == "STORE"
    (change,) = new.order_changes
    assert (change.kind, change.parcel_id, change.node_id) == ("click_and_collect", failed, "STORE")
    (entry,) = [c for c in doc["collections"] if c["order_id"] == "A"]
    assert entry["parcel_id"] == failed and entry["lines"] == [{"sku": "BOOK", "qty": 2}]
    kpis = doc["kpis"]
    # A counts once: routed (its other parcel was delivered), not collected too.
    assert (kpis["orders_routed"], kpis["orders_collected"], kpis["orders_unassigned"]) == (2, 0, 0)
    (row,) = [a for a in doc["assignments"] if a["order_id"] == "A"]
    assert {p["parcel_id"]: p["vehicle_id"] for p in row["parcels"]}[failed] is None


def test_a_failed_parcel_no_store_can_take_is_unassigned_on_its_own(split_day):
    sc, plan = split_day
    failed, state = _fail(plan, "HUB")  # the TV parcel: no store holds a TV
    params = ReplanParams(policy=FailedPolicy.CLICK_AND_COLLECT, time_limit_s=0.5)
    new, report = replan(sc, plan, state, params)
    doc = _checked(sc, new)
    (lost,) = new.unassigned
    assert (lost.order_id, lost.parcel_id, str(lost.code)) == ("A", failed, "delivery_failed")
    assert "rebook" in lost.reason
    (entry,) = [u for u in doc["unassigned"] if u["order_id"] == "A"]
    assert entry["parcel_id"] == failed and entry["lines"] == [{"sku": "TV", "qty": 1}]
    kpis = doc["kpis"]
    assert (kpis["orders_unassigned"], kpis["parcels_unassigned"]) == (0, 1)
    assert report.newly_unassigned[0]["parcel_id"] == failed
    # Read back and re-planned again: the lost parcel stays listed, nothing is lost.
    again = plan_from_dict(sc, doc)
    later, _ = replan(sc, again, LiveState(now_s=state.now_s), params)
    assert [(u.order_id, u.parcel_id) for u in later.unassigned] == [("A", failed)]
    _checked(sc, later)


def test_the_checker_reads_parcel_entries_strictly(split_day):
    sc, plan = split_day
    failed, state = _fail(plan, "HUB")
    new, _ = replan(sc, plan, state, ReplanParams(policy=FailedPolicy.CLICK_AND_COLLECT))
    doc = _checked(sc, new)
    # The lost parcel also routed again: shipped twice.
    twice = copy.deepcopy(doc)
    stop = next(s for r in twice["routes"] for s in r["stops"] if s.get("parcel_id") == failed)
    stop.pop("outcome"), stop.pop("locked")
    assert "order_duplicated" in {v.code for v in check_plan(sc, twice).violations}
    # A lost parcel that does not carry its lines: the order's lines are not covered.
    short = copy.deepcopy(doc)
    (entry,) = [u for u in short["unassigned"] if u["order_id"] == "A"]
    entry["lines"] = []
    assert "parcel_lines_mismatch" in {v.code for v in check_plan(sc, short).violations}
    # A parcel change naming a parcel of another order.
    bad = copy.deepcopy(doc)
    bad["order_changes"] = [{"order_id": "B", "parcel_id": failed, "kind": "retry_later_slot",
                             "slot_start": "2026-11-24T14:00:00+01:00",
                             "slot_end": "2026-11-24T16:00:00+01:00", "reason": "x"}]  # fmt: skip
    assert "bad_order_change" in {v.code for v in check_plan(sc, bad).violations}


def test_a_parcel_on_board_that_can_no_longer_keep_its_slot_rides_back_and_is_retried(
    split_day,
):
    sc, plan = split_day
    route = next(r for r in plan.routes if r.stops[-1].parcel_id and len(r.stops) > 1)
    first, late = route.stops[0], route.stops[-1]
    # The first stop took until 12:30: the parcel after it cannot make its 10-12 slot.
    facts = TripFacts(route.start_s, (StopFact(first.parcel_id or first.order_id, "delivered",
                                               first.arrival_s, 12 * 3600 + 1800),))  # fmt: skip
    state = LiveState(now_s=12 * 3600 + 1800, trips={route.vehicle_id: (facts,)})
    params = ReplanParams(policy=FailedPolicy.RETRY_LATER_SLOT, time_limit_s=0.5)
    new, _ = replan(sc, plan, state, params)
    _checked(sc, new)
    (change,) = new.order_changes
    assert (change.order_id, change.parcel_id) == ("A", late.parcel_id)
    assert "runs too late" in change.reason
    retried = [s for r in new.routes for s in r.stops if s.parcel_id == late.parcel_id]
    assert len(retried) == 1 and retried[0].service_start_s >= change.slot_start_s
