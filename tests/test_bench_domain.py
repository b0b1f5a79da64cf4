"""``lastmile bench domain``: the generator of days of the peers' kind, the raw PyVRP
baseline (checker-clean, lastmile's vehicle rules kept) and the command's JSON."""

import json
from pathlib import Path

import pytest
import shapely
from typer.testing import CliRunner

import cli.bench_domain
from cli import app
from data.domain_generator import FLEET_600, fleet_counts, generate, write
from optimizer.io import load_scenario
from optimizer.model import Mode, Service
from optimizer.travel import GreatCircle
from optimizer.workflows.bench_domain import raw_pyvrp_plan, unsupported
from optimizer.workflows.plan import checked

PEERS_1_3 = GreatCircle({m: 1.3 for m in Mode})  # the peers' travel, every mode
SHARED_DAY = cli.bench_domain.SHARED_DAY
PARIS = Path(__file__).resolve().parent.parent / "data" / "paris"


@pytest.fixture(scope="module")
def small_day(tmp_path_factory):
    """A 40-order day of the peers' kind (with its one bulky order), loaded."""
    folder = tmp_path_factory.mktemp("domain") / "domain-40"
    write(generate(40, seed=3), folder)
    return load_scenario(folder)


@pytest.fixture(scope="module")
def raw_run(small_day):
    """The raw PyVRP plan of the small day (2 s), written as plan.json and checked."""
    plan = raw_pyvrp_plan(small_day, time_limit_s=2, seed=1, travel=PEERS_1_3)
    return checked(small_day, plan, PEERS_1_3)


def test_the_generator_is_deterministic_by_seed():
    assert generate(120, seed=4) == generate(120, seed=4)
    assert generate(120, seed=4).orders != generate(120, seed=5).orders


def test_a_generated_day_loads_and_is_of_the_peers_kind(tmp_path):
    write(generate(300, seed=2), tmp_path / "day")
    sc = load_scenario(tmp_path / "day")
    assert len(sc.orders) == 300 and len(sc.nodes) == 14
    assert {vt.mode for vt in sc.vehicle_types.values()} == {Mode.VAN, Mode.CARGO_BIKE}
    assert [z.zone_id for z in sc.zones] == ["ZTL"]
    green = [o for o in sc.orders if o.service is Service.GREEN]
    bulky = [o for o in sc.orders if sc.item_modes(o.lines) == frozenset({Mode.VAN})]
    in_zone = [o for o in sc.orders if sc.zones_at(o.lat, o.lon)]
    assert 0.08 < len(green) / 300 < 0.25 and len(bulky) == 6 and in_zone
    # A bulky order is express and outside the zone, where a van may deliver it.
    assert all(o.service is Service.EXPRESS and not sc.zones_at(o.lat, o.lon) for o in bulky)
    # Every node holds every order's lines: stock never binds.
    assert unsupported(sc) == []
    assert sc.settings.travel.detour_factor == {Mode.VAN: 1.3, Mode.CARGO_BIKE: 1.3}


@pytest.mark.skipif(not SHARED_DAY.is_dir(), reason="the peers' shared day is not here")
def test_the_generated_zone_and_depots_are_the_shared_days(tmp_path):
    write(generate(10, seed=1), tmp_path / "day")
    ours, theirs = load_scenario(tmp_path / "day"), load_scenario(SHARED_DAY)
    assert shapely.equals_exact(ours.zones[0].geometry, theirs.zones[0].geometry, 1e-9)
    assert ours.nodes == theirs.nodes and ours.vehicle_types == theirs.vehicle_types
    assert fleet_counts(600) == FLEET_600
    assert sorted(ours.fleet, key=str) == sorted(theirs.fleet, key=str)


def test_the_fleet_grows_with_the_orders_but_slower():
    small, big = fleet_counts(600), fleet_counts(2000)
    vans, bikes = (sum(x) for x in zip(*big.values(), strict=True))
    assert all(big[d][0] >= small[d][0] and big[d][1] >= small[d][1] for d in small)
    assert 24 < vans < 80 and 29 < bikes < 97  # more than the 600-order fleet, not x 3.3


def test_the_raw_baseline_is_checker_clean_and_serves_every_order(raw_run):
    assert raw_run.report.ok, raw_run.report.violations
    assert raw_run.kpis["orders_unassigned"] == 0
    assert raw_run.document["engine"] == "raw-pyvrp"


def test_the_raw_baseline_keeps_bulky_on_vans_and_bike_only_orders_on_bikes(small_day, raw_run):
    mode_of = {s.order_id: Mode(r.mode) for r in raw_run.plan.routes for s in r.stops}
    sc = small_day
    bulky = [o for o in sc.orders if sc.item_modes(o.lines) == frozenset({Mode.VAN})]
    bike_only = [o for o in sc.orders if o.service is Service.GREEN or sc.zones_at(o.lat, o.lon)]
    assert bulky and bike_only
    assert all(mode_of[o.order_id] is Mode.VAN for o in bulky)
    assert all(mode_of[o.order_id] is Mode.CARGO_BIKE for o in bike_only)


def test_the_raw_baseline_refuses_what_it_does_not_model():
    paris = load_scenario(PARIS)
    with pytest.raises(ValueError) as caught:
        raw_pyvrp_plan(paris, time_limit_s=1)
    message = str(caught.value)
    assert "returns" in message and "click & collect" in message and "handling" in message


def test_bench_domain_prints_both_solvers_figures_as_json(monkeypatch, tmp_path):
    # No shared day here: a note, not an error; one generated 40-order day is measured.
    monkeypatch.setattr(cli.bench_domain, "SHARED_DAY", tmp_path / "missing")
    result = CliRunner().invoke(
        app,
        ["bench", "domain", "--orders", "40", "--seeds", "3", "--time-limit", "1",
         "--workers", "1", "--out", str(tmp_path / "plans"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "not at" in result.stderr
    figures = json.loads(result.stdout)
    [day] = figures["days"]
    assert day["day"] == "domain-40-s3" and day["orders"] == 40 and day["time_limit_s"] == 1
    for who in ("lastmile", "raw_pyvrp"):
        f = day[who]
        assert set(f) >= {"cost_eur", "unserved", "objective_eur", "checker_ok", "wall_s"}
        assert f["objective_eur"] == pytest.approx(f["cost_eur"] + 1000 * f["unserved"], abs=0.02)
        assert f["checker_ok"]
    ratio = day["lastmile"]["objective_eur"] / day["raw_pyvrp"]["objective_eur"]
    assert day["ratio"] == pytest.approx(ratio, abs=1e-4)
    assert figures["summary"]["worst_ratio"] == day["ratio"]
    for solver in ("lastmile", "raw-pyvrp"):
        kept = json.loads((tmp_path / "plans" / "domain-40-s3" / solver / "plan.json").read_text())
        assert kept["kpis"]["orders_total"] == 40


def test_bench_domain_names_a_broken_scenario_without_a_traceback(tmp_path):
    (tmp_path / "broken").mkdir()
    result = CliRunner().invoke(
        app, ["bench", "domain", "--scenario", str(tmp_path / "broken"), "--orders", ""]
    )
    assert result.exit_code == 2
    assert "broken" in result.output and "Traceback" not in result.output


def test_bench_domain_refuses_a_missing_scenario_and_bad_seeds(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "domain", "--scenario", str(tmp_path / "nowhere"), "--seeds", "x"]
    )
    assert result.exit_code == 2
    assert "no such folder" in result.output and "--seeds" in result.output
    assert "Traceback" not in result.output


def test_generate_kind_domain_writes_the_generators_day(tmp_path):
    result = CliRunner().invoke(
        app, ["generate", "--kind", "domain", "--orders", "60", "--seed", "4",
              "--out", str(tmp_path / "day")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    write(generate(60, seed=4), tmp_path / "same")
    for name in ("orders.csv", "catalogue.csv", "fleet.csv", "zones.geojson", "scenario.yaml"):
        assert (tmp_path / "day" / name).read_text() == (tmp_path / "same" / name).read_text()
    refused = CliRunner().invoke(app, ["generate", "--kind", "tiny", "--out", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "--kind" in refused.output
