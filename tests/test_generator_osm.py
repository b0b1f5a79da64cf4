"""The day generator on OpenStreetMap extracts (issue 16, item 4): any extract gives a day
that loads, sits on the street networks, plans checker-clean and is the same bytes for
the same seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from shapely.geometry import Point, shape

from data.osm_generator import generate_from_osm, generate_osm
from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.io.osm import read_streets
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import Mode
from optimizer.planning import PlanParams, plan_day
from optimizer.travel.road import SNAP_WARNING_M, RoadTravel, build_networks

ROOT = Path(__file__).resolve().parent.parent
EXTRACTS = {
    "kbh": ROOT / "data" / "osm" / "kbh.osm.pbf",
    "andorra": ROOT / "data" / "osm" / "andorra.osm.pbf",
}
SEEDS = (1, 2)
ORDERS = 120
DAYS = [(extract, seed) for extract in EXTRACTS for seed in SEEDS]


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> dict[tuple[str, int], Path]:
    root = tmp_path_factory.mktemp("osm-days")
    return {
        (extract, seed): generate_from_osm(
            EXTRACTS[extract], ORDERS, seed, root / f"{extract}-{seed}"
        )
        for extract, seed in DAYS
    }


@pytest.fixture(scope="module")
def travel() -> dict[str, RoadTravel]:
    return {name: RoadTravel(build_networks(read_streets(path))) for name, path in EXTRACTS.items()}


def _rows(folder: Path, file: str) -> list[dict[str, str]]:
    import csv

    with open(folder / file, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _snap_m(travel: RoadTravel, rows: list[dict[str, str]], mode: Mode) -> np.ndarray:
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    return travel.snap(lat, lon, mode)[1]


@pytest.mark.parametrize(("extract", "seed"), DAYS)
def test_the_day_loads_with_its_orders(days, extract, seed):
    scenario = load_scenario(days[extract, seed])
    assert len(scenario.orders) == ORDERS
    assert {n.kind for n in scenario.nodes.values()} == {"warehouse", "urban_hub", "store"}
    assert {z.rule for z in scenario.zones} == {"limited_traffic", "low_emission"}


@pytest.mark.parametrize(("extract", "seed"), DAYS)
def test_every_address_snaps_near_both_networks(days, travel, extract, seed):
    """Orders and home pickups lie on streets within 300 m of a junction of the van
    network and of the bike network (mountain valleys included)."""
    folder = days[extract, seed]
    stops = _rows(folder, "orders.csv") + _rows(folder, "returns.csv")
    for mode in (Mode.VAN, Mode.CARGO_BIKE):
        snap_m = _snap_m(travel[extract], stops, mode)
        assert snap_m.max() <= SNAP_WARNING_M, (mode, float(snap_m.max()))


@pytest.mark.parametrize(("extract", "seed"), DAYS)
def test_nodes_sit_on_a_junction_of_both_networks(days, travel, extract, seed):
    nodes = _rows(days[extract, seed], "nodes.csv")
    for mode in (Mode.VAN, Mode.CARGO_BIKE):
        assert _snap_m(travel[extract], nodes, mode).max() < 1.0, mode


@pytest.mark.parametrize(("extract", "seed"), DAYS)
def test_the_day_plans_checker_clean(days, extract, seed):
    scenario = load_scenario(days[extract, seed])
    plan = plan_day(scenario, PlanParams(time_limit_s=2, workers=1))
    kpis = plan_kpis(scenario, plan)
    report = check_plan(scenario, json.loads(to_json(plan_to_dict(scenario, plan, kpis))))
    assert report.ok, [str(v) for v in report.violations[:5]]
    assert kpis["served_deliverable_pct"] > 95


@pytest.mark.parametrize("extract", EXTRACTS)
def test_same_seed_same_bytes_and_another_seed_differs(days, tmp_path, extract):
    again = generate_from_osm(EXTRACTS[extract], ORDERS, 1, tmp_path / "again")
    first = days[extract, 1]
    for file in sorted(p.name for p in first.iterdir()):
        if file == "scenario.yaml":  # names the extract relative to the folder
            continue
        assert (again / file).read_bytes() == (first / file).read_bytes(), file
    other = days[extract, 2]
    assert (other / "orders.csv").read_bytes() != (first / "orders.csv").read_bytes()
    assert (other / "nodes.csv").read_bytes() == (first / "nodes.csv").read_bytes()


def test_scenario_yaml_names_the_extract_relative_to_the_folder(days):
    folder = days["kbh", 1]
    settings = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
    assert settings["travel"]["provider"] == "road"
    assert (folder / settings["travel"]["osm"]).resolve() == EXTRACTS["kbh"].resolve()


def test_zones_follow_the_centre(days):
    """The centre store is in the limited-traffic zone (and runs no van), the warehouse
    outside the low-emission zone."""
    for extract in EXTRACTS:
        folder = days[extract, 1]
        zones = json.loads((folder / "zones.geojson").read_text(encoding="utf-8"))
        polygon = {f["properties"]["rule"]: shape(f["geometry"]) for f in zones["features"]}
        nodes = {
            r["node_id"]: Point(float(r["lon"]), float(r["lat"]))
            for r in _rows(folder, "nodes.csv")
        }
        assert polygon["limited_traffic"].contains(nodes["ST-01"])
        assert not polygon["low_emission"].contains(nodes["WH-01"])
        fleet = _rows(folder, "fleet.csv")
        assert {r["vehicle_type_id"] for r in fleet if r["node_id"] == "ST-01"} <= {
            "ebike",
            "etrike",
        }


def test_copenhagen_is_a_bike_city_and_its_fleet_rides_more_bikes():
    """At 400 orders (at 120 the stores' own bikes are most of either fleet)."""

    def bike_share(extract: str) -> float:
        fleet = generate_osm(EXTRACTS[extract], 400, 1).fleet
        bikes = sum(r["count"] for r in fleet if r["vehicle_type_id"] in ("ebike", "etrike"))
        return bikes / sum(r["count"] for r in fleet)

    assert bike_share("kbh") > bike_share("andorra") + 0.15


def test_a_missing_extract_is_named():
    with pytest.raises(FileNotFoundError, match="no-such.osm.pbf: no such OpenStreetMap extract"):
        generate_osm(ROOT / "no-such.osm.pbf", ORDERS, 1)


def test_a_file_that_is_no_extract_is_refused(tmp_path):
    bad = tmp_path / "notes.osm.pbf"
    bad.write_bytes(b"not a protocol buffer")
    with pytest.raises(ValueError, match="notes.osm.pbf: not a readable OpenStreetMap extract"):
        generate_osm(bad, ORDERS, 1)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="orders must be a positive integer"):
        generate_osm(EXTRACTS["kbh"], 0, 1)
    with pytest.raises(ValueError, match="timezone must be an IANA name"):
        generate_osm(EXTRACTS["kbh"], ORDERS, 1, timezone="Copenhagen")


def test_a_folder_with_files_is_kept_unless_forced(tmp_path):
    out = tmp_path / "day"
    out.mkdir()
    (out / "README.md").write_text("mine\n", encoding="utf-8")
    (out / "service_times.csv").write_text("postcode,factor\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="exists and is not empty"):
        generate_from_osm(EXTRACTS["kbh"], 40, 1, out)
    assert not (out / "orders.csv").exists()
    generate_from_osm(EXTRACTS["kbh"], 40, 1, out, force=True)
    assert (out / "README.md").read_text(encoding="utf-8") == "mine\n"
    assert not (out / "service_times.csv").exists()
    assert len(_rows(out, "orders.csv")) == 40
    with pytest.raises(NotADirectoryError):
        generate_from_osm(EXTRACTS["kbh"], 40, 1, out / "orders.csv", force=True)


def test_the_copenhagen_sample_is_the_generated_one(tmp_path):
    """``data/copenhagen`` is what its README's command writes (the extract's path in
    ``scenario.yaml`` is relative to the folder, so it is compared resolved)."""
    sample = ROOT / "data" / "copenhagen"
    out = generate_from_osm(
        EXTRACTS["kbh"], 400, 1, tmp_path / "cph", city="Copenhagen", timezone="Europe/Copenhagen"
    )
    for file in sorted(p.name for p in out.iterdir() if p.name != "scenario.yaml"):
        assert (sample / file).read_bytes() == (out / file).read_bytes(), file
    shipped, made = (
        yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
        for folder in (sample, out)
    )
    assert (sample / shipped["travel"].pop("osm")).resolve() == EXTRACTS["kbh"].resolve()
    assert (out / made["travel"].pop("osm")).resolve() == EXTRACTS["kbh"].resolve()
    assert shipped == made


def test_an_extract_with_too_few_streets_is_refused(tmp_path):
    """One short street: no city to place a day in."""
    nodes = "".join(
        f'<node id="{i}" lat="55.68" lon="{12.56 + i * 0.001:.3f}" version="1"/>'
        for i in range(1, 4)
    )
    way = '<way id="1" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>'
    way += '<tag k="highway" v="residential"/></way>'
    tiny = tmp_path / "tiny.osm"
    tiny.write_text(f'<osm version="0.6">{nodes}{way}</osm>', encoding="utf-8")
    with pytest.raises(ValueError, match="too few streets for a day"):
        generate_osm(tiny, ORDERS, 1)
