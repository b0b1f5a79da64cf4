"""Webhook subscriptions, their deliveries (listed, replayed) and the event feed, as
the routes of :mod:`api.routes.webhooks` call them. Events are written by
:func:`api.services.outbox.announce`, sent by :mod:`api.services.webhook_delivery`."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import datetime

from sqlalchemy import select, update

from api.db import Database
from api.errors import problem
from api.models.webhooks import OutboxEvent, WebhookDelivery, WebhookSubscription
from api.services.webhook_delivery import refused_target

SECRET_BYTES = 32


def new_secret() -> str:
    """A subscription's signing secret, ``whsec_<base64 of 32 random bytes>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def subscription_out(sub: WebhookSubscription, secret: str | None = None) -> dict:
    out = {"id": sub.id, "url": sub.url, "event_types": json.loads(sub.event_types_json),
           "eta_moved_min": sub.eta_moved_min, "created_at": sub.created_at}  # fmt: skip
    if secret is not None:
        out["secret"] = secret
    return out


def delivery_out(d: WebhookDelivery, event: OutboxEvent) -> dict:
    return {"id": d.id, "subscription_id": d.subscription_id, "event_id": event.event_id,
            "event_type": event.type, "status": d.status, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at,
            "last_error": d.last_error, "created_at": d.created_at}  # fmt: skip


def subscribe(
    db: Database,
    url: str,
    event_types: list[str],
    now: datetime,
    allow_private: bool = False,
    eta_moved_min: int = 15,
) -> dict:
    """A new subscription; its answer is the only one that holds the secret. A URL to a
    private or local address is a 422 unless ``allow_private``
    (:func:`api.services.webhook_delivery.refused_target`)."""
    refused = None if allow_private else refused_target(url)
    if refused is not None:
        raise problem(422, refused, ("body", "url"))
    secret = new_secret()
    sub = WebhookSubscription(id="sub_" + uuid.uuid4().hex, url=url, secret=secret,
                              event_types_json=json.dumps(sorted(set(event_types))),
                              created_at=now, active=True,
                              eta_moved_min=eta_moved_min)  # fmt: skip
    with db.transaction() as s:
        s.add(sub)
    return subscription_out(sub, secret)


def subscriptions(db: Database) -> list[dict]:
    with db.transaction(write=False) as s:
        rows = s.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.active.is_(True))
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
        return [subscription_out(sub) for sub in rows]


def unsubscribe(db: Database, subscription_id: str) -> None:
    """End a subscription; its deliveries not yet made become ``failed`` (not replayable)."""
    with db.transaction() as s:
        sub = s.get(WebhookSubscription, subscription_id, with_for_update=True)
        if sub is None or not sub.active:
            raise problem(404, "no such webhook subscription", ("path", "subscription_id"))
        sub.active = False
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == "pending")
            .values(status="failed", next_attempt_at=None, last_error="subscription deleted")
        )


def deliveries(db: Database, status: str | None, limit: int) -> list[dict]:
    """The latest deliveries (of a ``status``, or all), newest first."""
    query = select(WebhookDelivery, OutboxEvent).join(
        OutboxEvent, OutboxEvent.id == WebhookDelivery.event_pk
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.event_pk.desc(), WebhookDelivery.id).limit(limit)
    with db.transaction(write=False) as s:
        return [delivery_out(d, event) for d, event in s.execute(query).all()]


def replay(db: Database, delivery_id: str, now: datetime) -> dict:
    """Send a ``failed`` delivery again, due now, with a fresh count of attempts and the
    same ``webhook-id``."""
    loc = ("path", "delivery_id")
    with db.transaction() as s:
        d = s.get(WebhookDelivery, delivery_id, with_for_update=True)
        if d is None:
            raise problem(404, "no such webhook delivery", loc)
        sub = s.get(WebhookSubscription, d.subscription_id)
        if d.status != "failed":
            raise problem(409, f"this delivery is {d.status}: only a failed one is replayed", loc)
        if not sub.active:
            raise problem(409, "this delivery's subscription was deleted", loc)
        d.status, d.attempts, d.next_attempt_at = "pending", 0, now
        return delivery_out(d, s.get(OutboxEvent, d.event_pk))


def feed(db: Database, after: int, limit: int) -> dict:
    """The events after the cursor ``after``, oldest first, at most ``limit``, and the
    cursor to ask from next (``after`` again when there is nothing new). A customer's
    ``contact`` and the name, phone and e-mail of an event's ``customer`` are left out
    (personal data: the webhooks carry them to the retailer's gateway, planner keys do
    not read them); the opaque ``customer_id`` stays."""
    query = select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id)
    with db.transaction(write=False) as s:
        rows = s.scalars(query.limit(limit)).all()
    events = [{"cursor": row.id, **json.loads(row.payload_json)} for row in rows]
    for event in events:  # a customer's contact goes to the subscribed URLs only
        event["data"].pop("contact", None)
        if "customer" in event["data"]:
            event["data"]["customer"] = {"customer_id": event["data"]["customer"]["customer_id"]}
    return {"events": events, "next": rows[-1].id if rows else after}
