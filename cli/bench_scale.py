"""``lastmile bench scale``: decomposed planning of big generated days on dask.

For each size, a seeded Paris day is generated (the network grows with the day, see
:func:`data.generator.network`), then planned by :mod:`optimizer.scale` on a fresh
``LocalCluster`` of 1, 2, ... workers (or on an existing cluster). Each run reports the
wall time of planning (decomposition, parts, merge; not the cluster's start), the peak
resident memory of the whole process tree (this process and every dask worker,
sampled), what was served, whether the independent checker passes, the cost, the parts
(and the sectors of nodes cut between parts) and what the boundary repair retried and
served.

The decomposition penalty: on the smallest day, the monolithic ``plan_day`` against the
decomposed plan with the same routing time (the parts' routing seconds, the repair's
included, summed and spread over as many processes as there are workers).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from optimizer.io import load_scenario
from optimizer.model import Plan, Scenario
from optimizer.planning import PlanParams, plan_day
from optimizer.scale import ScaleParams
from optimizer.scale.distributed import cluster_client, plan_decomposed
from optimizer.scale.memory import PeakRss
from optimizer.workflows.plan import checked


def figures(scenario: Scenario, plan: Plan) -> dict:
    """Served, checker verdict and cost of a plan, the checker working on plan.json."""
    run = checked(scenario, plan)
    kpis, report = run.kpis, run.report
    return {
        "served": kpis["orders_routed"] + kpis["orders_collected"],
        "unassigned": kpis["orders_unassigned"],
        "checker_ok": report.ok,
        "violations": len(report.violations),
        "cost_eur": round(kpis["cost_eur"], 2),
        "vehicles": kpis["vehicles_used"],
    }


def run(
    sizes: list[int],
    workers: list[int],
    seed: int,
    scale: ScaleParams,
    engine: str = "pyvrp",
    scheduler: str | None = None,
    penalty: bool = True,
    progress: Callable[[str], None] = lambda message: None,
) -> dict:
    """Every (size, workers) run, and the penalty on the smallest size."""
    from data.generator import generate, write

    params = PlanParams(engine=engine)
    runs = []
    penalty_figures = None
    for orders in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            progress(f"{orders} orders: generating")
            write(generate(orders, seed), Path(tmp))
            scenario = load_scenario(Path(tmp))
        for n in workers:
            progress(f"{orders} orders, {n} workers: planning")
            with PeakRss() as rss, cluster_client(n, scheduler) as client:
                started = time.perf_counter()
                plan, decomposition = plan_decomposed(scenario, client, params, scale)
                wall = time.perf_counter() - started
            done = [*decomposition.parts, *filter(None, [decomposition.repair])]
            routing_s = sum(scale.time_limit_s(p.routed_orders) for p in done)
            run_figures = {
                "orders": orders,
                "workers": n,
                "wall_s": round(wall, 1),
                "peak_rss_mb": round(rss.mb, 1),
                **figures(scenario, plan),
                "parts": len(decomposition.parts),
                "largest_part_orders": max(p.orders for p in decomposition.parts),
                "routing_s_total": round(routing_s, 1),
                "sectors": sum(p.sector is not None for p in decomposition.parts),
                "repair_retried": decomposition.repair.orders if decomposition.repair else 0,
                "repair_served": decomposition.repaired_orders,
            }
            runs.append(run_figures)
            progress(json.dumps(run_figures))
        if penalty and orders == min(sizes):
            n = max(workers)
            progress(f"{orders} orders: monolithic plan for the penalty")
            with PeakRss() as rss:
                started = time.perf_counter()
                mono = plan_day(
                    scenario, PlanParams(engine=engine, workers=n, time_limit_s=routing_s / n)
                )
                wall = time.perf_counter() - started
            mono_figures = {
                "wall_s": round(wall, 1),
                "peak_rss_mb": round(rss.mb, 1),
                "routing_time_limit_s": round(routing_s / n, 1),
                **figures(scenario, mono),
            }
            decomposed = next(r for r in runs if r["orders"] == orders and r["workers"] == n)
            penalty_figures = {
                "orders": orders,
                "workers": n,
                "monolithic": mono_figures,
                "decomposed": {k: decomposed[k] for k in mono_figures if k in decomposed},
                "cost_penalty_pct": _pct(decomposed["cost_eur"], mono_figures["cost_eur"]),
                "served_difference": decomposed["served"] - mono_figures["served"],
            }
    out = {
        "seed": seed,
        "engine": engine,
        "part_orders": scale.part_orders,
        "part_time_limit_s": scale.part_time_limit_s,
        "runs": runs,
    }
    if penalty_figures is not None:
        out["penalty"] = penalty_figures
    return out


def _pct(value: float, reference: float) -> float | None:
    return round(100.0 * (value - reference) / reference, 2) if reference else None
