"""The checkout's tables: the day's live routes and free stock, holds, confirmed orders.

Every write bumps ``day_state.version`` first (one row: on PostgreSQL its row lock
serialises checkout writers; SQLite's ``BEGIN IMMEDIATE`` already does), and stamps the
rows it changes with that version, so a process's promise cache reloads only what changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class DayState(Base):
    __tablename__ = "day_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    scenario_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=0)
    plan_json: Mapped[str] = mapped_column(Text)  # the day's base plan (plan.json)
    initialized_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockLevel(Base):
    """Stock per node and SKU: ``on_hand`` physically there, ``committed`` to the day's
    planned orders, holds and confirmed checkouts; free = on_hand - committed."""

    __tablename__ = "stock_levels"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    committed: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[int] = mapped_column(Integer, default=0, index=True)


class VehicleRoute(Base):
    """One vehicle's live route: its stops in order (JSON list of LiveStop fields)."""

    __tablename__ = "vehicle_routes"

    vehicle_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    stops_json: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # False once the day's current plan has taken it off the road (broken down).
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Hold(Base):
    """A checkout's reservation of stock and a place on a route, until it expires."""

    __tablename__ = "holds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # held|confirmed|released|expired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    confirm_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    option_json: Mapped[str] = mapped_column(Text)
    node_id: Mapped[str] = mapped_column(String(64))
    vehicle_id: Mapped[str | None] = mapped_column(String(128))
    lines_json: Mapped[str] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    response_json: Mapped[str] = mapped_column(Text)
    # The sales channel (web|app|store|call_centre) and the retailer's opaque customer id,
    # when the checkout gives them (0009); never personal data.
    channel: Mapped[str | None] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)


class DayOrder(Base):
    """An order of a day the service plans besides the scenario's own: confirmed at checkout
    (the plan of its day ships it as promised) or carried from an earlier day."""

    __tablename__ = "day_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # None for an order carried from an earlier day (``carried_from``, ``carried_reason``).
    hold_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    order_json: Mapped[str] = mapped_column(Text)  # Order fields, seconds since midnight
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The day it is delivered or collected (YYYY-MM-DD; its times count from that day's
    # midnight); None in rows written before 0003: the service's day.
    service_date: Mapped[str | None] = mapped_column(String(10), index=True)
    # An order not delivered on its day, carried into this one (0006): that day, and why.
    carried_from: Mapped[str | None] = mapped_column(String(10))
    carried_reason: Mapped[str | None] = mapped_column(Text)


class SlotCapacity(Base):
    """Places left at checkout in one slot of a later day at one node: no routes exist
    for that day yet, so a hold takes a place with ``UPDATE ... WHERE taken < capacity``."""

    __tablename__ = "slot_capacity"

    service_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot_start_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_end_s: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[int] = mapped_column(Integer, default=0, index=True)


class SlotCrewCapacity(Base):
    """Seconds of one crew pool (``need``: ``crew:2``, ``equipment:tail_lift``, see
    :func:`optimizer.promise.capacity.need_keys`) left at checkout in one slot of a later
    day at one node: a bulky order's hold takes its busy time with ``UPDATE ... WHERE
    taken_s + its seconds <= capacity_s``, besides its place in :class:`SlotCapacity`."""

    __tablename__ = "slot_crew_capacity"

    service_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot_start_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    need: Mapped[str] = mapped_column(String(80), primary_key=True)
    slot_end_s: Mapped[int] = mapped_column(Integer)
    capacity_s: Mapped[int] = mapped_column(Integer)
    taken_s: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[int] = mapped_column(Integer, default=0, index=True)


class InboundStock(Base):
    """Stock on its way to a node (``inbound.csv``), arriving at ``arrives_at_s`` (seconds
    since the service day's midnight): ``committed`` of it is promised to click & collect
    orders ready after it arrives."""

    __tablename__ = "inbound_stock"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    arrives_at_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    qty: Mapped[int] = mapped_column(Integer)
    committed: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[int] = mapped_column(Integer, default=0, index=True)


class BackInStockAlert(Base):
    """A customer waiting for an out-of-stock SKU at an address (``POST
    /v1/back-in-stock``): once a stock update makes it promisable there, one
    ``stock.back_in_stock`` webhook carries the first promisable date, and the alert ends.
    ``contact`` is personal data: never logged, shown only to checkout keys."""

    __tablename__ = "back_in_stock_alerts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # bis_<hex>
    sku: Mapped[str] = mapped_column(String(64), index=True)
    qty: Mapped[int] = mapped_column(Integer, default=1)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    postcode: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    # A phone number or an e-mail address; None once its customer's data was erased (0010).
    contact: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)  # (0010)
    status: Mapped[str] = mapped_column(String(16), index=True)  # waiting|notified|erased
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_id: Mapped[str | None] = mapped_column(String(40))  # the evt_ that told it
