"""The tracking state machine: a plan's rows opened from its plan.json, an event checked
and applied to them, the vehicle's remaining stops given new ETAs, the state shown.

Works on the rows of one session (:mod:`api.models.tracking`); the transaction, the
locks and the idempotency are :class:`api.services.tracking.TrackingService`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import Problem
from api.models import utcnow
from api.models.tracking import TrackedOrder, TrackedVehicle
from api.schemas.tracking import EventIn, StopState, VehicleState
from optimizer.io.plan_files import PICKUP_SERVICE
from optimizer.live import Fix, Waypoint, at_stop, estimate
from optimizer.model import Mode, Scenario
from optimizer.model import Settings as DaySettings
from optimizer.travel import Profile, TravelProvider

REMAINING = ("planned", "out_for_delivery")
DONE = ("delivered", "picked_up", "failed")
# The event (and status) that ends a stop well, by the stop's kind.
SUCCESS = {"delivery": "delivered", "pickup": "picked_up"}


class TrackingError(Problem):
    """A refused event or lookup: HTTP status, message, field path, and ``ctx``, values
    a client acts on (a superseded plan's ``current_plan_id``); an
    :class:`api.errors.Problem`: raised through a route, it is the answer."""


@dataclass(frozen=True)
class Day:
    """Converts between aware datetimes and seconds since the plan day's midnight."""

    settings: DaySettings

    @classmethod
    def of(cls, doc: dict) -> Day:
        info = doc["scenario"]
        return cls(DaySettings(info["name"], date.fromisoformat(info["date"]), info["timezone"]))

    def s(self, moment: datetime) -> int:
        return self.settings.to_seconds(moment)

    def at(self, seconds: int) -> datetime:
        return self.settings.to_datetime(seconds)

    def parse(self, iso: str) -> datetime:
        return datetime.fromisoformat(iso)


def open_plan(
    doc: dict, plan_id: str, scenario: Scenario
) -> tuple[list[TrackedVehicle], list[TrackedOrder]]:
    """The tracking rows of a plan as planned: one per vehicle with a route, one per
    routed or collected order."""
    day = Day.of(doc)
    now = utcnow()
    vehicles, orders = _routed_rows(doc, plan_id, scenario, day, now)
    return vehicles, orders + _collection_rows(doc, plan_id, scenario, day, now)


def _routed_rows(
    doc: dict, plan_id: str, scenario: Scenario, day: Day, now: datetime
) -> tuple[list[TrackedVehicle], list[TrackedOrder]]:
    """One row per vehicle with a route, one per order it delivers or picks up."""
    by_vehicle: dict[str, list[dict]] = {}
    for route in doc["routes"]:
        by_vehicle.setdefault(route["vehicle_id"], []).append(route)
    vehicles, orders = [], []
    for vehicle_id, routes in sorted(by_vehicle.items()):
        routes.sort(key=lambda r: day.parse(r["start"]))
        first = routes[0]
        node = scenario.nodes.get(first["node_id"])
        vehicle_type = scenario.vehicle_types.get(first["vehicle_type_id"])
        if node is None or vehicle_type is None:
            raise TrackingError(
                409,
                f"the plan's scenario no longer has node {first['node_id']!r} or vehicle "
                f"type {first['vehicle_type_id']!r} (of {vehicle_id}): cannot track it",
            )
        trip_starts = [day.s(day.parse(r["start"])) for r in routes]
        vehicle = TrackedVehicle(
            plan_id=plan_id,
            vehicle_id=vehicle_id,
            vehicle_type_id=vehicle_type.vehicle_type_id,
            mode=first["mode"],
            speed_kmh=vehicle_type.speed_kmh,
            node_id=node.node_id,
            node_lat=node.lat,
            node_lon=node.lon,
            trip_starts_json=json.dumps(trip_starts),
            status="at_node",
            trip=0,
            back_at=day.parse(routes[-1]["end"]),
            updated_at=now,
        )
        vehicles.append(vehicle)
        sequence = 0
        for trip, route in enumerate(routes):
            for stop in route["stops"]:
                if stop.get("outcome") == "failed":
                    continue  # a re-plan's failed attempt: the order is placed again
                service_start = day.parse(stop["service_start"])
                arrival = day.parse(stop["arrival"])
                orders.append(
                    TrackedOrder(
                        plan_id=plan_id,
                        # A split order's parcels are tracked one by one (ORDER/1, ...).
                        order_id=stop.get("parcel_id") or stop["order_id"],
                        vehicle_id=vehicle_id,
                        node_id=node.node_id,
                        mode=first["mode"],
                        service=stop.get("service", ""),
                        sequence=sequence,
                        trip=trip,
                        lat=stop["lat"],
                        lon=stop["lon"],
                        service_s=day.s(day.parse(stop["departure"])) - day.s(service_start),
                        slot_start_at=day.parse(stop["slot_start"]),
                        slot_end_at=day.parse(stop["slot_end"]),
                        planned_arrival_at=arrival,
                        status="planned",
                        eta_at=arrival,
                        stops_ahead=sequence,
                        late=arrival > day.parse(stop["slot_end"]),
                        updated_at=now,
                    )
                )
                sequence += 1
    return vehicles, orders


def _collection_rows(
    doc: dict, plan_id: str, scenario: Scenario, day: Day, now: datetime
) -> list[TrackedOrder]:
    """One row per order (or parcel) collected at a store."""
    orders = []
    orders_by_id = scenario.orders_by_id
    # A parcel of a split order a re-plan offered click & collect: its agreed window.
    parcel_windows = {
        c["parcel_id"]: (day.parse(c["slot_start"]), day.parse(c["slot_end"]))
        for c in doc.get("order_changes") or []
        if c.get("parcel_id")
    }
    for collection in doc["collections"]:
        node = scenario.nodes.get(collection["node_id"])
        if node is None:
            raise TrackingError(
                409, f"the plan's scenario no longer has node {collection['node_id']!r}"
            )
        ready = day.parse(collection["ready_by"])
        order = orders_by_id.get(collection["order_id"])
        unit = collection.get("parcel_id") or collection["order_id"]
        slot = (day.at(order.slot_start_s), day.at(order.slot_end_s)) if order else (ready, ready)
        slot = parcel_windows.get(unit, slot)
        orders.append(
            TrackedOrder(
                plan_id=plan_id,
                # A split order's parcel collected at a store is tracked as the parcel.
                order_id=unit,
                vehicle_id=None,
                node_id=node.node_id,
                mode="click_collect",
                service="click_collect",
                lat=node.lat,
                lon=node.lon,
                slot_start_at=slot[0],
                slot_end_at=slot[1],
                planned_arrival_at=None,
                status="ready_for_collection",
                stops_ahead=0,
                late=False,
                updated_at=now,
            )
        )
    return orders


def recompute(
    vehicle: TrackedVehicle,
    orders: list[TrackedOrder],
    day: Day,
    departed: bool,
    travel: TravelProvider,
) -> None:
    """New ETAs and late flags for the vehicle's remaining stops, from its fix."""
    trip_starts = json.loads(vehicle.trip_starts_json)
    remaining = [o for o in orders if o.status in REMAINING]
    current = next((o for o in orders if o.status == "arrived"), None)
    busy = None if vehicle.busy_until_at is None else day.s(vehicle.busy_until_at)

    def waypoint(o: TrackedOrder) -> Waypoint:
        return Waypoint(o.order_id, o.lat, o.lon, day.s(o.slot_start_at),
                        day.s(o.slot_end_at), o.service_s)  # fmt: skip

    if current is not None:
        served = at_stop(waypoint(current), day.s(current.arrived_at))
        leaves = served.busy_until_s if busy is None else max(busy, served.busy_until_s)
        fix = Fix(served.lat, served.lon, served.at_s, leaves)
        on_trip = current.trip
    elif vehicle.status != "en_route" or vehicle.last_seen_at is None:
        on_trip = remaining[0].trip if remaining else vehicle.trip
        start = trip_starts[on_trip] if remaining else None
        seen = None if vehicle.last_seen_at is None else day.s(vehicle.last_seen_at)
        at_s = seen if seen is not None else (start if start is not None else 0)
        holds = [x for x in (busy, start) if x is not None]
        fix = Fix(vehicle.node_lat, vehicle.node_lon, at_s, max(holds) if holds else None)
    else:
        fix = Fix(vehicle.last_lat, vehicle.last_lon, day.s(vehicle.last_seen_at), busy)
        on_trip = vehicle.trip
    waypoints: list[Waypoint] = []
    for o in remaining:
        if o.trip != on_trip:  # back to the node, out again at the next trip's start
            waypoints.append(Waypoint(None, vehicle.node_lat, vehicle.node_lon,
                                      trip_starts[o.trip], None, 0))  # fmt: skip
            on_trip = o.trip
        waypoints.append(waypoint(o))
    home = vehicle.status in ("at_node", "done") and current is None and not remaining
    if not home:
        waypoints.append(Waypoint(None, vehicle.node_lat, vehicle.node_lon, 0, None, 0))
    profile = Profile(Mode(vehicle.mode), vehicle.speed_kmh)
    etas = estimate(waypoints, fix, travel, profile)
    by_order = {e.order_id: e for e in etas if e.order_id is not None}
    now = utcnow()
    ahead = 1 if current is not None else 0
    for o in remaining:
        eta = by_order[o.order_id]
        new = (day.at(eta.arrival_s), eta.late, ahead)
        if (o.eta_at, o.late, o.stops_ahead) != new:  # write only the rows that change
            o.eta_at, o.late, o.stops_ahead = new
            o.updated_at = now
        ahead += 1
        if departed and o.trip == vehicle.trip and o.eta_at_departure is None:
            o.eta_at_departure = o.eta_at
    vehicle.back_at = day.at(etas[-1].arrival_s) if not home else vehicle.last_seen_at
    vehicle.updated_at = now


def plus(moment: datetime, seconds: int) -> datetime:
    return moment + timedelta(seconds=seconds)


def orders_of(s: Session, vehicle: TrackedVehicle) -> list[TrackedOrder]:
    return list(
        s.scalars(
            select(TrackedOrder)
            .where(TrackedOrder.plan_id == vehicle.plan_id)
            .where(TrackedOrder.vehicle_id == vehicle.vehicle_id)
            .order_by(TrackedOrder.sequence)
        )
    )


def check_order(event: EventIn, order: TrackedOrder | None, doc: dict) -> None:
    """The order of an event is on the event's vehicle (or a collection, for collected),
    and has not ended yet."""
    loc = ("body", "order_id")
    if order is None:
        where = next((a for a in doc["assignments"] if a["order_id"] == event.order_id), None)
        if where is None:  # a return the plan could not pick up
            where = next(
                (r for r in doc.get("returns", []) if r["return_id"] == event.order_id), None
            )
        why = "is not in this plan" if where is None else f"is {where['status']} in this plan"
        raise TrackingError(422, f"order {event.order_id!r} {why}", loc)
    if event.kind == "collected":
        if order.vehicle_id is not None:
            raise TrackingError(
                422,
                f"order {order.order_id!r} is on vehicle {order.vehicle_id}, not collected",
                loc,
            )
        if order.status == "collected":
            raise TrackingError(409, f"order {order.order_id!r} was already collected", loc)
        return
    if order.vehicle_id != event.vehicle_id:
        on = "a click & collect order" if order.vehicle_id is None else f"on {order.vehicle_id}"
        raise TrackingError(
            422, f"order {order.order_id!r} is not on vehicle {event.vehicle_id!r}: it is {on}", loc
        )
    kind = stop_kind(order)
    if event.kind in SUCCESS.values() and event.kind != SUCCESS[kind]:
        what = "the pickup of a return" if kind == "pickup" else "a delivery"
        raise TrackingError(
            422,
            f"stop {order.order_id!r} is {what}: send kind {SUCCESS[kind]!r}, not {event.kind!r}",
            ("body", "kind"),
        )
    if order.status in DONE:
        raise TrackingError(
            409,
            f"order {order.order_id!r} was already {order.status} at {order.done_at.isoformat()}",
            loc,
        )
    if event.kind == "arrived" and order.status == "arrived":
        raise TrackingError(409, f"the vehicle already arrived at order {order.order_id!r}", loc)


def apply_event(
    event: EventIn,
    vehicle: TrackedVehicle | None,
    order: TrackedOrder | None,
    orders: list[TrackedOrder],
) -> None:
    """The event's effect on the vehicle's and the order's state. A fix older than the
    vehicle's last one (a late event) changes statuses, never the position."""
    t = event.occurred_at
    kind = event.kind
    now = utcnow()
    if kind == "collected":
        order.status, order.done_at, order.updated_at = "collected", t, now
        return
    fresh = vehicle.last_seen_at is None or t >= vehicle.last_seen_at
    lat, lon = event.lat, event.lon
    if kind in ("arrived", *DONE) and order is not None and lat is None:
        lat, lon = order.lat, order.lon  # at the door
    if kind == "departed":
        remaining = [o for o in orders if o.status in REMAINING]
        if not remaining:
            raise TrackingError(
                409, f"vehicle {vehicle.vehicle_id!r} has no stop left to leave for",
                ("body", "kind"),
            )  # fmt: skip
        vehicle.trip = remaining[0].trip
        vehicle.status = "en_route"
        if lat is None:
            lat, lon = vehicle.node_lat, vehicle.node_lon
        for o in remaining:
            if o.trip == vehicle.trip and o.status == "planned":
                o.status, o.updated_at = "out_for_delivery", now
    elif kind == "arrived" and order is None:  # back at the node
        if lat is None:
            lat, lon = vehicle.node_lat, vehicle.node_lon
        if fresh:
            left = any(o.status in REMAINING or o.status == "arrived" for o in orders)
            vehicle.status = "at_node" if left else "done"
    elif kind == "arrived":
        busy = next((o for o in orders if o.status == "arrived"), None)
        if busy is not None:
            raise TrackingError(
                409,
                f"the vehicle is still at order {busy.order_id!r}: send its "
                f"{SUCCESS[stop_kind(busy)]} or failed event first",
                ("body", "order_id"),
            )
        order.status, order.arrived_at, order.updated_at = "arrived", t, now
        vehicle.trip = max(vehicle.trip, order.trip)
        vehicle.status = "en_route"
    elif kind in DONE:
        order.status, order.done_at, order.updated_at = kind, t, now
        order.failure_reason = event.reason
        order.eta_at = None
        order.late = _arrival(order) > order.slot_end_at
        vehicle.trip = max(vehicle.trip, order.trip)
        if vehicle.status == "at_node":
            vehicle.status = "en_route"
    elif kind == "delayed":
        until = t + timedelta(seconds=event.delay_s)
        if vehicle.busy_until_at is None or until > vehicle.busy_until_at:
            vehicle.busy_until_at = until
    if kind == "arrived" and order is not None:
        order.eta_at = None
        order.late = t > order.slot_end_at
    if fresh:
        if lat is not None:
            vehicle.last_lat, vehicle.last_lon = lat, lon
        elif vehicle.last_lat is None:
            vehicle.last_lat, vehicle.last_lon = vehicle.node_lat, vehicle.node_lon
        vehicle.last_seen_at = t
    vehicle.updated_at = now


def local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(tz)


def vehicle_state(
    vehicle: TrackedVehicle, orders: list[TrackedOrder], tz: ZoneInfo
) -> VehicleState:
    stops = [
        StopState(
            order_id=o.order_id,
            kind=stop_kind(o),
            sequence=o.sequence,
            status=o.status,
            lat=o.lat,
            lon=o.lon,
            slot_start=local(o.slot_start_at, tz),
            slot_end=local(o.slot_end_at, tz),
            planned_arrival=local(o.planned_arrival_at, tz),
            eta=local(o.eta_at, tz),
            late=o.late,
            late_by_s=_late_by_s(o),
            arrived_at=local(o.arrived_at, tz),
            done_at=local(o.done_at, tz),
            failure_reason=o.failure_reason,
        )
        for o in orders
    ]
    return VehicleState(
        vehicle_id=vehicle.vehicle_id,
        mode=vehicle.mode,
        node_id=vehicle.node_id,
        status=vehicle.status,
        last_lat=vehicle.last_lat,
        last_lon=vehicle.last_lon,
        last_seen_at=local(vehicle.last_seen_at, tz),
        back_at=local(vehicle.back_at, tz),
        stops_done=sum(o.status in DONE for o in orders),
        stops_total=len(orders),
        late_stops=sum(o.late for o in orders),
        stops=stops,
    )


def stop_kind(order: TrackedOrder) -> str:
    """``pickup`` for a return's pickup stop (its ``order_id`` is the return id), else
    ``delivery``."""
    return "pickup" if order.service == PICKUP_SERVICE else "delivery"


def _arrival(order: TrackedOrder) -> datetime:
    """When the vehicle got to the door of a done stop (delivered, picked up, failed): its
    arrived event, or, without one, the end of the stop less the planned service time."""
    if order.arrived_at is not None:
        return order.arrived_at
    return order.done_at - timedelta(seconds=order.service_s)


def _late_by_s(order: TrackedOrder) -> int:
    """How far after the slot's end the vehicle got (or will get) to the door."""
    if order.arrived_at is not None:
        at = order.arrived_at
    elif order.status in DONE:
        at = _arrival(order)
    else:
        at = order.eta_at
    if at is None:
        return 0
    return max(0, int((at - order.slot_end_at).total_seconds()))
