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


# -- what a kill -9 midway leaves, and the next run (issue 13, item 16) ------------------


def _plan_folder(where: Path, plan_json: str) -> Path:
    where.mkdir(parents=True)
    for name, text in {**FILES, "plan.json": plan_json}.items():
        (where / name).write_text(text)
    return where


def _killed_between_the_renames(tmp_path: Path) -> None:
    """The previous plan moved aside, the new one staged, ``plan/`` absent."""
    _plan_folder(tmp_path / ".plan.old.k3x9q_2a" / "plan", "previous\n")
    _plan_folder(tmp_path / ".plan.ab12cd34", "staged\n")


def test_a_kill_between_the_renames_is_restored_by_the_next_run(tmp_path):
    from optimizer.io.plan_files import recover_plan_folder

    _killed_between_the_renames(tmp_path)
    assert not (tmp_path / "plan").exists()
    assert recover_plan_folder(tmp_path / "plan") == (tmp_path / "plan").resolve()
    assert (tmp_path / "plan" / "plan.json").read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_the_next_run_interrupted_too_still_leaves_the_previous_plan(tmp_path, monkeypatch):
    _killed_between_the_renames(tmp_path)
    real = Path.write_text

    def interrupted(self, text, *args, **kwargs):
        if self.name == "kpis.json":
            raise KeyboardInterrupt
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_plan_files(tmp_path / "plan", FILES)
    monkeypatch.undo()
    assert (tmp_path / "plan" / "plan.json").read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


@pytest.mark.parametrize("state", ["between_renames", "while_staging", "before_cleaning"])
def test_the_next_run_writes_its_plan_and_leaves_no_leftovers(tmp_path, state):
    if state == "between_renames":
        _killed_between_the_renames(tmp_path)
    elif state == "while_staging":  # a half-written staging folder beside the plan
        _plan_folder(tmp_path / "plan", "previous\n")
        (tmp_path / ".plan.zz_9y8x7").mkdir()
        (tmp_path / ".plan.zz_9y8x7" / "plan.json").write_text("{")
    else:  # the new plan in place, the previous one not yet removed
        _plan_folder(tmp_path / "plan", "previous\n")
        _plan_folder(tmp_path / ".plan.old.0a1b2c3d" / "plan", "older\n")
    out = write_plan_files(tmp_path / "plan", {**FILES, "plan.json": "new\n"})
    assert (out / "plan.json").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_recovery_leaves_other_folders_alone(tmp_path):
    from optimizer.io.plan_files import recover_plan_folder

    _plan_folder(tmp_path / "plan", "current\n")
    others = [".planner.ab12cd34", ".plan.old.short", ".other.ab12cd34", "plan2"]
    for name in others:
        (tmp_path / name).mkdir()
    assert recover_plan_folder(tmp_path / "plan") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["plan", *others])
