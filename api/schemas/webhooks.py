"""Webhook subscriptions, deliveries and the event feed, as the API reads and answers them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from api.schemas.base import RequestModel
from api.services.outbox import EVENT_TYPES

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
MAX_URL_CHARS = 2000


def check_url(url: str) -> str:
    """An absolute ``http``/``https`` URL with a host and no user name or password in it
    (the secret signs; credentials in a URL would end up in logs)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a malformed port raises)
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password")
    if parts.fragment or any(c.isspace() for c in url):
        raise ValueError("must not hold a fragment or whitespace")
    return url


class SubscriptionIn(RequestModel):
    """A subscription: where to POST which events."""

    url: str = Field(max_length=MAX_URL_CHARS, description="http(s) URL, no credentials.")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    eta_moved_min: int = Field(
        15,
        ge=1,
        le=1440,
        description="`order.eta_changed`: sent when an ETA moved by more than this many "
        "minutes from the one this subscription last received.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class SubscriptionOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    eta_moved_min: int
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="Signs the deliveries (`whsec_...`): answered once, here.")


class DeliveryOut(BaseModel):
    id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    subscription_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    created_at: datetime


class Event(BaseModel):
    cursor: int = Field(description="Its place in the feed: ask `?after=` it for what follows.")
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[Event]
    next: int = Field(description="The cursor to ask from next (`?after=`).")
