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
