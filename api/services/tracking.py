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
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import false, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import Database
from api.models import PlanJob, utcnow
from api.models.checkout import DayOrder, Hold
from api.models.orders import DayReturn
from api.models.tracking import TrackedOrder, TrackedVehicle, TrackingEvent
from api.schemas.tracking import (
    EtaWindow,
    EventIn,
    EventOut,
    HistoryEntry,
    LivePlan,
    Tracking,
    VehicleState,
)
from api.services.order_events import announce_eta_moves, status_data
from api.services.outbox import announce
from api.services.personal_data import with_customers
from api.services.plan_versions import current_version, versions
from api.services.tracking_state import (
    Day,
    TrackingError,
    apply_event,
    check_order,
    local,
    open_plan,
    orders_of,
    plus,
    recompute,
    vehicle_state,
)
from optimizer.io import ScenarioError, load_scenario
from optimizer.live import eta_window
from optimizer.model import Scenario
from optimizer.model import Settings as DaySettings
from optimizer.travel import travel_of

PLAN_CACHE_SIZE = 16
ANCESTRY_CACHE_SIZE = 1024  # plan id -> its versions (a few ids each)
# An order no event has touched is looked up in this many of the latest done plans.
RECENT_PLANS = 10
# The tracking events announced by a webhook (besides departed: order.out_for_delivery).
ANNOUNCED = {
    "delivered": "order.delivered",
    "failed": "order.failed",
    "picked_up": "return.picked_up",
    "collected": "order.collected",
}


class TrackingService:
    """The tracking state of the service's plans; ``app.state.tracking`` holds one.

    Parameters
    ----------
    db
        The service's database.
    app_state
        For the served scenario (``settings``, ``scenario``: its time zone dates the
        orders confirmed at checkout), read when a plan is opened or an order looked up.
    secret
        Signs the customers' tracking tokens.
    """

    def __init__(self, db: Database, app_state: Any, secret: bytes):
        self.db = db
        self.app_state = app_state
        self._secret = secret
        self._plans: OrderedDict[str, dict] = OrderedDict()
        self._ancestry: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    # -- customers' tokens --

    def token(self, order_id: str) -> str:
        """The customer's tracking token of an order, ``EXPIRES.MAC``: ``EXPIRES`` the
        instant (Unix seconds) it stops working, the end of the
        ``tracking_token_days``-th day after today (the service's clock, the served
        scenario's time zone), and ``MAC`` an HMAC of it and the order id. It shows one
        order's delivery status, nothing else."""
        settings = self.app_state.settings
        tz = self.app_state.scenario.settings.tz
        today = self.app_state.clock.now().astimezone(tz).date()
        last = today + timedelta(days=settings.tracking_token_days + 1)
        expires_s = int(datetime.combine(last, time(0), tzinfo=tz).timestamp())
        return f"{expires_s}.{self._mac(order_id, expires_s)}"

    def _mac(self, order_id: str, expires_s: int) -> str:
        signed = f"track:{expires_s}:".encode() + order_id.encode()
        mac = hmac.new(self._secret, signed, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")

    def token_problem(self, order_id: str, token: str) -> str | None:
        """Why ``token`` does not open ``order_id``'s tracking (not signed for it, or
        expired), or None when it does."""
        expires, dot, mac = token.partition(".")
        if not (dot and expires.isascii() and expires.isdigit() and len(expires) <= 12):
            return "this tracking link is not valid for this order"
        good = self._mac(order_id, int(expires))
        if not hmac.compare_digest(good.encode(), mac.encode("utf-8", "replace")):
            return "this tracking link is not valid for this order"
        if self.app_state.clock.now().timestamp() >= int(expires):
            tz = self.app_state.scenario.settings.tz
            ended = datetime.fromtimestamp(int(expires), tz) - timedelta(seconds=1)
            return (
                f"this tracking link expired at the end of {ended.date().isoformat()}: the "
                "shop can send a new one"
            )
        return None

    def tracking_url(self, order_id: str, token: str | None = None) -> str:
        """The customer's page of an order, with ``token`` (default: a new one)."""
        return f"/track/{quote(order_id, safe='')}?token={token or self.token(order_id)}"

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
            current = current_version(s, job.id, self._plan_doc)
            if current != job.id:
                raise TrackingError(
                    409,
                    f"plan {job.id} was re-planned: its current version is plan {current}; "
                    "send the vehicle's events to it (read its routes again)",
                    ("body", "plan_id"),
                    {"current_plan_id": current},
                )
            day = Day.of(doc)
            self._check_day(event, day)
            opened = s.scalar(
                select(TrackedOrder.order_id).where(TrackedOrder.plan_id == job.id).limit(1)
            )
            if opened is None:
                vehicles, orders = open_plan(doc, job.id, self._scenario_of(job))
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
                check_order(event, order, doc)
            orders = [] if vehicle is None else orders_of(s, vehicle)
            before = {o.order_id: o.status for o in orders}
            apply_event(event, vehicle, order, orders)
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
                travel = travel_of(self.app_state.scenario)  # the plans' travel model
                recompute(vehicle, orders, day, event.kind == "departed", travel)
                state = vehicle_state(vehicle, orders, day.settings.tz)
            changed = [o for o in orders if o.status != before[o.order_id]]
            self._announce(s, event, day.settings.tz, order, orders, changed)
            return EventOut(event_id=event.event_id, duplicate=False, vehicle=state), True

    def _announce(
        self,
        s: Session,
        event: EventIn,
        tz: ZoneInfo,
        order: TrackedOrder | None,
        orders: list[TrackedOrder],
        changed: list[TrackedOrder],
    ) -> None:
        """The webhooks of ``event`` (:data:`ANNOUNCED`), in its transaction: one per
        order it sent out for delivery, or the order it delivered, failed, picked up or
        collected, each with its status, slot, ETA window and tracking link
        (:func:`~api.services.order_events.status_data`); and ``order.eta_changed`` for
        the vehicle's orders whose ETA moved past a subscriber's threshold."""
        now = self.app_state.clock.now()
        base = {"plan_id": event.plan_id, "vehicle_id": event.vehicle_id,
                "occurred_at": event.occurred_at.isoformat()}  # fmt: skip
        if event.kind == "departed":
            out = [o for o in changed if o.status == "out_for_delivery"]
            datas = [status_data(o, tz, self.tracking_url) | base for o in out]
            for data in with_customers(s, datas):
                announce(s, "order.out_for_delivery", data, now)
        elif event.kind in ANNOUNCED and order is not None:
            data = status_data(order, tz, self.tracking_url) | base
            if event.kind == "failed":
                data["reason"] = event.reason
            announce(s, ANNOUNCED[event.kind], with_customers(s, [data])[0], now)
        if event.kind != "departed":  # at departure, the ETAs told are the new ones
            announce_eta_moves(s, orders, tz, now, self.tracking_url)

    def _check_day(self, event: EventIn, day: Day) -> None:
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
            tz = Day.of(doc).settings.tz
            vehicles = list(
                s.scalars(
                    select(TrackedVehicle)
                    .where(TrackedVehicle.plan_id == plan_id)
                    .order_by(TrackedVehicle.vehicle_id)
                )
            )
            tracked = bool(vehicles)
            if tracked:
                states = [vehicle_state(v, orders_of(s, v), tz) for v in vehicles]
            else:
                opened, orders = open_plan(doc, job.id, self._scenario_of(job))
                states = [
                    vehicle_state(v, [o for o in orders if o.vehicle_id == v.vehicle_id], tz)
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

    def who(self, order_id: str) -> tuple[str | None, str | None]:
        """The channel and customer id of an order (its hold), a split order's parcel
        (``ORDER/2``: its order's) or a return booked by API; (None, None) if none."""
        with self.db.transaction(write=False) as s:
            for key in dict.fromkeys((order_id, order_id.split("/")[0])):
                hold = s.execute(select(Hold).where(Hold.order_id == key)).scalar_one_or_none()
                if hold is not None:
                    return hold.channel, hold.customer_id
            ret = s.get(DayReturn, order_id)
            return (ret.channel, ret.customer_id) if ret is not None else (None, None)

    def tracking(self, order_id: str) -> Tracking:
        """An order's status, promised slot, ETA window and history (404 if unknown).

        Looked up in the tracking rows (the newest plan version that has the order; its
        history is the order's events in every version of its day), then in the latest
        done plans (as planned), then in the orders confirmed at checkout that no plan has
        yet (status ``confirmed``, whatever their day)."""
        with self.db.transaction(write=False) as s:
            row = s.execute(
                select(TrackedOrder, PlanJob.finished_at)
                .join(PlanJob, PlanJob.id == TrackedOrder.plan_id)
                .where(TrackedOrder.order_id == order_id)
                .order_by(PlanJob.finished_at.desc())
                .limit(1)
            ).first()
            if row is None:  # a split order: its last parcel to arrive tells when it is all there
                row = s.execute(
                    select(TrackedOrder, PlanJob.finished_at)
                    .join(PlanJob, PlanJob.id == TrackedOrder.plan_id)
                    .where(TrackedOrder.order_id.startswith(order_id + "/", autoescape=True))
                    .order_by(PlanJob.finished_at.desc(), TrackedOrder.eta_at.desc().nulls_last())
                    .limit(1)
                ).first()
            confirmed = s.get(DayOrder, order_id)
            earlier: list[TrackingEvent] = []  # of an order carried over from them
            after = None
            if row is not None:
                tracked = self._tracked(s, row[0])
                if not _carried_past(confirmed, tracked):
                    return tracked
                # Not delivered on its day and carried into a later one: what that day
                # says, after what happened before.
                earlier, after = tracked.history, row[1]
            jobs = s.scalars(
                select(PlanJob)
                .where(PlanJob.status == "done")
                .where(true() if after is None else PlanJob.finished_at > after)
                .order_by(PlanJob.finished_at.desc())
                .limit(RECENT_PLANS)
            ).all()
            quoted = json.dumps(order_id)
            for job in jobs:
                if quoted not in job.plan_json:  # cheap: most plans do not hold it
                    continue
                doc = self._plan_doc(job)
                if any(a["order_id"] == order_id for a in doc["assignments"]):
                    found = self._planned(doc, job, order_id)
                    return found.model_copy(update={"history": earlier + found.history})
            if confirmed is not None:
                found = self._confirmed(confirmed)
                return found.model_copy(update={"history": earlier + found.history})
        raise TrackingError(
            404, f"no order {order_id!r} in any plan or checkout", ("path", "order_id")
        )

    def _confirmed(self, row: DayOrder) -> Tracking:
        """An order confirmed at checkout that no plan has yet (today's before the next
        plan, or a later day's): its promised slot, or ready-by to closing for click &
        collect, on its day (times in the order count from that day's midnight)."""
        served = self.app_state.scenario.settings
        when = served.date if row.service_date is None else date.fromisoformat(row.service_date)
        day = DaySettings(served.name, when, served.timezone)
        order = json.loads(row.order_json)
        collect = order["service"] == "click_collect"
        slot = EtaWindow(
            start=day.to_datetime(order["slot_start_s"]), end=day.to_datetime(order["slot_end_s"])
        )
        return self._tracking(
            row.order_id,
            None,
            "confirmed",
            promised_slot=slot,
            service=str(order["service"]),
            mode="click_collect" if collect else None,
            node_id=order["collect_node_id"] if collect else order["ship_from_node_id"],
            timezone=served.timezone,
        )

    def _tracked(self, s: Session, order: TrackedOrder) -> Tracking:
        """An order as its newest tracking row says, with its history: its events in every
        version of the plan (the plan ``order`` is of and the versions it re-plans) and
        on earlier days (an order carried over), and the departures and delays of the
        vehicle it was on in each version."""
        day = self._versions(s, order.plan_id)
        carried = s.execute(
            select(TrackedOrder.plan_id, TrackedOrder.vehicle_id)
            .where(TrackedOrder.plan_id.in_(day))
            .where(TrackedOrder.order_id == order.order_id)
            .where(TrackedOrder.vehicle_id.is_not(None))
        ).all()
        vehicle_events = [
            (TrackingEvent.plan_id == plan_id) & (TrackingEvent.vehicle_id == vehicle_id)
            for plan_id, vehicle_id in carried
        ]
        # An order not delivered on its day is carried into the next under its id: its
        # events of earlier days (plans of the same scenario folder) are its history too.
        job = s.get(PlanJob, order.plan_id)
        day_start = Day.of(self._plan_doc(job)).at(0)
        same_folder = select(PlanJob.id).where(PlanJob.scenario_dir == job.scenario_dir)
        earlier = TrackingEvent.plan_id.in_(same_folder) & (TrackingEvent.occurred_at < day_start)
        events = s.scalars(
            select(TrackingEvent)
            .where(
                (
                    (TrackingEvent.order_id == order.order_id)
                    & (TrackingEvent.plan_id.in_(day) | earlier)
                )
                | (
                    TrackingEvent.plan_id.in_(day)
                    & or_(false(), *vehicle_events)
                    & TrackingEvent.kind.in_(("departed", "delayed"))
                )
            )
            .order_by(TrackingEvent.occurred_at, TrackingEvent.received_at)
        ).all()
        if order.done_at is not None:  # the vehicle's later delays are not this order's
            events = [
                e for e in events if e.order_id == order.order_id or e.occurred_at <= order.done_at
            ]
        return self._from_row(order, self._tz(s, order.plan_id), events)

    def _planned(self, doc: dict, job: PlanJob, order_id: str) -> Tracking:
        """An order of a plan no event has touched yet: as planned."""
        _, orders = open_plan(doc, job.id, self._scenario_of(job))
        parcels = [o for o in orders if o.order_id.startswith(order_id + "/")]
        for order in orders:
            if order.order_id == order_id:
                return self._from_row(order, Day.of(doc).settings.tz, [])
        if parcels:  # a split order: as its last parcel to arrive
            last = max(parcels, key=lambda o: (o.eta_at is not None, o.eta_at or o.slot_end_at))
            return self._from_row(last, Day.of(doc).settings.tz, [])
        reason = next((u["reason"] for u in doc["unassigned"] if u["order_id"] == order_id), None)
        return self._tracking(order_id, job.id, "unassigned", reason=reason)

    def _from_row(self, order: TrackedOrder, tz: ZoneInfo, events: list) -> Tracking:
        window = None
        if order.eta_at is not None:
            half_before, half_after = eta_window(0, order.stops_ahead)
            window = EtaWindow(
                start=local(plus(order.eta_at, half_before), tz),
                end=local(plus(order.eta_at, half_after), tz),
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
                start=local(order.slot_start_at, tz), end=local(order.slot_end_at, tz)
            ),
            eta=local(order.eta_at, tz),
            eta_window=window,
            late=order.late,
            stops_before=order.stops_ahead if order.vehicle_id else None,
            arrived_at=local(order.arrived_at, tz),
            done_at=local(order.done_at, tz),
            failure_reason=order.failure_reason,
            history=[
                HistoryEntry(
                    kind=e.kind,
                    occurred_at=local(e.occurred_at, tz),
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
        return Day.of(self._plan_doc(s.get(PlanJob, plan_id))).settings.tz

    def _vehicle_now(self, s: Session, plan_id: str, vehicle_id: str | None) -> VehicleState | None:
        if vehicle_id is None:
            return None
        vehicle = s.get(TrackedVehicle, (plan_id, vehicle_id))
        return (
            None
            if vehicle is None
            else vehicle_state(vehicle, orders_of(s, vehicle), self._tz(s, plan_id))
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

    def _versions(self, s: Session, plan_id: str) -> list[str]:
        """A done plan and the versions it re-plans, newest first; kept (they never change)."""
        with self._lock:
            known = self._ancestry.get(plan_id)
        if known is None:
            known = versions(s, plan_id, read=self._plan_doc)
            with self._lock:
                self._ancestry[plan_id] = known
                while len(self._ancestry) > ANCESTRY_CACHE_SIZE:
                    self._ancestry.popitem(last=False)
        return known

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
            # The served folder re-dated to the plan's day, with that day's orders.
            day = Day.of(self._plan_doc(job)).settings.date
            checkout = getattr(self.app_state, "checkout", None)
            return self.app_state.scenario if checkout is None else checkout.scenario_of_day(day)
        try:
            return load_scenario(job.scenario_dir)
        except (ScenarioError, OSError) as exc:
            raise TrackingError(409, f"cannot read the plan's scenario: {exc}") from exc


def _carried_past(order: DayOrder | None, tracked: Tracking) -> bool:
    """Whether ``order`` was carried into a day after the one ``tracked`` is of."""
    if order is None or order.carried_from is None or tracked.promised_slot is None:
        return False
    return order.service_date > tracked.promised_slot.start.date().isoformat()


def _body_sha256(event: EventIn) -> str:
    body = event.model_dump(mode="json")
    body["occurred_at"] = event.occurred_at.timestamp()  # one instant, whatever the offset
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
