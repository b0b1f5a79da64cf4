"""``lastmile bench sourcing``: route-aware node choice against the rules an order
management system applies, on the same days with the same routing time.

Policies: ``route_aware`` (lastmile: cheapest insertion into every node's routes as they
are built, then the better of per-node routing and joint routing with alternative
origins), ``nearest`` (nearest node with the stock) and ``cheapest_handling`` (lowest
handling cost with the stock), the last two routed per node by the same engine.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from optimizer.io import load_scenario
from optimizer.model import Scenario
from optimizer.planning import PlanParams, plan_day
from optimizer.sourcing import SourcingParams
from optimizer.workflows.plan import checked

POLICIES = ("route_aware", "nearest", "cheapest_handling")


def measure(scenario: Scenario, policy: str, time_limit_s: float, engine: str) -> dict:
    params = PlanParams(
        time_limit_s=time_limit_s,
        engine=engine,
        sourcing=SourcingParams(policy=policy),
        joint=policy == "route_aware",
    )
    started = time.perf_counter()
    plan = plan_day(scenario, params)
    wall = time.perf_counter() - started
    run = checked(scenario, plan)
    kpis, report = run.kpis, run.report
    return {
        "cost_eur": round(kpis["cost_eur"], 2),
        "distance_km": round(sum(kpis["distance_km_by_mode"].values()), 1),
        "co2_g": round(kpis["co2_g"], 1),
        "vehicles": kpis["vehicles_used"],
        "served": kpis["orders_routed"] + kpis["orders_collected"],
        "checker_ok": report.ok,
        "wall_s": round(wall, 1),
    }


def run(
    paris: Path,
    big_orders: int,
    seed: int,
    time_limit_s: float,
    engine: str,
    progress=lambda message: None,
) -> dict:
    from data.generator import generate, write

    days = []
    with tempfile.TemporaryDirectory() as tmp:
        write(generate(big_orders, seed), Path(tmp))
        for name, folder in (("paris", paris), (f"paris-{big_orders}-s{seed}", Path(tmp))):
            scenario = load_scenario(folder)
            policies = {}
            for policy in POLICIES:
                progress(f"{name}: {policy}")
                policies[policy] = measure(scenario, policy, time_limit_s, engine)
            days.append({"name": name, "orders": len(scenario.orders), "policies": policies})
    return {"time_limit_s": time_limit_s, "engine": engine, "days": days}
