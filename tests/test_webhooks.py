"""Signed webhooks from the outbox, and the event feed, on SQLite and PostgreSQL: a real
HTTP receiver on 127.0.0.1 gets each event once, signed; retries with backoff; failed
deliveries visible and replayed; the outbox committed with the change it announces
survives a stop before delivery; the feed pages through the events in order."""

from __future__ import annotations

import json
import time

import pytest

from api.services.webhook_delivery import refused_target
from tests.api_support import (
    BACKENDS,
    CHECKOUT_KEY,
    PLANNER_KEY,
    database_url,
    keyed,
    running_service,
    service_fixture,
    service_settings,
)
from tests.tracking_support import hand_plan, store_done_plan
from tests.webhook_support import Receiver, receiving, verify, wait_for

QUICK = dict(webhook_poll_s=0.05, webhook_backoff_s=0.1, webhook_attempts=3, webhook_timeout_s=5)
client = service_fixture(**QUICK)
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}
PLANNER = keyed(PLANNER_KEY)


def confirm_order(service) -> str:
    """Promise, hold and confirm an express delivery: its order id. A hold refused with
    409 (a plan published in the background since the promise, an earlier test's, moved
    the stock it offered) asks for a new promise, as a checkout does."""
    body = {"lines": [{"sku": "SKU-1001", "qty": 1}], "address": NEAR_BERCY}
    checkout = keyed(CHECKOUT_KEY)

    def promised():
        r = service.post("/v1/promise", json=body, headers=checkout)
        assert r.status_code in (200, 503), r.text
        return r.json()["options"] if r.status_code == 200 else None

    for _ in range(5):
        options = wait_for(promised, 120, "the checkout")
        option = next(o for o in options if o["service"] == "express")
        hold = service.post("/v1/holds", json={"option_id": option["option_id"]}, headers=checkout)
        if hold.status_code != 409:
            break
    assert hold.status_code == 201, hold.text
    done = service.post(f"/v1/holds/{hold.json()['hold_id']}/confirm", headers=checkout)
    assert done.status_code == 200, done.text
    return done.json()["order_id"]


def subscribe(service, url, event_types=("order.confirmed",)) -> dict:
    r = service.post("/v1/webhooks", json={"url": url, "event_types": list(event_types)},
                     headers=PLANNER)  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def deliveries_of(service, sub_id, status=None):
    params = {"limit": 1000} | ({"status": status} if status else {})
    r = service.get("/v1/webhooks/deliveries", params=params, headers=PLANNER)
    assert r.status_code == 200, r.text
    return [d for d in r.json() if d["subscription_id"] == sub_id]


def test_a_confirmed_order_is_received_once_signed(client):
    with receiving() as receiver:
        sub = subscribe(client, receiver.url)
        assert sub["secret"].startswith("whsec_")
        order_id = confirm_order(client)
        wait_for(lambda: deliveries_of(client, sub["id"], "delivered"), what="the delivery")
        time.sleep(0.3)  # nothing more comes
        [(headers, body)] = receiver.received
        assert verify(sub["secret"], headers, body)
        assert not verify(sub["secret"], headers, body + b" ")
        event = json.loads(body)
        assert event["type"] == "order.confirmed" and event["data"]["order_id"] == order_id
        assert event["data"]["service"] == "express"
        [delivery] = deliveries_of(client, sub["id"])
        assert headers["webhook-id"] == delivery["id"] and delivery["attempts"] == 1
        assert delivery["event_id"] == event["id"]
        now_s = client.app.state.clock.now().timestamp()
        assert abs(int(headers["webhook-timestamp"]) - now_s) < 60
        assert "secret" not in json.dumps(client.get("/v1/webhooks", headers=PLANNER).json())
        assert client.delete(f"/v1/webhooks/{sub['id']}", headers=PLANNER).status_code == 204


def test_a_failing_receiver_gets_it_on_the_third_attempt(client):
    with receiving(script=(500, 500)) as receiver:
        sub = subscribe(client, receiver.url)
        confirm_order(client)
        [d] = wait_for(lambda: deliveries_of(client, sub["id"], "delivered"), what="delivered")
        assert d["attempts"] == 3 and len(receiver.received) == 3
        assert len({h["webhook-id"] for h, _ in receiver.received}) == 1  # one id throughout
        assert all(verify(sub["secret"], h, b) for h, b in receiver.received)
        client.delete(f"/v1/webhooks/{sub['id']}", headers=PLANNER)


def test_a_receiver_down_fails_visibly_and_is_replayed(client):
    receiver = Receiver()
    port = receiver.port
    receiver.close()  # down: connections refused
    sub = subscribe(client, f"http://127.0.0.1:{port}/hooks")
    confirm_order(client)
    [d] = wait_for(lambda: deliveries_of(client, sub["id"], "failed"), what="failed")
    assert d["attempts"] == 3 and d["last_error"] and d["delivered_at"] is None
    receiver = Receiver(port=port)  # up again
    try:
        r = client.post(f"/v1/webhooks/deliveries/{d['id']}/replay", headers=PLANNER)
        assert r.status_code == 200 and r.json()["status"] == "pending", r.text
        wait_for(lambda: deliveries_of(client, sub["id"], "delivered"), what="the replay")
        [(headers, _)] = receiver.received
        assert headers["webhook-id"] == d["id"]
        again = client.post(f"/v1/webhooks/deliveries/{d['id']}/replay", headers=PLANNER)
        assert again.status_code == 409
    finally:
        receiver.close()
        client.delete(f"/v1/webhooks/{sub['id']}", headers=PLANNER)


def test_a_subscription_to_other_events_receives_nothing(client):
    with receiving() as wanted, receiving() as other:
        sub = subscribe(client, wanted.url)
        elsewhere = subscribe(client, other.url, ["order.delivered", "order.failed"])
        confirm_order(client)
        wait_for(lambda: deliveries_of(client, sub["id"], "delivered"), what="the delivery")
        time.sleep(0.3)
        assert other.received == [] and deliveries_of(client, elsewhere["id"]) == []
        for s in (sub, elsewhere):
            client.delete(f"/v1/webhooks/{s['id']}", headers=PLANNER)


def test_tracking_events_are_announced(client):
    scenario_dir = client.app.state.settings.scenario
    doc, day = hand_plan(scenario_dir)
    plan_id = store_done_plan(client.app, scenario_dir, doc)
    types = ["order.out_for_delivery", "order.delivered", "order.failed", "order.collected"]

    def event(name, kind, at, **fields):
        body = {"event_id": f"{plan_id[:8]}-{name}", "kind": kind, "plan_id": plan_id,
                "occurred_at": day["at"](at), **fields}  # fmt: skip
        if kind != "collected":
            body["vehicle_id"] = day["bike"]
        r = client.post("/v1/events", json=body, headers=PLANNER)
        assert r.status_code == 201, r.text

    with receiving() as receiver:
        sub = subscribe(client, receiver.url, types)
        event("dep", "departed", "09:00")
        event("del-a", "delivered", "09:12", order_id="A")
        event("fail-c", "failed", "10:40", order_id="C", reason="nobody_home")
        event("col", "collected", "10:20", order_id="K")
        event("pos", "position", "10:41", lat=day["node"].lat, lon=day["node"].lon)
        wait_for(lambda: len(deliveries_of(client, sub["id"], "delivered")) == 6, what="six")
        got = [(e["type"], e["data"]["order_id"]) for e in receiver.bodies()]
        assert sorted(got[:3]) == [("order.out_for_delivery", o) for o in "ABC"]
        assert got[3:] == [("order.delivered", "A"), ("order.failed", "C"),
                           ("order.collected", "K")]  # fmt: skip
        first, failed = receiver.bodies()[0]["data"], receiver.bodies()[4]["data"]
        assert first["plan_id"] == plan_id and first["eta_at"] is not None
        assert failed["reason"] == "nobody_home" and failed["vehicle_id"] == day["bike"]
        # What an SMS gateway needs: the tracking link, the ETA window with its offset.
        window = first["eta_window"]
        assert window["start"].endswith(day["tz"]) and window["end"].endswith(day["tz"])
        assert window["start"] < first["eta_at"] < window["end"]
        assert first["slot"] == {"start": day["at"]("09:00"), "end": day["at"]("11:00")}
        assert "contact" not in first  # the hand plan's orders carry none
        link = client.get(first["tracking_url"])
        assert link.status_code == 200 and "token=" in first["tracking_url"]
        assert failed["status"] == "failed" and failed["eta_window"] is None
        client.delete(f"/v1/webhooks/{sub['id']}", headers=PLANNER)


def test_an_eta_moved_past_a_subscribers_threshold_is_announced_once(client):
    scenario_dir = client.app.state.settings.scenario
    doc, day = hand_plan(scenario_dir)
    plan_id = store_done_plan(client.app, scenario_dir, doc)

    def event(name, kind, at, **fields):
        body = {"event_id": f"{plan_id[:8]}-{name}", "kind": kind, "plan_id": plan_id,
                "occurred_at": day["at"](at), "vehicle_id": day["bike"], **fields}  # fmt: skip
        r = client.post("/v1/events", json=body, headers=PLANNER)
        assert r.status_code == 201, r.text

    with receiving() as receiver:
        quarter = subscribe(client, receiver.url, ["order.eta_changed"])
        r = client.post("/v1/webhooks", headers=PLANNER, json={"url": receiver.url,
                        "event_types": ["order.eta_changed"], "eta_moved_min": 60})  # fmt: skip
        assert r.status_code == 201 and r.json()["eta_moved_min"] == 60, r.text
        hour = r.json()
        assert quarter["eta_moved_min"] == 15  # the default
        event("dep", "departed", "09:00")
        event("pos", "position", "09:01", lat=day["node"].lat, lon=day["node"].lon)
        time.sleep(0.3)
        assert deliveries_of(client, quarter["id"]) == []  # on time: nothing to say
        event("late", "delayed", "09:02", delay_s=1800)  # half an hour stuck
        wait_for(lambda: len(deliveries_of(client, quarter["id"], "delivered")) == 3, what="3")
        event("pos2", "position", "09:03", lat=day["node"].lat, lon=day["node"].lon)
        time.sleep(0.3)
        got = receiver.bodies()
        assert sorted(e["data"]["order_id"] for e in got) == ["A", "B", "C"]  # once each
        assert {e["type"] for e in got} == {"order.eta_changed"}
        assert all(e["data"]["moved_s"] > 15 * 60 for e in got)
        assert all(e["data"]["eta_window"] and e["data"]["tracking_url"] for e in got)
        assert deliveries_of(client, hour["id"]) == []  # moved less than an hour
        for sub in (quarter, hour):
            client.delete(f"/v1/webhooks/{sub['id']}", headers=PLANNER)


def test_a_published_plan_is_announced(client):
    r = client.post("/v1/plans", json={"time_limit_s": 1}, headers=PLANNER)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    def announced():
        page = client.get("/v1/events", params={"limit": 1000}, headers=PLANNER).json()
        return [e for e in page["events"] if e["type"] == "plan.published"
                and e["data"]["plan_id"] == job_id]  # fmt: skip

    [event] = wait_for(announced, 180, "plan.published")
    assert event["data"]["plan_url"] == f"/v1/plans/{job_id}"
    job = client.get(f"/v1/plans/{job_id}", headers=PLANNER).json()
    assert job["status"] == "done"
    # Its click & collect orders are announced ready, in the same transaction.
    units = {c.get("parcel_id") or c["order_id"] for c in job["plan"]["collections"]}
    assert units  # the Paris day has click & collect orders
    page = client.get("/v1/events", params={"limit": 1000}, headers=PLANNER).json()
    ready = {e["data"]["order_id"]: e["data"] for e in page["events"]
             if e["type"] == "order.ready_for_collection"}  # fmt: skip
    assert units <= set(ready)
    assert all(ready[u]["ready_at"] and ready[u]["tracking_url"] for u in units)


def test_the_feed_pages_through_the_events_in_order(client):
    orders = {confirm_order(client) for _ in range(3)}
    seen, after = [], 0
    while True:
        r = client.get("/v1/events", params={"after": after, "limit": 2}, headers=PLANNER)
        assert r.status_code == 200, r.text
        page = r.json()
        if not page["events"]:
            assert page["next"] == after
            break
        assert len(page["events"]) <= 2 and page["next"] == page["events"][-1]["cursor"]
        seen += page["events"]
        after = page["next"]
    cursors = [e["cursor"] for e in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert len({e["id"] for e in seen}) == len(seen)
    assert orders <= {e["data"]["order_id"] for e in seen if e["type"] == "order.confirmed"}
    assert client.get("/v1/events", headers=keyed(CHECKOUT_KEY)).status_code == 403
    misspelt = client.get("/v1/events", params={"afer": 3}, headers=PLANNER)
    assert misspelt.status_code == 422 and misspelt.json()["detail"][0]["loc"] == ["query", "afer"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://127.0.0.1/x", "event_types": ["order.confirmed"]},
        {"url": "http://user:pw@127.0.0.1/x", "event_types": ["order.confirmed"]},
        {"url": "/relative", "event_types": ["order.confirmed"]},
        {"url": "http://127.0.0.1/x", "event_types": ["order.teleported"]},
        {"url": "http://127.0.0.1/x", "event_types": []},
    ],
)
def test_subscriptions_are_checked_and_planner_only(client, body):
    r = client.post("/v1/webhooks", json=body, headers=PLANNER)
    assert r.status_code == 422, r.text
    assert {tuple(d["loc"][:2]) for d in r.json()["detail"]} <= {
        ("body", "url"),
        ("body", "event_types"),
    }
    ok = {"url": "http://127.0.0.1/x", "event_types": ["order.confirmed"]}
    assert client.post("/v1/webhooks", json=ok, headers=keyed(CHECKOUT_KEY)).status_code == 403


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_outbox_is_committed_with_the_order_and_delivered_after_a_restart(backend, tmp_path):
    with database_url(backend, tmp_path) as url, receiving() as receiver:
        quiet = service_settings(url, tmp_path, **QUICK, webhook_deliver=False)
        with running_service(quiet) as first:
            sub = subscribe(first, receiver.url)
            order_id = confirm_order(first)
            [pending] = deliveries_of(first, sub["id"])
            assert pending["status"] == "pending" and pending["attempts"] == 0
        assert receiver.received == []  # stopped before any delivery
        with running_service(service_settings(url, tmp_path, **QUICK)) as second:
            wait_for(lambda: deliveries_of(second, sub["id"], "delivered"), what="delivered")
            time.sleep(0.3)
        [(headers, body)] = receiver.received
        assert headers["webhook-id"] == pending["id"] and verify(sub["secret"], headers, body)
        assert json.loads(body)["data"]["order_id"] == order_id


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
    ],
)
def test_private_addresses_are_refused_unless_allowed(url):
    assert refused_target(url) is not None
    assert refused_target("https://93.184.215.14/hooks") is None  # a global address


def test_a_private_url_is_refused_at_subscription_and_delivery(client):
    settings = client.app.state.settings
    with receiving() as receiver:
        sub = subscribe(client, receiver.url)  # allowed while the tests' setting is on
        settings.webhook_allow_private = False
        try:
            r = client.post("/v1/webhooks", json={"url": receiver.url,
                            "event_types": ["order.confirmed"]}, headers=PLANNER)  # fmt: skip
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "url"]
            assert "LASTMILE_WEBHOOK_ALLOW_PRIVATE" in r.json()["detail"][0]["msg"]
            confirm_order(client)
            [d] = wait_for(lambda: deliveries_of(client, sub["id"], "failed"), what="failed")
            assert d["last_error"].startswith("refused: 127.0.0.1")
            assert receiver.received == []
        finally:
            settings.webhook_allow_private = True
            client.delete(f"/v1/webhooks/{sub['id']}", headers=PLANNER)


def test_back_in_stock_is_told_once_after_the_stock_update_that_makes_it_promisable(client, caplog):
    sku, phone = "SKU-1013", "+33612345678"  # a board game, out of stock everywhere below
    nodes = list(client.app.state.scenario.nodes)
    zero = {"rows": [{"node_id": n, "sku": sku, "qty": 0} for n in nodes]}
    counted = wait_for(lambda: (r := client.put("/v1/stock", json=zero, headers=PLANNER))
                       .status_code != 503 and r, 120, "the checkout")  # fmt: skip
    assert counted.status_code == 200, counted.text
    body = {"sku": sku, "address": {"postcode": "75012"}, "channel": "sms", "contact": phone}
    checkout = keyed(CHECKOUT_KEY)
    caplog.set_level("DEBUG")
    with receiving() as receiver:
        sub = subscribe(client, receiver.url, ["stock.back_in_stock"])

        def answered():
            r = client.post("/v1/back-in-stock", json=body, headers=checkout)
            return r if r.status_code != 503 else None

        created = wait_for(answered, 120, "the checkout")
        assert created.status_code == 201, created.text
        alert = created.json()
        assert alert["status"] == "waiting" and alert["contact"] == phone
        assert alert["address"]["postcode"] == "75012"
        mine = [a for a in client.get("/v1/back-in-stock", headers=checkout).json()
                if a["id"] == alert["id"]]  # fmt: skip
        assert mine[0]["contact"] == phone
        planner_view = client.get("/v1/back-in-stock", headers=PLANNER).json()
        assert all(a["contact"] is None for a in planner_view)  # personal: checkout only
        other = {"rows": [{"node_id": "HUB-BERCY", "sku": "SKU-1002", "qty": 40}]}
        assert client.put("/v1/stock", json=other, headers=PLANNER).status_code == 200
        # On hand 30: more than the day's orders take there (9 units), so some are free.
        back = {"rows": [{"node_id": "HUB-BERCY", "sku": sku, "qty": 30}]}
        assert client.put("/v1/stock", json=back, headers=PLANNER).status_code == 200
        wait_for(lambda: deliveries_of(client, sub["id"], "delivered"), what="the alert")
        more = {"rows": [{"node_id": "HUB-BERCY", "sku": sku, "qty": 31}]}
        assert client.put("/v1/stock", json=more, headers=PLANNER).status_code == 200
        time.sleep(0.3)
        [(headers, raw)] = receiver.received  # one alert, once
        assert verify(sub["secret"], headers, raw)
        event = json.loads(raw)
        data = event["data"]
        assert event["type"] == "stock.back_in_stock" and data["alert_id"] == alert["id"]
        assert data["sku"] == sku and data["channel"] == "sms" and data["contact"] == phone
        assert data["first_promisable_date"] >= "2026-11-24" and data["first_promisable_at"]
        [ended] = [a for a in client.get("/v1/back-in-stock", params={"status": "notified"},
                   headers=checkout).json() if a["id"] == alert["id"]]  # fmt: skip
        assert ended["event_id"] == event["id"] and ended["notified_at"]
        feed = client.get("/v1/events", params={"limit": 1000}, headers=PLANNER).json()
        [told] = [e for e in feed["events"] if e["id"] == event["id"]]
        assert "contact" not in told["data"]  # the feed leaves the customer's contact out
        client.delete(f"/v1/webhooks/{sub['id']}", headers=PLANNER)
    assert phone not in caplog.text  # never logged
    again = client.post("/v1/back-in-stock", json=body, headers=checkout)
    assert again.status_code == 409  # promisable now: the checkout promises it instead


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"sku": "SKU-1013", "address": {"postcode": "75012"}, "channel": "sms",
          "contact": "0612"}, ["body"]),
        ({"sku": "SKU-1013", "address": {"postcode": "75012"}, "channel": "email",
          "contact": "+33612345678"}, ["body"]),
        ({"sku": "SKU-1013", "address": {"postcode": "75012"}, "channel": "fax",
          "contact": "x"}, ["body", "channel"]),
        ({"sku": "NOPE", "address": {"postcode": "75012"}, "channel": "email",
          "contact": "leo@example.com"}, ["body", "sku"]),
    ],
)  # fmt: skip
def test_back_in_stock_requests_are_checked_and_checkout_only(client, body, loc):
    r = client.post("/v1/back-in-stock", json=body, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][: len(loc)] == loc
    assert client.post("/v1/back-in-stock", json=body, headers=PLANNER).status_code == 403


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0008_keeps_the_subscriptions_of_0007_and_matches_the_models(backend, tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect, text

    from api.db import Database, alembic_config, migrate
    from api.models import Base

    with database_url(backend, tmp_path) as url:
        database = Database(url)
        migrate(database.engine, "0007")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO webhook_subscriptions (id, url, event_types_json, secret, "
                "created_at, active) VALUES ('sub_1', 'https://oms.example.com/h', "
                "'[\"order.confirmed\"]', 'whsec_x', CURRENT_TIMESTAMP, true)"
            ))  # fmt: skip
        migrate(database.engine, "head")
        tables = set(inspect(database.engine).get_table_names())
        assert {"order_notices", "back_in_stock_alerts"} <= tables
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, eta_moved_min FROM webhook_subscriptions"))
            assert rows.all() == [("sub_1", 15)]  # the default threshold
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert [d for d in diff if "order_notices" in str(d) or "back_in_stock" in str(d)
                    or "eta_moved_min" in str(d)] == []  # fmt: skip
        with database.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0007")
        assert "back_in_stock_alerts" not in set(inspect(database.engine).get_table_names())
        migrate(database.engine, "head")
        database.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_alert_left_waiting_by_a_stop_after_the_count_is_told_at_the_next_start(
    backend, tmp_path
):
    sku, node = "SKU-1013", "HUB-BERCY"
    body = {"sku": sku, "address": {"postcode": "75012"}, "channel": "email",
            "contact": "leo@example.com"}  # fmt: skip
    with database_url(backend, tmp_path) as url, receiving() as receiver:
        with running_service(service_settings(url, tmp_path, **QUICK)) as first:
            sub = subscribe(first, receiver.url, ["stock.back_in_stock"])
            zero = {"rows": [{"node_id": n, "sku": sku, "qty": 0}
                             for n in first.app.state.scenario.nodes]}  # fmt: skip
            wait_for(lambda: first.put("/v1/stock", json=zero, headers=PLANNER).status_code
                     == 200, 120, "the checkout")  # fmt: skip
            # The first start's own check of the waiting alerts is over (there were none).
            wait_for(lambda: not first.app.state.days._alerts_due, what="the start's check")
            created = first.post("/v1/back-in-stock", json=body, headers=keyed(CHECKOUT_KEY))
            assert created.status_code == 201, created.text
            # The count committed, the service stopped before its alerts were checked.
            checkout = first.app.state.checkout
            checkout.set_stock([(node, sku, 30)], first.app.state.clock.now())
        assert receiver.received == []
        with running_service(service_settings(url, tmp_path, **QUICK)) as second:
            wait_for(lambda: deliveries_of(second, sub["id"], "delivered"), 120, "the alert")
            listed = second.get("/v1/back-in-stock", headers=keyed(CHECKOUT_KEY)).json()
            assert [(a["id"], a["status"]) for a in listed] == [(created.json()["id"], "notified")]
        [(headers, raw)] = receiver.received
        assert verify(sub["secret"], headers, raw)
        assert json.loads(raw)["data"]["alert_id"] == created.json()["id"]
