"""Replay a day of checkouts through the checkout service, then plan the day and see
whether every promise was kept.

A seeded stream of baskets arrives in time order; each customer asks for a promise,
picks one of the offered options (the recommended one half of the time), holds it and
confirms. The day is then planned with the confirmed orders shipping from the node they
were promised from, and the checker verifies the plan. A promise is kept when the order
is delivered inside its promised slot, or ready at its store, in that plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from api.checkout_service import CheckoutError, CheckoutService
from optimizer.check import check_plan
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import OrderLine, Scenario, Service
from optimizer.planning import PlanParams, plan_day


@dataclass
class ReplayResult:
    baskets: int
    offered: int  # baskets that got at least one option
    confirmed: int
    conflicts: int  # holds refused because stock or place went meanwhile
    kept: int
    promise_kept_pct: float
    checker_ok: bool
    violations: list[str]
    plan_solve_s: float


def checkout_stream(
    scenario: Scenario, n: int, seed: int, start_s: int = 6 * 3600, end_s: int = 12 * 3600
):
    """``n`` baskets at addresses like the day's customers, arriving in time order."""
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.integers(start_s, end_s, n))
    for k in range(n):
        like = scenario.orders[int(rng.integers(len(scenario.orders)))]
        lat = like.lat + float(rng.normal(0, 0.003))
        lon = like.lon + float(rng.normal(0, 0.004))
        yield int(arrivals[k]), list(like.lines), lat, lon, rng


def replay_day(
    service: CheckoutService, n: int = 150, seed: int = 1, plan_time_limit_s: float = 30.0
) -> ReplayResult:
    sc = service.scenario
    offered = confirmed = conflicts = 0
    promised: dict[str, dict] = {}
    for at_s, lines, lat, lon, rng in checkout_stream(sc, n, seed):
        now = sc.settings.to_datetime(at_s)
        quote = service.promise(lines, lat, lon, now)
        if not quote.options:
            continue
        offered += 1
        recommended = [o for o in quote.options if o.get("recommended")]
        pool = recommended if recommended and rng.random() < 0.5 else quote.options
        option = pool[int(rng.integers(len(pool)))]
        try:
            hold = service.hold(option["option_id"], now)
        except CheckoutError:
            conflicts += 1
            continue
        order = service.confirm(hold["hold_id"], now)
        promised[order["order_id"]] = option
        confirmed += 1

    day = replace(sc, orders=sc.orders + service.confirmed_orders())
    plan = plan_day(day, PlanParams(time_limit_s=plan_time_limit_s))
    document = json.loads(to_json(plan_to_dict(day, plan, plan_kpis(day, plan))))
    report = check_plan(day, document)
    kept = _kept(day, plan, promised)
    return ReplayResult(
        baskets=n,
        offered=offered,
        confirmed=confirmed,
        conflicts=conflicts,
        kept=kept,
        promise_kept_pct=round(100.0 * kept / confirmed, 2) if confirmed else 100.0,
        checker_ok=report.ok,
        violations=[v.message for v in report.violations[:20]],
        plan_solve_s=round(plan.solve_s, 2),
    )


def _kept(day: Scenario, plan, promised: dict[str, dict]) -> int:
    to_s = day.settings.to_seconds
    served = {}
    for route in plan.routes:
        for stop in route.stops:
            served[stop.order_id] = ("route", route.node_id, stop.service_start_s)
    for c in plan.collections:
        served[c.order_id] = ("collect", c.node_id, c.ready_by_s)
    kept = 0
    for order_id, option in promised.items():
        got = served.get(order_id)
        if got is None or got[1] != option["node_id"]:
            continue
        if option["service"] == Service.CLICK_COLLECT:
            kept += got[0] == "collect" and got[2] <= to_s(_dt(option["ready_by"]))
        else:
            start, end = to_s(_dt(option["slot_start"])), to_s(_dt(option["slot_end"]))
            kept += got[0] == "route" and start <= got[2] <= end
    return kept


def _dt(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def basket_lines(lines: list[OrderLine]) -> list[dict]:
    return [{"sku": x.sku, "qty": x.qty} for x in lines]
