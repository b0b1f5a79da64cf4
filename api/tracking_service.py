"""Tracking: vehicle events in, live state out (ETAs, late stops, order status).

Every event runs in one transaction: the plan job's row is locked (events of one plan
are applied one at a time, on SQLite and PostgreSQL alike), the event id is looked up
(idempotency), the plan's tracking state is opened from its plan.json at the first event,
the event is checked against that state, stored, applied, and the vehicle's remaining
stops get new ETAs from :func:`optimizer.live.estimate`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import Database
from api.models import PlanJob, utcnow
from api.tracking_models import TrackedOrder, TrackedVehicle, TrackingEvent
from api.tracking_schemas import (
    EtaWindow,
    EventIn,
    EventOut,
    HistoryEntry,
    LivePlan,
    StopState,
    Tracking,
    VehicleState,
)
from optimizer.io import ScenarioError, load_scenario
from optimizer.live import Fix, Waypoint, at_stop, estimate, eta_window
from optimizer.model import Mode, Scenario
from optimizer.model import Settings as DaySettings
from optimizer.travel import GreatCircle, Profile

REMAINING = ("planned", "out_for_delivery")
DONE = ("delivered", "failed")
PLAN_CACHE_SIZE = 16
# An order no event has touched is looked up in this many of the latest done plans.
RECENT_PLANS = 10


class TrackingError(Exception):
    """A refused event or lookup: HTTP status, message, field path."""

    def __init__(self, status: int, message: str, loc: tuple = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.loc = loc


@dataclass(frozen=True)
class _Day:
    """Converts between aware datetimes and seconds since the plan day's midnight."""

    settings: DaySettings

    @classmethod
    def of(cls, doc: dict) -> _Day:
        info = doc["scenario"]
        return cls(DaySettings(info["name"], date.fromisoformat(info["date"]), info["timezone"]))

    def s(self, moment: datetime) -> int:
        return self.settings.to_seconds(moment)

    def at(self, seconds: int) -> datetime:
        return self.settings.to_datetime(seconds)

    def parse(self, iso: str) -> datetime:
        return datetime.fromisoformat(iso)


class TrackingService:
    """The tracking state of the service's plans; ``app.state.tracking`` holds one.

    Parameters
    ----------
    db
        The service's database.
    app_state
        For the served scenario (``settings``, ``scenario``) and the checkout's confirmed
        orders (``checkout``), read when a plan is opened or an order looked up.
    secret
        Signs the customers' tracking tokens.
    """

    def __init__(self, db: Database, app_state: Any, secret: bytes):
        self.db = db
        self.app_state = app_state
        self._secret = secret
        self._travel = GreatCircle()
        self._plans: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    # -- customers' tokens --

    def token(self, order_id: str) -> str:
        """The customer's tracking token of an order: an HMAC of its id (no expiry: it
        shows one order's delivery status, nothing else)."""
        mac = hmac.new(self._secret, b"track:" + order_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")

    def token_ok(self, order_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(order_id).encode(), token.encode("utf-8", "replace"))

    def tracking_url(self, order_id: str) -> str:
        return f"/track/{quote(order_id, safe='')}?token={self.token(order_id)}"

    # -- events --

    def record(self, event: EventIn) -> tuple[EventOut, bool]:
        """Apply ``event``; ``(result, created)``, created False for a repeated id."""
        try:
            return self._record(event)
        except IntegrityError:
            # The same event id committed meanwhile by a request for another plan (events
            # of one plan are serialised by the plan's row lock): answer as a repeat.
            return self._record(event)

    def _record(self, event: EventIn) -> tuple[EventOut, bool]:
        digest = _body_sha256(event)
        with self.db.transaction() as s:
            job = s.scalars(
                select(PlanJob).where(PlanJob.id == event.plan_id).with_for_update()
            ).one_or_none()
            seen = s.get(TrackingEvent, event.event_id)
            if seen is not None:
                if seen.body_sha256 != digest:
                    raise TrackingError(
                        409,
                        f"event {event.event_id!r} was received before with another body",
                        ("body", "event_id"),
                    )
                return EventOut(
                    event_id=event.event_id,
                    duplicate=True,
                    vehicle=self._vehicle_now(s, seen.plan_id, seen.vehicle_id),
                ), False
            doc = self._done_plan(job, ("body", "plan_id"), status=422)
            day = _Day.of(doc)
            self._check_day(event, day)
            opened = s.scalar(
                select(TrackedOrder.order_id).where(TrackedOrder.plan_id == job.id).limit(1)
            )
            if opened is None:
                vehicles, orders = self._open(doc, job)
                s.add_all(vehicles + orders)
                s.flush()
            vehicle = None
            if event.vehicle_id is not None:
                vehicle = s.get(
                    TrackedVehicle, (event.plan_id, event.vehicle_id), with_for_update=True
                )
                if vehicle is None:
                    raise TrackingError(
                        422,
                        f"vehicle {event.vehicle_id!r} has no route in plan {event.plan_id}",
                        ("body", "vehicle_id"),
                    )
            order = None
            if event.order_id is not None:
                order = s.get(TrackedOrder, (event.plan_id, event.order_id))
                _check_order(event, order, doc)
            orders = [] if vehicle is None else _orders_of(s, vehicle)
            _apply(event, vehicle, order, orders)
            s.add(
                TrackingEvent(
                    event_id=event.event_id,
                    plan_id=event.plan_id,
                    vehicle_id=event.vehicle_id,
                    order_id=event.order_id,
                    kind=event.kind,
                    occurred_at=event.occurred_at,
                    received_at=utcnow(),
                    lat=event.lat,
                    lon=event.lon,
                    reason=event.reason,
                    delay_s=event.delay_s,
                    note=event.note,
                    body_sha256=digest,
                )
            )
            state = None
            if vehicle is not None:
                self._recompute(vehicle, orders, day, departed=event.kind == "departed")
                state = _vehicle_state(vehicle, orders, day.settings.tz)
            return EventOut(event_id=event.event_id, duplicate=False, vehicle=state), True

    def _check_day(self, event: EventIn, day: _Day) -> None:
        offset_s = day.s(event.occurred_at)
        if not -86_400 <= offset_s <= 2 * 86_400:
            raise TrackingError(
                422,
                f"occurred_at {event.occurred_at.isoformat()} is not on the plan's day "
                f"({day.settings.date.isoformat()}) or the day either side",
                ("body", "occurred_at"),
            )

    # -- reading --

    def live(self, plan_id: str) -> LivePlan:
        """Every vehicle of a plan: status, last fix, stops with ETAs, late flags."""
        with self.db.transaction(write=False) as s:
            job = s.get(PlanJob, plan_id)
            doc = self._done_plan(job, ("path", "plan_id"), status=404)
            tz = _Day.of(doc).settings.tz
            vehicles = list(
                s.scalars(
                    select(TrackedVehicle)
                    .where(TrackedVehicle.plan_id == plan_id)
                    .order_by(TrackedVehicle.vehicle_id)
                )
            )
            tracked = bool(vehicles)
            if tracked:
                states = [_vehicle_state(v, _orders_of(s, v), tz) for v in vehicles]
            else:
                opened, orders = self._open(doc, job)
                states = [
                    _vehicle_state(v, [o for o in orders if o.vehicle_id == v.vehicle_id], tz)
                    for v in opened
                ]
        scenario = self._scenario_of(job)
        used = {v.node_id for v in states}
        nodes = [
            {"node_id": n.node_id, "name": n.name, "lat": n.lat, "lon": n.lon}
            for n in scenario.nodes.values()
            if n.node_id in used
        ]
        return LivePlan(
            plan_id=plan_id,
            tracked=tracked,
            timezone=doc["scenario"]["timezone"],
            nodes=nodes,
            vehicles=states,
        )

    def tracking(self, order_id: str) -> Tracking:
        """An order's status, promised slot, ETA window and history (404 if unknown)."""
        with self.db.transaction(write=False) as s:
            row = s.execute(
                select(TrackedOrder, PlanJob.finished_at)
                .join(PlanJob, PlanJob.id == TrackedOrder.plan_id)
                .where(TrackedOrder.order_id == order_id)
                .order_by(PlanJob.finished_at.desc())
                .limit(1)
            ).first()
            if row is not None:
                return self._tracked(s, row[0])
            jobs = s.scalars(
                select(PlanJob)
                .where(PlanJob.status == "done")
                .order_by(PlanJob.finished_at.desc())
                .limit(RECENT_PLANS)
            ).all()
            quoted = json.dumps(order_id)
            for job in jobs:
                if quoted not in job.plan_json:  # cheap: most plans do not hold it
                    continue
                doc = self._plan_doc(job)
                if any(a["order_id"] == order_id for a in doc["assignments"]):
                    return self._planned(doc, job, order_id)
        checkout = getattr(self.app_state, "checkout", None)
        for order in checkout.confirmed_orders() if checkout is not None else []:
            if order.order_id == order_id:
                day = self.app_state.scenario.settings
                slot = EtaWindow(
                    start=day.to_datetime(order.slot_start_s), end=day.to_datetime(order.slot_end_s)
                )
                return self._tracking(
                    order_id,
                    None,
                    "confirmed",
                    promised_slot=slot,
                    service=str(order.service),
                    timezone=day.timezone,
                )
        raise TrackingError(
            404, f"no order {order_id!r} in any plan or checkout", ("path", "order_id")
        )

    def _tracked(self, s: Session, order: TrackedOrder) -> Tracking:
        events = s.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.plan_id == order.plan_id)
            .where(
                (TrackingEvent.order_id == order.order_id)
                | (
                    (TrackingEvent.vehicle_id == order.vehicle_id)
                    & TrackingEvent.kind.in_(("departed", "delayed"))
                )
            )
            .order_by(TrackingEvent.occurred_at, TrackingEvent.received_at)
        ).all()
        return self._from_row(order, self._tz(s, order.plan_id), events)

    def _planned(self, doc: dict, job: PlanJob, order_id: str) -> Tracking:
        """An order of a plan no event has touched yet: as planned."""
        _, orders = self._open(doc, job)
        for order in orders:
            if order.order_id == order_id:
                return self._from_row(order, _Day.of(doc).settings.tz, [])
        reason = next((u["reason"] for u in doc["unassigned"] if u["order_id"] == order_id), None)
        return self._tracking(order_id, job.id, "unassigned", reason=reason)

    def _from_row(self, order: TrackedOrder, tz: ZoneInfo, events: list) -> Tracking:
        window = None
        if order.eta_at is not None:
            half_before, half_after = eta_window(0, order.stops_ahead)
            window = EtaWindow(
                start=_local(_plus(order.eta_at, half_before), tz),
                end=_local(_plus(order.eta_at, half_after), tz),
            )
        return self._tracking(
            order.order_id,
            order.plan_id,
            order.status,
            service=order.service,
            mode=order.mode,
            node_id=order.node_id,
            timezone=str(tz),
            promised_slot=EtaWindow(
                start=_local(order.slot_start_at, tz), end=_local(order.slot_end_at, tz)
            ),
            eta=_local(order.eta_at, tz),
            eta_window=window,
            late=order.late,
            stops_before=order.stops_ahead if order.vehicle_id else None,
            arrived_at=_local(order.arrived_at, tz),
            done_at=_local(order.done_at, tz),
            failure_reason=order.failure_reason,
            history=[
                HistoryEntry(
                    kind=e.kind,
                    occurred_at=_local(e.occurred_at, tz),
                    reason=e.reason,
                    delay_s=e.delay_s,
                )  # fmt: skip
                for e in events
            ],
        )

    def _tracking(self, order_id: str, plan_id: str | None, status: str, **fields) -> Tracking:
        values = dict(
            service=None, mode=None, node_id=None, timezone=None, promised_slot=None, eta=None,
            eta_window=None, late=False, stops_before=None, arrived_at=None, done_at=None,
            failure_reason=None, history=[],
        )  # fmt: skip
        values.update(fields)
        return Tracking(
            order_id=order_id,
            plan_id=plan_id,
            status=status,
            tracking_url=self.tracking_url(order_id),
            **values,
        )

    def _tz(self, s: Session, plan_id: str) -> ZoneInfo:
        return _Day.of(self._plan_doc(s.get(PlanJob, plan_id))).settings.tz

    def _vehicle_now(self, s: Session, plan_id: str, vehicle_id: str | None) -> VehicleState | None:
        if vehicle_id is None:
            return None
        vehicle = s.get(TrackedVehicle, (plan_id, vehicle_id))
        return (
            None
            if vehicle is None
            else _vehicle_state(vehicle, _orders_of(s, vehicle), self._tz(s, plan_id))
        )

    # -- plans --

    def _done_plan(self, job: PlanJob | None, loc: tuple, status: int) -> dict:
        if job is None:
            raise TrackingError(status, "no plan job with this id", loc)
        if job.status != "done":
            raise TrackingError(
                409 if status == 404 else 422,
                f"plan job {job.id} is {job.status}: no plan to track",
                loc,
            )
        return self._plan_doc(job)

    def _plan_doc(self, job: PlanJob) -> dict:
        """The plan.json of a done job, parsed once (a done plan never changes)."""
        with self._lock:
            doc = self._plans.get(job.id)
            if doc is not None:
                self._plans.move_to_end(job.id)
                return doc
        doc = json.loads(job.plan_json)
        with self._lock:
            self._plans[job.id] = doc
            while len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return doc

    def _scenario_of(self, job: PlanJob) -> Scenario:
        served = self.app_state.settings.scenario
        if Path(job.scenario_dir) == served:
            return self.app_state.scenario
        try:
            return load_scenario(job.scenario_dir)
        except (ScenarioError, OSError) as exc:
            raise TrackingError(409, f"cannot read the plan's scenario: {exc}") from exc

    def _open(self, doc: dict, job: PlanJob) -> tuple[list[TrackedVehicle], list[TrackedOrder]]:
        """The tracking rows of a plan as planned: one per vehicle with a route, one per
        routed or collected order."""
        scenario = self._scenario_of(job)
        day = _Day.of(doc)
        now = utcnow()
        by_vehicle: dict[str, list[dict]] = {}
        for route in doc["routes"]:
            by_vehicle.setdefault(route["vehicle_id"], []).append(route)
        vehicles, orders = [], []
        for vehicle_id, routes in sorted(by_vehicle.items()):
            routes.sort(key=lambda r: r["start"])
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
                plan_id=job.id,
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
                    service_start = day.parse(stop["service_start"])
                    arrival = day.parse(stop["arrival"])
                    orders.append(
                        TrackedOrder(
                            plan_id=job.id,
                            order_id=stop["order_id"],
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
        orders_by_id = scenario.orders_by_id
        for collection in doc["collections"]:
            node = scenario.nodes.get(collection["node_id"])
            if node is None:
                raise TrackingError(
                    409, f"the plan's scenario no longer has node {collection['node_id']!r}"
                )
            ready = day.parse(collection["ready_by"])
            order = orders_by_id.get(collection["order_id"])
            slot = (
                (day.at(order.slot_start_s), day.at(order.slot_end_s)) if order else (ready, ready)
            )
            orders.append(
                TrackedOrder(
                    plan_id=job.id,
                    order_id=collection["order_id"],
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
        return vehicles, orders

    # -- ETAs --

    def _recompute(
        self, vehicle: TrackedVehicle, orders: list[TrackedOrder], day: _Day, departed: bool
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
        etas = estimate(waypoints, fix, self._travel, profile)
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


def _body_sha256(event: EventIn) -> str:
    body = event.model_dump(mode="json")
    body["occurred_at"] = event.occurred_at.timestamp()  # one instant, whatever the offset
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _plus(moment: datetime, seconds: int) -> datetime:
    return moment + timedelta(seconds=seconds)


def _orders_of(s: Session, vehicle: TrackedVehicle) -> list[TrackedOrder]:
    return list(
        s.scalars(
            select(TrackedOrder)
            .where(TrackedOrder.plan_id == vehicle.plan_id)
            .where(TrackedOrder.vehicle_id == vehicle.vehicle_id)
            .order_by(TrackedOrder.sequence)
        )
    )


def _check_order(event: EventIn, order: TrackedOrder | None, doc: dict) -> None:
    """The order of an event is on the event's vehicle (or a collection, for collected),
    and has not ended yet."""
    loc = ("body", "order_id")
    if order is None:
        where = next((a for a in doc["assignments"] if a["order_id"] == event.order_id), None)
        why = "is not in this plan" if where is None else f"is {where['status']} in this plan"
        raise TrackingError(422, f"order {event.order_id!r} {why}", loc)
    if event.kind == "collected":
        if order.vehicle_id is not None:
            raise TrackingError(
                422,
                f"order {order.order_id!r} is delivered by {order.vehicle_id}, not collected",
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
    if order.status in DONE:
        raise TrackingError(
            409,
            f"order {order.order_id!r} was already {order.status} at {order.done_at.isoformat()}",
            loc,
        )
    if event.kind == "arrived" and order.status == "arrived":
        raise TrackingError(409, f"the vehicle already arrived at order {order.order_id!r}", loc)


def _apply(
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
    if kind in ("arrived", "delivered", "failed") and order is not None and lat is None:
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
                f"the vehicle is still at order {busy.order_id!r}: send its delivered or "
                "failed event first",
                ("body", "order_id"),
            )
        order.status, order.arrived_at, order.updated_at = "arrived", t, now
        vehicle.trip = max(vehicle.trip, order.trip)
        vehicle.status = "en_route"
    elif kind in ("delivered", "failed"):
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


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(tz)


def _vehicle_state(
    vehicle: TrackedVehicle, orders: list[TrackedOrder], tz: ZoneInfo
) -> VehicleState:
    stops = [
        StopState(
            order_id=o.order_id,
            sequence=o.sequence,
            status=o.status,
            lat=o.lat,
            lon=o.lon,
            slot_start=_local(o.slot_start_at, tz),
            slot_end=_local(o.slot_end_at, tz),
            planned_arrival=_local(o.planned_arrival_at, tz),
            eta=_local(o.eta_at, tz),
            late=o.late,
            late_by_s=_late_by_s(o),
            arrived_at=_local(o.arrived_at, tz),
            done_at=_local(o.done_at, tz),
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
        last_seen_at=_local(vehicle.last_seen_at, tz),
        back_at=_local(vehicle.back_at, tz),
        stops_done=sum(o.status in DONE for o in orders),
        stops_total=len(orders),
        late_stops=sum(o.late for o in orders),
        stops=stops,
    )


def _arrival(order: TrackedOrder) -> datetime:
    """When the vehicle got to the door of a delivered or failed stop: its arrived event,
    or, without one, the end of the stop less the planned service time."""
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
