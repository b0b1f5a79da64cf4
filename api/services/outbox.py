"""The outbox: an event is announced by writing it, and one pending delivery per
subscription that wants it, in the transaction of the change it announces (the same
session), so it is committed with that change or not at all, and no crash or restart
loses it. :mod:`api.services.webhook_delivery` sends the deliveries; the event feed
(``GET /v1/events``) reads the events.

The events' ids are the feed's cursor: they must become visible in id order. On
PostgreSQL, where ids are drawn before commit and transactions commit in any order, the
writer takes a transaction-scoped advisory lock before it draws the id, so the
announcing transactions commit one after the other from that point (it is taken last,
after the change is flushed: the lock is held only for the commit). SQLite serialises
writers already.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.models.webhooks import OutboxEvent, WebhookDelivery, WebhookSubscription

# pg_advisory_xact_lock key: announcing transactions draw outbox ids in commit order.
OUTBOX_LOCK = 0x6C6D_0003

EVENT_TYPES = (
    "order.confirmed",
    "order.out_for_delivery",
    "order.eta_changed",
    "order.delivered",
    "order.failed",
    "order.ready_for_collection",
    "order.collected",
    "return.picked_up",
    "plan.published",
    "stock.back_in_stock",
)
"""The event types a subscription may ask for (see docs/webhooks.md)."""


def announce(
    s: Session,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
    only: Collection[str] | None = None,
) -> OutboxEvent:
    """Write the event ``event_type`` with ``data`` to the outbox in ``s``'s transaction,
    with a pending delivery for every active subscription to that type (of the ids
    ``only``, when given: ``order.eta_changed`` goes to those whose threshold it
    passed), due ``now``."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    s.flush()  # the change itself first: the lock below is then held for the commit only
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_LOCK})
    event_id = "evt_" + uuid.uuid4().hex
    payload = {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data}
    event = OutboxEvent(event_id=event_id, type=event_type, occurred_at=now,
                        payload_json=json.dumps(payload, separators=(",", ":")))  # fmt: skip
    s.add(event)
    s.flush()  # its id
    active = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    for sub in s.scalars(active):
        if event_type in json.loads(sub.event_types_json) and (only is None or sub.id in only):
            s.add(WebhookDelivery(id="msg_" + uuid.uuid4().hex, event_pk=event.id,
                                  subscription_id=sub.id, status="pending", attempts=0,
                                  next_attempt_at=now, created_at=now))  # fmt: skip
    return event
