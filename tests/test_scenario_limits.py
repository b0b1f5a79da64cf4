"""A scenario beyond the planner's documented size is refused before it is parsed, with
the file and the limit (issue 13, item 14); a 50,000-order day (the scale-out bench's)
stays within it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data.generator import generate, write
from optimizer.io import ScenarioError, load_scenario
from optimizer.io import scenario_reader as reader

ROOT = Path(__file__).resolve().parents[1]
PARIS = ROOT / "data" / "paris"


def _paris(tmp_path: Path) -> Path:
    folder = tmp_path / "day"
    shutil.copytree(PARIS, folder)
    return folder


def test_orders_beyond_the_limit_are_refused_with_file_and_limit(tmp_path, monkeypatch):
    folder = _paris(tmp_path)
    rows = sum(1 for _ in (folder / "orders.csv").open()) - 1
    monkeypatch.setitem(reader.MAX_ROWS_BY_FILE, "orders.csv", rows - 1)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(folder)
    (problem,) = [p for p in caught.value.problems if p.file == "orders.csv"]
    assert f"{rows:,} rows" in problem.message and f"limit of {rows - 1:,}" in problem.message
    monkeypatch.setitem(reader.MAX_ROWS_BY_FILE, "orders.csv", rows)
    assert len(load_scenario(folder).orders) == rows


def test_any_table_beyond_its_rows_is_refused(tmp_path, monkeypatch):
    folder = _paris(tmp_path)
    monkeypatch.setattr(reader, "MAX_TABLE_ROWS", 10)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(folder)
    refused = {p.file for p in caught.value.problems if "beyond the planner's limit" in p.message}
    assert {"order_lines.csv", "stock.csv", "fleet.csv"} <= refused
    assert "orders.csv" not in refused  # its own limit


def test_a_file_beyond_the_byte_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    folder = _paris(tmp_path)
    size = (folder / "orders.csv").stat().st_size
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", size - 1)
    read = []
    real_read_text = Path.read_text

    def spy(self, *args, **kwargs):
        read.append(self.name)
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(folder)
    (problem,) = [p for p in caught.value.problems if p.file == "orders.csv"]
    assert "MiB" in problem.message and "limit" in problem.message
    assert "orders.csv" not in read


def test_lastmile_plan_refuses_a_200_mb_orders_file_at_once(tmp_path):
    folder = _paris(tmp_path)
    with (folder / "orders.csv").open("r+b") as f:  # sparse: 200 MB on disk costs nothing
        f.truncate(200 * 1024 * 1024)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "plan", str(folder), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    assert "orders.csv" in done.stderr and "32 MiB" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_50000_order_day_is_within_the_limits_and_loads(tmp_path):
    folder = tmp_path / "g50k"
    write(generate(50_000, 1), folder)
    assert len(load_scenario(folder).orders) == 50_000
    # With room to spare: twice the bench's day still fits.
    orders_bytes = (folder / "orders.csv").stat().st_size
    assert 2 * orders_bytes < reader.MAX_FILE_BYTES
    lines = sum(1 for _ in (folder / "order_lines.csv").open())
    assert 2 * lines < reader.MAX_TABLE_ROWS
