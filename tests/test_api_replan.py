"""POST /v1/plans/{id}/replan over HTTP (SQLite and PostgreSQL): events in, a new plan
version out with the stops that happened kept and their tracking carried over; roles and
bad input; and a small simulated day through the API."""

import json

import pytest

from cli.simulation import SimParams, simulate
from data.generator import generate, write
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.planning import PlanParams, plan_day
from tests.api_support import (
    CHECKOUT_KEY,
    PLANNER_KEY,
    keyed,
    started_service,
)
from tests.tracking_support import store_done_plan

PLANNER = keyed(PLANNER_KEY)
CHECKOUT = keyed(CHECKOUT_KEY)


@pytest.fixture(scope="module")
def small_day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replan-day") / "day"
    write(generate(40, 5), folder)
    return folder


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory, small_day):
    tmp = tmp_path_factory.mktemp(f"replan-{request.param}")
    with started_service(request.param, tmp, scenario=small_day, plan_time_limit_s=1.0) as client:
        yield client


@pytest.fixture
def day(service, small_day):
    scenario = load_scenario(small_day)
    plan = plan_day(scenario, PlanParams(time_limit_s=1, workers=1, joint=False))
    doc = json.loads(json.dumps(plan_to_dict(scenario, plan, plan_kpis(scenario, plan))))
    plan_id = store_done_plan(service.app, small_day, doc)
    route = max(doc["routes"], key=lambda r: len(r["stops"]))
    return {"plan_id": plan_id, "route": route, "doc": doc}


def _event(client, plan_id, n, kind, at, **fields):
    body = {"event_id": f"{plan_id[:8]}-{n}", "kind": kind, "plan_id": plan_id,
            "occurred_at": at, **fields}  # fmt: skip
    r = client.post("/v1/events", json=body, headers=PLANNER)
    assert r.status_code == 201, r.text


def test_replan_keeps_what_happened_and_carries_the_tracking_over(service, day):
    route, plan_id = day["route"], day["plan_id"]
    vid = route["vehicle_id"]
    first, second, third = route["stops"][:3]
    _event(service, plan_id, 1, "departed", route["start"], vehicle_id=vid)
    _event(service, plan_id, 2, "arrived", first["arrival"], vehicle_id=vid,
           order_id=first["order_id"])  # fmt: skip
    _event(service, plan_id, 3, "delivered", first["departure"], vehicle_id=vid,
           order_id=first["order_id"])  # fmt: skip
    _event(service, plan_id, 4, "failed", second["departure"], vehicle_id=vid,
           order_id=second["order_id"], reason="nobody_home")  # fmt: skip

    r = service.post(
        f"/v1/plans/{plan_id}/replan",
        json={"now": second["departure"], "policy": "click_and_collect", "time_limit_s": 0.5},
        headers=PLANNER,
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["checker_ok"] is True, out["violations"]
    assert out["replan_of"] == plan_id and out["plan_id"] != plan_id
    changes = out["changes"]
    assert changes["locked_stops"] >= 2
    assert [c["order_id"] for c in changes["order_changes"]] == [second["order_id"]]
    new = service.get(f"/v1/plans/{out['plan_id']}", headers=PLANNER).json()
    assert new["status"] == "done" and new["plan"]["replan"]["replan_of"] == plan_id
    kept = next(r for r in new["plan"]["routes"] if r["vehicle_id"] == vid)
    assert [(s["order_id"], s.get("outcome")) for s in kept["stops"][:2]] == [
        (first["order_id"], "delivered"),
        (second["order_id"], "failed"),
    ]
    # Tracking of the new version: what happened is there, the failed order waits at a store.
    done = service.get(f"/v1/orders/{first['order_id']}/tracking", headers=CHECKOUT).json()
    assert done["status"] == "delivered" and done["plan_id"] == out["plan_id"]
    collect = service.get(f"/v1/orders/{second['order_id']}/tracking", headers=CHECKOUT).json()
    assert collect["status"] == "ready_for_collection"
    # The vehicle goes on against the new plan.
    _event(service, out["plan_id"], 5, "arrived", third["arrival"], vehicle_id=vid,
           order_id=third["order_id"])  # fmt: skip
    # Announced in the re-plan's transaction: the new version, the failed order ready at
    # a store.
    events = service.get("/v1/events", params={"limit": 1000}, headers=PLANNER).json()["events"]
    [published] = [e["data"] for e in events if e["type"] == "plan.published"
                   and e["data"]["plan_id"] == out["plan_id"]]  # fmt: skip
    assert published["replan_of"] == plan_id
    ready = [e["data"] for e in events if e["type"] == "order.ready_for_collection"]
    [mine] = [d for d in ready if d["order_id"] == second["order_id"]]
    assert mine["ready_at"] and mine["tracking_url"].startswith(f"/track/{second['order_id']}")


def test_replan_needs_a_planner_key(service, day):
    url = f"/v1/plans/{day['plan_id']}/replan"
    assert service.post(url, json={}).status_code == 401
    assert service.post(url, json={}, headers=CHECKOUT).status_code == 403


def test_replan_refuses_bad_input_with_field_paths(service, day):
    url = f"/v1/plans/{day['plan_id']}/replan"
    r = service.post(
        url,
        json={"now": "2030-01-01T10:00:00+01:00", "broken_down": ["NOPE/van/1"]},
        headers=PLANNER,
    )
    assert r.status_code == 422
    locs = [tuple(d["loc"]) for d in r.json()["detail"]]
    assert ("body", "now") in locs and ("body", "broken_down", 0) in locs
    r = service.post(url, json={"policy": "teleport", "extra": 1, "time_limit_s": 0},
                     headers=PLANNER)  # fmt: skip
    assert r.status_code == 422
    locs = {tuple(d["loc"]) for d in r.json()["detail"]}
    assert {("body", "policy"), ("body", "extra"), ("body", "time_limit_s")} <= locs
    r = service.post(url, json={"now": "10:00"}, headers=PLANNER)
    assert r.status_code == 422
    missing = "/v1/plans/00000000-0000-4000-8000-000000000000/replan"
    r = service.post(missing, json={}, headers=PLANNER)
    assert r.status_code == 404 and r.json()["detail"][0]["loc"] == ["path", "job_id"]


def test_a_simulated_day_ends_with_every_order_accounted_for_and_the_checker_clean(small_day):
    figures = simulate(
        small_day,
        SimParams(
            seed=2,
            plan_time_limit_s=2,
            replan_time_limit_s=0.5,
            replan_at_h=(11.0, 14.0),
            new_orders=8,
            fail_p=0.1,
        ),
    )
    assert figures["checker_ok"] and figures["replans_checker_ok"], figures["violations"]
    assert figures["orders_open"] == 0
    assert (
        figures["orders_delivered"] + figures["orders_collected"] + figures["orders_unassigned"]
        == figures["orders_total"]
    )
    assert figures["failed_attempts"] > 0 and figures["replans"] == 3
    # The day's returns are driven too: every pickup on the final routes is done.
    assert figures["returns_total"] > 0
    assert figures["returns_done"] == figures["returns_routed"] > 0
    for key in ("otif_pct", "eta_error_p90_min", "replan_p95_ms"):
        assert key in figures
