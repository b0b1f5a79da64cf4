"""Routing quality against the literature: Solomon and Gehring-Homberger VRPTW.

Each instance becomes a :class:`RoutingProblem` in the DIMACS convention (distance =
travel time = Euclidean truncated to one decimal, as integers x10; the instance's
vehicles; every customer served, or a huge penalty; total distance the only cost), is
solved by one of lastmile's engines, and its routes are re-evaluated by the
independent DIMACS evaluation of :mod:`optimizer.io.vrptw`, not by the engine's own
objective. Every instance runs in a fresh process, so its peak memory is its own.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from optimizer.io.vrptw import (
    SCALE,
    VrptwInstance,
    evaluate,
    gap_pct,
    read_bks,
    read_instance,
)
from optimizer.processes import worker_pool
from optimizer.routing import ENGINES, RoutingProblem

# Each unit x10 of distance is priced like a metre at 1 EUR/km: the objective is the
# distance alone. An unserved customer costs ten times a route through every arc's
# worst case, so no engine ever finds it cheaper to leave one out.
COST_PER_UNIT_EUR = 0.001
UNSERVED_FACTOR = 10


@dataclass
class InstanceResult:
    """One instance solved and re-evaluated; distances in the instance's unit."""

    name: str
    feasible: bool
    vehicles: int
    distance: float
    gap_pct: float | None  # None when there is no DIMACS BKS for the instance
    solve_s: float
    peak_rss_mb: float


@dataclass
class BenchResult:
    engine: str
    time_limit_s: float
    instances: list[InstanceResult] = field(default_factory=list)

    @property
    def mean_gap_pct(self) -> float | None:
        gaps = [r.gap_pct for r in self.instances if r.gap_pct is not None]
        return sum(gaps) / len(gaps) if gaps else None

    @property
    def all_feasible(self) -> bool:
        return all(r.feasible for r in self.instances)

    def to_dict(self) -> dict:
        return {
            "engine": self.engine,
            "time_limit_s": self.time_limit_s,
            "instances": [asdict(r) for r in self.instances],
            "mean_gap_pct": self.mean_gap_pct,
            "all_feasible": self.all_feasible,
        }


def vrptw_problem(instance: VrptwInstance) -> RoutingProblem:
    """The instance as a lastmile routing problem, DIMACS convention, integers x10."""
    dist = instance.distance_x10()
    n, v = instance.num_customers, instance.num_vehicles
    ready, due = instance.ready * SCALE, instance.due * SCALE
    longest_route = int(dist.max()) * (n + 2)
    return RoutingProblem(
        distance_m=[dist],
        duration_s=[dist],
        vehicle_profile=np.zeros(v, np.int64),
        vehicle_start_location=np.zeros(v, np.int64),
        vehicle_earliest_start_s=np.full(v, ready[0], np.int64),
        vehicle_latest_start_s=np.full(v, due[0], np.int64),
        vehicle_latest_end_s=np.full(v, due[0], np.int64),
        vehicle_capacity=np.full((v, 1), instance.capacity, np.int64),
        vehicle_max_distance_m=np.full(v, longest_route, np.int64),
        vehicle_fixed_cost_eur=np.zeros(v),
        vehicle_cost_per_m_eur=np.full(v, COST_PER_UNIT_EUR),
        vehicle_cost_per_s_eur=np.zeros(v),
        stop_location=np.arange(1, n + 1, dtype=np.int64),
        stop_demand=instance.demand[1:, None].astype(np.int64),
        stop_service_s=instance.service[1:] * SCALE,
        tw_start_s=ready[1:],
        tw_end_s=due[1:],
        allowed=np.ones((n, v), bool),
        penalty_eur=np.full(n, UNSERVED_FACTOR * COST_PER_UNIT_EUR * longest_route),
    )


def solve_instance(
    path: Path, engine: str, time_limit_s: float, bks_distance: float | None
) -> InstanceResult:
    """Read, solve and re-evaluate one instance (meant to run in its own process)."""
    instance = read_instance(path)
    problem = vrptw_problem(instance)
    started = time.perf_counter()
    result = ENGINES[engine]().solve(problem, time_limit_s)
    solve_s = time.perf_counter() - started
    # Stop i is customer i + 1.
    routes = [[i + 1 for i in r.stops] for r in result.routes]
    evaluation = evaluate(instance, routes, problem.distance_m[0])
    gap = None
    if bks_distance is not None and evaluation.feasible:
        gap = gap_pct(evaluation.distance, bks_distance)
    return InstanceResult(
        name=instance.name,
        feasible=evaluation.feasible,
        vehicles=evaluation.vehicles,
        distance=evaluation.distance,
        gap_pct=gap,
        solve_s=round(solve_s, 3),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


def find_bks(path: Path) -> Path | None:
    """``bks.csv`` beside the instance's folder (``benchmarks/solomon/x.txt`` ->
    ``benchmarks/bks.csv``) or in it."""
    for folder in (path.parent.parent, path.parent):
        if (folder / "bks.csv").is_file():
            return folder / "bks.csv"
    return None


def run(
    paths: list[Path],
    engine: str,
    time_limit_s: float,
    workers: int = 1,
    bks_csv: Path | None = None,
    on_done: Callable[[InstanceResult], None] | None = None,
) -> BenchResult:
    """Solve every instance, each in a fresh process, ``workers`` at a time.

    The gap is to the ``dimacs`` row of ``bks_csv`` (default: the ``bks.csv`` found
    beside the instances). Results come back in the order of ``paths``.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} not understood; one of {sorted(ENGINES)}.")
    if time_limit_s <= 0:
        raise ValueError("time_limit_s <= 0 not understood.")
    if workers < 1:
        raise ValueError("workers < 1 not understood.")
    tables: dict[Path, dict] = {}
    bks = []
    for path in paths:
        table_path = bks_csv or find_bks(path)
        if table_path is not None and table_path not in tables:
            tables[table_path] = read_bks(table_path)
        row = tables.get(table_path, {}).get(path.stem.upper()) if table_path else None
        bks.append(row.distance if row else None)
    out = BenchResult(engine=engine, time_limit_s=time_limit_s)
    context = multiprocessing.get_context("spawn")
    with worker_pool(workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [
            pool.submit(solve_instance, path, engine, time_limit_s, b)
            for path, b in zip(paths, bks, strict=True)
        ]
        for future in futures:
            out.instances.append(future.result())
            if on_done:
                on_done(out.instances[-1])
    return out
