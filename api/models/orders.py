"""Orders and returns taken by API (``POST /v1/orders``, ``POST /v1/returns``): the
caller's id, its channel and customer id, the request's digest (the same id with another
body is a 409) and the first answer (the same request again gets it). An order's own
facts live where every confirmed order lives (``holds``, ``day_orders``); a return's
live here, and the plan of its day reads them (:meth:`CheckoutService.scenario_of_day`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime


class ApiOrder(Base):
    """An order taken by ``POST /v1/orders``: one confirmed hold of the checkout."""

    __tablename__ = "api_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the caller's
    channel: Mapped[str] = mapped_column(String(16))  # web | app | store | call_centre
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    hold_id: Mapped[str] = mapped_column(String(36), unique=True)
    response_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DayReturn(Base):
    """A return or exchange taken by ``POST /v1/returns``: a pickup at the order's address
    in the slot chosen, for the plan of ``service_date`` (the live day's routes get it at
    its next plan or re-plan)."""

    __tablename__ = "day_returns"

    return_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the caller's
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # return | exchange
    channel: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    service_date: Mapped[str] = mapped_column(String(10), index=True)
    return_json: Mapped[str] = mapped_column(Text)  # Return fields, seconds since midnight
    request_sha256: Mapped[str] = mapped_column(String(64))
    response_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomerContact(Base):
    """The contact of one order, return or hold (``kind``, ``ref_id``): personal data, kept
    here only (never in ``order_json``, plans, events' feed or logs), answered to checkout
    keys and to the driver of its stop, sent in the delivery-status webhooks, and deleted
    by ``DELETE /v1/customers/{customer_id}/personal-data``. A hold's contact becomes its
    order's when it is confirmed and goes when it is released or expires."""

    __tablename__ = "customer_contacts"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # order | return | hold
    ref_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
