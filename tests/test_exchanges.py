"""Exchanges are one visit: the delivery and its pickup on the same vehicle, one stop of
the routing problem, two consecutive plan stops; the checker's ``exchange_apart``."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import FleetEntry, OrderLine, Return, ReturnKind, UnassignedCode
from optimizer.planning import PlanParams, build_node_problem, plan_day
from optimizer.planning import joint as joint_mode
from optimizer.planning.parcels import _with_parcels
from optimizer.sourcing import GreedySourcing
from optimizer.travel import GreatCircle
from tests.factory import H, order, scenario

A_DOOR = (48.851, 2.371)  # near the hub


def exchange(return_id, order_id, lat, lon, lines, slot=(10, 12), service_time_s=240):
    return Return(
        return_id=return_id,
        lat=lat,
        lon=lon,
        slot_start_s=slot[0] * H,
        slot_end_s=slot[1] * H,
        service_time_s=service_time_s,
        lines=tuple(OrderLine(s, q) for s, q in lines),
        kind=ReturnKind.EXCHANGE,
        order_id=order_id,
    )


def exchange_day(fleet=None, pickup_s=240, stock=None):
    """Five deliveries from HUB (two TVs of 20 kg, books) and an exchange at A's door: a
    new TV for a broken one."""
    orders = [
        order("A", *A_DOOR, [("TV", 1)], slot=(10, 12)),
        order("B", 48.846, 2.362, [("TV", 1)], slot=(10, 12)),
        order("C", 48.856, 2.380, [("BOOK", 2)], slot=(9, 13)),
        order("D", 48.842, 2.372, [("BOOK", 1)], slot=(10, 14)),
        order("E", 48.853, 2.360, [("BOOK", 3)], slot=(10, 12)),
    ]
    sc = scenario(
        orders,
        stock=stock or {("HUB", "TV"): 5, ("HUB", "BOOK"): 20},
        fleet=fleet,
        zones=False,
    )
    return replace(sc, returns=[exchange("X1", "A", *A_DOOR, [("TV", 1)], service_time_s=pickup_s)])


def planned(sc, engine="pyvrp", joint=False):
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1, engine=engine, joint=joint))
    document = json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))
    return plan, document


def violations(sc, document):
    return [str(v) for v in check_plan(sc, document).violations]


def where(document, key):
    """(route index, stop index, stop) of the stop keyed ``key`` ((kind, id))."""
    for r, route in enumerate(document["routes"]):
        for k, stop in enumerate(route["stops"]):
            if (stop.get("kind", "delivery"), stop["order_id"]) == key:
                return r, k, stop
    return None


# -- planning --------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
@pytest.mark.parametrize("joint", [False, True])
def test_an_exchange_is_one_visit_on_one_vehicle_with_the_load_walked(engine, joint, monkeypatch):
    if joint:  # STORE could ship the orders too, and the joint routes are taken
        sc = exchange_day(stock={(n, s): 20 for n in ("HUB", "STORE") for s in ("TV", "BOOK")})
        monkeypatch.setattr(joint_mode, "_better", lambda *_: True)
        adopted = []
        adopt = joint_mode._adopt_joint
        monkeypatch.setattr(joint_mode, "_adopt_joint", lambda *a: adopted.append(1) or adopt(*a))
    else:
        sc = exchange_day()
    plan, document = planned(sc, engine, joint)
    assert not joint or adopted
    assert plan.sources["A"] == "HUB"  # pinned: its pickup ends there
    assert violations(sc, document) == []
    r, k, delivery = where(document, ("delivery", "A"))
    r2, k2, pickup = where(document, ("pickup", "X1"))
    assert (r2, k2) == (r, k + 1)  # the delivery, then the pickup, on the same tour
    assert pickup["arrival"] == delivery["departure"] and pickup["distance_from_prev_m"] == 0
    assert pickup["service_start"] == pickup["arrival"]
    # The load: the new TV leaves at A, the broken one boards.
    assert pickup["load_kg"] == pytest.approx(delivery["load_kg"] - 20)
    assert pickup["load_after_kg"] == pytest.approx(delivery["load_kg"])
    (row,) = document["returns"]
    assert row["status"] == "routed" and row["node_id"] == "HUB"
    assert row["vehicle_id"] == document["routes"][r]["vehicle_id"]
    assert "same visit as the delivery of A" in row["reason"]
    assert set(row["candidates"]) == {"HUB"}  # no other end node for a tied exchange


def test_no_visit_leaves_the_pickup_to_start_after_the_slot():
    """A's slot is 10:00-10:10 and the only van leaves at 10:06: it could start the
    delivery in the slot (about 10:07), but the pickup would start after its 5 min, past
    10:10. The visit must start by 10:05, so neither half is served (and no pickup is
    late)."""
    sc = exchange_day(fleet=[FleetEntry("HUB", "van", 1, 10 * H + 360, 15 * H)])
    short = {"slot_start_s": 10 * H, "slot_end_s": 10 * H + 600}
    sc = replace(
        sc,
        orders=[replace(o, **short) if o.order_id == "A" else o for o in sc.orders],
        returns=[replace(sc.returns[0], **short)],
    )
    _, document = planned(sc)
    assert violations(sc, document) == []
    assert where(document, ("delivery", "A")) is None
    assert where(document, ("pickup", "X1")) is None
    assert [u["order_id"] for u in document["unassigned"]] == ["A"]
    assert document["returns"][0]["status"] == "unassigned"


def test_an_exchange_that_cannot_fit_leaves_both_halves_unassigned_with_reasons():
    """The van's shift ends at 13:00; the pickup takes 3 h at the door: the order alone
    fits, the visit does not, and the order is not moved elsewhere without its pickup."""
    sc = exchange_day(fleet=[FleetEntry("HUB", "van", 1, 7 * H, 13 * H)], pickup_s=3 * H)
    plan, document = planned(sc)
    assert violations(sc, document) == []
    assert where(document, ("delivery", "A")) is None
    assert where(document, ("pickup", "X1")) is None
    (a,) = [u for u in document["unassigned"] if u["order_id"] == "A"]
    assert a["code"] == UnassignedCode.FLEET_FULL.value
    assert "exchange" in a["reason"] and "X1" in a["reason"]
    (row,) = document["returns"]
    assert row["status"] == "unassigned" and "exchange" in row["reason"]
    assert "A" not in plan.sources
    # The other orders are still delivered.
    assert {s["order_id"] for r in document["routes"] for s in r["stops"]} == {"B", "C", "D", "E"}


def test_a_split_delivery_leaves_the_pickup_a_plain_return():
    """A's TV ships from HUB and its book from STORE: two parcels, two visits anyway. The
    pickup is priced and routed as a plain return (the row says so)."""
    sc = exchange_day(stock={("HUB", "TV"): 5, ("STORE", "BOOK"): 20, ("HUB", "BOOK"): 10})
    sc = replace(
        sc,
        orders=[
            replace(o, lines=(OrderLine("TV", 1), OrderLine("BOOK", 15)))
            if o.order_id == "A"
            else o
            for o in sc.orders
        ],  # fmt: skip
    )
    plan, document = planned(sc)
    assert violations(sc, document) == []
    assert {p.order_id for p in plan.parcels.values()} == {"A"}
    (row,) = document["returns"]
    assert row["status"] == "routed" and "plain return" in row["reason"]
    assert "split into parcels" in row["reason"] and "same visit" not in row["reason"]


def test_an_exchange_no_vehicle_may_serve_whole_is_two_visits():
    """A is green (bikes only) and the broken items weigh 140 kg (more than a bike takes):
    a bike delivers, a van picks up; the checker does not hold them to one visit."""
    from optimizer.model import Service

    sc = exchange_day()
    sc = replace(
        sc,
        orders=[replace(o, service=Service.GREEN) if o.order_id == "A" else o for o in sc.orders],
        returns=[replace(sc.returns[0], lines=(OrderLine("TV", 7),))],
    )
    _, document = planned(sc)
    assert violations(sc, document) == []
    r, _, _ = where(document, ("delivery", "A"))
    r2, _, _ = where(document, ("pickup", "X1"))
    assert document["routes"][r]["mode"] == "cargo_bike" and document["routes"][r2]["mode"] == "van"
    (row,) = document["returns"]
    assert row["status"] == "routed" and "may serve both" in row["reason"]


# -- the routing problem -------------------------------------------------------------------


def test_a_batch_holding_both_halves_has_one_stop_for_them():
    sc = exchange_day()
    routing = _with_parcels(sc, GreedySourcing(sc, GreatCircle()))
    both = build_node_problem(routing, GreatCircle(), "HUB", ["X1", "B", "A"])
    assert both.order_ids == ["B", "A"] and both.pickup_of == {"A": "X1"}
    assert both.members(1) == ["A", "X1"] and both.unit_ids == ["B", "A", "X1"]
    p = both.problem
    assert p.num_stops == 2
    assert p.stop_demand[1, 0] == 20_000 and p.stop_pickup[1, 0] == 20_000  # grams
    assert p.stop_service_s[1] == 300 + 240  # the two handovers
    assert p.tw_end_s[1] == 12 * H - 300  # the pickup starts in the slot too
    assert p.penalty_eur[1] == 2 * p.penalty_eur[0]
    alone = build_node_problem(routing, GreatCircle(), "HUB", ["X1", "B"])
    assert alone.order_ids == ["X1", "B"] and alone.pickup_of == {}
    assert alone.problem.stop_pickup[0, 0] == 20_000 and alone.problem.stop_demand[0, 0] == 0


def test_an_exchange_at_another_address_stays_two_stops():
    sc = exchange_day()
    sc = replace(sc, returns=[replace(sc.returns[0], lat=48.86)])
    routing = _with_parcels(sc, GreedySourcing(sc, GreatCircle()))
    batch = build_node_problem(routing, GreatCircle(), "HUB", ["A", "X1"])
    assert batch.problem.num_stops == 2 and batch.pickup_of == {}


# -- the checker ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kept_together():
    sc = exchange_day()
    _, document = planned(sc)
    assert violations(sc, document) == []
    return sc, document


def codes(sc, document):
    return {v.code for v in check_plan(sc, document).violations}


def test_the_checker_flags_an_exchange_whose_halves_are_not_consecutive(kept_together):
    sc, document = kept_together
    bad = copy.deepcopy(document)
    r, k, _ = where(bad, ("delivery", "A"))
    stops = bad["routes"][r]["stops"]
    pickup = stops.pop(k + 1)
    stops.insert(0 if k > 0 else len(stops), pickup)
    found = [v for v in check_plan(sc, bad).violations if v.code == "exchange_apart"]
    assert found and found[0].order_id == "X1" and "delivery of A" in found[0].message


def test_the_checker_flags_an_exchange_on_two_vehicles(kept_together):
    sc, document = kept_together
    bad = copy.deepcopy(document)
    r, k, _ = where(bad, ("delivery", "A"))
    pickup = bad["routes"][r]["stops"].pop(k + 1)
    other = next(
        (route for route in bad["routes"] if route is not bad["routes"][r]),
        None,
    )
    if other is None:  # one tour only: give the pickup a tour of its own on another van
        other = copy.deepcopy(bad["routes"][r])
        other["vehicle_id"], other["stops"] = "HUB/van/2", []
        bad["routes"].append(other)
    other["stops"].append(pickup)
    assert "exchange_apart" in codes(sc, bad)


def test_the_checker_accepts_the_pickup_before_the_delivery(kept_together):
    sc, document = kept_together
    bad = copy.deepcopy(document)
    r, k, _ = where(bad, ("delivery", "A"))
    stops = bad["routes"][r]["stops"]
    stops[k], stops[k + 1] = stops[k + 1], stops[k]
    assert "exchange_apart" not in codes(sc, bad)


def test_the_checker_ignores_a_failed_attempt(kept_together):
    sc, document = kept_together
    bad = copy.deepcopy(document)
    r, k, _ = where(bad, ("delivery", "A"))
    stops = bad["routes"][r]["stops"]
    stops[k] |= {"locked": True, "outcome": "failed"}
    stops.append(copy.deepcopy(stops[k]) | {"locked": False, "outcome": None})
    assert "exchange_apart" not in codes(sc, bad)


# -- re-planning ---------------------------------------------------------------------------


def test_a_replan_routes_a_pool_holding_both_halves_as_one_visit():
    """At 08:00 nothing has left: every stop is back in the pool and routed again from
    its node, the exchange as one stop."""
    from optimizer.live.replan import LiveState, ReplanParams, replan

    sc = exchange_day()
    plan, _ = planned(sc)
    new, _ = replan(sc, plan, LiveState(now_s=8 * H, trips={}), ReplanParams(time_limit_s=0.5))
    document = json.loads(to_json(plan_to_dict(sc, new, plan_kpis(sc, new))))
    assert violations(sc, document) == []
    r, k, _ = where(document, ("delivery", "A"))
    assert where(document, ("pickup", "X1"))[:2] == (r, k + 1)
    (row,) = document["returns"]
    assert row["status"] == "routed"


# -- reading returns.csv -----------------------------------------------------------------


def test_an_exchange_must_be_at_its_order_address(tmp_path):
    from tests.test_returns import returns_files
    from tests.test_scenario_loading import problems_of, write_scenario

    files = returns_files()
    files["returns.csv"][1] |= {"lat": 48.866}  # O1 is delivered at (48.865, 2.35)
    problems = problems_of(write_scenario(tmp_path / "d", files))
    messages = {(p.file, p.line, p.column): p.message for p in problems}
    assert (
        "picked up where its order is delivered (48.865, 2.35)" in messages["returns.csv", 3, "lat"]
    )


# -- decomposed days -----------------------------------------------------------------------


def test_a_decomposed_day_keeps_an_exchange_in_its_delivery_part():
    from optimizer.io import load_scenario
    from optimizer.scale.decompose import ScaleParams, decompose

    sc = load_scenario("data/paris")
    parts = decompose(sc, ScaleParams(part_orders=100)).parts
    assert len(parts) > 2
    exchanges = [r for r in sc.returns if sc.exchange_order(r) is not None]
    assert exchanges
    for ret in exchanges:
        holding = [p.index for p in parts if ret.return_id in p.scenario.returns_by_id]
        delivering = [p.index for p in parts if ret.order_id in p.scenario.orders_by_id]
        assert len(holding) == 1
        assert holding == delivering or not delivering  # (an unassigned order: no part)


@pytest.mark.parametrize("delivered", [False, True])
def test_a_replan_on_the_road_keeps_the_visit_together(delivered):
    """The van is out: the exchange is ahead (both halves on board and re-sequenced with
    the rest), or its delivery is done and the pickup is next."""
    from optimizer.live.replan import LiveState, ReplanParams, StopFact, TripFacts, replan

    sc = exchange_day()
    plan, document = planned(sc)
    r, k, _ = where(document, ("delivery", "A"))
    route = next(
        x
        for x in plan.routes
        if x.vehicle_id == document["routes"][r]["vehicle_id"] and x.trip == 1
    )
    done = route.stops[: k + 1 if delivered else k]
    facts = TripFacts(
        route.start_s,
        tuple(StopFact(s.order_id, "delivered", s.arrival_s, s.departure_s) for s in done),
    )
    now = done[-1].departure_s if done else route.start_s + 60
    state = LiveState(now_s=now, trips={route.vehicle_id: (facts,)})
    new, _ = replan(sc, plan, state, ReplanParams(time_limit_s=0.5))
    document = json.loads(to_json(plan_to_dict(sc, new, plan_kpis(sc, new))))
    assert violations(sc, document) == []
    r, k, _ = where(document, ("delivery", "A"))
    r2, k2, _ = where(document, ("pickup", "X1"))  # (re-sequenced on board: either order)
    assert r2 == r and abs(k2 - k) == 1


@pytest.mark.parametrize("room", [True, False])
def test_a_failed_exchange_is_retried_as_one_visit_or_given_up_whole(room):
    """Nobody home at A: the delivery and the pickup fail together. With room later (a
    second vehicle) both are retried in the same later slot as one visit; without (one
    van, one tour) both are unassigned with their own codes and no retry is left over."""
    from optimizer.live.replan import LiveState, ReplanParams, StopFact, TripFacts, replan

    sc = exchange_day(fleet=None if room else [FleetEntry("HUB", "van", 1, 7 * H, 15 * H)])
    plan, document = planned(sc)
    r, k, _ = where(document, ("delivery", "A"))
    route = next(
        x
        for x in plan.routes
        if x.vehicle_id == document["routes"][r]["vehicle_id"] and x.trip == 1
    )
    failed = {"A", "X1"}
    facts = TripFacts(
        route.start_s,
        tuple(
            StopFact(
                s.order_id,
                "failed" if s.order_id in failed else "delivered",
                s.arrival_s,
                s.departure_s,
                "nobody_home" if s.order_id in failed else None,
            )
            for s in route.stops[: k + 2]
        ),
    )
    state = LiveState(now_s=facts.stops[-1].departure_s, trips={route.vehicle_id: (facts,)})
    new, _ = replan(sc, plan, state, ReplanParams(time_limit_s=0.5))
    document = json.loads(to_json(plan_to_dict(sc, new, plan_kpis(sc, new))))
    assert violations(sc, document) == []
    retried = {
        (s["kind"], s["order_id"]): (r, k)
        for r, route in enumerate(document["routes"])
        for k, s in enumerate(route["stops"])
        if not s.get("locked")
    }
    (row,) = document["returns"]
    if room:
        r, k = retried["delivery", "A"]
        assert retried["pickup", "X1"] == (r, k + 1)
        slots = {(c["slot_start"], c["slot_end"]) for c in document["order_changes"]}
        assert {c["order_id"] for c in document["order_changes"]} == failed and len(slots) == 1
        assert row["status"] == "routed"
    else:
        assert ("delivery", "A") not in retried and ("pickup", "X1") not in retried
        assert [u["code"] for u in document["unassigned"]] == ["delivery_failed"]
        assert row["status"] == "unassigned" and row["code"] == "pickup_failed"
        assert document.get("order_changes") in (None, [])


def test_on_board_resequencing_puts_an_exchange_back_into_one_visit():
    from types import SimpleNamespace

    from optimizer.live.replan.locked import _exchanges_together
    from optimizer.model import Return, ReturnKind

    def exchange(return_id, order_id):
        return Return(return_id, 48.85, 2.35, 0, 3600, 60, (), ReturnKind.EXCHANGE, order_id)

    day = SimpleNamespace(returns=[exchange("X1", "O1"), exchange("X2", "O2")])
    # The engine sequenced the halves apart (and X1 before O1): back together, delivery first.
    assert _exchanges_together(day, ["X1", "O3", "O1", "O2", "O4", "X2"], None) == [
        "O3", "O1", "X1", "O2", "X2", "O4"]  # fmt: skip
    # O2 was the stop just locked (delivered): its pickup comes first in what is left.
    assert _exchanges_together(day, ["O3", "X2", "O4"], "O2") == ["X2", "O3", "O4"]
    # A plain return is not moved.
    plain = SimpleNamespace(returns=[Return("R1", 48.85, 2.35, 0, 3600, 60, (), order_id="O3")])
    assert _exchanges_together(plain, ["R1", "O4", "O3"], None) == ["R1", "O4", "O3"]


def test_an_order_has_one_exchange_at_most(tmp_path):
    from tests.test_returns import returns_files
    from tests.test_scenario_loading import problems_of, write_scenario

    files = returns_files()
    files["returns.csv"].append(files["returns.csv"][1] | {"return_id": "X2"})
    files["return_lines.csv"].append({"return_id": "X2", "sku": "SKU-B", "qty": 1})
    problems = problems_of(write_scenario(tmp_path / "d", files))
    messages = {(p.file, p.line, p.column): p.message for p in problems}
    assert "'O1' is already exchanged by 'X1'" in messages["returns.csv", 4, "order_id"]


def test_a_generated_day_exchanges_an_order_once_at_most():
    from collections import Counter

    from data.generator import generate

    # Seed 9's day drew O00890 twice for an exchange; the second draw is a plain return.
    returns = generate(1000, seed=9).returns
    exchanged = Counter(r["order_id"] for r in returns if r["kind"] == "exchange")
    assert exchanged and max(exchanged.values()) == 1
    assert len(returns) == 50
