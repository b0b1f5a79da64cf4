"""The command line as a planner uses it: plan, check, generate, and bad input."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
PARIS = Path(__file__).resolve().parent.parent / "data" / "paris"


@pytest.fixture(scope="module")
def small_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("day") / "paris-80"
    result = runner.invoke(app, ["generate", "--orders", "80", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def planned(small_day, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "plan"
    result = runner.invoke(app, ["plan", str(small_day), "--out", str(out), "--time-limit", "3"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_plan_writes_the_four_files_and_prints_kpis(planned):
    out, output = planned
    assert sorted(p.name for p in out.iterdir()) == [
        "kpis.json", "map.html", "plan.json", "routes.geojson",
    ]  # fmt: skip
    kpis = json.loads((out / "kpis.json").read_text())
    for key in ("orders_total", "orders_routed", "orders_collected", "orders_unassigned",
                "on_time_pct", "distance_km_by_mode", "cost_eur", "co2_g", "vehicles_used",
                "solve_s"):  # fmt: skip
        assert key in kpis
    assert kpis["orders_total"] == 80
    assert "checker: no violation" in output
    geo = json.loads((out / "routes.geojson").read_text())
    assert {f["properties"]["kind"] for f in geo["features"]} >= {"node", "route", "stop"}
    assert "leaflet" in (out / "map.html").read_text().lower()


def test_check_passes_the_plan_and_prints_kpis_as_json(small_day, planned):
    out, _ = planned
    result = runner.invoke(app, ["check", str(small_day), str(out / "plan.json"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["checker_ok"] is True and report["violations"] == []
    assert report["orders_total"] == 80


def test_check_prints_the_kpis_table_with_the_returns(small_day, planned):
    out, _ = planned
    result = runner.invoke(app, ["check", str(small_day), str(out / "plan.json")])
    assert result.exit_code == 0, result.output
    assert "returns picked up / unassigned" in result.output and "of 4" in result.output


def test_check_fails_with_a_list_on_a_tampered_plan(small_day, planned, tmp_path):
    out, _ = planned
    document = json.loads((out / "plan.json").read_text())
    route = next(r for r in document["routes"] if r["stops"])
    route["stops"].pop(0)
    tampered = tmp_path / "plan.json"
    tampered.write_text(json.dumps(document))
    result = runner.invoke(app, ["check", str(small_day), str(tampered)])
    assert result.exit_code == 1
    assert "order_missing" in result.output


def test_check_refuses_a_file_that_is_not_json(small_day, tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["check", str(small_day), str(bad)])
    assert result.exit_code == 2
    assert "not a readable JSON plan" in result.output
    assert "Traceback" not in result.output


def test_a_broken_scenario_lists_every_problem_and_exits_2(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(PARIS, broken)
    orders = (broken / "orders.csv").read_text().splitlines()
    header = orders[0].split(",")
    row = orders[1].split(",")
    row[header.index("lat")] = "123.4"
    orders[1] = ",".join(row)
    (broken / "orders.csv").write_text("\n".join(orders) + "\n")
    (broken / "stock.csv").write_text((broken / "stock.csv").read_text() + "NOPE,SKU-X,-1\n")
    result = runner.invoke(app, ["plan", str(broken), "--out", str(tmp_path / "plan")])
    assert result.exit_code == 2
    assert "orders.csv, line 2, column lat" in result.output
    assert "stock.csv" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "plan").exists()  # nothing half-written


@pytest.mark.parametrize("name", ["nowhere", "x" * 300])
def test_a_missing_or_unreadable_scenario_folder_is_a_clear_error(tmp_path, name):
    result = runner.invoke(app, ["plan", str(tmp_path / name)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "error" in result.output


def test_an_interrupt_before_writing_leaves_the_previous_plan(
    small_day, planned, tmp_path, monkeypatch
):
    out, _ = planned
    previous = tmp_path / "plan"
    shutil.copytree(out, previous)
    before = (previous / "plan.json").read_text()

    import optimizer.workflows.plan as workflow  # draws the map, before the files are written

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workflow, "plan_map", interrupted)
    result = runner.invoke(
        app, ["plan", str(small_day), "--out", str(previous), "--time-limit", "1"]
    )
    assert result.exit_code != 0
    assert (previous / "plan.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no staging folder left


def test_plan_refuses_to_overwrite_a_folder_of_other_files(small_day, tmp_path):
    (tmp_path / "thesis.docx").write_text("precious")
    result = runner.invoke(
        app, ["plan", str(small_day), "--out", str(tmp_path), "--time-limit", "1"]
    )
    assert result.exit_code == 2
    assert (tmp_path / "thesis.docx").read_text() == "precious"


def test_generate_is_deterministic(tmp_path):
    for name in ("a", "b"):
        result = runner.invoke(
            app, ["generate", "--orders", "50", "--seed", "9", "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()


def test_plan_splits_baskets_of_a_scarce_day_unless_max_split_is_one(tmp_path):
    day = tmp_path / "scarce"
    result = runner.invoke(
        app,
        ["generate", "--orders", "120", "--seed", "3", "--stock-scale", "0.2", "--out", str(day)],
    )
    assert result.exit_code == 0, result.output
    plans = {}
    for max_split in ("1", "2"):
        out = tmp_path / f"plan-{max_split}"
        args = ["plan", str(day), "--out", str(out), "--time-limit", "2", "--max-split", max_split]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output  # the checker passed it
        plans[max_split] = json.loads((out / "plan.json").read_text())
    one, two = plans["1"], plans["2"]
    assert (one["max_split"], two["max_split"]) == (1, 2)
    assert one["kpis"]["orders_split"] == 0 and two["kpis"]["orders_split"] > 0
    served = {
        k: p["kpis"]["orders_routed"] + p["kpis"]["orders_collected"] for k, p in plans.items()
    }
    assert served["2"] > served["1"]


# -- generate never overwrites by accident (issue 13, item 17) ---------------------------


def test_generate_refuses_an_existing_file(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    result = runner.invoke(app, ["generate", "--orders", "5", "--out", str(target)])
    assert result.exit_code == 2  # a clear error, not a traceback
    assert "exists and is not a folder" in result.output
    assert target.read_text() == "mine\n"
    forced = runner.invoke(app, ["generate", "--orders", "5", "--force", "--out", str(target)])
    assert forced.exit_code == 2 and target.read_text() == "mine\n"


def test_generate_refuses_an_existing_folder_unless_forced(tmp_path):
    day = tmp_path / "day"
    first = runner.invoke(app, ["generate", "--orders", "20", "--out", str(day)])
    assert first.exit_code == 0, first.output
    (day / "service_times.csv").write_text("stale\n")
    before = (day / "orders.csv").read_text()
    again = runner.invoke(app, ["generate", "--orders", "30", "--out", str(day)])
    assert again.exit_code == 2
    assert "exists and is not empty" in again.output and "--force" in again.output
    assert (day / "orders.csv").read_text() == before
    forced = runner.invoke(app, ["generate", "--orders", "30", "--force", "--out", str(day)])
    assert forced.exit_code == 0, forced.output
    assert (day / "orders.csv").read_text() != before
    assert not (day / "service_times.csv").exists()  # nothing of the old day mixes in
    (tmp_path / "empty").mkdir()
    into_empty = runner.invoke(app, ["generate", "--orders", "5", "--out", str(tmp_path / "empty")])
    assert into_empty.exit_code == 0


def test_generate_force_keeps_files_of_no_scenario(tmp_path):
    day = tmp_path / "day"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "paris", day)
    result = runner.invoke(app, ["generate", "--orders", "10", "--force", "--out", str(day)])
    assert result.exit_code == 0, result.output
    assert (day / "README.md").exists()


def test_an_integer_beyond_64_bits_in_stock_or_order_lines_is_a_clear_error(tmp_path):
    """Issue 13, item 7: numpy's int64 overflowed with a traceback; the reader bounds
    every number, all problems at once."""
    broken = tmp_path / "broken"
    shutil.copytree(PARIS, broken)
    for name in ("stock.csv", "order_lines.csv"):
        lines = (broken / name).read_text().splitlines()
        row = lines[1].split(",")
        row[lines[0].split(",").index("qty")] = str(2**63)
        lines[1] = ",".join(row)
        (broken / name).write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["plan", str(broken), "--out", str(tmp_path / "plan")])
    assert result.exit_code == 2, result.output
    assert "stock.csv, line 2, column qty: too large: 9223372036854775808" in result.output
    assert "order_lines.csv, line 2, column qty: too large" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "plan").exists()


def test_lastmile_lists_every_command_and_group():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    for name in ("plan", "check", "generate", "design", "serve", "simulate", "bench", "report",
                 "keys"):  # fmt: skip
        assert f" {name} " in result.output, name
    bench = runner.invoke(app, ["bench", "--help"], env={"COLUMNS": "120"})
    for name in ("vrptw", "sourcing", "scale", "promise", "domain"):
        assert f" {name} " in bench.output, name
