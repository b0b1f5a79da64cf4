"""A return and an exchange booked by API after the day's plan join its re-plan (issue 17,
item 2), over HTTP on SQLite and PostgreSQL: ``POST /v1/returns`` after the plan, then
``POST /v1/plans/{id}/replan`` routes the pickups (the exchange as one visit with its
delivery) or lists them with a reason, the checker passes, and the pickup is tracked."""

from __future__ import annotations

import time

import pytest

from data.generator import generate, write
from optimizer.io import load_scenario
from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed, started_service

CHECKOUT, PLANNER = keyed(CHECKOUT_KEY), keyed(PLANNER_KEY)
DAY = "2026-11-24"  # the generated day's date; its eco slots are 4 h from 08:00


@pytest.fixture(scope="module")
def small_day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replan-returns") / "day"
    write(generate(40, 5), folder)
    return folder


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory, small_day):
    tmp = tmp_path_factory.mktemp(f"replan-returns-{request.param}")
    with started_service(request.param, tmp, scenario=small_day, plan_time_limit_s=1.0) as client:
        yield client


def planned(client, scenario: str) -> dict:
    """A plan job of the served day, done."""
    job = client.post("/v1/plans", json={"scenario": scenario, "time_limit_s": 1},
                      headers=PLANNER)  # fmt: skip
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        result = client.get(f"/v1/plans/{job.json()['id']}", headers=PLANNER).json()
        if result["status"] not in ("queued", "running", "publishing"):
            break
        time.sleep(0.3)
    assert result["status"] == "done", result.get("error")
    return result


def test_returns_booked_after_the_plan_are_routed_by_the_replan(service, small_day):
    sc = load_scenario(small_day)
    delivery = next(
        o for o in sc.orders if o.service.value == "eco" and o.slot_start_s == 12 * 3600
    )
    other = next(o for o in sc.orders if o.order_id != delivery.order_id and not o.collect_node_id)
    plan = planned(service, str(small_day))
    assert not {"RET-LATE", "EXC-LATE"} & {r["return_id"] for r in plan["plan"]["returns"]}

    booked = {
        "RET-LATE": {"order_id": other.order_id, "kind": "return",
                     "lines": [{"sku": other.lines[0].sku, "qty": 1}]},
        # The exchange of an eco order of 12:00-16:00, in its slot: one visit with it.
        "EXC-LATE": {"order_id": delivery.order_id, "kind": "exchange",
                     "lines": [{"sku": delivery.lines[0].sku, "qty": 1}]},
    }  # fmt: skip
    for return_id, body in booked.items():
        r = service.post("/v1/returns", headers=CHECKOUT, json=body | {
            "return_id": return_id, "channel": "web", "slot": f"{DAY}T12:00:00+01:00"})  # fmt: skip
        assert r.status_code == 201, r.text

    # 07:30: no vehicle has left; the pickups join the pool of their end nodes.
    r = service.post(f"/v1/plans/{plan['id']}/replan", headers=PLANNER,
                     json={"now": f"{DAY}T07:30:00+01:00", "time_limit_s": 0.5})  # fmt: skip
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["checker_ok"] is True, out["violations"]
    added = {a["return_id"]: a for a in out["changes"]["returns_added"]}
    assert set(added) == set(booked)
    new = service.get(f"/v1/plans/{out['plan_id']}", headers=PLANNER).json()["plan"]
    rows = {row["return_id"]: row for row in new["returns"]}
    stops = {(s["kind"], s["order_id"]): (route["vehicle_id"], k)
             for route in new["routes"] for k, s in enumerate(route["stops"])}  # fmt: skip
    row = rows["RET-LATE"]
    assert row["status"] == "routed" and added["RET-LATE"]["status"] == "routed"
    assert stops["pickup", "RET-LATE"][0] == row["vehicle_id"] == added["RET-LATE"]["vehicle_id"]
    row = rows["EXC-LATE"]
    if ("delivery", delivery.order_id) in stops:  # its delivery routed: one visit with it
        assert row["status"] == "routed"
        (v1, k1), (v2, k2) = stops["delivery", delivery.order_id], stops["pickup", "EXC-LATE"]
        assert v1 == v2 and abs(k1 - k2) == 1
    else:
        assert row["status"] == "routed" or row["reason"]
    # The pickup is tracked on the new plan at once.
    tracked = service.get("/v1/orders/RET-LATE/tracking", headers=CHECKOUT)
    assert tracked.status_code == 200, tracked.text
    assert tracked.json()["plan_id"] == out["plan_id"]
