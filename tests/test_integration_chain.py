"""The whole chain of issue 17 against the real service (``python -m cli serve`` in a
subprocess, a SQLite file) and a real webhook receiver on 127.0.0.1, driven by the
documented example client (``docs/examples/integration_chain.py``):

a store order and an app order of one customer, created by API (the app's from its own
promise and hold), listed together; the day planned; the van departs and delivers one;
the receiver then goes down, the other order fails at the door and Léo's out-of-stock lamp
is subscribed and counted back in, so their webhooks are pending when the service is
killed with ``kill -9``; restarted on the same database, it delivers every webhook, signed,
exactly once by ``webhook-id``; then Léo's personal data is erased. The test prints the
counts (events, sent, retried, delivered, lost)."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import datetime, timedelta

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, SAMPLE_MORNING
from tests.service_support import chain, kill_9, start_service
from tests.webhook_support import Receiver, wait_for

STATUS_EVENTS = {"order.out_for_delivery", "order.delivered", "order.failed"}


def delivered_by_id(receiver: Receiver) -> dict[str, dict]:
    """What the receiver keeps: each event once, by its ``webhook-id``."""
    return {h["webhook-id"]: json.loads(b) for h, b in receiver.received}


def walk(node):
    """Every JSON object inside ``node``."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def deliveries(lm, sub_id: str) -> list[dict]:
    page = lm.call("GET", "/v1/webhooks/deliveries", lm.planner, params={"limit": 1000})
    return [d for d in page if d["subscription_id"] == sub_id]


def test_two_channels_one_customer_planned_tracked_crashed_alerted_erased(tmp_path):
    receiver = Receiver()
    port = receiver.port
    first, base = start_service(tmp_path, SAMPLE_MORNING, "first.log")
    try:
        lm = chain.Lastmile(base, CHECKOUT_KEY, PLANNER_KEY)
        sub = chain.subscribe(lm, receiver.url)
        store = chain.store_order(lm, "STORE-0001", chain.CONTACT)
        app = chain.app_order(lm, "APP-0001", chain.CONTACT)
        assert (store["channel"], app["channel"]) == ("store", "app")
        assert store["customer_id"] == app["customer_id"] == chain.CUSTOMER
        listed = chain.open_orders(lm)
        assert {o["order_id"] for o in listed["deliveries"]} == {"STORE-0001", "APP-0001"}
        assert all(o["contact"] == chain.CONTACT for o in listed["deliveries"])

        plan_id = chain.plan_day(lm, time_limit_s=3)
        chain.drive(lm, plan_id, deliver="STORE-0001", carry={"APP-0001"})
        tracked = lm.call("GET", "/v1/orders/STORE-0001/tracking", lm.checkout)
        assert tracked["status"] == "delivered" and tracked["plan_id"] == plan_id
        app_now = lm.call("GET", "/v1/orders/APP-0001", lm.checkout)
        assert app_now["status"] == "out_for_delivery"

        def all_delivered():
            ds = deliveries(lm, sub["id"])
            return ds if ds and all(d["status"] == "delivered" for d in ds) else None

        before = wait_for(all_delivered, 120, "every delivery before the crash")
        ours = {(b["type"], b["data"].get("order_id")) for b in delivered_by_id(receiver).values()}
        for order_id in ("STORE-0001", "APP-0001"):
            assert {("order.confirmed", order_id), ("order.out_for_delivery", order_id)} <= ours
        assert ("order.delivered", "STORE-0001") in ours
        assert any(kind == "plan.published" for kind, _ in ours)

        received_before = list(receiver.received)
        receiver.close()  # the retailer's receiver goes down
        chain.fail(lm, plan_id, "APP-0001")
        alert = chain.lamp_alert(
            lm, chain.OUT_OF_STOCK, chain.PARIS_NODES, "HUB-BERCY", chain.CONTACT["phone"]
        )

        def pending_and_tried():
            ds = [d for d in deliveries(lm, sub["id"]) if d["status"] != "delivered"]
            return len(ds) == 2 and all(d["attempts"] >= 1 for d in ds)

        wait_for(pending_and_tried, 60, "the failure and the alert refused, pending")
        kill_9(first)
        receiver = Receiver(port=port)  # up again
        later = datetime.fromisoformat(SAMPLE_MORNING) + timedelta(hours=1)
        second, base = start_service(tmp_path, later.isoformat(), "second.log")
        try:
            lm = chain.Lastmile(base, CHECKOUT_KEY, PLANNER_KEY)

            done = wait_for(all_delivered, 120, "every delivery")
            feed = lm.call("GET", "/v1/events", lm.planner, params={"limit": 1000})["events"]
            erased = chain.erase(lm)
            after = chain.open_orders(lm)
            order_after = lm.call("GET", "/v1/orders/APP-0001", lm.checkout)
            feed_after = lm.call("GET", "/v1/events", lm.planner, params={"limit": 1000})
            plan_after = lm.call("GET", f"/v1/plans/{plan_id}", lm.planner)["plan"]
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
    finally:
        kill_9(first)
        receiver.close()

    wanted = {e["id"]: e for e in feed if e["type"] in chain.EVENT_TYPES}
    kept = delivered_by_id(receiver)  # after the restart: the failure and the alert
    everything = received_before + receiver.received
    sent = len(everything)
    ids = Counter(h["webhook-id"] for h, _ in receiver.received)
    retried = sum(d["attempts"] > 1 for d in done)
    print(
        f"\nwhole chain: events={len(wanted)} deliveries={len(done)} sent={sent} "
        f"retried={retried} delivered={sum(d['status'] == 'delivered' for d in done)} "
        f"duplicates_after_restart={len(receiver.received) - len(ids)} "
        f"lost={len(wanted) - len(done)}"
    )
    # Each event once by id: one delivery each, every one delivered, none lost.
    assert len(done) == len(wanted) and {d["event_id"] for d in done} == set(wanted)
    assert all(chain.verify(sub["secret"], h, b) for h, b in everything)  # every copy signed
    assert {h["webhook-id"] for h, _ in everything} == {d["id"] for d in done}
    assert len(before) + 2 == len(done)  # the failure and the alert, after the restart
    mine = Counter(
        e["type"]
        for e in wanted.values()
        if e["data"].get("order_id") in ("STORE-0001", "APP-0001")
    )
    assert mine == {"order.confirmed": 2, "order.out_for_delivery": 2, "order.delivered": 1,
                    "order.failed": 1}  # fmt: skip
    assert {b["type"] for b in kept.values()} == {"order.failed", "stock.back_in_stock"}
    [bis] = [b["data"] for b in kept.values() if b["type"] == "stock.back_in_stock"]
    assert bis["alert_id"] == alert["id"] and bis["first_promisable_date"]
    # What the SMS gateway needs, in the status events: contact, link, window.
    [failed] = [b["data"] for b in kept.values() if b["type"] == "order.failed"]
    assert failed["order_id"] == "APP-0001" and failed["reason"] == "nobody_home"
    assert failed["customer"]["phone"] == chain.CONTACT["phone"] and failed["tracking_url"]
    bodies = {h["webhook-id"]: json.loads(b) for h, b in everything}.values()
    outs = [  # as the receiver got them (the feed keeps the customer id only)
        e["data"]
        for e in bodies
        if e["type"] == "order.out_for_delivery"
        and e["data"]["order_id"] in ("STORE-0001", "APP-0001")
    ]
    assert len(outs) == 2
    assert all(o["eta_window"] and o["customer"]["name"] == chain.CONTACT["name"] for o in outs)
    # Erased: no contact left anywhere, the anonymous facts kept.
    assert erased["erased"]["contacts"] == 2 and erased["erased"]["orders"] == 2
    assert erased["erased"]["back_in_stock_alerts"] == 1 and erased["kept_for_delivery"] == []
    assert after["deliveries"] == [] and after["returns"] == []
    assert order_after.get("contact") is None and order_after["customer_id"] is None
    assert order_after["status"] == "failed" and order_after["channel"] == "app"
    text = str(feed_after)
    assert chain.CONTACT["phone"] not in text and chain.CONTACT["email"] not in text
    assert chain.CUSTOMER not in text
    # The stored plan keeps the stops, at about a kilometre (two decimals of a degree).
    ours = [d for d in walk(plan_after) if d.get("order_id") in ("STORE-0001", "APP-0001")]
    placed = [d for d in ours if "lat" in d]
    assert placed and erased["erased"]["plans"] >= 1
    assert all(round(d["lat"], 2) == d["lat"] and round(d["lon"], 2) == d["lon"] for d in placed)
