"""What time of day costs, on a scenario folder (the figures of docs/time-of-day.md).

Plans the day twice, with free-flow travel and with a time-of-day profile, and checks
both under the profile: cost, km, vehicles and service of each, and how many routes of
the free-flow plan break (checker violations) once driven at the hours' speeds.

    PYTHONPATH=. python docs/measure_time_of_day.py data/paris --profile default \
        --time-limit 15 --workers 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import Counter

from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import Mode, Scenario
from optimizer.planning import PlanParams, plan_day
from optimizer.travel import DEFAULT, SpeedProfile

PROFILES = {
    "default": DEFAULT,
    # A harder day than the default: vans x1.6 in both peaks, bikes x1.1.
    "strong": SpeedProfile.from_hours(
        {
            Mode.VAN: {(7, 10): 1.6, (16, 20): 1.6},
            Mode.CARGO_BIKE: {(7, 10): 1.1, (16, 20): 1.1},
            Mode.CARGO_TRIKE: {(7, 10): 1.15, (16, 20): 1.15},
        }
    ),
}


def with_profile(scenario: Scenario, speed: SpeedProfile) -> Scenario:
    hours = {mode: factors.factors for mode, factors in speed.by_mode.items()}
    travel = dataclasses.replace(scenario.settings.travel, time_of_day=hours)
    return dataclasses.replace(
        scenario, settings=dataclasses.replace(scenario.settings, travel=travel)
    )


def planned(scenario: Scenario, params: PlanParams) -> tuple[dict, float]:
    started = time.perf_counter()
    plan = plan_day(scenario, params)
    seconds = time.perf_counter() - started
    return json.loads(to_json(plan_to_dict(scenario, plan, plan_kpis(scenario, plan)))), seconds


def figures(document: dict, seconds: float) -> dict:
    k = document["kpis"]
    routes = document["routes"]
    return {
        "cost_eur": k["cost_eur"],
        "km": round(sum(k["distance_km_by_mode"].values()), 1),
        "km_by_mode": k["distance_km_by_mode"],
        "vehicles": len({r["vehicle_id"] for r in routes}),
        "routes": len(routes),
        "orders_routed": k["orders_routed"],
        "orders_unassigned": k["orders_unassigned"],
        "served_deliverable_pct": k["served_deliverable_pct"],
        "on_time_pct": k["on_time_pct"],
        "plan_s": round(seconds, 1),
    }


def broken(report, document: dict) -> dict:
    codes = Counter(v.code for v in report.violations)
    vehicles = {v.vehicle_id for v in report.violations if v.vehicle_id}
    return {
        "violations": sum(codes.values()),
        "by_code": dict(sorted(codes.items())),
        "routes_broken": sum(1 for r in document["routes"] if r["vehicle_id"] in vehicles),
        "routes": len(document["routes"]),
        "stops_late": codes.get("late_stop", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--time-limit", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    free = load_scenario(args.folder)
    timed = with_profile(free, PROFILES[args.profile])
    params = PlanParams(time_limit_s=args.time_limit, workers=args.workers)
    free_doc, free_s = planned(free, params)
    timed_doc, timed_s = planned(timed, params)
    out = {
        "profile": args.profile,
        "free_flow_plan": figures(free_doc, free_s),
        "time_of_day_plan": figures(timed_doc, timed_s),
        "free_flow_plan_checked_free_flow": broken(check_plan(free, free_doc), free_doc),
        "free_flow_plan_checked_with_profile": broken(check_plan(timed, free_doc), free_doc),
        "time_of_day_plan_checked_with_profile": broken(check_plan(timed, timed_doc), timed_doc),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
