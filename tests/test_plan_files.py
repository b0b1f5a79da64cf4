"""Plan files are written all at once: an interrupted write leaves the previous plan."""

from pathlib import Path

import pytest

from optimizer.io.plan_files import write_plan_files

FILES = {"plan.json": "{}\n", "kpis.json": "{}\n", "routes.geojson": "{}\n", "map.html": "<html>"}


def test_files_land_together(tmp_path):
    out = write_plan_files(tmp_path / "plan", FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)


def test_a_write_interrupted_half_way_keeps_the_previous_plan(tmp_path, monkeypatch):
    write_plan_files(tmp_path / "plan", {**FILES, "plan.json": "old\n"})
    written = []
    real = Path.write_text

    def flaky(self, text, *args, **kwargs):
        if len(written) == 2:
            raise KeyboardInterrupt  # Ctrl-C after two of the four files
        written.append(self.name)
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_plan_files(tmp_path / "plan", {**FILES, "plan.json": "new\n"})
    monkeypatch.undo()
    assert (tmp_path / "plan" / "plan.json").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no staging folder left


def test_replacing_a_previous_plan_keeps_no_leftovers(tmp_path):
    write_plan_files(tmp_path / "plan", {**FILES, "plan.json": "old\n"})
    write_plan_files(tmp_path / "plan", {**FILES, "plan.json": "new\n"})
    assert (tmp_path / "plan" / "plan.json").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_a_plan_reads_back_as_it_was_written():
    import json

    from optimizer.io.plan_files import plan_from_dict, plan_to_dict, to_json
    from optimizer.kpis import plan_kpis
    from optimizer.model import FleetEntry
    from optimizer.planning import PlanParams, plan_day
    from tests.factory import H, order, scenario

    sc = scenario(
        [order("A", 48.852, 2.372, [("BOOK", 1)]), order("B", 48.851, 2.368, [("TV", 1)])],
        fleet=[FleetEntry("HUB", "van", 1, 7 * H, 15 * H)],
    )
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1))
    document = json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))
    again = plan_from_dict(sc, document)
    assert again.routes == plan.routes
    assert again.unassigned == plan.unassigned
    assert again.sources == plan.sources
