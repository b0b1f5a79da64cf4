"""Decomposed planning: the region rule, and a small day planned on a dask cluster."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from data.generator import generate, write
from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import Service, UnassignedCode
from optimizer.planning import PlanParams
from optimizer.scale import ScaleParams, bisect, decompose, merge_plans
from optimizer.scale.decompose import node_sectors
from optimizer.scale.distributed import part_params, plan_decomposed
from optimizer.scale.repair import repair_part, with_repair
from optimizer.scale.split import apportion, deal, sector_of, sectors, share
from optimizer.sourcing import GreedySourcing, SourcingParams
from optimizer.sourcing.shared import leg_km, shared_route_costs
from optimizer.travel import travel_of
from tests import factory


def test_bisection_keeps_a_light_network_whole():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    assert bisect(xy, np.array([10.0, 10.0, 10.0]), max_load=30) == [[0, 1, 2]]


def test_bisection_cuts_along_the_widest_spread_at_the_median_load():
    # Two clusters 20 km apart on a north-south line: the cut falls between them.
    xy = np.array([[0.0, 0.0], [0.5, 1.0], [0.2, 20.0], [0.0, 21.0]])
    regions = bisect(xy, np.array([100.0, 100.0, 100.0, 100.0]), max_load=250)
    assert regions == [[0, 1], [2, 3]]


def test_bisection_leaves_a_node_heavier_than_a_part_alone_and_whole():
    xy = np.array([[0.0, 0.0], [5.0, 0.0], [6.0, 0.0]])
    regions = bisect(xy, np.array([900.0, 50.0, 50.0]), max_load=200)
    assert sorted(regions) == [[0], [1, 2]]


# -- cutting a node into sectors (pure) -----------------------------------------------------


def test_sectors_cut_bearings_into_equal_arcs_after_the_widest_gap():
    # Eight orders east of the node (bearings -0.3..0.4 rad) and four west (~pi): the
    # widest empty arc is south (from -3.0 round to -0.3), so the arcs start at -0.3 and
    # run counter-clockwise: four east, four east, the four west.
    angle = np.array([-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 3.0, 3.1, -3.1, -3.0])
    labels, starts = sectors(angle, 3)
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert np.allclose(starts, np.mod([-0.3, 0.1, 3.0], 2 * np.pi))
    # sector_of agrees with the labels, and puts a bearing inside an arc in it.
    assert sector_of(angle, starts).tolist() == labels.tolist()
    assert sector_of(np.array([-0.25, 0.35, 1.5]), starts).tolist() == [0, 1, 1]


def test_sectors_never_cut_more_arcs_than_points():
    labels, starts = sectors(np.array([0.5, 1.0]), 5)
    assert sorted(labels.tolist()) == [0, 1] and len(starts) == 2


def test_apportion_gives_whole_units_by_largest_remainder():
    assert apportion(10, np.array([1.0, 1.0, 1.0])).tolist() == [4, 3, 3]
    assert apportion(7, np.array([0.0, 3.0, 1.0])).tolist() == [0, 5, 2]
    assert apportion(3, np.zeros(2)).tolist() == [2, 1]  # no weight: equal shares


def test_share_gives_needs_first_and_never_more_than_the_whole():
    assert share(10, np.array([4, 1]), np.array([1, 1])).tolist() == [7, 3]
    assert share(3, np.array([2, 5]), np.array([1, 1])).tolist() == [2, 1]  # short: in order
    assert share(0, np.array([2, 5]), np.array([1, 1])).sum() == 0


def test_deal_interleaves_shifts_between_sectors():
    assert deal(np.array([2, 2])).tolist() == [0, 1, 0, 1]
    assert deal(np.array([1, 3])).tolist() == [1, 0, 1, 1]
    assert deal(np.array([0, 2])).tolist() == [1, 1]


def test_a_cut_node_shares_its_fleet_by_reach_under_the_day_vehicle_ids():
    # HUB's van may not enter the limited zone where the east orders are; its bike may.
    west = [factory.order(f"W{i}", 48.853, 2.340 + 0.001 * i, [("BOOK", 1)]) for i in range(4)]
    east = [factory.order(f"E{i}", 48.853, 2.375 + 0.001 * i, [("BOOK", 1)]) for i in range(4)]
    sc = factory.scenario(west + east, stock={("HUB", "BOOK"): 9})
    sc = replace(sc, fleet=[replace(f, count=2) for f in sc.fleet if f.node_id == "HUB"])
    routed = {o.order_id for o in sc.orders}
    pieces = node_sectors(sc, "HUB", [west, east], [[], []], routed)
    reach = {t: [sum(sc.may_deliver(vt, o) for o in g) for g in (west, east)]
             for t, vt in sc.vehicle_types.items()}  # fmt: skip
    names = Counter()
    for part, day_vehicles in pieces:
        assert len(part.vehicles) == len(day_vehicles)
        names.update(v.vehicle_id for v in day_vehicles)
    assert sorted(names) == sorted(v.vehicle_id for v in sc.vehicles if v.node_id == "HUB")
    assert max(names.values()) == 1
    for t in sc.vehicle_types:
        got = [sum(v.vehicle_type_id == t for v in vs) for _, vs in pieces]
        if sum(got) and reach[t][0] != reach[t][1]:
            assert got.index(max(got)) == reach[t].index(max(reach[t]))
    # Stock and picking: each sector's needs, the rest shared; never more than the whole.
    stock = [part.stock[("HUB", "BOOK")] for part, _ in pieces]
    assert sum(stock) == 9 and min(stock) >= 4
    picking = [part.nodes["HUB"].pick_capacity_per_day for part, _ in pieces]
    assert sum(picking) <= sc.nodes["HUB"].pick_capacity_per_day and min(picking) >= 4


def test_an_order_goes_with_the_region_of_the_node_that_has_its_stock():
    book, sofa = [("BOOK", 1)], [("SOFA", 1)]
    near_store = (48.869, 2.331)  # 150 m from STORE (west), ~4 km from HUB (east)
    sc = factory.scenario(
        [
            factory.order("A", *near_store, book, service=Service.ECO, slot=(9, 17)),
            # Next door to STORE, but only HUB holds sofas: it goes with HUB's region.
            factory.order("B", 48.868, 2.332, sofa, service=Service.ECO, slot=(9, 17)),
            factory.order("C", *near_store, book, Service.CLICK_COLLECT, (12, 20), "STORE"),
            factory.order("D", *near_store, [("TV", 1)]),  # no node holds a TV
        ]
    )
    d = decompose(sc, ScaleParams(part_orders=1))
    by_order = {o.order_id: part.node_ids for part in d.parts for o in part.scenario.orders}
    assert sorted(by_order) == ["A", "B", "C"]  # A: with a node holding books, either
    assert (by_order["B"], by_order["C"]) == (["HUB"], ["STORE"])
    assert [(u.order_id, u.code) for u in d.unassigned] == [("D", UnassignedCode.OUT_OF_STOCK)]
    assert d.region_of_node["HUB"] != d.region_of_node["STORE"]
    # Each part holds its own nodes' stock and fleet only.
    store = next(p for p in d.parts if p.node_ids == ["STORE"]).scenario
    assert set(store.stock) == {("STORE", "BOOK")}
    assert {v.vehicle_id for v in store.vehicles} == {"STORE/bike/1"}


def test_shared_route_price_is_the_order_share_of_a_route_from_the_node():
    # Two orders 150 m from STORE, ~4 km from HUB. One stop per route: the whole fixed
    # cost and trip out and back, plus the own leg to the other order; more stops per
    # route share the fixed cost and the stem, never the own leg.
    sc = factory.scenario([factory.order(f"A{i}", 48.869, 2.331 + 0.001 * i, [("BOOK", 1)])
                           for i in range(2)])  # fmt: skip
    reach = GreedySourcing(sc, travel_of(sc), SourcingParams(policy="estimate")).reach
    nodes = list(sc.nodes)
    alone = shared_route_costs(sc, reach, nodes, stops_per_hour=1e-9)
    shared = shared_route_costs(sc, reach, nodes, stops_per_hour=6.0)
    leg = leg_km(sc, reach.order_ids)
    assert np.allclose(leg, leg[0]) and 0.05 < leg[0] < 0.1  # 0.001 deg of longitude
    for j, node_id in enumerate(nodes):
        expected = np.full(len(reach.order_ids), np.inf)
        for g, group in enumerate(reach.groups):
            if group.node_id != node_id:
                continue
            vt = sc.vehicle_types[group.vehicle_type_id]
            per_km = vt.cost_per_km_eur + vt.cost_per_hour_eur / vt.speed_kmh
            trip = vt.fixed_cost_eur + 2 * reach.distance_m[:, g] / 1000 * per_km
            expected = np.minimum(expected, trip + leg * per_km)
        assert np.allclose(alone[:, j], expected)
        assert (shared[:, j] < alone[:, j]).all()
    # Not feasible from a node: no price there.
    stage = np.zeros_like(reach.stage)  # every group refused
    assert np.isinf(shared_route_costs(sc, reach, nodes, stage)).all()


def test_shared_route_sourcing_sends_an_order_near_a_store_to_the_hub_whose_van_passes():
    # Priced alone (estimate), the store 150 m away wins over the hub 4 km away; with
    # the stem shared by a route's stops, the hub's cheaper handling wins.
    sc = factory.scenario([factory.order(f"A{i}", 48.869, 2.331 + 0.001 * i, [("BOOK", 1)])
                           for i in range(2)])  # fmt: skip
    ids = [o.order_id for o in sc.orders]
    chosen = {}
    for policy in ("estimate", "shared_route"):
        sourcing = GreedySourcing(sc, travel_of(sc), SourcingParams(policy=policy))
        chosen[policy] = {o: d.node_id for o, d in sourcing.assign(ids).decisions.items()}
    assert chosen["estimate"] == dict.fromkeys(ids, "STORE")
    assert chosen["shared_route"] == dict.fromkeys(ids, "HUB")


def test_parts_source_by_the_shared_route_price_of_the_network_wide_pass():
    sc = factory.scenario([factory.order("A", 48.869, 2.331, [("BOOK", 1)])])
    d = decompose(sc)
    for part in d.parts:
        assert part_params(PlanParams(), ScaleParams(), part).sourcing.policy == "shared_route"
        nearest = replace(PlanParams().sourcing, policy="nearest")  # a baseline stays
        params = replace(PlanParams(), sourcing=nearest)
        assert part_params(params, ScaleParams(), part).sourcing.policy == "nearest"


def test_merging_wants_one_plan_per_part():
    sc = factory.scenario([factory.order("A", 48.869, 2.331, [("BOOK", 1)])])
    with pytest.raises(ValueError, match="1 parts"):
        merge_plans(sc, decompose(sc), [], solve_s=0.0)


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("day300")
    write(generate(300, seed=5), folder)
    return load_scenario(folder)


def test_a_day_planned_in_parts_on_a_dask_cluster_is_whole_and_checker_clean(day):
    distributed = pytest.importorskip("distributed")
    scale = ScaleParams(part_orders=100, part_time_limit_s=1.0)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        plan, d = plan_decomposed(day, client, PlanParams(), scale)
    assert len(d.parts) >= 2

    # Each vehicle is in one part; the repair has those no part used (so a route is driven
    # in one part); an order retried by the repair is routed there if anywhere.
    owner = Counter(p.global_vehicle_id(v.vehicle_id) for p in d.parts for v in p.scenario.vehicles)
    assert set(owner) == {v.vehicle_id for v in day.vehicles} and max(owner.values()) == 1
    parts = [*d.parts, *filter(None, [d.repair])]
    part_of_vehicle = {
        part.global_vehicle_id(v.vehicle_id): part.index
        for part in parts
        for v in part.scenario.vehicles
    }
    part_of_order = {
        o.order_id: part.index
        for part in parts
        for o in [*part.scenario.orders, *(r.as_stop() for r in part.scenario.returns)]
    }
    # A return (a pickup: its id is the stop's) is in one part, like an order.
    assert Counter(r.return_id for p in d.parts for r in p.scenario.returns) == Counter(
        r.return_id for r in day.returns
    )
    for route in plan.routes:
        part = part_of_vehicle[route.vehicle_id]
        assert all(part_of_order[s.order_id] == part for s in route.stops)

    # Every order exactly once: routed (whole, or as its parcels, each once), collected
    # or unassigned with a reason.
    units = Counter(
        [s.parcel_id or s.order_id for r in plan.routes for s in r.stops if not s.is_pickup]
        + [c.order_id for c in plan.collections]
        + [u.order_id for u in plan.unassigned]
    )
    assert max(units.values()) == 1
    how: dict[str, set[str]] = {}
    for r in plan.routes:
        for s in r.stops:
            if not s.is_pickup:
                how.setdefault(s.order_id, set()).add("routed")
    for c in plan.collections:
        how.setdefault(c.order_id, set()).add("collected")
    for u in plan.unassigned:
        how.setdefault(u.order_id, set()).add("unassigned")
    assert set(how) == {o.order_id for o in day.orders}
    assert all(len(kinds) == 1 for kinds in how.values())
    assert all(u.reason.strip() for u in plan.unassigned)

    # No unit of stock promised twice: what ships from a node is at most what it had.
    used = Counter()
    for node_id, lines in plan.shipments(day):
        for line in lines:
            used[node_id, line.sku] += line.qty
    arriving = Counter()
    for inbound in day.inbound:
        arriving[inbound.node_id, inbound.sku] += inbound.qty
    assert all(qty <= day.stock.get(key, 0) + arriving[key] for key, qty in used.items())

    kpis = plan_kpis(day, plan)
    report = check_plan(day, json.loads(to_json(plan_to_dict(day, plan, kpis))))
    assert report.ok, report.violations[:5]
    assert kpis["served_deliverable_pct"] > 95


def test_plan_with_a_scheduler_address_dask_cannot_read_is_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    from cli import app

    runner = CliRunner()
    day = tmp_path / "day"
    assert runner.invoke(app, ["generate", "--orders", "20", "--out", str(day)]).exit_code == 0
    result = runner.invoke(
        app, ["plan", str(day), "--out", str(tmp_path / "plan"), "--scheduler", "nowhere"]
    )
    assert result.exit_code == 2
    assert "cannot reach the dask scheduler nowhere" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "plan").exists()


@pytest.mark.parametrize("option", [["--orders", "5000,lots"], ["--workers", "0"]])
def test_bench_scale_refuses_sizes_that_are_not_positive_integers(option):
    from typer.testing import CliRunner

    from cli import app

    result = CliRunner().invoke(app, ["bench", "scale", *option])
    assert result.exit_code == 2
    assert "comma-separated positive integers" in result.output


# -- a day cut into many parts -----------------------------------------------------------


@pytest.fixture(scope="module")
def day1000(tmp_path_factory):
    # Seed 9's 1,000-order day drew O00890 for two exchanges before the generator kept
    # one exchange per order (the reader now refuses that day): only one pickup can be
    # one visit with the delivery, so the checker flagged the other (exchange_apart)
    # whenever the engine put it after the first, decomposed or not. The 50,000-order day
    # of ``lastmile bench scale`` (seed 7) drew three such orders: its violations.
    folder = tmp_path_factory.mktemp("day1000")
    write(generate(1000, seed=9), folder)
    return load_scenario(folder)


def test_a_day_cut_into_many_parts_and_sectors_is_whole_and_checker_clean(day1000):
    from optimizer.planning import plan_day
    from optimizer.scale.distributed import part_params

    scale = ScaleParams(part_orders=120, part_time_limit_s=0.5)
    d = decompose(day1000, scale)
    assert len(d.parts) >= 6
    assert any(p.sector is not None for p in d.parts)  # a node too big for a part is cut
    # The parts now leave nothing the repair could retry on this day: one part planned
    # without its vehicles (they stay the day's, unused) leaves its orders to the repair.
    starved = min((p for p in d.parts if p.routed_orders), key=lambda p: p.routed_orders)
    d.parts[starved.index] = replace(starved, scenario=replace(starved.scenario, fleet=[]))
    plans = [plan_day(p.scenario, part_params(PlanParams(), scale, p)) for p in d.parts]
    plan = merge_plans(day1000, d, plans, solve_s=0.0)
    # The boundary repair retries what the parts left unserved, with what is left.
    repair = repair_part(day1000, d, plan)
    assert repair is not None and repair.orders >= starved.routed_orders
    left = {v.vehicle_id for v in day1000.vehicles} - {r.vehicle_id for r in plan.routes}
    assert {repair.global_vehicle_id(v.vehicle_id) for v in repair.scenario.vehicles} == left
    repaired = with_repair(
        plan, repair, plan_day(repair.scenario, part_params(PlanParams(), scale, repair))
    )
    assert len(repaired.unassigned) < len(plan.unassigned)
    plan = repaired

    # Each vehicle of the day in one part at most, under its own id once merged.
    day_ids = Counter(
        p.global_vehicle_id(v.vehicle_id) for p in d.parts for v in p.scenario.vehicles
    )
    assert max(day_ids.values()) == 1
    assert set(day_ids) <= {v.vehicle_id for v in day1000.vehicles}
    # A node's shares of stock and picking add up to no more than it has.
    stock, picking = Counter(), Counter()
    for p in d.parts:
        stock.update(p.scenario.stock)
        picking.update({n: node.pick_capacity_per_day for n, node in p.scenario.nodes.items()})
    assert all(q <= day1000.stock[key] for key, q in stock.items())
    assert all(q <= day1000.nodes[n].pick_capacity_per_day for n, q in picking.items())

    kpis = plan_kpis(day1000, plan)
    report = check_plan(day1000, json.loads(to_json(plan_to_dict(day1000, plan, kpis))))
    assert report.ok, [str(v) for v in report.violations[:5]]
    assert kpis["served_deliverable_pct"] > 95
