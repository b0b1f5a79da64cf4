"""Nothing lost across a crash: the real service (``python -m cli serve``, uvicorn in a
subprocess, a SQLite file) confirms orders and tells a back-in-stock alert while its
webhook receiver, a real HTTP server on 127.0.0.1, is down and then slow; the service
is killed with SIGKILL while deliveries are pending and one is in flight, restarted on
the same database, and every event reaches the receiver, signed, exactly once by
``webhook-id`` once the receiver de-duplicates. The test prints the counts (sent,
retried, delivered, lost)."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import datetime, timedelta

import httpx

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, SAMPLE_MORNING, keyed
from tests.service_support import READY_S, chain, kill_9, start_service
from tests.webhook_support import Receiver, verify, wait_for

ORDERS = 6
EVENTS = ORDERS + 1  # and one back-in-stock alert
TYPES = ["order.confirmed", "stock.back_in_stock"]
LAMP = "SKU-1013"  # out of stock, then counted back in
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}
SLOW_RECEIVER_S = 2.0  # long enough for the kill to land while a POST is in flight
PLANNER, CHECKOUT = keyed(PLANNER_KEY), keyed(CHECKOUT_KEY)


def confirm_order(http: httpx.Client) -> str:
    """Promise, hold and confirm a delivery of one lamp near Bercy: the order id."""
    body = {"lines": [{"sku": "SKU-1001", "qty": 1}], "address": NEAR_BERCY}

    def promised():
        r = http.post("/v1/promise", json=body, headers=CHECKOUT)
        assert r.status_code in (200, 503), r.text
        return r.json()["options"] if r.status_code == 200 else None

    options = wait_for(promised, READY_S, "the checkout")
    option = next(o for o in options if o["service"] != "click_collect")
    hold = http.post("/v1/holds", json={"option_id": option["option_id"]}, headers=CHECKOUT)
    assert hold.status_code == 201, hold.text
    done = http.post(f"/v1/holds/{hold.json()['hold_id']}/confirm", headers=CHECKOUT)
    assert done.status_code == 200, done.text
    return done.json()["order_id"]


def back_in_stock(base: str) -> str:
    """Léo's lamp, as the documented client does it: out of stock everywhere, an SMS alert
    asked near Bercy, then counted back in at HUB-BERCY (30 on hand, more than the day's
    orders take there). The alert's id."""
    client = chain.Lastmile(base, CHECKOUT_KEY, PLANNER_KEY)
    alert = chain.lamp_alert(client, LAMP, chain.PARIS_NODES, "HUB-BERCY", "+33612345678")
    return alert["id"]


def deliveries(http: httpx.Client, sub_id: str) -> list[dict]:
    r = http.get("/v1/webhooks/deliveries", params={"limit": 1000}, headers=PLANNER)
    assert r.status_code == 200, r.text
    return [d for d in r.json() if d["subscription_id"] == sub_id]


def test_kill_9_with_webhooks_pending_loses_none_and_repeats_none(tmp_path):
    receiver = Receiver()
    port = receiver.port
    receiver.close()  # down: connections refused
    first, base = start_service(tmp_path, SAMPLE_MORNING, "first.log")
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            wanted = {"url": f"http://127.0.0.1:{port}/hooks", "event_types": TYPES}
            r = http.post("/v1/webhooks", json=wanted, headers=PLANNER)
            assert r.status_code == 201, r.text
            sub = r.json()
            orders = [confirm_order(http) for _ in range(ORDERS)]
            alert_id = back_in_stock(base)

            # Every delivery refused and tried again (its second attempt claimed): pending.
            def all_refused() -> bool:
                ds = deliveries(http, sub["id"])
                return len(ds) == EVENTS and all(
                    d["attempts"] >= 2 and d["status"] == "pending" for d in ds
                )

            wait_for(all_refused, 60, "every delivery refused and retried")
        receiver = Receiver(port=port, delay_s=SLOW_RECEIVER_S)  # up again, but slow
        wait_for(lambda: len(receiver.received) >= 2, 60, "a POST in flight")
        kill_9(first)  # the second POST is in flight: received, its answer never recorded
        receiver.delay_s = 0.0
        received_before_kill = len(receiver.received)
        # The restart's clock runs on from later than the first's (an hour: past every
        # claim of the killed process, as the machine's clock would be).
        later = datetime.fromisoformat(SAMPLE_MORNING) + timedelta(hours=1)
        second, base = start_service(tmp_path, later.isoformat(), "second.log")
        try:
            with httpx.Client(base_url=base, timeout=30) as http:

                def all_delivered():
                    ds = deliveries(http, sub["id"])
                    return ds if all(d["status"] == "delivered" for d in ds) else None

                done = wait_for(all_delivered, 120, "every delivery")
                feed = http.get("/v1/events", params={"limit": 1000}, headers=PLANNER).json()
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
    finally:
        kill_9(first)
        receiver.close()

    events = {e["id"]: e for e in feed["events"] if e["type"] in TYPES}
    ids = Counter(h["webhook-id"] for h, _ in receiver.received)
    unique = {h["webhook-id"]: (h, b) for h, b in receiver.received}  # the receiver's de-dup
    got_events = Counter(e["id"] for e in (receiver.bodies()))
    sent = len(receiver.received)
    retried = sum(d["attempts"] > 1 for d in done)
    lost = len(set(events) - set(got_events))
    print(
        f"\nwebhooks across kill -9: events={len(events)} sent={sent} "
        f"received_before_kill={received_before_kill} distinct_ids={len(unique)} "
        f"duplicates={sent - len(unique)} retried={retried} "
        f"delivered={sum(d['status'] == 'delivered' for d in done)} lost={lost}"
    )
    confirmed = [e["data"] for e in events.values() if e["type"] == "order.confirmed"]
    assert {d["order_id"] for d in confirmed} == set(orders)
    [alert] = [e["data"] for e in events.values() if e["type"] == "stock.back_in_stock"]
    assert alert["alert_id"] == alert_id and alert["first_promisable_date"]
    assert len(done) == len(events) == EVENTS == len(unique)  # once each, by id
    assert lost == 0 and set(got_events) == set(events)
    assert {d["id"] for d in done} == set(ids)
    assert all(verify(sub["secret"], h, b) for h, b in receiver.received)
    # Every event's copies carry one webhook-id: a resend is a duplicate, never a new id.
    assert all(len({h["webhook-id"] for h, b in receiver.received if b == body}) == 1
               for _, body in unique.values())  # fmt: skip
    assert sent > len(unique)  # the POST in flight at the kill was sent again after it
    assert retried == EVENTS  # each was refused while the receiver was down
