"""Split baskets: an order no single node holds ships as parcels from up to max_split nodes."""

import copy
import json

import numpy as np
import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_from_dict, plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import FleetEntry, Node, NodeKind, Service, Unassigned, UnassignedCode
from optimizer.planning import PlanParams, plan_day
from optimizer.planning.parcels import _whole_orders
from optimizer.sourcing import GreedySourcing, SourcingParams
from optimizer.sourcing.split import split_candidates
from optimizer.travel import GreatCircle
from tests.factory import H, order, scenario

NEAR_STORE = (48.868, 2.328)  # 250 m from STORE, 4 km from HUB
HALF_AND_HALF = {("HUB", "TV"): 2, ("STORE", "BOOK"): 5}  # neither holds BOOK + TV


def source(sc, **params):
    sourcing = GreedySourcing(sc, GreatCircle(), SourcingParams(**params))
    return sourcing, sourcing.assign([o.order_id for o in sc.orders])


def planned(sc, **sourcing):
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1, sourcing=SourcingParams(**sourcing)))
    document = json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))
    return plan, document


def plan_parcels(sc):
    """Parcel id -> node, as sourcing splits the day's orders."""
    sourcing, _ = source(sc)
    return {p: x.node_id for p, x in sourcing.parcels.items()}


def three_nodes():
    """FAR holds everything 9 km out; STORE and KIOSK, next to the customer, half each."""
    nodes = {
        "FAR": Node("FAR", "Warehouse", NodeKind.WAREHOUSE, 48.95, 2.33, 7 * H, 21 * H, 60, 1.0),
        "STORE": Node("STORE", "Store", NodeKind.STORE, 48.870, 2.330, 9 * H, 20 * H, 15, 3.5),
        "KIOSK": Node("KIOSK", "Kiosk", NodeKind.STORE, 48.866, 2.326, 9 * H, 20 * H, 15, 3.5),
    }
    fleet = [
        FleetEntry("FAR", "van", 1, 7 * H, 15 * H),
        FleetEntry("STORE", "bike", 1, 9 * H, 17 * H),
        FleetEntry("KIOSK", "bike", 1, 9 * H, 17 * H),
    ]
    stock = {("FAR", "BOOK"): 5, ("FAR", "TV"): 5, ("STORE", "BOOK"): 5, ("KIOSK", "TV"): 5}
    basket = [order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])]
    return scenario(basket, stock=stock, fleet=fleet, nodes=nodes, zones=False)


# -- the search ----------------------------------------------------------------------------


def test_the_search_gives_each_line_to_the_cheapest_node_of_a_covering_set():
    need = np.array([2, 1, 0])
    stock = np.array([[5, 0, 0], [5, 5, 0], [0, 5, 0]])
    usable = np.array([True, True, True])
    found = split_candidates(need, stock, usable, np.array([1.0, 9.0, 2.0]), 2, 4.0)
    # Every pair covers it (node 1 holds it all: pricing tells whether a split with it pays).
    assert [(tuple(j for j, _ in c.parts), c.bound_eur) for c in found] == [
        ((0, 2), 7.0),
        ((0, 1), 14.0),
        ((2, 1), 15.0),
    ]
    assert found[0].parts[0][1].tolist() == [2, 0, 0] and found[0].parts[1][1].tolist() == [0, 1, 0]
    assert split_candidates(need, stock, usable, np.ones(3), 1, 4.0) == []


# -- sourcing ------------------------------------------------------------------------------


def test_two_nodes_each_holding_half_a_basket_ship_it_as_two_parcels():
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=HALF_AND_HALF)
    sourcing, result = source(sc)
    decision = result.decisions["A"]
    parts = {p.node_id: p for p in decision.parts}
    assert set(parts) == {"HUB", "STORE"}
    assert [(x.sku, x.qty) for x in parts["HUB"].lines] == [("TV", 1)]
    assert [(x.sku, x.qty) for x in parts["STORE"].lines] == [("BOOK", 2)]
    assert sorted(p.parcel_id for p in decision.parts) == ["A/1", "A/2"]
    # Each parcel pays its own handling and stop; the order pays the penalty once.
    assert decision.terms["split_eur"] == 4.0
    assert decision.terms["handling_eur"] == pytest.approx(1.8 + 3.5)
    assert decision.cost_eur == pytest.approx(sum(p.cost_eur for p in decision.parts) + 4.0)
    # The stock and picking of each part are taken at its node.
    assert sourcing.stock[sourcing.node_index["HUB"], sourcing.sku_index["TV"]] == 1
    assert sourcing.stock[sourcing.node_index["STORE"], sourcing.sku_index["BOOK"]] == 3


def test_max_split_one_leaves_the_order_unassigned_saying_why():
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=HALF_AND_HALF)
    _, result = source(sc, max_split=1)
    (u,) = result.unassigned
    assert u.code is UnassignedCode.OUT_OF_STOCK
    assert "max_split is 1" in u.reason
    assert "TV x1 at HUB" in u.reason and "BOOK x2 at STORE" in u.reason


def test_a_basket_needing_more_nodes_than_max_split_names_where_each_line_is():
    sc = three_nodes()
    sc.stock.clear()
    sc.stock.update({("FAR", "SOFA"): 1, ("STORE", "BOOK"): 5, ("KIOSK", "TV"): 5})
    sc.orders[0] = order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1), ("SOFA", 1)])
    (u,) = source(sc)[1].unassigned
    assert u.code is UnassignedCode.OUT_OF_STOCK
    assert "no 2 nodes able to deliver here hold the basket between them" in u.reason
    assert "SOFA x1 at FAR" in u.reason and "TV x1 at KIOSK" in u.reason
    parts = source(sc, max_split=3)[1].decisions["A"].parts
    assert sorted(p.node_id for p in parts) == ["FAR", "KIOSK", "STORE"]
    assert [p.parcel_id for p in parts] == ["A/1", "A/2", "A/3"]


def test_a_split_is_not_chosen_when_one_node_holds_it_all_at_similar_cost():
    stock = {("HUB", "TV"): 2, ("HUB", "BOOK"): 5, ("STORE", "BOOK"): 5}
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=stock)
    decision = source(sc)[1].decisions["A"]
    assert decision.node_id == "HUB" and not decision.parts
    # Even with no penalty: the second parcel's handling and stop cost more than nothing.
    assert not source(sc, split_penalty_eur=0.0)[1].decisions["A"].parts


def test_the_split_penalty_changes_the_choice():
    # FAR holds it all, but a planner protects it (15 EUR an order): two parcels from the
    # stores next door, each ~3.5 handling + ~4.8 for its bike stop, cost ~16.6 + penalty;
    # FAR costs ~1.0 + ~5.9 for its van stop + 15.
    sc = three_nodes()
    protect = {"FAR": 15.0}
    split = source(sc, node_priority_eur=protect)[1].decisions["A"]  # the default 4 EUR
    assert {p.node_id for p in split.parts} == {"STORE", "KIOSK"}
    assert split.runner_up_node_id == "FAR" and not split.runner_up_parts
    assert split.cost_eur < split.runner_up_cost_eur < split.cost_eur + 6.0
    whole = source(sc, node_priority_eur=protect, split_penalty_eur=10.0)[1].decisions["A"]
    assert whole.node_id == "FAR" and not whole.parts
    assert {p.node_id for p in whole.runner_up_parts} == {"STORE", "KIOSK"}
    assert whole.runner_up_cost_eur == pytest.approx(split.cost_eur + 6.0, abs=1e-3)


def test_baselines_split_only_baskets_no_node_holds():
    sc = three_nodes()
    for policy in ("nearest", "cheapest_handling"):
        assert not source(sc, policy=policy, split_penalty_eur=0.0)[1].decisions["A"].parts
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=HALF_AND_HALF)
    for policy in ("nearest", "cheapest_handling", "estimate"):
        assert len(source(sc, policy=policy)[1].decisions["A"].parts) == 2


def test_click_and_collect_is_not_split_across_stores():
    cc = order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)], service=Service.CLICK_COLLECT,
               collect="STORE")  # fmt: skip
    (u,) = source(scenario([cc], stock=HALF_AND_HALF))[1].unassigned
    assert u.code is UnassignedCode.COLLECT_NODE_NO_STOCK
    assert "not split" in u.reason and "TV" in u.reason


def test_a_promised_order_is_not_split():
    from dataclasses import replace

    promised = replace(order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)]), ship_from_node_id="HUB")
    (u,) = source(scenario([promised], stock=HALF_AND_HALF))[1].unassigned
    assert u.code is UnassignedCode.OUT_OF_STOCK and "promised from HUB" in u.reason


def test_split_parameters_refuse_nonsense():
    with pytest.raises(ValueError, match="max_split"):
        SourcingParams(max_split=0)
    with pytest.raises(ValueError, match="split_penalty_eur"):
        SourcingParams(split_penalty_eur=-1)


# -- planning, plan.json and the checker ---------------------------------------------------


def test_a_split_order_is_routed_as_two_parcels_and_passes_the_checker():
    sc = scenario(
        [order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)]), order("B", 48.851, 2.371, [("TV", 1)])],
        stock=HALF_AND_HALF,
    )
    plan, document = planned(sc)
    report = check_plan(sc, document)
    assert report.ok, [str(v) for v in report.violations]
    stops = [s for r in document["routes"] for s in r["stops"] if s["order_id"] == "A"]
    assert sorted(s["parcel_id"] for s in stops) == ["A/1", "A/2"]
    by_parcel = {s["parcel_id"]: s["lines"] for s in stops}
    assert sorted(map(json.dumps, by_parcel.values())) == sorted(
        map(json.dumps, [[{"sku": "TV", "qty": 1}], [{"sku": "BOOK", "qty": 2}]])
    )
    kpis = document["kpis"]
    assert (kpis["orders_routed"], kpis["orders_split"], kpis["parcels_shipped"]) == (2, 1, 3)
    assert kpis["handling_cost_eur"] == pytest.approx(1.8 + 3.5 + 1.8)  # per parcel
    assert document["max_split"] == 2
    (row,) = [a for a in document["assignments"] if a["order_id"] == "A"]
    assert row["status"] == "routed" and len(row["parcels"]) == 2
    (decision,) = [d for d in document["sourcing"] if d["order_id"] == "A"]
    assert [p["parcel_id"] for p in decision["parts"]] == ["A/1", "A/2"]
    assert decision["terms"]["split_eur"] == 4.0
    assert set(plan.parcels) == {"A/1", "A/2"} and "A" not in plan.sources
    # Stock is committed per parcel at its node (what the promise API starts from).
    shipped = sorted((n, x.sku, x.qty) for n, lines in plan.shipments(sc) for x in lines)
    assert shipped == [("HUB", "TV", 1), ("HUB", "TV", 1), ("STORE", "BOOK", 2)]
    again = plan_from_dict(sc, document)
    assert again.parcels == plan.parcels and again.max_split == 2


def test_the_checker_rejects_parcels_that_do_not_cover_the_lines():
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=HALF_AND_HALF)
    _, document = planned(sc)
    short = copy.deepcopy(document)
    for route in short["routes"]:
        for stop in route["stops"]:
            if stop["lines"][0]["sku"] == "BOOK":
                stop["lines"][0]["qty"] = 1
    codes = {v.code for v in check_plan(sc, short).violations}
    assert "parcel_lines_mismatch" in codes
    twice = copy.deepcopy(document)
    for route in twice["routes"]:
        for stop in route["stops"]:
            stop["lines"] = [{"sku": "BOOK", "qty": 2}, {"sku": "TV", "qty": 1}]
    report = check_plan(sc, twice)
    assert "parcel_lines_mismatch" in {v.code for v in report.violations}
    assert "TV ordered 1, shipped 2" in " ".join(v.message for v in report.violations)


def test_the_checker_rejects_more_parcels_than_max_split():
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=HALF_AND_HALF)
    _, document = planned(sc)
    document["max_split"] = 1
    (v,) = check_plan(sc, document).violations
    assert v.code == "split_over_limit" and "max_split 1" in v.message
    del document["max_split"]  # a plan that does not say splits nothing
    assert [v.code for v in check_plan(sc, document).violations] == ["split_over_limit"]


def test_the_checker_rejects_the_same_parcel_twice_and_stock_taken_by_a_part():
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=HALF_AND_HALF)
    _, document = planned(sc)
    same = copy.deepcopy(document)
    for route in same["routes"]:
        for stop in route["stops"]:
            stop["parcel_id"] = "A/1"
    assert "order_duplicated" in {v.code for v in check_plan(sc, same).violations}
    scarce = scenario(sc.orders, stock={("HUB", "TV"): 0, ("STORE", "BOOK"): 5})
    assert "stock_exceeded" in {v.code for v in check_plan(scarce, document).violations}


def test_an_order_with_a_parcel_left_out_is_unassigned_whole_and_its_other_parcel_given_back():
    sc = scenario([order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)])], stock=HALF_AND_HALF)
    sourcing, result = source(sc)
    decisions = dict(result.decisions)
    hub = next(p.parcel_id for p in decisions["A"].parts if p.node_id == "HUB")
    store = next(p.parcel_id for p in decisions["A"].parts if p.node_id == "STORE")
    sourcing.release(hub)  # the HUB routes could not take it, nor another node's
    full = Unassigned(hub, UnassignedCode.FLEET_FULL, "the routes of HUB are full", "HUB")
    out, held_back = _whole_orders(sourcing, decisions, [full])
    (u,) = out
    assert u.order_id == "A" and u.code is UnassignedCode.FLEET_FULL
    assert hub in u.reason and store in u.reason and "half delivered" in u.reason
    assert held_back == {store} and "A" not in decisions and not sourcing.parcels
    assert (sourcing.stock == sourcing.initial_stock).all()  # nothing held any more


def test_when_routing_leaves_a_parcel_out_the_order_is_unassigned_whole(monkeypatch):
    """The STORE parcel of A is left out by every routing round (as if the store's bike
    were full): A is unassigned with that reason, its HUB parcel comes off its route and
    its stock goes back; B, on the same HUB routes, is still delivered."""
    import optimizer.planning.day as planning  # plan_day's steps look the solver up here

    solve = planning._solve_batches

    def without_store_parcel(batches, *args):
        results = solve(batches, *args)
        for key, result in results.items():
            ids = batches[key].order_ids
            lost = {i for i, unit in enumerate(ids) if unit.startswith("A/")}
            lost = {i for i in lost if "STORE" in {batches[key].vehicles[r.vehicle].node_id
                                                   for r in result.routes if i in r.stops}
                    or key == "STORE"}  # fmt: skip
            for r in result.routes:
                r.stops = [i for i in r.stops if i not in lost]
            result.routes = [r for r in result.routes if r.stops]
            result.dropped = sorted(set(result.dropped) | lost)
        return results

    monkeypatch.setattr(planning, "_solve_batches", without_store_parcel)
    sc = scenario(
        [order("A", *NEAR_STORE, [("BOOK", 2), ("TV", 1)]), order("B", 48.851, 2.371, [("TV", 1)])],
        stock=HALF_AND_HALF,
    )
    plan, document = planned(sc)
    report = check_plan(sc, document)
    assert report.ok, [str(v) for v in report.violations]
    (u,) = plan.unassigned
    assert u.order_id == "A" and u.code is UnassignedCode.FLEET_FULL
    store = next(p for p, x in plan_parcels(sc).items() if x == "STORE")
    assert f"parcel {store} (BOOK x2) cannot be served" in u.reason
    assert "are not shipped, so nothing is half delivered" in u.reason
    assert {s.order_id for r in plan.routes for s in r.stops} == {"B"}
    assert not plan.parcels and "A" not in plan.decisions
    assert document["kpis"]["orders_unassigned"] == 1 and document["kpis"]["orders_split"] == 0


def test_random_days_with_stock_spread_over_nodes_pass_the_checker_and_lose_nothing():
    splits = 0
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        skus = ["BOOK", "TV", "SOFA"]
        orders = []
        for k in range(10):
            chosen = rng.choice(3, size=int(rng.integers(1, 4)), replace=False)
            lines = [(skus[x], 1 if skus[x] == "SOFA" else int(rng.integers(1, 3))) for x in chosen]
            lat, lon = 48.855 + rng.normal(0, 0.01), 2.35 + rng.normal(0, 0.015)
            start = int(rng.integers(9, 14))
            orders.append(order(f"O{k}", lat, lon, lines, slot=(start, start + 2)))
        # Each SKU at one node, sometimes at both (the store never has sofas).
        stock = {("HUB", "SOFA"): 6}
        for sku in ("BOOK", "TV"):
            holder, other = ("HUB", "STORE") if rng.random() < 0.5 else ("STORE", "HUB")
            stock[holder, sku] = 8
            stock[other, sku] = 8 * int(rng.random() < 0.3)
        sc = scenario(orders, stock=stock)
        plan, document = planned(sc)
        report = check_plan(sc, document)
        assert report.ok, [str(v) for v in report.violations]
        served = {s.order_id for r in plan.routes for s in r.stops} | set(plan.sources)
        assert served.isdisjoint(u.order_id for u in plan.unassigned)
        assert len(served) + len(plan.unassigned) == len(orders)  # nothing lost
        assert {p.order_id for p in plan.parcels.values()} <= served
        splits += document["kpis"]["orders_split"]
    assert splits > 0


def test_taking_a_held_back_parcel_off_a_route_keeps_its_tours_and_break_in_place():
    from types import SimpleNamespace

    from optimizer.planning.parcels import _without
    from optimizer.routing import RouteResult, RoutingResult
    from optimizer.routing.problem import BreakResult

    batch = SimpleNamespace(order_ids=["A", "S/1", "B", "C", "S/2", "D"])
    rest = BreakResult(trip=1, after_stop=2, start_s=12 * H, duration_s=1200)
    day = RouteResult(0, [0, 1, 2, 3, 4, 5], 8 * H, trip_sizes=[3, 3], rest=rest)
    (r,) = _without(batch, RoutingResult(routes=[day]), {"S/1", "S/2"}).routes
    assert r.stops == [0, 2, 3, 5] and r.trip_sizes == [2, 2]
    assert (r.rest.trip, r.rest.after_stop) == (1, 1)  # still after C
    # A tour left empty goes; its break moves to before the next tour leaves.
    alone = RouteResult(0, [1, 0, 2], 8 * H, trip_sizes=[1, 2], rest=replace_rest(rest, 0, 1))
    (r,) = _without(batch, RoutingResult(routes=[alone]), {"S/1"}).routes
    assert r.stops == [0, 2] and r.trip_sizes == [2]
    assert (r.rest.trip, r.rest.after_stop) == (0, 0)
    # A route with nothing left goes.
    only = RouteResult(0, [1, 4], 8 * H)
    assert _without(batch, RoutingResult(routes=[only]), {"S/1", "S/2"}).routes == []


def replace_rest(rest, trip, after_stop):
    from dataclasses import replace

    return replace(rest, trip=trip, after_stop=after_stop)
