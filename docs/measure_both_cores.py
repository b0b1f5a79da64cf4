"""What the second core buys the joint solve (the figures of docs/both-cores.md).

Plans a scenario folder once with the given workers and time limit, checks the plan,
and prints one JSON line: cost, orders unassigned, objective (cost + 1,000 EUR per
unassigned order), checker verdict, wall time, the load average when it started, and
the two plans the day compared (joint routes and per-node routes: orders left out,
route + handling cost; ``joint_won``). ``--detour 1.3`` sets every mode's detour factor
(the peers' day is measured so, see /work/shared/benchmarks/domain/README.md).

    PYTHONPATH=. python docs/measure_both_cores.py data/paris --workers 2 --time-limit 30
    PYTHONPATH=. python docs/measure_both_cores.py \
        /work/shared/benchmarks/domain/paris-peers-600 --detour 1.3 --workers 1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

import optimizer.planning.joint as joint_mode
from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import Mode
from optimizer.planning import PlanParams, plan_day
from optimizer.travel import GreatCircle

UNSERVED_EUR = 1000.0  # the peers' objective: cost + 1,000 EUR per unserved order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--detour", type=float, default=None)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    travel = GreatCircle({m: args.detour for m in Mode}) if args.detour else None
    compared = _record_comparison()
    load = os.getloadavg()
    started = time.perf_counter()
    plan = plan_day(scenario, PlanParams(args.time_limit, workers=args.workers), travel=travel)
    wall_s = time.perf_counter() - started
    kpis = plan_kpis(scenario, plan)
    document = json.loads(to_json(plan_to_dict(scenario, plan, kpis)))
    report = check_plan(scenario, document, travel)
    line = {
        "day": os.path.basename(os.path.normpath(args.scenario)),
        "workers": args.workers,
        "time_limit_s": args.time_limit,
        "cost_eur": kpis["cost_eur"],
        "unassigned": kpis["orders_unassigned"],
        "objective_eur": round(kpis["cost_eur"] + UNSERVED_EUR * kpis["orders_unassigned"], 1),
        "checker_ok": report.ok,
        "wall_s": round(wall_s, 1),
        "load_avg": [round(x, 2) for x in load],
        **compared,
    }
    print(json.dumps(line))


def _record_comparison() -> dict:
    """Wrap the joint mode's comparison so the two plans' figures are recorded."""
    seen: dict = {}
    better = joint_mode._better

    def recording(scenario, joint, per_node):
        seen["joint"] = [len(joint[1].dropped), round(_routes_eur(scenario, [joint]), 1)]
        dropped = sum(len(result.dropped) for _, result in per_node)
        seen["per_node"] = [dropped, round(_routes_eur(scenario, per_node), 1)]
        seen["joint_won"] = better(scenario, joint, per_node)
        return seen["joint_won"]

    joint_mode._better = recording
    return seen


def _routes_eur(scenario, pairs) -> float:
    """Route + handling cost of routing results, orders left out aside."""
    return joint_mode._objective(scenario, [(b, replace(r, dropped=[])) for b, r in pairs])


if __name__ == "__main__":
    main()
