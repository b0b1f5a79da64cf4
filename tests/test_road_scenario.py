"""A scenario that plans on real streets (issue 16): ``scenario.yaml``'s ``travel`` block,
its errors, and one provider for the plan, the checker, the promise and the re-plan."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict
from optimizer.io.problems import ScenarioError
from optimizer.io.road_cache import load_road_travel
from optimizer.kpis import plan_kpis
from optimizer.model import Mode, Node, NodeKind, TravelKind, TravelSettings
from optimizer.planning import PlanParams, plan_day
from optimizer.travel import GreatCircle, Profile, travel_of
from optimizer.travel.road import RoadTravel
from tests import factory as f

ROOT = Path(__file__).resolve().parent.parent
PARIS = ROOT / "data" / "paris"
KBH = ROOT / "data" / "osm" / "kbh.osm.pbf"
H = 3600


@pytest.fixture(scope="module")
def kbh_travel(tmp_path_factory) -> RoadTravel:
    return load_road_travel(KBH, tmp_path_factory.mktemp("road-cache"))


def _kbh_day(travel: RoadTravel, n: int = 8):
    """A small Copenhagen day: a hub east of the centre, orders around Nørreport."""
    nodes = {
        "HUB": Node("HUB", "Hub", NodeKind.URBAN_HUB, 55.676, 12.590, 7 * H, 21 * H, 60, 1.8),
        "STORE": Node("STORE", "Store", NodeKind.STORE, 55.683, 12.571, 9 * H, 20 * H, 15, 3.5),
    }
    orders = [
        f.order(f"O{i}", 55.680 + 0.002 * (i % 4), 12.560 + 0.004 * (i // 2), [("BOOK", 1)],
                slot=(9 + i % 3, 12 + i % 3))
        for i in range(n)
    ]  # fmt: skip
    scenario = f.scenario(orders, nodes=nodes, zones=False)
    settings = dataclasses.replace(
        scenario.settings, travel=TravelSettings(TravelKind.ROAD, "kbh.osm.pbf")
    )
    return dataclasses.replace(scenario, settings=settings, road_travel=travel)


def _document(scenario, plan):
    return plan_to_dict(scenario, plan, plan_kpis(scenario, plan))


def test_a_road_day_plans_on_the_streets_and_the_checker_drives_them(kbh_travel):
    day = _kbh_day(kbh_travel)
    assert travel_of(day) is kbh_travel
    plan = plan_day(day, PlanParams(time_limit_s=2, workers=1, joint=False))
    assert not plan.unassigned
    report = check_plan(day, _document(day, plan))
    assert report.ok, report.violations
    # The same plan judged on crow-fly travel is not the same plan: the checker drove
    # the streets (one-ways, detours), not a straight line times a factor.
    crow = check_plan(day, _document(day, plan), travel=GreatCircle())
    assert crow.kpis != report.kpis


def test_road_distances_are_asymmetric_and_longer_than_the_crow_flies(kbh_travel):
    day = _kbh_day(kbh_travel)
    lat = np.array([o.lat for o in day.orders])
    lon = np.array([o.lon for o in day.orders])
    distance_m, _ = travel_of(day).matrices(lat, lon, Profile(Mode.VAN, 25))
    crow_m, _ = GreatCircle({Mode.VAN: 1.0}).matrices(lat, lon, Profile(Mode.VAN, 25))
    off = ~np.eye(len(lat), dtype=bool)
    assert (distance_m[off] >= 0.9 * crow_m[off]).all()
    assert (distance_m != distance_m.T).any()


def test_a_road_scenario_built_in_code_without_its_network_is_refused():
    day = _kbh_day(None)
    with pytest.raises(ValueError, match="no street network"):
        travel_of(day)


def test_detour_factors_from_scenario_yaml_reach_every_part(tmp_path):
    folder = _copy(tmp_path, "travel:\n  detour_factor:\n    van: 1.5\n    cargo_bike: 1.1\n")
    scenario = load_scenario(folder)
    assert scenario.settings.travel.detour_factor == {Mode.VAN: 1.5, Mode.CARGO_BIKE: 1.1}
    travel = travel_of(scenario)
    assert isinstance(travel, GreatCircle)
    assert travel.detour_factor[Mode.VAN] == 1.5
    assert travel.detour_factor[Mode.CARGO_TRIKE] == 1.3  # the default where not given


def test_the_shipped_sample_stays_on_great_circle():
    scenario = load_scenario(PARIS)
    assert scenario.settings.travel == TravelSettings()
    assert scenario.road_travel is None and scenario.warnings == []


def test_a_road_scenario_folder_loads_its_network_and_warns_of_far_addresses(tmp_path):
    folder = _copy(tmp_path, "travel:\n  provider: road\n  osm: kbh.osm.pbf\n")
    shutil.copy(KBH, folder / "kbh.osm.pbf")
    scenario = load_scenario(folder)
    assert isinstance(scenario.road_travel, RoadTravel)
    # The Paris sample's addresses are ~1,000 km from Copenhagen's streets: each one is
    # named (the plan would be nonsense; the planner is told so).
    assert scenario.warnings
    assert any(w.startswith("order O") and "km" not in w[:0] for w in scenario.warnings)
    assert all("m from the" in w and "check its coordinates" in w for w in scenario.warnings)


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ("travel:\n  provider: roads\n", "travel.provider", "travel provider"),
        ("travel:\n  provider: road\n", "travel.osm", "missing key"),
        ("travel:\n  provider: road\n  osm: nowhere.pbf\n", "travel.osm", "file not found"),
        ("travel:\n  osm: x.pbf\n", "travel.osm", "only the road provider"),
        ("travel:\n  speed: 3\n", "travel.speed", "unknown key"),
        ("travel:\n  detour_factor:\n    van: 0.8\n", "travel.detour_factor.van", "between 1"),
        ("travel:\n  detour_factor:\n    lorry: 1.2\n", "travel.detour_factor.lorry", "mode"),
        ("travel: 3\n", "travel", "mapping"),
    ],
)
def test_a_bad_travel_block_is_a_clear_problem(tmp_path, block, field, message):
    folder = _copy(tmp_path, block)
    with pytest.raises(ScenarioError) as error:
        load_scenario(folder)
    problems = [p for p in error.value.problems if p.column == field]
    assert problems, str(error.value)
    assert message in problems[0].message, str(error.value)


def test_a_broken_extract_is_a_problem_not_a_traceback(tmp_path):
    folder = _copy(tmp_path, "travel:\n  provider: road\n  osm: broken.pbf\n")
    (folder / "broken.pbf").write_bytes(b"this is not an OpenStreetMap extract")
    with pytest.raises(ScenarioError) as error:
        load_scenario(folder)
    assert "not a readable OpenStreetMap extract" in str(error.value)


def _copy(tmp_path: Path, travel_block: str) -> Path:
    folder = tmp_path / "day"
    shutil.copytree(PARIS, folder)
    with (folder / "scenario.yaml").open("a", encoding="utf-8") as out:
        out.write(travel_block)
    return folder
