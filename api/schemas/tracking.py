"""Request and response schemas of the tracking endpoints (the OpenAPI contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.base import Instant, RequestModel
from optimizer.io.scenario_reader import coordinates_look_missing

EventKind = Literal[
    "departed",
    "position",
    "arrived",
    "delivered",
    "picked_up",
    "failed",
    "delayed",
    "collected",
]
FailureReason = Literal["nobody_home", "refused", "access", "other"]
OrderStatus = Literal[
    "confirmed",
    "planned",
    "out_for_delivery",
    "arrived",
    "delivered",
    "picked_up",
    "failed",
    "ready_for_collection",
    "collected",
    "unassigned",
]
VehicleStatus = Literal["at_node", "en_route", "done"]
StopKind = Literal["delivery", "pickup"]

# Which fields each kind needs (besides event_id, plan_id, occurred_at), and which it takes.
NEEDS: dict[str, tuple[str, ...]] = {
    "departed": ("vehicle_id",),
    "position": ("vehicle_id", "lat", "lon"),
    "arrived": ("vehicle_id",),  # with order_id: at that stop; without: back at the node
    "delivered": ("vehicle_id", "order_id"),
    "picked_up": ("vehicle_id", "order_id"),  # a return's pickup: order_id is its return id
    "failed": ("vehicle_id", "order_id", "reason"),
    "delayed": ("vehicle_id", "delay_s"),
    "collected": ("order_id",),
}
TAKES: dict[str, tuple[str, ...]] = {
    "departed": ("vehicle_id", "lat", "lon", "note"),
    "position": ("vehicle_id", "lat", "lon"),
    "arrived": ("vehicle_id", "order_id", "lat", "lon"),
    "delivered": ("vehicle_id", "order_id", "lat", "lon", "note"),
    "picked_up": ("vehicle_id", "order_id", "lat", "lon", "note"),
    "failed": ("vehicle_id", "order_id", "reason", "lat", "lon", "note"),
    "delayed": ("vehicle_id", "delay_s", "lat", "lon", "note"),
    "collected": ("order_id", "note"),
}
OPTIONAL = ("vehicle_id", "order_id", "lat", "lon", "reason", "delay_s", "note")


class EventIn(RequestModel):
    """A vehicle event. ``event_id`` makes it idempotent: the same id sent again with
    the same body counts once (200, the state as it is); with another body, 409."""

    event_id: str = Field(min_length=1, max_length=128, description="Unique per event.")
    kind: EventKind
    plan_id: str = Field(min_length=1, max_length=36, description="The plan job's id.")
    occurred_at: Instant = Field(description="When it happened, ISO 8601 with offset.")
    vehicle_id: str | None = Field(None, min_length=1, max_length=128)
    order_id: str | None = Field(None, min_length=1, max_length=64)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    reason: FailureReason | None = Field(None, description="failed: why.")
    delay_s: int | None = Field(
        None, gt=0, le=86_400, description="delayed: seconds the vehicle is held."
    )
    note: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> EventIn:
        missing = [f for f in NEEDS[self.kind] if getattr(self, f) is None]
        extra = [f for f in OPTIONAL if getattr(self, f) is not None and f not in TAKES[self.kind]]
        problems = [f"{self.kind} needs {f}" for f in missing]
        problems += [f"{self.kind} takes no {f}" for f in extra]
        if (self.lat is None) != (self.lon is None):
            problems.append("lat and lon go together")
        elif self.lat is not None and coordinates_look_missing(self.lat, self.lon):
            problems.append("coordinates 0,0 look missing (no GPS fix?): send the position, "
                            "or leave lat and lon out")  # fmt: skip
        if problems:
            raise ValueError("; ".join(problems))
        return self


class EtaWindow(BaseModel):
    start: datetime
    end: datetime


class StopContact(BaseModel):
    name: str | None
    phone: str | None


class StopState(BaseModel):
    order_id: str = Field(
        description="The order (a parcel id for a split order), or the return id of a pickup."
    )
    kind: StopKind = Field(description="delivery, or pickup (a return: report picked_up).")
    sequence: int
    status: OrderStatus
    lat: float
    lon: float
    slot_start: datetime
    slot_end: datetime
    planned_arrival: datetime | None
    eta: datetime | None = Field(description="Arrival ETA; null once there or done.")
    late: bool = Field(description="The ETA is after the promised slot's end.")
    late_by_s: int = Field(0, description="How far after the slot's end, seconds.")
    arrived_at: datetime | None
    done_at: datetime | None
    failure_reason: str | None
    contact: StopContact | None = Field(
        None,
        description="The customer's name and phone: to a driver key, on its own "
        "vehicles' stops, when known; never to a planner key.",
    )


class VehicleState(BaseModel):
    vehicle_id: str
    mode: str
    node_id: str
    status: VehicleStatus
    last_lat: float | None
    last_lon: float | None
    last_seen_at: datetime | None
    back_at: datetime | None = Field(description="ETA back at the node after its last stop.")
    stops_done: int
    stops_total: int
    late_stops: int
    stops: list[StopState]


class EventOut(BaseModel):
    event_id: str
    duplicate: bool = Field(description="This event id had been received before.")
    vehicle: VehicleState | None = Field(description="The vehicle after the event.")


class HistoryEntry(BaseModel):
    kind: EventKind
    occurred_at: datetime
    reason: str | None = None
    delay_s: int | None = None


class Tracking(BaseModel):
    order_id: str
    plan_id: str | None
    status: OrderStatus
    service: str | None
    mode: str | None = Field(description="van, cargo_bike, cargo_trike, click_collect.")
    node_id: str | None
    timezone: str | None = Field(description="The day's time zone (times are in it).")
    promised_slot: EtaWindow | None
    eta: datetime | None
    eta_window: EtaWindow | None
    late: bool
    stops_before: int | None = Field(description="Stops the vehicle makes before this one.")
    arrived_at: datetime | None
    done_at: datetime | None
    failure_reason: str | None
    reason: str | None = Field(None, description="unassigned: why, in words.")
    history: list[HistoryEntry]
    tracking_url: str = Field(description="The customer's page (signed, no API key needed).")
    channel: str | None = Field(
        None,
        description="Where the order (or return) was taken: web, app, store, call_centre; "
        "to checkout keys (null on the customer's token, and for an order given none).",
    )
    customer_id: str | None = Field(
        None,
        description="The retailer's customer id, to checkout keys (null on the customer's "
        "token, for an order given none, and once the customer's data is erased).",
    )


class LivePlan(BaseModel):
    plan_id: str
    tracked: bool = Field(description="Events have been received for this plan.")
    timezone: str
    nodes: list[dict]
    vehicles: list[VehicleState]
