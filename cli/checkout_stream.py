"""Replay a day of checkouts through the API, then plan the day and see whether every
promise was kept.

A seeded stream of baskets arrives in time order; each customer asks ``POST /v1/promise``,
picks one of the offered options (the recommended one half of the time), holds it and
confirms. The planner then runs the daily plan (``POST /v1/plans``), in which confirmed
orders ship from the node they were promised from, and the service's independent
checker verifies it. A promise is kept when the order is delivered inside its promised
slot, or ready at its store by the promised time, from the promised node.

``client`` is anything with httpx's ``post``/``get``: a ``TestClient`` in the tests, an
``httpx.Client`` against a running server in ``lastmile bench promise``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from optimizer.model import Scenario


@dataclass
class ReplayResult:
    baskets: int
    offered: int  # baskets that got at least one option
    confirmed: int
    conflicts: int  # holds refused because the stock or the place went meanwhile
    kept: int  # of the orders for the day planned
    promise_kept_pct: float
    checker_ok: bool
    plan_status: str
    broken: list[str] = field(default_factory=list)  # promises not kept, and why
    later_days: int = 0  # confirmed for a later day (eco, click & collect): not in this plan


def checkout_stream(
    scenario: Scenario, n: int, seed: int, start_s: int = 6 * 3600, end_s: int = 12 * 3600
):
    """``n`` baskets at addresses near the day's customers, arriving in time order:
    ``(arrival_s, lines, lat, lon, rng)``."""
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.integers(start_s, end_s, n))
    for k in range(n):
        like = scenario.orders[int(rng.integers(len(scenario.orders)))]
        lat = like.lat + float(rng.normal(0, 0.003))
        lon = like.lon + float(rng.normal(0, 0.004))
        yield int(arrivals[k]), list(like.lines), lat, lon, rng


def promise_body(lines, lat: float, lon: float, at: datetime | None = None) -> dict:
    body = {
        "lines": [{"sku": x.sku, "qty": x.qty} for x in lines],
        "address": {"lat": lat, "lon": lon},
    }
    if at is not None:
        body["requested_at"] = at.isoformat()
    return body


def replay_day(
    client,
    scenario: Scenario,
    checkout_headers: dict,
    planner_headers: dict,
    n: int = 150,
    seed: int = 1,
    plan_time_limit_s: float = 30.0,
    plan_timeout_s: float = 600.0,
) -> ReplayResult:
    offered = confirmed = conflicts = 0
    promised: dict[str, dict] = {}
    for at_s, lines, lat, lon, rng in checkout_stream(scenario, n, seed):
        at = scenario.settings.to_datetime(at_s)
        r = client.post(
            "/v1/promise", json=promise_body(lines, lat, lon, at), headers=checkout_headers
        )
        r.raise_for_status()
        options = r.json()["options"]
        if not options:
            continue
        offered += 1
        recommended = [o for o in options if o.get("recommended")]
        pool = recommended if recommended and rng.random() < 0.5 else options
        option = pool[int(rng.integers(len(pool)))]
        hold = client.post(
            "/v1/holds", json={"option_id": option["option_id"]}, headers=checkout_headers
        )
        if hold.status_code == 409:
            conflicts += 1
            continue
        hold.raise_for_status()
        done = client.post(f"/v1/holds/{hold.json()['hold_id']}/confirm", headers=checkout_headers)
        done.raise_for_status()
        promised[done.json()["order_id"]] = option
        confirmed += 1

    job = client.post(
        "/v1/plans", json={"time_limit_s": plan_time_limit_s}, headers=planner_headers
    )
    job.raise_for_status()
    deadline = time.monotonic() + plan_timeout_s
    while True:
        state = client.get(f"/v1/plans/{job.json()['id']}", headers=planner_headers).json()
        if state["status"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    plan = state.get("plan") or {"routes": [], "collections": []}
    today = scenario.settings.date.isoformat()
    later = {k: o for k, o in promised.items() if o.get("service_date", today) != today}
    kept, broken = _kept(plan, {k: o for k, o in promised.items() if k not in later})
    absent = [k for k in later if k in _served(plan)]
    broken += [f"{k}: promised for {later[k]['service_date']}, but in today's plan" for k in absent]
    return ReplayResult(
        baskets=n,
        offered=offered,
        confirmed=confirmed,
        conflicts=conflicts,
        kept=kept,
        promise_kept_pct=(
            round(100.0 * kept / (confirmed - len(later)), 2) if confirmed > len(later) else 100.0
        ),
        checker_ok=bool(state.get("checker_ok")),
        plan_status=state["status"],
        broken=broken,
        later_days=len(later),
    )


def _served(plan: dict) -> dict[str, tuple]:
    served = {}
    for route in plan["routes"]:
        for stop in route["stops"]:
            served[stop["order_id"]] = ("routed", route["node_id"], _at(stop["service_start"]))
    for c in plan["collections"]:
        served[c["order_id"]] = ("collected", c["node_id"], _at(c["ready_by"]))
    return served


def _kept(plan: dict, promised: dict[str, dict]) -> tuple[int, list[str]]:
    served = _served(plan)
    kept, broken = 0, []
    for order_id, option in promised.items():
        how, node_id, when = served.get(order_id, ("unassigned", None, None))
        if option["service"] == "click_collect":
            ok = how == "collected" and when <= _at(option["ready_by"])
        else:
            ok = how == "routed" and _at(option["slot_start"]) <= when <= _at(option["slot_end"])
        ok = ok and node_id == option["node_id"]
        kept += ok
        if not ok:
            broken.append(f"{order_id}: promised {option['service']} from {option['node_id']}, "
                          f"plan has it {how} from {node_id} at {when}")  # fmt: skip
    return kept, broken


def _at(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
