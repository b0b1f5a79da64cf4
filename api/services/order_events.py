"""The delivery-status events of an order, as a retailer's SMS or e-mail gateway needs
them (issue 17, item 6): the customer's tracking link, the promised slot and the ETA
window as ISO 8601 instants with the day's offset, so "your order is out for delivery,
14:10-14:30" needs no other lookup; and ``customer`` (``customer_id``, ``name``,
``phone``, ``email``) when the order's customer is known
(:func:`api.services.personal_data.with_customers`; the key is absent otherwise).

Also the events that compare with what was told before, in ``order_notices``:
``order.eta_changed`` (an ETA moved by more than a subscription's ``eta_moved_min`` from
the one it last received, the departure's at first) and ``order.ready_for_collection``
(announced once per collection and ready time, when the plan that prepares it is
published). Everything is written in the caller's transaction (:func:`announce`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models.tracking import TrackedOrder
from api.models.webhooks import OrderNotice, WebhookSubscription
from api.services.outbox import announce
from api.services.personal_data import customers_of, with_customers
from optimizer.live import eta_window

# The feed's own threshold for order.eta_changed (a poller has no subscription): the
# subscriptions' default, the "ETA moved by more than 15 minutes" of issue 17.
FEED_ETA_MOVED_MIN = 15
FEED = "feed"  # the order_notices topic of the feed
READY = "ready"  # the order_notices topic of collections announced

Link = Callable[[str], str]  # order id -> its tracking link (a path with its token)


def _iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat()


def status_data(order: TrackedOrder, tz: ZoneInfo, link: Link) -> dict:
    """An order's delivery status as its events carry it: ids, service, status, the
    promised slot, the ETA and its window (while on its way), the tracking link."""
    window = None
    if order.eta_at is not None:
        before_s, after_s = eta_window(0, order.stops_ahead)
        window = {"start": _iso(order.eta_at + timedelta(seconds=before_s), tz),
                  "end": _iso(order.eta_at + timedelta(seconds=after_s), tz)}  # fmt: skip
    return {
        "order_id": order.order_id,
        "plan_id": order.plan_id,
        "vehicle_id": order.vehicle_id,
        "node_id": order.node_id,
        "service": order.service,
        "status": order.status,
        "slot": {"start": _iso(order.slot_start_at, tz), "end": _iso(order.slot_end_at, tz)},
        "eta_at": _iso(order.eta_at, tz),
        "eta_window": window,
        "tracking_url": link(order.order_id),
    }


def announce_eta_moves(
    s: Session, orders: Iterable[TrackedOrder], tz: ZoneInfo, now: datetime, link: Link
) -> int:
    """``order.eta_changed`` for each order out for delivery whose ETA moved by more than
    a subscriber's threshold from the ETA that subscriber (or the feed) last got, the
    departure's ETA at first; to those subscribers only. How many events were written."""
    out = [o for o in orders if o.status == "out_for_delivery" and o.eta_at is not None
           and o.eta_at_departure is not None]  # fmt: skip
    if not out:
        return 0
    thresholds = {FEED: FEED_ETA_MOVED_MIN}
    for sub in s.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))):
        if "order.eta_changed" in json.loads(sub.event_types_json):
            thresholds[sub.id] = sub.eta_moved_min
    ids = [o.order_id for o in out]
    told = {
        (n.topic, n.order_id): n
        for n in s.scalars(select(OrderNotice).where(OrderNotice.order_id.in_(ids)))
    }
    customers = customers_of(s, [o.order_id for o in out])
    written = 0
    for o in out:
        moved = {}
        for topic, minutes in thresholds.items():
            notice = told.get((topic, o.order_id))
            reference = o.eta_at_departure if notice is None else notice.told_at
            if abs((o.eta_at - reference).total_seconds()) > minutes * 60:
                moved[topic] = notice
        if not moved:
            continue
        data = status_data(o, tz, link) | {
            "eta_at_departure": _iso(o.eta_at_departure, tz),
            "moved_s": int((o.eta_at - o.eta_at_departure).total_seconds()),
        }
        if o.order_id in customers:
            data["customer"] = customers[o.order_id]
        announce(s, "order.eta_changed", data, now, only=set(moved) - {FEED})
        for topic, notice in moved.items():
            if notice is None:
                s.add(OrderNotice(topic=topic, order_id=o.order_id, told_at=o.eta_at))
            else:
                notice.told_at = o.eta_at
        written += 1
    return written


def announce_collections(s: Session, doc: dict, now: datetime, link: Link) -> int:
    """``order.ready_for_collection`` for each collection of a published plan (its
    plan.json ``doc``) not announced before with the same ready time: the store and when
    the basket is ready there. How many events were written."""
    collections = doc.get("collections") or []
    units = [c.get("parcel_id") or c["order_id"] for c in collections]
    told = {
        n.order_id: n
        for n in s.scalars(
            select(OrderNotice).where(OrderNotice.topic == READY, OrderNotice.order_id.in_(units))
        )
    }
    written = 0
    for unit, collection in zip(units, collections, strict=True):
        ready = datetime.fromisoformat(collection["ready_by"])
        notice = told.get(unit)
        if notice is not None and notice.told_at == ready:
            continue
        data = {"order_id": unit, "node_id": collection["node_id"],
                "ready_at": ready.isoformat(), "tracking_url": link(unit)}  # fmt: skip
        announce(s, "order.ready_for_collection", with_customers(s, [data])[0], now)
        if notice is None:
            told[unit] = notice = OrderNotice(topic=READY, order_id=unit, told_at=ready)
            s.add(notice)
        else:
            notice.told_at = ready
        written += 1
    return written
