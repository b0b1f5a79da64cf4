"""The VRPTW reader, the DIMACS evaluation against every stored BKS, and the benchmark."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from cli.bench import expand_instances
from optimizer.io.vrptw import (
    SCALE,
    evaluate,
    gap_pct,
    instance_name,
    read_bks,
    read_instance,
    read_solution,
)

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
pytestmark = pytest.mark.skipif(
    not (BENCHMARKS / "bks.csv").is_file(),
    reason=f"the VRPTW benchmark files are not at {BENCHMARKS} (shared/ beside the clone)",
)
runner = CliRunner()
SOLUTIONS = sorted((BENCHMARKS / "bks_solutions").rglob("*.sol"))


def instance_path(name: str) -> Path:
    """``C101`` -> ``solomon/C101.txt``; ``RC1_4_1`` -> ``homberger/rc1_4_1.txt``."""
    if "_" in name:
        return BENCHMARKS / "homberger" / f"{name.lower()}.txt"
    return BENCHMARKS / "solomon" / f"{name}.txt"


@pytest.fixture(scope="module")
def bks():
    return read_bks(BENCHMARKS / "bks.csv")


def test_solomon_c101_header_depot_and_first_customer():
    c101 = read_instance(BENCHMARKS / "solomon" / "C101.txt")
    assert (c101.name, c101.num_vehicles, c101.capacity, c101.num_customers) == (
        "C101",
        25,
        200,
        100,
    )
    assert (c101.x[0], c101.y[0], c101.due[0]) == (40, 50, 1236)
    assert (c101.x[1], c101.y[1], c101.demand[1], c101.ready[1], c101.due[1]) == (
        45,
        68,
        10,
        912,
        967,
    )
    assert c101.service[1] == 90 and c101.service[0] == 0


def test_homberger_400_file_with_crlf_reads_with_its_bks_name():
    rc = read_instance(BENCHMARKS / "homberger" / "rc1_4_1.txt")
    assert rc.name == "RC1_4_1" == instance_name(Path("rc1_4_1.txt"))
    assert rc.num_customers == 400 and rc.num_vehicles == 100
    assert (rc.x[0], rc.y[0], rc.due[0]) == (100, 100, 765)
    assert (rc.x[1], rc.y[1], rc.demand[1], rc.service[1]) == (134, 6, 20, 10)


def test_distance_is_euclidean_times_ten_truncated():
    c101 = read_instance(BENCHMARKS / "solomon" / "C101.txt")
    dist = c101.distance_x10()
    # Depot (40, 50) to customer 1 (45, 68): sqrt(25 + 324) = 18.681... -> 186.
    assert dist[0, 1] == 186
    exact = np.floor(SCALE * np.hypot(c101.x[:, None] - c101.x, c101.y[:, None] - c101.y) + 1e-9)
    assert np.array_equal(dist, exact.astype(np.int64))
    assert np.array_equal(dist, dist.T) and not dist.diagonal().any()


def test_bks_table_has_a_dimacs_row_for_every_solomon_and_gh_instance(bks):
    assert len(bks) == 356
    assert bks["C101"].distance == 827.3 and bks["C101"].vehicles == 10
    assert bks["RC1_4_1"].distance == 8522.9


@pytest.mark.parametrize("sol", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_stored_bks_route_file_is_feasible_at_its_published_cost(sol, bks):
    routes, cost = read_solution(sol)
    instance = read_instance(instance_path(sol.stem))
    result = evaluate(instance, routes)
    assert result.violations == []
    assert result.distance_x10 == round(cost * SCALE)
    assert result.distance == pytest.approx(bks[sol.stem].distance)
    assert result.vehicles == bks[sol.stem].vehicles


def test_the_evaluation_finds_late_overloaded_and_missing_customers():
    c101 = read_instance(BENCHMARKS / "solomon" / "C101.txt")
    routes, _ = read_solution(BENCHMARKS / "bks_solutions" / "solomon" / "C101.sol")
    reversed_first = [routes[0][::-1], *routes[1:]]
    assert any("due" in v for v in evaluate(c101, reversed_first).violations)
    merged = [routes[0] + routes[1], *routes[2:]]
    assert any("capacity" in v for v in evaluate(c101, merged).violations)
    assert any("not visited" in v for v in evaluate(c101, routes[1:]).violations)
    assert any("more than once" in v for v in evaluate(c101, [*routes, routes[0]]).violations)


def test_gap_is_in_percent_of_the_bks():
    assert gap_pct(101.0, 100.0) == pytest.approx(1.0)


def test_bench_on_one_solomon_instance_is_feasible_with_a_plausible_gap():
    result = runner.invoke(
        app,
        [
            "bench",
            "vrptw",
            "--instances",
            str(BENCHMARKS / "solomon" / "R101.txt"),
            "--time-limit",
            "1.5",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    (r101,) = figures["instances"]
    assert set(r101) == {
        "name",
        "feasible",
        "vehicles",
        "distance",
        "gap_pct",
        "solve_s",
        "peak_rss_mb",
    }
    assert r101["name"] == "R101" and r101["feasible"] and figures["all_feasible"]
    assert 0 <= r101["gap_pct"] < 10 and figures["mean_gap_pct"] == r101["gap_pct"]
    assert r101["solve_s"] < 5 and r101["peak_rss_mb"] > 0


def test_bench_instances_take_globs_and_comma_separated_lists_once_each():
    solomon = BENCHMARKS / "solomon"
    paths = expand_instances([f"{solomon}/C10[12].txt,{solomon}/R101.txt", f"{solomon}/C101.txt"])
    assert [p.name for p in paths] == ["C101.txt", "C102.txt", "R101.txt"]
    with pytest.raises(ValueError, match="matches no file"):
        expand_instances([f"{solomon}/X*.txt"])
