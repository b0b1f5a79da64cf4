"""The tracking tables: vehicle events as received, and the live state they lead to.

``tracked_vehicles`` and ``tracked_orders`` are opened from a plan's plan.json at its
first event (one row per vehicle with a route, one per routed or collected order) and
updated in the same transaction as every event: status, last fix, the ETAs of the
remaining stops and the late flags. A re-plan can rewrite a vehicle's remaining rows
(``status`` planned/out_for_delivery) and keep the done ones (arrived/delivered/
picked_up/failed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class TrackingEvent(Base):
    """One event as a driver app or a telematics box sent it (``POST /v1/events``)."""

    __tablename__ = "tracking_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(36), index=True)
    vehicle_id: Mapped[str | None] = mapped_column(String(128), index=True)
    order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # departed | position | arrived | delivered | picked_up | failed | delayed | collected
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(16))  # failed: nobody_home|refused|...
    delay_s: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))  # same id, other body: 409


class TrackedVehicle(Base):
    """A vehicle of a tracked plan: where it was last seen and what it is doing."""

    __tablename__ = "tracked_vehicles"

    plan_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    vehicle_type_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    speed_kmh: Mapped[float] = mapped_column(Float)
    node_id: Mapped[str] = mapped_column(String(64))
    node_lat: Mapped[float] = mapped_column(Float)
    node_lon: Mapped[float] = mapped_column(Float)
    # Planned departure of each trip from the node, seconds since midnight (JSON list).
    trip_starts_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # at_node | en_route | done
    trip: Mapped[int] = mapped_column(Integer, default=0)  # the trip it is on or will start
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    busy_until_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a reported delay
    back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # ETA back at the node
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrackedOrder(Base):
    """A routed or collected order of a tracked plan: promised vs planned vs actual."""

    __tablename__ = "tracked_orders"

    plan_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    vehicle_id: Mapped[str | None] = mapped_column(String(128), index=True)  # None: collection
    node_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # the vehicle's mode, or click_collect
    service: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # on the vehicle's day
    trip: Mapped[int] = mapped_column(Integer, default=0)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    service_s: Mapped[int] = mapped_column(Integer, default=0)  # planned time at the door
    slot_start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    slot_end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    planned_arrival_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # planned | out_for_delivery | arrived | delivered | failed (routed; a return's
    # pickup, service "return_pickup": picked_up instead of delivered);
    # ready_for_collection | collected (click & collect)
    status: Mapped[str] = mapped_column(String(24))
    eta_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # arrival; None once there
    eta_at_departure: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when it left
    stops_ahead: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_reason: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
