"""Returns and exchanges: pickups routed with the deliveries, load along the route, the
end node chosen by cost, the restock, and the checker's view of all of it."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_from_dict, plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import (
    FleetEntry,
    Mode,
    Node,
    NodeKind,
    OrderLine,
    Return,
    ReturnKind,
    VehicleType,
)
from optimizer.planning import PlanParams, plan_day
from optimizer.routing import ENGINES, RoutingProblem
from optimizer.sourcing.returns import candidate_nodes
from tests.factory import H, order, scenario

NEAR_HUB = (48.851, 2.371)


def a_return(return_id, lat, lon, lines, slot=(10, 12), **kw) -> Return:
    return Return(
        return_id=return_id,
        lat=lat,
        lon=lon,
        slot_start_s=slot[0] * H,
        slot_end_s=slot[1] * H,
        service_time_s=300,
        lines=tuple(OrderLine(s, q) for s, q in lines),
        **kw,
    )


def planned(sc, engine="pyvrp"):
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1, engine=engine, joint=False))
    document = json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))
    return plan, document


def one_small_van(orders, returns, capacity_kg=100.0):
    """One van of ``capacity_kg`` at HUB: 2 deliveries of 40 kg and a 50 kg return fit
    together only if the van leaves with the deliveries and picks up after them."""
    sc = scenario(
        orders,
        stock={("HUB", "TV"): 10},
        fleet=[FleetEntry("HUB", "small", 1, 7 * H, 19 * H)],
        zones=False,
    )
    sc.vehicle_types["small"] = VehicleType(
        "small", Mode.VAN, capacity_kg, 3000, 200, 18, 35, 0.08, 28, 11
    )
    return replace(sc, returns=list(returns))


def two_tvs(order_id, slot):
    return order(order_id, *NEAR_HUB, [("TV", 2)], slot=slot)  # 40 kg


# -- the routing problem: load along the route ----------------------------------------


def hand_problem(pickup_first: bool) -> RoutingProblem:
    """Depot 0; stops 1, 2 deliver 40 kg; stop 3 picks up 50 kg; capacity 100 kg.
    Summing everything (130 kg) would not fit; along the route it does, if the pickup
    comes after the deliveries. ``pickup_first``: its window forces it first."""
    n = 4
    dist = np.full((n, n), 1000, dtype=np.int64)
    np.fill_diagonal(dist, 0)
    dur = dist // 10
    early = (0, 100) if pickup_first else (2000, 3000)
    return RoutingProblem(
        distance_m=[dist],
        duration_s=[dur],
        vehicle_profile=np.array([0]),
        vehicle_start_location=np.array([0]),
        vehicle_earliest_start_s=np.array([0]),
        vehicle_latest_start_s=np.array([10_000]),
        vehicle_latest_end_s=np.array([10_000]),
        vehicle_capacity=np.array([[100]]),
        vehicle_max_distance_m=np.array([100_000]),
        vehicle_fixed_cost_eur=np.array([0.0]),
        vehicle_cost_per_m_eur=np.array([0.001]),
        vehicle_cost_per_s_eur=np.array([0.0]),
        stop_location=np.array([1, 2, 3]),
        stop_demand=np.array([[40], [40], [0]]),
        stop_pickup=np.array([[0], [0], [50]]),
        stop_service_s=np.array([0, 0, 0]),
        tw_start_s=np.array([500, 500, early[0]]),
        tw_end_s=np.array([1500, 1500, early[1]]),
        allowed=np.ones((3, 1), dtype=bool),
        penalty_eur=np.array([1000.0, 1000.0, 1000.0]),
    )


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_two_deliveries_then_a_pickup_fit_only_with_the_load_along_the_route(engine):
    result = ENGINES[engine]().solve(hand_problem(pickup_first=False), 1)
    assert result.dropped == []
    (route,) = result.routes
    assert route.stops[-1] == 2  # the pickup boards after both deliveries left


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_a_pickup_forced_before_the_deliveries_overloads_so_one_stop_is_dropped(engine):
    # Leaving with 80 kg, boarding 50 kg first would make 130 kg on a 100 kg van.
    result = ENGINES[engine]().solve(hand_problem(pickup_first=True), 1)
    assert len(result.dropped) == 1
    problem = hand_problem(pickup_first=True)
    for route in result.routes:
        assert problem.load_fits(route.vehicle, route.stops)


def test_load_fits_walks_the_tour():
    p = hand_problem(pickup_first=False)
    assert p.load_fits(0, [0, 1, 2])
    assert not p.load_fits(0, [2, 0, 1])
    assert p.load_fits(0, [0, 2])  # 40 out, 0, then 50 on board


# -- planning: pickups in the day's routes ---------------------------------------------


def test_a_day_with_two_deliveries_and_a_return_is_routed_and_passes_the_checker():
    sc = one_small_van(
        [two_tvs("A", (10, 12)), two_tvs("B", (10, 12))],
        [a_return("R1", *NEAR_HUB, [("TV", 2), ("BOOK", 20)], slot=(10, 13))],  # 50 kg
    )
    plan, document = planned(sc)
    report = check_plan(sc, document)
    assert report.ok, [str(v) for v in report.violations]
    (route,) = document["routes"]
    kinds = [s["kind"] for s in route["stops"]]
    assert kinds == ["delivery", "delivery", "pickup"]
    assert route["load_kg"] == pytest.approx(80)
    pickup = route["stops"][-1]
    assert pickup["return_id"] == "R1"
    assert (pickup["load_kg"], pickup["load_after_kg"]) == (pytest.approx(0), pytest.approx(50))
    (row,) = document["returns"]
    assert (row["status"], row["node_id"], row["vehicle_id"]) == ("routed", "HUB", "HUB/small/1")
    (restock,) = document["restock"]
    assert restock["node_id"] == "HUB" and restock["at"] == route["end"]
    assert restock["lines"] == [{"sku": "BOOK", "qty": 20}, {"sku": "TV", "qty": 2}]
    kpis = document["kpis"]
    assert (kpis["returns_total"], kpis["returns_routed"], kpis["orders_routed"]) == (1, 1, 2)
    again = plan_from_dict(sc, document)
    assert [s.kind for s in again.routes[0].stops] == kinds
    assert again.returns[0].status == "routed"


def test_ortools_routes_the_return_after_the_deliveries_too():
    sc = one_small_van(
        [two_tvs("A", (10, 12)), two_tvs("B", (10, 12))],
        [a_return("R1", *NEAR_HUB, [("TV", 2), ("BOOK", 20)], slot=(10, 13))],
    )
    _, document = planned(sc, engine="ortools")
    assert check_plan(sc, document).ok
    assert document["kpis"]["returns_routed"] == 1


def test_a_return_that_cannot_fit_is_unassigned_with_a_reason():
    # Its slot ends before the deliveries can be dropped: boarding 50 kg first does not fit.
    sc = one_small_van(
        [two_tvs("A", (11, 12)), two_tvs("B", (11, 12))],
        [a_return("R1", *NEAR_HUB, [("TV", 2), ("BOOK", 20)], slot=(8, 9))],
    )
    plan, document = planned(sc)
    report = check_plan(sc, document)
    assert report.ok, [str(v) for v in report.violations]
    assert document["kpis"]["orders_routed"] == 2  # deliveries win: penalties are equal
    (row,) = document["returns"]
    assert row["status"] == "unassigned" and row["code"] == "fleet_full"
    assert "HUB" in row["reason"] and "08:00-09:00" in row["reason"]
    assert document["kpis"]["returns_unassigned"] == 1


def test_a_return_too_heavy_for_every_vehicle_says_so():
    sc = one_small_van([], [a_return("R1", *NEAR_HUB, [("SOFA", 3)])])
    _, document = planned(sc)
    (row,) = document["returns"]
    assert row["status"] == "unassigned" and row["code"] == "too_big"
    assert "135.0 kg" in row["reason"]
    assert check_plan(sc, document).ok


# -- the end node: candidates and the cheapest ------------------------------------------


def three_nodes():
    nodes = {
        "HUB": Node("HUB", "Hub", NodeKind.URBAN_HUB, 48.850, 2.370, 7 * H, 21 * H, 60, 1.8),
        "STORE": Node("STORE", "Store", NodeKind.STORE, 48.870, 2.330, 7 * H, 20 * H, 15, 1.8),
        "FAR": Node("FAR", "Far store", NodeKind.STORE, 48.900, 2.250, 7 * H, 20 * H, 15, 1.8),
    }
    fleet = [
        FleetEntry("HUB", "van", 1, 7 * H, 19 * H),
        FleetEntry("STORE", "van", 1, 7 * H, 19 * H),
        FleetEntry("FAR", "van", 1, 7 * H, 19 * H),
    ]
    return nodes, fleet


def test_candidates_are_the_shipping_node_the_nearest_store_and_its_hub():
    nodes, fleet = three_nodes()
    sc = scenario([], nodes=nodes, fleet=fleet, zones=False)
    near_store = (48.868, 2.328)
    ret = a_return("R1", *near_store, [("BOOK", 1)], shipped_from_node_id="FAR")
    assert candidate_nodes(sc, ret, {}) == ["FAR", "STORE", "HUB"]
    # The shipping node of an order of today's plan counts too (an exchange's delivery).
    ret = a_return("R2", *near_store, [("BOOK", 1)], order_id="A")
    assert candidate_nodes(sc, ret, {"A": "HUB"}) == ["HUB", "STORE"]


def test_the_return_goes_to_the_cheapest_candidate_not_the_shipping_node():
    # Same handling everywhere: the store next door is the cheapest pickup.
    nodes, fleet = three_nodes()
    near_store = (48.868, 2.328)
    sc = scenario([], nodes=nodes, fleet=fleet, zones=False)
    sc = replace(
        sc, returns=[a_return("R1", *near_store, [("BOOK", 1)], shipped_from_node_id="FAR")]
    )
    plan, document = planned(sc)
    assert check_plan(sc, document).ok
    (row,) = document["returns"]
    assert set(row["candidates"]) == {"FAR", "STORE", "HUB"}
    assert row["node_id"] == min(row["candidates"], key=row["candidates"].get) == "STORE"
    assert document["restock"][0]["node_id"] == "STORE"
    # Handling (checking the item back in) is part of the price: a cheap enough far
    # store wins.
    nodes["FAR"] = replace(nodes["FAR"], handling_cost_eur=0.1)
    sc = replace(sc, nodes=nodes)
    _, document = planned(sc)
    assert document["returns"][0]["node_id"] == "FAR"


def test_an_exchange_is_a_delivery_and_a_pickup_at_the_same_address_and_slot():
    sc = scenario([order("A", *NEAR_HUB, [("TV", 1)], slot=(10, 12))], zones=False)
    sc = replace(
        sc,
        returns=[
            a_return(
                "X1", *NEAR_HUB, [("TV", 1)], slot=(10, 12), kind=ReturnKind.EXCHANGE, order_id="A"
            )
        ],
    )
    _, document = planned(sc)
    assert check_plan(sc, document).ok, [str(v) for v in check_plan(sc, document).violations]
    (row,) = document["returns"]
    assert row["status"] == "routed" and row["node_id"] == "HUB"  # where A ships from
    pickup = next(s for r in document["routes"] for s in r["stops"] if s["kind"] == "pickup")
    assert pickup["return_kind"] == "exchange" and pickup["original_order_id"] == "A"


# -- the checker ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def routed_day():
    sc = one_small_van(
        [two_tvs("A", (10, 12)), two_tvs("B", (10, 12))],
        [a_return("R1", *NEAR_HUB, [("TV", 2), ("BOOK", 20)], slot=(10, 13))],
    )
    _, document = planned(sc)
    assert check_plan(sc, document).ok
    return sc, document


def codes(sc, document):
    return {v.code for v in check_plan(sc, document).violations}


def test_the_checker_rejects_an_overload_after_the_pickup(routed_day):
    sc, document = routed_day
    smaller = copy.deepcopy(sc)
    smaller.vehicle_types["small"] = replace(sc.vehicle_types["small"], capacity_kg=45)
    bad = copy.deepcopy(document)
    bad["routes"][0]["stops"] = [bad["routes"][0]["stops"][-1]]  # only the 50 kg pickup
    found = check_plan(smaller, bad).violations
    over = [v for v in found if v.code == "overloaded"]
    assert over and "after stop 1 (R1)" in over[0].message


def test_the_checker_rejects_a_pickup_before_the_deliveries_that_overloads(routed_day):
    sc, document = routed_day
    bad = copy.deepcopy(document)
    stops = bad["routes"][0]["stops"]
    bad["routes"][0]["stops"] = [stops[2], stops[0], stops[1]]
    assert "overloaded" in codes(sc, bad)


def test_the_checker_rejects_a_pickup_outside_its_slot(routed_day):
    sc, document = routed_day
    late = replace(sc, returns=[replace(sc.returns[0], slot_start_s=8 * H, slot_end_s=9 * H)])
    assert "late_stop" in codes(late, document)


def test_the_checker_rejects_a_missing_restock(routed_day):
    sc, document = routed_day
    bad = copy.deepcopy(document)
    bad["restock"] = []
    found = [v for v in check_plan(sc, bad).violations if v.code == "restock_mismatch"]
    assert found and "restocks none" in found[0].message
    bad["restock"] = copy.deepcopy(document["restock"])
    bad["restock"][0]["node_id"] = "STORE"
    assert "restock_mismatch" in codes(sc, bad)


def test_the_checker_rejects_a_return_missing_or_twice(routed_day):
    sc, document = routed_day
    bad = copy.deepcopy(document)
    bad["routes"][0]["stops"].pop()
    bad["returns"] = []
    assert "return_missing" in codes(sc, bad)
    bad = copy.deepcopy(document)
    bad["returns"].append({"return_id": "R1", "status": "unassigned", "reason": "x"})
    assert "return_duplicated" in codes(sc, bad)
    bad = copy.deepcopy(document)
    bad["routes"][0]["stops"][-1]["return_id"] = "NOPE"
    assert "unknown_return" in codes(sc, bad)


# -- reading returns.csv ----------------------------------------------------------------


def returns_files():
    from tests.test_scenario_loading import at, minimal_files

    files = minimal_files()
    files["returns.csv"] = [
        {"return_id": "R1", "kind": "return", "order_id": "", "lat": 48.86, "lon": 2.35,
         "slot_start": at("12:00"), "slot_end": at("16:00"), "service_time_s": 120,
         "shipped_from_node_id": "HUB1"},
        {"return_id": "X1", "kind": "exchange", "order_id": "O1", "lat": 48.865, "lon": 2.35,
         "slot_start": at("10:00"), "slot_end": at("11:00"), "service_time_s": 60,
         "shipped_from_node_id": ""},
    ]  # fmt: skip
    files["return_lines.csv"] = [
        {"return_id": "R1", "sku": "SKU-C", "qty": 2},
        {"return_id": "X1", "sku": "SKU-B", "qty": 1},
    ]
    return files


def test_returns_load_into_the_model(tmp_path):
    from optimizer.io import load_scenario
    from tests.test_scenario_loading import write_scenario

    sc = load_scenario(write_scenario(tmp_path / "day", returns_files()))
    r1, x1 = sc.returns
    assert (r1.return_id, r1.kind, r1.shipped_from_node_id, r1.order_id) == (
        "R1", ReturnKind.RETURN, "HUB1", None,
    )  # fmt: skip
    assert r1.lines == (OrderLine("SKU-C", 2),) and r1.slot_start_s == 12 * H
    assert (x1.kind, x1.order_id) == (ReturnKind.EXCHANGE, "O1")
    assert sc.weight_kg(r1) == pytest.approx(5.0)


def test_bad_returns_are_all_reported_with_file_line_and_column(tmp_path):
    from tests.test_scenario_loading import problems_of, write_scenario

    files = returns_files()
    rows = files["returns.csv"]
    rows[0] |= {"return_id": "O2", "slot_end": rows[0]["slot_start"], "kind": "swap",
                "shipped_from_node_id": "NOWHERE"}  # fmt: skip
    rows[1] |= {"order_id": "O4", "slot_start": rows[1]["slot_end"]}
    rows.append(dict(rows[1], return_id="X2", order_id=""))
    files["return_lines.csv"] = [
        {"return_id": "X1", "sku": "SKU-Z", "qty": 0},
        {"return_id": "R9", "sku": "SKU-A", "qty": 1},
    ]
    found = {(p.file, p.line, p.column) for p in problems_of(write_scenario(tmp_path / "d", files))}
    assert {
        ("returns.csv", 2, "return_id"),  # also an order id
        ("returns.csv", 2, "kind"),
        ("returns.csv", 2, "slot_end"),
        ("returns.csv", 2, "shipped_from_node_id"),
        ("returns.csv", 3, "slot_end"),  # ends when it starts
        ("returns.csv", 4, "order_id"),  # an exchange names its delivery
        ("return_lines.csv", 2, "sku"),
        ("return_lines.csv", 2, "qty"),
        ("return_lines.csv", 3, "return_id"),
        ("returns.csv", 4, "return_id"),  # X2 has no lines
    } <= found


def test_an_exchange_must_share_its_delivery_slot_and_not_be_click_and_collect(tmp_path):
    from tests.test_scenario_loading import at, problems_of, write_scenario

    files = returns_files()
    files["returns.csv"][1] |= {"slot_start": at("10:30")}
    files["returns.csv"].append(dict(files["returns.csv"][1], return_id="X2", order_id="O4"))
    files["return_lines.csv"].append({"return_id": "X2", "sku": "SKU-B", "qty": 1})
    problems = problems_of(write_scenario(tmp_path / "d", files))
    messages = {(p.line, p.column): p.message for p in problems}
    assert "shares its order's slot (10:00-11:00)" in messages[3, "slot_start"]
    assert "click_collect" in messages[4, "order_id"]


def test_returns_without_return_lines_is_one_clear_problem(tmp_path):
    from tests.test_scenario_loading import problems_of, write_scenario

    files = returns_files()
    files["return_lines.csv"] = None
    problems = problems_of(write_scenario(tmp_path / "d", files))
    assert [(p.file, p.message) for p in problems] == [("return_lines.csv", "the file is missing")]


# -- re-planning a day with pickups ------------------------------------------------------


def _day_with_a_return():
    from tests import factory as f

    orders = [
        f.order(f"O{i}", 48.840 + 0.003 * i, 2.365, [("BOOK", 1)], slot=(9, 11)) for i in range(4)
    ]
    sc = f.scenario(orders, zones=False)
    # Its slot after the deliveries': picked up last.
    sc = replace(sc, returns=[a_return("R1", 48.846, 2.367, [("TV", 1)], slot=(12, 14))])
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1, joint=False))
    assert plan.returns[0].status == "routed"
    return sc, plan


def _replan_checked(sc, new):
    doc = json.loads(to_json(plan_to_dict(sc, new, plan_kpis(sc, new))))
    return doc, check_plan(sc, doc)


@pytest.mark.parametrize("done_pickup", [False, True])
def test_a_replan_keeps_the_pickup_and_the_load_along_the_route(done_pickup):
    from optimizer.live.replan import LiveState, ReplanParams, StopFact, TripFacts, replan

    sc, plan = _day_with_a_return()
    route = next(r for r in plan.routes if any(s.is_pickup for s in r.stops))
    k = next(j for j, s in enumerate(route.stops) if s.is_pickup)
    assert k >= 1
    upto = k + 1 if done_pickup else k
    facts = TripFacts(route.start_s, tuple(
        StopFact(s.order_id, "delivered", s.arrival_s, s.departure_s) for s in route.stops[:upto]
    ))  # fmt: skip
    state = LiveState(now_s=facts.stops[-1].departure_s, trips={route.vehicle_id: (facts,)})
    new, _ = replan(sc, plan, state, ReplanParams(time_limit_s=0.5))
    doc, report = _replan_checked(sc, new)
    assert report.ok, [str(v) for v in report.violations]
    (row,) = doc["returns"]
    assert row["status"] == "routed" and doc["kpis"]["returns_routed"] == 1
    pickup = next(s for r in new.routes for s in r.stops if s.is_pickup)
    assert pickup.return_id == "R1" and pickup.locked == done_pickup
    assert doc["restock"] and doc["restock"][0]["lines"] == [{"sku": "TV", "qty": 1}]


def _failed_pickup_state(plan):
    from optimizer.live.replan import LiveState, StopFact, TripFacts

    route = next(r for r in plan.routes if any(s.is_pickup for s in r.stops))
    k = next(j for j, s in enumerate(route.stops) if s.is_pickup)
    facts = TripFacts(route.start_s, tuple(
        StopFact(s.order_id, "failed" if j == k else "delivered", s.arrival_s, s.departure_s,
                 "nobody_home" if j == k else None)
        for j, s in enumerate(route.stops[: k + 1])
    ))  # fmt: skip
    return route, LiveState(now_s=facts.stops[-1].departure_s, trips={route.vehicle_id: (facts,)})


def test_a_failed_pickup_is_retried_in_a_later_slot_and_the_checker_agrees():
    from optimizer.live.replan import ReplanParams, replan

    sc, plan = _day_with_a_return()
    route, state = _failed_pickup_state(plan)
    new, report = replan(sc, plan, state, ReplanParams(time_limit_s=0.5))
    doc, check = _replan_checked(sc, new)
    assert check.ok, [str(v) for v in check.violations]
    (change,) = [c for c in new.order_changes if c.order_id == "R1"]
    assert change.kind == "retry_later_slot" and change.slot_start_s >= 14 * 3600
    assert "pickup failed (nobody_home)" in change.reason
    stops = [s for r in new.routes for s in r.stops if s.order_id == "R1"]
    assert [s.outcome for s in stops] == ["failed", None]  # the attempt, then the retry
    retry = stops[1]
    assert change.slot_start_s <= retry.service_start_s <= change.slot_end_s
    (row,) = doc["returns"]
    assert row["status"] == "routed" and doc["kpis"]["returns_routed"] == 1
    # The new stop's slot in plan.json is the agreed one; the restock counts it once.
    (stop,) = [s for r in doc["routes"] for s in r["stops"]
               if s["order_id"] == "R1" and "outcome" not in s]  # fmt: skip
    assert sc.settings.to_iso(change.slot_start_s) == stop["slot_start"]
    assert [x["lines"] for x in doc["restock"]] == [[{"sku": "TV", "qty": 1}]]
    assert any(c["order_id"] == "R1" for c in report.to_dict()["order_changes"])


def test_a_failed_pickup_with_no_later_slot_is_unassigned_with_the_reason():
    from optimizer.live.replan import ReplanParams, replan

    sc, plan = _day_with_a_return()
    route, state = _failed_pickup_state(plan)
    # The day's last slot ends when the failed one does: no later slot today.
    params = ReplanParams(time_limit_s=0.5, delivery_end_s=14 * 3600)
    new, report = replan(sc, plan, state, params)
    doc, check = _replan_checked(sc, new)
    assert check.ok, [str(v) for v in check.violations]
    (row,) = doc["returns"]
    assert row["status"] == "unassigned" and row["code"] == "pickup_failed"
    assert "pickup failed (nobody_home)" in row["reason"] and "rebook" in row["reason"]
    assert doc["kpis"]["returns_routed"] == 0 and doc["kpis"]["returns_unassigned"] == 1
    assert not doc["restock"]
    assert all(c.order_id != "R1" for c in new.order_changes)
    # A later re-plan keeps the return given up, with its reason (its failed attempt is
    # still on the route; nothing new happened to it).
    from optimizer.io.plan_files import plan_from_dict
    from optimizer.live.replan import LiveState

    later, _ = replan(sc, plan_from_dict(sc, doc), LiveState(now_s=state.now_s + 600), params)
    doc, check = _replan_checked(sc, later)
    assert check.ok, [str(v) for v in check.violations]
    (again,) = doc["returns"]
    assert (again["code"], again["reason"]) == (row["code"], row["reason"])


def test_the_checker_flags_a_retried_pickup_outside_its_agreed_slot():
    from optimizer.live.replan import ReplanParams, replan

    sc, plan = _day_with_a_return()
    _, state = _failed_pickup_state(plan)
    new, _ = replan(sc, plan, state, ReplanParams(time_limit_s=0.5))
    doc, _ = _replan_checked(sc, new)
    bad = copy.deepcopy(doc)
    (change,) = [c for c in bad["order_changes"] if c["order_id"] == "R1"]
    # Agreed: a slot that ends before the retry comes (after the failed slot's start).
    change["slot_start"] = change["slot_end"] = sc.settings.to_iso(12 * 3600 + 1800)
    assert "late_stop" in codes(sc, bad)
    bad = copy.deepcopy(doc)
    (change,) = [c for c in bad["order_changes"] if c["order_id"] == "R1"]
    change["kind"] = "click_and_collect"
    assert "malformed" in codes(sc, bad) or "bad_order_change" in codes(sc, bad)


def test_a_return_whose_node_lost_its_vehicles_goes_back_to_another_candidate_node():
    from optimizer.live.replan import LiveState, ReplanParams, replan

    sc, plan = _day_with_a_return()
    (row,) = plan.returns
    assert row.node_id == "HUB"
    hub = frozenset(v.vehicle_id for v in sc.vehicles if v.node_id == "HUB")
    now = min(r.start_s for r in plan.routes) - 600  # nobody has left yet
    new, report = replan(sc, plan, LiveState(now_s=now, broken_down=hub),
                          ReplanParams(time_limit_s=0.5))  # fmt: skip
    doc, check = _replan_checked(sc, new)
    assert check.ok, [str(v) for v in check.violations]
    (row,) = doc["returns"]
    assert row["status"] == "routed" and row["node_id"] == "STORE"
    (moved,) = report.returns_rerouted
    assert (moved["return_id"], moved["from_node_id"], moved["to_node_id"]) == (
        "R1", "HUB", "STORE")  # fmt: skip
    assert "no vehicle of HUB" in moved["reason"]
    assert [x["node_id"] for x in doc["restock"]] == ["STORE"]
    # The HUB's deliveries cannot go: unassigned with the breakdown in the reason.
    assert {u["order_id"] for u in doc["unassigned"]} == {o.order_id for o in sc.orders}


def test_the_checker_recomputes_the_returns_kpis(routed_day):
    sc, document = routed_day
    assert check_plan(sc, document).kpis["returns_routed"] == 1
    bad = copy.deepcopy(document)
    bad["kpis"]["returns_routed"] = 0
    assert "kpi_mismatch" in codes(sc, bad)
