"""The whole integration chain of issue 17, as a retailer's systems would drive it: a small
Python client of a running lastmile service (only ``httpx``), documented in
``docs/integration.md`` and run by ``tests/test_integration_chain.py`` against the real
service.

Léo (customer ``cust-leo-0042``) buys a lamp at the store's till, and a second one in the
app; the planner plans the day; a van takes both out and delivers one; Léo's out-of-stock
lamp is wanted near Bercy, counted back in and announced; Léo asks to be forgotten. The
retailer's webhook receiver gets every step, signed.

    python docs/examples/integration_chain.py --base http://127.0.0.1:8000 \\
        --checkout-key "$CHECKOUT_KEY" --planner-key "$PLANNER_KEY" \\
        --webhook-url http://127.0.0.1:9000/hooks

prints each step's answer as it goes. The functions are the steps, one request or a few
each; read them as the recipe for your own client.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta

import httpx

CUSTOMER = "cust-leo-0042"
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}  # an address in Paris 12e
LAMP = {"sku": "SKU-1001", "qty": 1}  # data/paris/catalogue.csv
CONTACT = {"name": "Léo Martin", "phone": "+33612345678", "email": "leo@example.org"}
OUT_OF_STOCK = "SKU-1013"  # the lamp Léo waits for
PARIS_NODES = [
    "WH-GARONOR",
    "HUB-CHAPELLE",
    "HUB-BERCY",
    "DS-VAUGIRARD",
    "DS-BATIGNOLLES",
    "DS-GAMBETTA",
    "ST-HALLES",
    "ST-OPERA",
    "ST-MONTPARNASSE",
    "ST-BASTILLE",
    "ST-ITALIE2",
    "ST-DEFENSE",
    "ST-BOULOGNE",
    "ST-MONTREUIL",
]  # data/paris/nodes.csv
EVENT_TYPES = [
    "order.confirmed",
    "plan.published",
    "order.out_for_delivery",
    "order.delivered",
    "order.failed",
    "stock.back_in_stock",
]


class Lastmile:
    """The service at ``base``, with a checkout key (the shop, the till, the app) and a
    planner key (the planners' tools, the webhook set-up, the stock feed)."""

    def __init__(self, base: str, checkout_key: str, planner_key: str, timeout_s: float = 30):
        self.http = httpx.Client(base_url=base, timeout=timeout_s)
        self.checkout = {"X-API-Key": checkout_key}
        self.planner = {"X-API-Key": planner_key}

    def call(self, method: str, path: str, key: dict, ok=(200, 201), **kwargs) -> dict:
        """One request; its JSON answer, or an error naming the request and the answer."""
        r = self.http.request(method, path, headers=key, **kwargs)
        if r.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else {}


def subscribe(lm: Lastmile, url: str) -> dict:
    """The retailer's receiver subscribes to the chain's events: the answer carries the
    subscription's ``secret`` (shown once) that signs every delivery."""
    body = {"url": url, "event_types": EVENT_TYPES}
    return lm.call("POST", "/v1/webhooks", lm.planner, json=body)


def promise(lm: Lastmile, lines: list[dict], address: dict) -> list[dict]:
    """The delivery options for a basket at an address (503 while the day's first plan is
    being made: asked again)."""
    for _ in range(600):
        r = lm.http.post(
            "/v1/promise", json={"lines": lines, "address": address}, headers=lm.checkout
        )
        if r.status_code == 200:
            return r.json()["options"]
        if r.status_code != 503:
            raise RuntimeError(f"POST /v1/promise: {r.status_code} {r.text}")
        time.sleep(0.5)
    raise RuntimeError("POST /v1/promise: still 503 after 5 minutes")


def store_order(lm: Lastmile, order_id: str, contact: dict | None = None) -> dict:
    """The store's till sells a lamp for express delivery: it reads the express slots from
    the promise and sends the order with its lines, address, service and slot."""
    options = promise(lm, [LAMP], NEAR_BERCY)
    express = next(o for o in options if o["service"] == "express")
    body = {
        "order_id": order_id,
        "channel": "store",
        "customer_id": CUSTOMER,
        "lines": [LAMP],
        "address": NEAR_BERCY,
        "service": "express",
        "slot": express["slot_start"],
    }
    if contact:
        body["contact"] = contact
    return lm.call("POST", "/v1/orders", lm.checkout, json=body)


def app_order(lm: Lastmile, order_id: str, contact: dict | None = None) -> dict:
    """The app promises, holds the option the customer picks while they pay, then sends
    the order confirmed from that hold."""
    options = promise(lm, [LAMP], NEAR_BERCY)
    chosen = next(o for o in options if o["service"] != "click_collect")
    hold_body = {"option_id": chosen["option_id"], "channel": "app", "customer_id": CUSTOMER}
    hold = lm.call("POST", "/v1/holds", lm.checkout, json=hold_body)
    body = {"order_id": order_id, "channel": "app", "customer_id": CUSTOMER}
    body["from_hold"] = hold["hold_id"]
    if contact:
        body["contact"] = contact
    return lm.call("POST", "/v1/orders", lm.checkout, json=body)


def open_orders(lm: Lastmile, customer_id: str = CUSTOMER) -> dict:
    """The customer's open deliveries and returns, every channel."""
    return lm.call("GET", f"/v1/customers/{customer_id}/orders", lm.checkout)


def plan_day(lm: Lastmile, time_limit_s: int = 5, wait_s: float = 600) -> str:
    """The planner plans the day (the scenario's orders and every confirmed order): the
    plan's id once the job is done."""
    job = lm.call("POST", "/v1/plans", lm.planner, ok=(202,), json={"time_limit_s": time_limit_s})
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = lm.call("GET", f"/v1/plans/{job['id']}", lm.planner)
        if state["status"] == "done":
            return job["id"]
        if state["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"plan job {job['id']}: {state['status']}: {state}")
        time.sleep(0.5)
    raise RuntimeError(f"plan job {job['id']}: not done after {wait_s} s")


def vehicles_of(lm: Lastmile, plan_id: str, order_ids: set[str]) -> dict[str, dict]:
    """The plan's live vehicles that carry any of ``order_ids``, by vehicle id."""
    live = lm.call("GET", f"/v1/plans/{plan_id}/live", lm.planner)
    return {
        v["vehicle_id"]: v
        for v in live["vehicles"]
        if any(stop["order_id"] in order_ids for stop in v["stops"])
    }


def drive(lm: Lastmile, plan_id: str, deliver: str, carry: set[str]) -> list[dict]:
    """The driver app reports: each vehicle carrying ``deliver`` or ``carry`` departs 10
    minutes before its first planned arrival, and the stop of ``deliver`` is reached and
    delivered at its planned arrival. The events' answers."""
    answers = []
    for vehicle_id, vehicle in sorted(vehicles_of(lm, plan_id, carry | {deliver}).items()):
        first = min(vehicle["stops"], key=lambda s: s["sequence"])
        at = datetime.fromisoformat(first["planned_arrival"]) - timedelta(minutes=10)
        departed = _event(plan_id, f"{vehicle_id}-departed", "departed", vehicle_id, at)
        answers.append(lm.call("POST", "/v1/events", lm.planner, json=departed))
        for stop in vehicle["stops"]:
            if stop["order_id"] != deliver:
                continue
            at = datetime.fromisoformat(stop["planned_arrival"])
            for kind in ("arrived", "delivered"):
                body = _event(plan_id, f"{deliver}-{kind}", kind, vehicle_id, at)
                body["order_id"] = deliver
                answers.append(lm.call("POST", "/v1/events", lm.planner, json=body))
    return answers


def fail(lm: Lastmile, plan_id: str, order_id: str, reason: str = "nobody_home") -> dict:
    """The driver finds nobody home at ``order_id``'s door."""
    [(vehicle_id, vehicle)] = vehicles_of(lm, plan_id, {order_id}).items()
    [stop] = [s for s in vehicle["stops"] if s["order_id"] == order_id]
    at = datetime.fromisoformat(stop["planned_arrival"])
    body = _event(plan_id, f"{order_id}-failed", "failed", vehicle_id, at)
    body |= {"order_id": order_id, "reason": reason}
    return lm.call("POST", "/v1/events", lm.planner, json=body)


def _event(plan_id: str, event_id: str, kind: str, vehicle_id: str, at: datetime) -> dict:
    return {
        "event_id": event_id,
        "kind": kind,
        "plan_id": plan_id,
        "vehicle_id": vehicle_id,
        "occurred_at": at.isoformat(),
    }


def lamp_alert(lm: Lastmile, sku: str, nodes: list[str], back_at: str, contact: str) -> dict:
    """Léo's lamp: out of stock at every node, Léo asks for an SMS when it is back near
    Bercy, and the stock feed counts 30 back in at ``back_at``. The alert."""
    zero = {"rows": [{"node_id": n, "sku": sku, "qty": 0} for n in nodes]}
    lm.call("PUT", "/v1/stock", lm.planner, ok=(200,), json=zero)
    body = {"sku": sku, "address": NEAR_BERCY, "channel": "sms", "contact": contact}
    body["customer_id"] = CUSTOMER
    alert = lm.call("POST", "/v1/back-in-stock", lm.checkout, ok=(201,), json=body)
    back = {"rows": [{"node_id": back_at, "sku": sku, "qty": 30}]}
    lm.call("PUT", "/v1/stock", lm.planner, ok=(200,), json=back)
    return alert


def erase(lm: Lastmile, customer_id: str = CUSTOMER) -> dict:
    """Léo asks to be forgotten (the retailer's CRM or customer service, a checkout key):
    their contact goes, the addresses of their closed orders are coarsened to ~1 km and
    the customer id is unlinked; the anonymous facts (channel, service, day, on time)
    stay. Open orders keep their address until delivered (``kept_for_delivery``)."""
    return lm.call("DELETE", f"/v1/customers/{customer_id}/personal-data", lm.checkout)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's check of a delivery's signature (``webhook-id``,
    ``webhook-timestamp`` and the body, HMAC-SHA256 with the subscription's secret);
    a receiver also refuses a ``webhook-timestamp`` more than 5 minutes off its clock."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.removeprefix("v1,") for s in headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, s) for s in given)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--checkout-key", required=True)
    parser.add_argument("--planner-key", required=True)
    parser.add_argument("--webhook-url", required=True, help="the retailer's receiver")
    args = parser.parse_args()
    lm = Lastmile(args.base, args.checkout_key, args.planner_key)
    show = lambda step, answer: print(f"== {step}\n{json.dumps(answer, indent=1)[:1500]}")  # noqa: E731
    show("subscribe", subscribe(lm, args.webhook_url))
    store = store_order(lm, f"STORE-{int(time.time())}", CONTACT)
    show("store order", store)
    app = app_order(lm, f"APP-{int(time.time())}", CONTACT)
    show("app order", app)
    show("open orders", open_orders(lm))
    plan_id = plan_day(lm)
    show("plan", {"plan_id": plan_id})
    show("drive", drive(lm, plan_id, store["order_id"], {app["order_id"]}))
    show("order", lm.call("GET", f"/v1/orders/{store['order_id']}", lm.checkout))
    show("lamp alert", lamp_alert(lm, OUT_OF_STOCK, PARIS_NODES, "HUB-BERCY", CONTACT["phone"]))
    show("erase", erase(lm))


if __name__ == "__main__":
    main()
