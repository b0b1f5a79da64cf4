"""The command line on real streets (issue 16): ``generate --osm`` makes a day on any
extract, ``bench travel`` times the road provider, ``generate --force`` clears every
zones format."""

import json
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from optimizer.io import load_scenario
from optimizer.model import TravelKind
from optimizer.travel.road import RoadTravel

ROOT = Path(__file__).resolve().parent.parent
ANDORRA = ROOT / "data" / "osm" / "andorra.osm.pbf"
runner = CliRunner()


def test_generate_on_an_extract_writes_a_road_day(tmp_path):
    out = tmp_path / "andorra"
    args = ["generate", "--osm", str(ANDORRA), "--orders", "60", "--seed", "3", "--out", str(out),
            "--timezone", "Europe/Andorra"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "OpenStreetMap contributors" in result.output
    scenario = load_scenario(out)
    assert scenario.settings.travel.provider is TravelKind.ROAD
    assert isinstance(scenario.road_travel, RoadTravel)
    assert len(scenario.orders) == 60 and scenario.settings.timezone == "Europe/Andorra"
    # An existing day is refused without --force, replaced with it.
    assert runner.invoke(app, args).exit_code != 0
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_generate_on_a_file_that_is_no_extract_is_a_clear_error(tmp_path):
    bad = tmp_path / "streets.osm.pbf"
    bad.write_text("no streets here")
    result = runner.invoke(app, ["generate", "--osm", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "not a readable OpenStreetMap extract" in result.output
    result = runner.invoke(app, ["generate", "--osm", str(tmp_path / "none.pbf"),
                                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code != 0 and "no such OpenStreetMap extract" in result.output


def test_generate_force_clears_a_geopackage_of_zones(tmp_path):
    out = tmp_path / "day"
    out.mkdir()
    (out / "zones.gpkg").write_bytes(b"old zones")
    (out / "README.md").write_text("kept")
    result = runner.invoke(app, ["generate", "--orders", "20", "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert not (out / "zones.gpkg").exists() and (out / "README.md").exists()
    load_scenario(out)  # one zones file: loads


def test_bench_travel_prints_per_mode_figures(tmp_path):
    args = ["bench", "travel", "--osm", str(ANDORRA), "--points", "40", "--cache-dir",
            str(tmp_path / "cache"), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures["modes"]) == {"van", "bike"}
    for mode in figures["modes"].values():
        assert mode["nodes"] > 1000 and mode["matrix_s"] >= 0 and mode["cached_load_s"] >= 0
    assert runner.invoke(app, ["bench", "travel", "--osm", str(tmp_path / "x.pbf")]).exit_code


def test_an_address_far_from_the_streets_is_named_when_planning(tmp_path):
    """Paris's day on Copenhagen's streets: every address is ~1,000 km off; the planner is
    told which (the first twenty, then how many more), before anything is planned."""
    import shutil

    folder = tmp_path / "day"
    shutil.copytree(ROOT / "data" / "paris", folder)
    shutil.copy(ROOT / "data" / "osm" / "kbh.osm.pbf", folder / "kbh.osm.pbf")
    with (folder / "scenario.yaml").open("a", encoding="utf-8") as out:
        out.write("travel:\n  provider: road\n  osm: kbh.osm.pbf\n")
    result = runner.invoke(app, ["check", str(folder), str(folder / "no-plan.json")])
    assert result.exit_code != 0
    assert "warning: node" in result.output and "from the van streets" in result.output
    assert "more like these" in result.output
