"""History that lasts, over HTTP (SQLite and PostgreSQL): a day tracked, re-planned twice.

An order's tracking history is its events in every version of the day (a failed attempt,
then the delivery the re-plan gave it); an event for a superseded version is refused with
409 naming the current version (a replay of a recorded event stays a 200); ``report
otif`` counts each order once, from the newest version that has it; an order confirmed
at checkout is trackable from the confirm answer, before any plan has it.
"""

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from api.services.otif import tracked
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
MORNING = datetime.fromisoformat("2026-11-24T07:00:00+01:00")  # the generated day's morning


@pytest.fixture(scope="module")
def small_day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("history-day") / "day"
    write(generate(40, 5), folder)
    return folder


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory, small_day):
    tmp = tmp_path_factory.mktemp(f"history-{request.param}")
    with started_service(request.param, tmp, scenario=small_day, plan_time_limit_s=1.0) as client:
        yield client


def event(client, plan_id, event_id, kind, at, expect=201, **fields):
    body = {"event_id": event_id, "kind": kind, "plan_id": plan_id, "occurred_at": at,
            **fields}  # fmt: skip
    r = client.post("/v1/events", json=body, headers=PLANNER)
    assert r.status_code == expect, r.text
    return r.json()


def replan(client, plan_id, now):
    r = client.post(
        f"/v1/plans/{plan_id}/replan",
        json={"now": now, "policy": "retry_later_slot", "time_limit_s": 0.5},
        headers=PLANNER,
    )
    assert r.status_code == 201, r.text
    assert r.json()["checker_ok"], r.json()["violations"]
    return r.json()["plan_id"]


def plan_of(client, plan_id):
    return client.get(f"/v1/plans/{plan_id}", headers=PLANNER).json()["plan"]


def stop_of(doc, order_id):
    """(vehicle id, stop) of an order placed (not a failed attempt) in a plan."""
    return next(
        (r["vehicle_id"], s)
        for r in doc["routes"]
        for s in r["stops"]
        if s["order_id"] == order_id and s.get("outcome") != "failed"
    )


@pytest.fixture(scope="module")
def replanned(service, small_day):
    """The day: A delivered and B failed on v1, re-planned (B on a later slot) into v2,
    B delivered on v2, re-planned again into v3."""
    scenario = load_scenario(small_day)
    plan = plan_day(scenario, PlanParams(time_limit_s=1, workers=1, joint=False))
    doc = json.loads(json.dumps(plan_to_dict(scenario, plan, plan_kpis(scenario, plan))))
    v1 = store_done_plan(service.app, small_day, doc)
    # The day's first route with three stops: a later slot is left for B's retry.
    route = min((r for r in doc["routes"] if len(r["stops"]) >= 3), key=lambda r: r["start"])
    vid = route["vehicle_id"]
    a, b, c = route["stops"][:3]
    event(service, v1, "v1-dep", "departed", route["start"], vehicle_id=vid)
    event(service, v1, "v1-arr-a", "arrived", a["arrival"], vehicle_id=vid, order_id=a["order_id"])
    event(service, v1, "v1-del-a", "delivered", a["departure"], vehicle_id=vid,
          order_id=a["order_id"])  # fmt: skip
    event(service, v1, "v1-fail-b", "failed", b["departure"], vehicle_id=vid,
          order_id=b["order_id"], reason="nobody_home")  # fmt: skip
    v2 = replan(service, v1, b["departure"])
    b_vehicle, b_again = stop_of(plan_of(service, v2), b["order_id"])
    assert b_again["slot_start"] > b["slot_start"]  # a later slot
    # B's vehicle in v2 leaves for the trip that has B and serves its stops up to B.
    trip = next(r for r in plan_of(service, v2)["routes"]
                if r["vehicle_id"] == b_vehicle and b_again in r["stops"])  # fmt: skip
    assert b_vehicle != vid or trip["start"] > b["departure"]
    event(service, v2, "v2-dep", "departed", trip["start"], vehicle_id=b_vehicle)
    for n, s in enumerate(trip["stops"][: trip["stops"].index(b_again) + 1]):
        kind = "picked_up" if s.get("kind") == "pickup" else "delivered"
        event(service, v2, f"v2-arr-{n}", "arrived", s["arrival"], vehicle_id=b_vehicle,
              order_id=s["order_id"])  # fmt: skip
        event(service, v2, f"v2-done-{n}", kind, s["departure"], vehicle_id=b_vehicle,
              order_id=s["order_id"])  # fmt: skip
    v3 = replan(service, v2, b_again["departure"])
    docs = [doc, plan_of(service, v2), plan_of(service, v3)]
    return {"v1": v1, "v2": v2, "v3": v3, "vehicle": vid, "a": a, "b": b, "c": c,
            "b_again": b_again, "docs": docs}  # fmt: skip


def history(client, order_id):
    r = client.get(f"/v1/orders/{order_id}/tracking", headers=CHECKOUT)
    assert r.status_code == 200, r.text
    t = r.json()
    return t, [(h["kind"], h["occurred_at"], h.get("reason")) for h in t["history"]]


def same_instant(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def test_a_delivered_orders_history_survives_two_replans(service, replanned):
    a = replanned["a"]
    t, seen = history(service, a["order_id"])
    assert t["plan_id"] == replanned["v3"] and t["status"] == "delivered"
    assert [k for k, _, _ in seen] == ["departed", "arrived", "delivered"]
    assert same_instant(seen[-1][1], a["departure"])


def test_a_failed_attempt_then_the_replanned_delivery_both_show_in_time_order(service, replanned):
    b, again = replanned["b"], replanned["b_again"]
    t, seen = history(service, b["order_id"])
    assert t["status"] == "delivered" and t["plan_id"] == replanned["v3"]
    kinds = [k for k, _, _ in seen]
    # Out on v1's vehicle, failed; out again on v2's, at the door, delivered.
    assert kinds == ["departed", "failed", "departed", "arrived", "delivered"], seen
    assert seen[1][2] == "nobody_home" and same_instant(seen[1][1], b["departure"])
    assert same_instant(seen[-1][1], again["departure"])
    times = [datetime.fromisoformat(at) for _, at, _ in seen]
    assert times == sorted(times)
    # The customer's page reads the same answer with the order's token.
    token_url = (
        t["tracking_url"]
        .replace("/track/", "/v1/orders/", 1)
        .replace("?token=", "/tracking?token=", 1)
    )
    page = service.get(token_url)
    assert page.status_code == 200 and len(page.json()["history"]) == len(seen)


def test_an_event_for_a_superseded_version_is_refused_with_the_current_version(service, replanned):
    v1, v2, v3, vid, c = (replanned[k] for k in ("v1", "v2", "v3", "vehicle", "c"))
    for old in (v1, v2):
        refused = event(service, old, f"late-{old[:8]}", "arrived", c["arrival"], expect=409,
                        vehicle_id=vid, order_id=c["order_id"])  # fmt: skip
        (problem,) = refused["detail"]
        assert problem["loc"] == ["body", "plan_id"] and problem["type"] == "conflict"
        assert v3 in problem["msg"] and problem["ctx"] == {"current_plan_id": v3}
    # Nothing was recorded: the same id is new on the current version.
    event(service, v3, f"late-{v1[:8]}-v3", "position", c["arrival"], vehicle_id=vid,
          lat=c["lat"], lon=c["lon"])  # fmt: skip
    # An event id already recorded on the old version is still a replay, not a conflict.
    a = replanned["a"]
    replay = event(service, v1, "v1-del-a", "delivered", a["departure"], expect=200,
                   vehicle_id=vid, order_id=a["order_id"])  # fmt: skip
    assert replay["duplicate"] is True


def test_report_otif_counts_each_order_once_from_its_final_outcome(service, replanned):
    versions = [replanned[k] for k in ("v1", "v2", "v3")]
    db = service.app.state.db

    def routed(doc):
        return {s["order_id"] for r in doc["routes"] for s in r["stops"]
                if s.get("kind") != "pickup"}  # fmt: skip

    def pickups(doc):
        return {s["order_id"] for r in doc["routes"] for s in r["stops"]
                if s.get("kind") == "pickup"}  # fmt: skip

    day_orders = set().union(*(routed(d) for d in replanned["docs"]))
    day_returns = set().union(*(pickups(d) for d in replanned["docs"]))
    found = tracked(db, versions)
    ids = [o.order_id for o in found.outcomes]
    assert len(ids) == len(set(ids)) == len(day_orders)  # not three times the day
    assert found.returns["routed"] == len(day_returns)
    by_id = {o.order_id: o for o in found.outcomes}
    b = by_id[replanned["b"]["order_id"]]
    assert (b.status, b.attempt) == ("delivered", 2)  # the failed attempt of v1 counts
    a = by_id[replanned["a"]["order_id"]]
    assert (a.status, a.attempt) == ("delivered", 1)
    # The last version alone: the same orders, its failed attempts from the earlier ones.
    last = {o.order_id: o for o in tracked(db, versions[-1:]).outcomes}
    assert last[b.order_id].attempt == 2

    from cli import app

    url = service.app.state.settings.database_url
    args = ["report", "otif", "--database-url", url, "--json"]
    for v in versions:
        args += ["--plan-id", v]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    overall = json.loads(result.stdout)["overall"]
    assert overall["orders"] == len(day_orders)
    delivered = {o.order_id for o in found.outcomes if o.status == "delivered"}
    assert (overall["delivered"], overall["failed"]) == (len(delivered), 0)


@pytest.fixture
def at_the_morning(service):
    """The service once its day is ready (its clock starts on the generated day's
    morning: tests.api_support.service_settings)."""
    import time

    deadline = time.monotonic() + 120
    while promise(service).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.5)
    return service


def promise(client):
    body = {"lines": [{"sku": "SKU-1001", "qty": 1}], "address": {"lat": 48.835, "lon": 2.389},
            "requested_at": MORNING.isoformat()}  # fmt: skip
    return client.post("/v1/promise", json=body, headers=CHECKOUT)


def confirm(client, option):
    hold = client.post("/v1/holds", json={"option_id": option["option_id"]}, headers=CHECKOUT)
    assert hold.status_code == 201, hold.text
    done = client.post(f"/v1/holds/{hold.json()['hold_id']}/confirm", headers=CHECKOUT)
    assert done.status_code == 200, done.text
    return done.json()


def test_an_order_confirmed_for_a_later_day_is_trackable_from_the_confirm_answer(
    at_the_morning,
):
    client = at_the_morning
    r = promise(client)
    assert r.status_code == 200, r.text
    options = r.json()["options"]
    later = next(o for o in options if o["service"] != "click_collect"
                 and o["service_date"] > MORNING.date().isoformat())  # fmt: skip
    done = confirm(client, later)
    order_id, token = done["order_id"], done["tracking_token"]
    assert done["service_date"] == later["service_date"]
    assert done["tracking_url"] == f"/track/{order_id}?token={token}"
    assert client.get(done["tracking_url"]).status_code == 200  # the customer's page
    t = client.get(f"/v1/orders/{order_id}/tracking", params={"token": token})
    assert t.status_code == 200, t.text
    t = t.json()
    assert (t["status"], t["plan_id"], t["history"]) == ("confirmed", None, [])
    assert t["service"] == later["service"] and t["timezone"] == "Europe/Paris"
    assert t["tracking_url"] == done["tracking_url"]
    # The promised slot on its own day, ISO 8601 with the day's offset.
    assert t["promised_slot"] == {"start": later["slot_start"], "end": later["slot_end"]}
    start = datetime.fromisoformat(t["promised_slot"]["start"])
    assert start.date().isoformat() == later["service_date"] and start.utcoffset() is not None
    # The checkout key reads the same; another order's token does not.
    assert client.get(f"/v1/orders/{order_id}/tracking", headers=CHECKOUT).json() == t
    other = client.get(f"/v1/orders/{order_id}x/tracking", params={"token": token})
    assert other.status_code == 401


def test_a_confirmed_click_and_collect_order_is_tracked_with_its_ready_by(at_the_morning):
    client = at_the_morning
    collect = next(o for o in promise(client).json()["options"] if o["service"] == "click_collect")
    done = confirm(client, collect)
    t = client.get(
        f"/v1/orders/{done['order_id']}/tracking", params={"token": done["tracking_token"]}
    ).json()
    assert (t["status"], t["mode"], t["node_id"]) == (
        "confirmed",
        "click_collect",
        collect["node_id"],
    )
    assert datetime.fromisoformat(t["promised_slot"]["start"]) == datetime.fromisoformat(
        collect["ready_by"]
    )
