"""A return booked after the plan (``POST /v1/returns``) joins the re-plan: routed as a
pickup from the end node planning's rule picks, or listed unassigned with the reason (its
slot is over; an exchange whose delivery already left); every re-plan passes the checker
and its ``returns`` rows name every return of the day."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_from_dict, plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.live.replan import LiveState, ReplanParams, StopFact, TripFacts, replan
from optimizer.model import ReturnKind
from optimizer.planning import PlanParams, plan_day
from tests.factory import H, order, scenario
from tests.test_returns import a_return

A_DOOR = (48.851, 2.371)  # near the hub


def morning(returns=()):
    """Four book deliveries from HUB (09:00-11:00) and the exchange's delivery A at its
    door (10:00-12:00), planned with ``returns``."""
    orders = [order(f"O{i}", 48.840 + 0.003 * i, 2.365, [("BOOK", 1)], slot=(9, 11))
              for i in range(4)]  # fmt: skip
    orders.append(order("A", *A_DOOR, [("BOOK", 2)], slot=(10, 12)))
    sc = replace(scenario(orders, zones=False), returns=list(returns))
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1, joint=False))
    return sc, plan


def first_stop_done(plan):
    """The live state once the busiest route's first stop is delivered."""
    route = max(plan.routes, key=lambda r: len(r.stops))
    s = route.stops[0]
    facts = TripFacts(route.start_s, (StopFact(s.order_id, "delivered", s.arrival_s,
                                               s.departure_s),))  # fmt: skip
    return LiveState(now_s=s.departure_s, trips={route.vehicle_id: (facts,)})


def checked(sc, new):
    doc = json.loads(to_json(plan_to_dict(sc, new, plan_kpis(sc, new))))
    report = check_plan(sc, doc)
    assert report.ok, [str(v) for v in report.violations]
    return doc


def rows(doc):
    return {row["return_id"]: row for row in doc["returns"]}


BOOKED = a_return("R9", 48.846, 2.367, [("TV", 1)], slot=(12, 14))


@pytest.mark.parametrize("had_return", [False, True])
def test_a_return_booked_after_the_plan_is_routed_by_the_replan(had_return):
    r1 = a_return("R1", 48.844, 2.366, [("BOOK", 1)], slot=(11, 13))
    sc, plan = morning([r1] if had_return else [])
    assert [r.return_id for r in plan.returns] == (["R1"] if had_return else [])
    later = replace(sc, returns=sc.returns + [BOOKED])  # booked by API since the plan
    state = first_stop_done(plan)
    new, report = replan(later, plan, state, ReplanParams(time_limit_s=0.5))
    doc = checked(later, new)
    row = rows(doc)["R9"]
    pickup = [(r["vehicle_id"], s) for r in doc["routes"] for s in r["stops"]
              if s["order_id"] == "R9"]  # fmt: skip
    ((vehicle_id, stop),) = pickup
    assert stop["kind"] == "pickup" and row["status"] == "routed"
    assert row["vehicle_id"] == vehicle_id and row["node_id"] in row["candidates"]
    start = datetime.fromisoformat(stop["service_start"])
    assert 12 * H <= sc.settings.to_seconds(start) <= 14 * H
    assert {x["node_id"] for x in doc["restock"]} == {row["node_id"]}
    assert set(rows(doc)) == ({"R1", "R9"} if had_return else {"R9"})
    if had_return:
        assert rows(doc)["R1"]["status"] == "routed"
    (added,) = report.to_dict()["returns_added"]
    assert added["return_id"] == "R9" and added["status"] == "routed"
    assert added["vehicle_id"] == vehicle_id
    assert not doc["unassigned"]
    # The next re-plan starts from this plan: R9 has its row now, and keeps its pickup.
    again, report = replan(later, plan_from_dict(later, doc),
                           replace(state, now_s=state.now_s + 600),
                           ReplanParams(time_limit_s=0.5))  # fmt: skip
    doc = checked(later, again)
    assert rows(doc)["R9"]["status"] == "routed" and not report.returns_added


def test_a_return_booked_for_a_slot_already_over_is_unassigned_with_the_reason():
    sc, plan = morning()
    over = a_return("R8", 48.846, 2.367, [("TV", 1)], slot=(8, 9))
    later = replace(sc, returns=[over, BOOKED])
    state = first_stop_done(plan)
    assert state.now_s > 9 * H
    new, report = replan(later, plan, state, ReplanParams(time_limit_s=0.5))
    doc = checked(later, new)
    row = rows(doc)["R8"]
    assert row["status"] == "unassigned" and row["code"] == "slot_unreachable"
    assert "booked after the plan" in row["reason"] and "08:00-09:00" in row["reason"]
    assert "over" in row["reason"] and "book a later slot" in row["reason"]
    assert not any(s["order_id"] == "R8" for r in doc["routes"] for s in r["stops"])
    assert rows(doc)["R9"]["status"] == "routed"
    added = {a["return_id"]: a for a in report.to_dict()["returns_added"]}
    assert added["R8"]["code"] == "slot_unreachable" and added["R9"]["status"] == "routed"
    assert doc["kpis"]["returns_unassigned"] == 1 and doc["kpis"]["returns_routed"] == 1


EXCHANGE = a_return("X1", *A_DOOR, [("BOOK", 1)], slot=(10, 12), kind=ReturnKind.EXCHANGE,
                    order_id="A")  # fmt: skip


def test_an_exchange_booked_while_its_delivery_waits_at_the_node_is_one_visit():
    """Nobody has left yet: A is routed again from HUB, and the exchange booked since
    the plan is one visit with it."""
    sc, plan = morning()
    later = replace(sc, returns=[EXCHANGE])
    now = min(r.start_s for r in plan.routes) - 600
    new, _ = replan(later, plan, LiveState(now_s=now), ReplanParams(time_limit_s=0.5))
    doc = checked(later, new)
    visit = [(r["vehicle_id"], k, s["kind"]) for r in doc["routes"]
             for k, s in enumerate(r["stops"]) if s["order_id"] in ("A", "X1")]  # fmt: skip
    (v1, k1, kind1), (v2, k2, kind2) = visit
    assert v1 == v2 and abs(k1 - k2) == 1 and {kind1, kind2} == {"delivery", "pickup"}
    assert rows(doc)["X1"]["status"] == "routed" and rows(doc)["X1"]["node_id"] == "HUB"


def test_an_exchange_and_its_delivery_both_booked_after_the_plan_are_one_visit():
    sc, plan = morning()
    b = order("B", 48.848, 2.368, [("BOOK", 1)], slot=(12, 14))
    exchange = replace(EXCHANGE, order_id="B", lat=b.lat, lon=b.lon,
                       slot_start_s=b.slot_start_s, slot_end_s=b.slot_end_s)  # fmt: skip
    later = replace(sc, orders=sc.orders + [b], returns=[exchange])
    new, report = replan(later, plan, first_stop_done(plan), ReplanParams(time_limit_s=0.5))
    doc = checked(later, new)
    visit = [(r["vehicle_id"], k) for r in doc["routes"]
             for k, s in enumerate(r["stops"]) if s["order_id"] in ("B", "X1")]  # fmt: skip
    (v1, k1), (v2, k2) = visit
    assert v1 == v2 and abs(k1 - k2) == 1
    assert rows(doc)["X1"]["status"] == "routed"
    assert {i["order_id"] for i in report.inserted} == {"B"}


@pytest.mark.parametrize("delivered", [True, False])
def test_an_exchange_booked_after_its_delivery_left_is_unassigned_with_the_reason(delivered):
    """A is on the road (delivered, or on board): the pickup cannot be that visit any
    more, and a pickup apart is what the checker refuses, so it is listed unassigned."""
    sc, plan = morning()
    route = next(r for r in plan.routes if any(s.order_id == "A" for s in r.stops))
    k = next(j for j, s in enumerate(route.stops) if s.order_id == "A")
    done = route.stops[: k + 1 if delivered else k]
    facts = TripFacts(route.start_s, tuple(
        StopFact(s.order_id, "delivered", s.arrival_s, s.departure_s) for s in done
    ))  # fmt: skip
    now = done[-1].departure_s if done else route.start_s + 60
    state = LiveState(now_s=now, trips={route.vehicle_id: (facts,)})
    assert state.now_s < EXCHANGE.slot_end_s  # (not over: the exchange rule refuses it)
    later = replace(sc, returns=[EXCHANGE])
    new, report = replan(later, plan, state, ReplanParams(time_limit_s=0.5))
    doc = checked(later, new)
    row = rows(doc)["X1"]
    assert row["status"] == "unassigned" and row["code"] == "exchange_booked_late"
    where = "already delivered by" if delivered else "already on board"
    assert f"{where} {route.vehicle_id}" in row["reason"]
    assert "plain return" in row["reason"]
    assert not any(s["order_id"] == "X1" for r in doc["routes"] for s in r["stops"])
    (added,) = report.returns_added
    assert added["code"] == "exchange_booked_late"
