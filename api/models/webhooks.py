"""The webhook tables: the retailer's subscriptions, the outbox of events (written in
the same transaction as the change each announces), one delivery per event and
subscription, with its attempts, and what was last told about an order (the ETA each
subscriber last received, a collection announced) so a change is announced once.

``outbox_events.id`` only grows and is given in commit order (:mod:`api.services.outbox`):
it is the event feed's cursor (``GET /v1/events?after=``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY (its rowid) is 64-bit already.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class WebhookSubscription(Base):
    """A retailer's URL and the event types it receives, with the secret that signs them."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # sub_<hex>
    url: Mapped[str] = mapped_column(Text)
    event_types_json: Mapped[str] = mapped_column(Text)  # JSON list of event types
    secret: Mapped[str] = mapped_column(String(64))  # whsec_<base64>: signs, never shown again
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False once deleted
    # order.eta_changed: sent when the ETA moved by more than this from the one it last got.
    eta_moved_min: Mapped[int] = mapped_column(Integer, default=15)


class OutboxEvent(Base):
    """One event, as announced: its type, when, and its payload (JSON)."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)  # cursor
    event_id: Mapped[str] = mapped_column(String(40), unique=True)  # evt_<hex>, stable
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload_json: Mapped[str] = mapped_column(Text)  # the whole body a receiver gets


class WebhookDelivery(Base):
    """An event sent (or to send) to one subscription. Its id is the ``webhook-id`` header:
    the same on every attempt and replay, so a receiver can de-duplicate."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_<hex>
    event_pk: Mapped[int] = mapped_column(BigId, ForeignKey("outbox_events.id"), index=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrderNotice(Base):
    """What was last told about an order under a ``topic``: a subscription's id or
    ``feed`` (the ETA it last received), ``ready`` (the ready time of a collection)."""

    __tablename__ = "order_notices"

    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    told_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the ETA or time told
