"""Network design end to end on small days: networks applied to a day, the replay's
figures against what the independent checker recomputes, candidate files, the CLI."""

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from data.generator import write_calendar_day
from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.io.candidates import CandidatesError, load_candidates
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.model import NodeKind, Service
from optimizer.network import (
    DesignParams,
    Network,
    aggregate_demand,
    apply_network,
    candidate,
    day_volumes,
    demand_centroid_sites,
    design_networks,
    existing_sites,
    grid_sites,
)
from optimizer.network.demand import MONTH_FACTOR, WEEKDAY_FACTOR, delivery_points
from optimizer.planning import PlanParams
from optimizer.workflows import ReplayParams, replay, replay_day
from optimizer.workflows.design_days import generated_days

ROOT = Path(__file__).resolve().parent.parent
PARIS = ROOT / "data" / "paris"
CANDIDATES = ROOT / "data" / "paris-candidates.csv"
FAST = ReplayParams(plan=PlanParams(time_limit_s=1.0, workers=1), promise_samples=8)


@pytest.fixture(scope="module")
def base():
    return load_scenario(PARIS)


@pytest.fixture(scope="module")
def small_days(base):
    return generated_days(base, day_volumes(date(2026, 11, 23), 2, 70, seed=4), write_calendar_day)


def test_day_volumes_follow_weekday_and_month_and_repeat_by_seed():
    week = day_volumes(date(2026, 11, 23), 7, 1000, seed=2, noise_sd=0.0)
    assert [d.orders for d in week] == [round(1000 * f) for f in WEEKDAY_FACTOR]
    december = day_volumes(date(2026, 12, 7), 1, 1000, noise_sd=0.0)[0]  # a Monday
    assert december.orders == round(1000 * WEEKDAY_FACTOR[0] * MONTH_FACTOR[11] / MONTH_FACTOR[10])
    assert day_volumes(date(2026, 11, 23), 3, 600, seed=5) == day_volumes(
        date(2026, 11, 23), 3, 600, seed=5
    )
    with pytest.raises(ValueError, match="days"):
        day_volumes(date(2026, 11, 23), 0, 600)


def test_aggregated_demand_keeps_every_order_per_day():
    rng = np.random.default_rng(0)
    lat, lon = 48.85 + rng.normal(0, 0.02, 500), 2.35 + rng.normal(0, 0.03, 500)
    demand = aggregate_demand(lat, lon, days=5, cell_km=1.0)
    assert demand.total_per_day == pytest.approx(100.0)
    assert len(demand) < 500 and np.all(demand.orders_per_day > 0)


def test_generated_sites_lie_inside_the_area():
    import shapely

    square = shapely.box(2.30, 48.83, 2.40, 48.89)
    sites = grid_sites(square, 2.0, "micro_hub")
    assert len(sites) > 4 and all(square.covers(shapely.Point(s.lon, s.lat)) for s in sites)
    assert {s.kind for s in sites} == {NodeKind.MICRO_HUB}


def test_opening_and_closing_change_nodes_fleet_stock_and_collections(base, small_days):
    day = small_days[0]
    site = candidate("MH-TEST", "micro_hub", 48.86, 2.36)
    closed = "DS-GAMBETTA"
    run = apply_network(day, Network("t", opened=(site,), closed=(closed,)))
    assert closed not in run.nodes and "MH-TEST" in run.nodes
    assert run.nodes["MH-TEST"].kind is NodeKind.MICRO_HUB
    assert all(f.node_id != closed for f in run.fleet)
    modes = {run.vehicle_types[f.vehicle_type_id].mode for f in run.fleet if f.node_id == "MH-TEST"}
    assert modes and all(m.is_bike for m in modes)
    assert any(k[0] == "MH-TEST" and q > 0 for k, q in run.stock.items())
    assert all(k[0] != closed for k in run.stock)
    for order in run.orders:
        if order.service is Service.CLICK_COLLECT:
            assert order.collect_node_id in run.nodes
            assert order.slot_start_s < order.slot_end_s
    assert len(run.orders) == len(day.orders)
    with pytest.raises(ValueError, match="stores and warehouses stay"):
        apply_network(day, Network("bad", closed=("WH-GARONOR",)))
    with pytest.raises(ValueError, match="unknown nodes"):
        apply_network(day, Network("bad", closed=("NOPE",)))


def test_replayed_kpis_equal_what_the_checker_recomputes(base, small_days):
    network = Network(
        "mixed", opened=(candidate("DS-TEST", "dark_store", 48.83, 2.33),), closed=("HUB-BERCY",)
    )
    result, scenario, plan = replay_day(small_days[0], network, existing_sites(base), FAST)
    document = json.loads(to_json(plan_to_dict(scenario, plan, result.kpis)))
    report = check_plan(scenario, document)
    assert report.ok, report.violations[:3]
    assert result.violations == 0
    k = report.kpis
    assert (result.routed, result.collected, result.unassigned) == (
        k["orders_routed"], k["orders_collected"], k["orders_unassigned"],
    )  # fmt: skip
    assert result.route_cost_eur == pytest.approx(sum(k["route_cost_eur_by_mode"].values()))
    assert result.handling_cost_eur == pytest.approx(k["handling_cost_eur"])
    assert result.km == pytest.approx(sum(k["distance_km_by_mode"].values()), abs=1e-3)
    assert result.co2_g == pytest.approx(k["co2_g"], abs=1e-3)
    assert result.vans_used == k["vehicles_used_by_mode"].get("van", 0)
    bikes = sum(n for m, n in k["vehicles_used_by_mode"].items() if m != "van")
    assert result.bikes_used == bikes
    assert result.on_time == round(k["on_time_pct"] * k["orders_routed"] / 100)
    by_bike = sum(len(r["stops"]) for r in document["routes"] if r["mode"] != "van")
    assert result.bike_orders == by_bike
    assert 0 <= result.express_offered <= result.express_asked == 8


def test_replay_summarises_days_per_network(base, small_days):
    existing = existing_sites(base)
    networks = [Network("today"), Network("lean", closed=("HUB-CHAPELLE", "DS-BATIGNOLLES"))]
    reports = replay(small_days, networks, existing, FAST)
    assert [r.network for r in reports] == ["today", "lean"]
    today, lean = reports
    assert today.days == 2 and len(today.per_day) == 2
    assert today.checker_violations == 0 and lean.checker_violations == 0
    assert lean.sites == today.sites - 2
    assert lean.site_cost_eur_per_day < today.site_cost_eur_per_day
    served = sum(d.routed + d.collected for d in today.per_day)
    cost = sum(d.route_cost_eur + d.handling_cost_eur + d.site_cost_eur for d in today.per_day)
    assert today.cost_per_drop_eur == pytest.approx(cost / served, abs=0.01)
    assert 0 <= today.bike_share_pct <= 100 and 0 <= today.otif_pct <= 100
    with pytest.raises(ValueError, match="unique"):
        replay(small_days, [Network("a"), Network("a")], existing, FAST)


def test_design_proposes_today_first_and_distinct_networks(base, small_days):
    points = [delivery_points(d) for d in small_days]
    demand = aggregate_demand(
        np.concatenate([p[0] for p in points]), np.concatenate([p[1] for p in points]), 2
    )
    design = design_networks(base, load_candidates(CANDIDATES), demand)
    assert design.networks[0].name == "today"
    assert len({n.key() for n in design.networks}) == len(design.networks)
    names = {n.name for n in design.networks}
    assert names | set(design.same_as) == {"today", *design.results}
    assert set(design.same_as.values()) <= names
    assert set(design.results) == {"cflp-keep", "cflp-close", "p-median", "max-cover"}
    assert all(r.optimal for r in design.results.values())
    kept = design.results["cflp-keep"].open[: len(design.existing)]
    assert kept.all()  # today's nodes are kept in cflp-keep
    with pytest.raises(ValueError, match="differ from today's nodes"):
        design_networks(base, [candidate("HUB-BERCY", "urban_hub", 48.8, 2.3)], demand)


def test_candidate_file_reports_every_problem_at_once(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "site_id,name,kind,lat,lon,cost_per_day_eur\n"
        "A,ok,dark_store,48.85,2.35,\n"
        "A,dup,dark_store,48.85,2.35,\n"
        "B,wrong kind,store,48.85,2.35,\n"
        "C,bad lat,micro_hub,148.85,2.35,\n"
        "D,bad cost,micro_hub,48.85,2.35,-3\n",
        encoding="utf-8",
    )
    with pytest.raises(CandidatesError) as caught:
        load_candidates(bad)
    text = str(caught.value)
    assert "4 problems" in text
    for where in ("line 3, column site_id", "line 4, column kind", "line 5, column lat",
                  "line 6, column cost_per_day_eur"):  # fmt: skip
        assert where in text
    sites = load_candidates(CANDIDATES)
    assert len(sites) >= 10 and {s.kind for s in sites} == {
        NodeKind.DARK_STORE, NodeKind.URBAN_HUB, NodeKind.MICRO_HUB,
    }  # fmt: skip


def test_candidate_file_refuses_repeated_and_unknown_columns_huge_numbers_and_0_0(tmp_path):
    """Issue 13, items 7, 8 and 11 in the other CSV reader."""
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "site_id,name,kind,lat,lon,capacity_orders_per_day,lat,colour\n"
        "A,ok,dark_store,48.85,2.35,,48.86,red\n",
        encoding="utf-8",
    )
    with pytest.raises(CandidatesError) as caught:
        load_candidates(bad)
    assert [(p.line, p.column) for p in caught.value.problems] == [(1, "lat"), (1, "colour")]
    bad.write_text(
        "site_id,name,kind,lat,lon,capacity_orders_per_day\n"
        f"A,huge,dark_store,48.85,2.35,{2**63}\n"
        "B,missing,dark_store,0,0,\n",
        encoding="utf-8",
    )
    with pytest.raises(CandidatesError) as caught:
        load_candidates(bad)
    assert [(p.line, p.column) for p in caught.value.problems] == [
        (2, "capacity_orders_per_day"),
        (3, "lat"),
    ]
    assert "coordinates 0,0 look missing" in caught.value.problems[1].message


def test_cli_design_writes_the_comparison_and_map(tmp_path):
    out = tmp_path / "design"
    runner = CliRunner()
    result = runner.invoke(app, [
        "design", str(PARIS), "--candidates", str(CANDIDATES), "--days", "1", "--orders", "60",
        "--time-limit", "1", "--workers", "1", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.csv", "comparison.md", "design.json", "map.html",
    ]  # fmt: skip
    rows = list(csv.DictReader((out / "comparison.csv").open(encoding="utf-8")))
    assert rows[0]["network"] == "today"
    for column in ("network", "sites", "cost_per_drop_eur", "co2_g_per_order",
                   "bike_share_pct", "otif_pct"):  # fmt: skip
        assert column in rows[0]
    assert "| network |" in (out / "comparison.md").read_text(encoding="utf-8")
    assert "leaflet" in (out / "map.html").read_text(encoding="utf-8").lower()


def test_cli_design_refuses_a_bad_candidate_file(tmp_path):
    bad = tmp_path / "c.csv"
    bad.write_text("site_id,name\nA,x\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["design", str(PARIS), "--candidates", str(bad), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "missing columns kind, lat, lon" in result.output
    assert not (tmp_path / "o").exists()


def test_demand_centroid_sites_fall_where_the_demand_is():
    import shapely

    lat = np.r_[np.full(20, 48.85), np.full(20, 48.88)]
    lon = np.r_[np.full(20, 2.30), np.full(20, 2.38)]
    sites = demand_centroid_sites(lat, lon, np.ones(40), k=2, kind="dark_store", seed=3)
    got = sorted((round(s.lat, 3), round(s.lon, 3)) for s in sites)
    assert got == [(48.85, 2.30), (48.88, 2.38)]
    west = shapely.box(2.25, 48.80, 2.34, 48.90)
    inside = demand_centroid_sites(lat, lon, np.ones(40), 2, "dark_store", seed=3, area=west)
    assert [(round(s.lat, 3), round(s.lon, 3)) for s in inside] == [(48.85, 2.30)]
    with pytest.raises(ValueError, match="k must be"):
        demand_centroid_sites(lat, lon, np.ones(40), 0, "dark_store")


def test_covering_can_use_a_bike_time_budget(base):
    demand = aggregate_demand(np.array([48.86, 48.87]), np.array([2.36, 2.30]), days=1)
    sites = [candidate("MH-A", "micro_hub", 48.861, 2.361)]
    design = design_networks(base, sites, demand, DesignParams(cover_time_s=600, new_sites=1))
    assert "max-cover" in design.results
    with pytest.raises(ValueError, match="cover_time_s"):
        DesignParams(cover_time_s=0)


def test_cli_design_refuses_a_folder_with_other_files_before_replaying(tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["design", str(PARIS), "--candidates", str(CANDIDATES), "--out", str(out)]
    )
    assert result.exit_code == 2 and "holds other files" in result.output
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    bad_start = CliRunner().invoke(
        app, ["design", str(PARIS), "--candidates", str(CANDIDATES), "--start", "23/11/2026",
              "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert bad_start.exit_code == 2 and "--start must be YYYY-MM-DD" in bad_start.output
