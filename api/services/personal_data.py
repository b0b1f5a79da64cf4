"""A customer's personal data (issue 17, item 1): the contact of an order, a return or a
hold, kept in one table (``customer_contacts``) and nowhere else; the ``customer``
object the delivery-status webhooks carry; and the erasure of a customer's personal data
(``DELETE /v1/customers/{customer_id}/personal-data``).

What the erasure does, in one transaction:

* deletes the customer's contacts (every order, return and hold) and ends their waiting
  back-in-stock alerts (``status`` ``erased``, ``contact`` null);
* scrubs the outbox: every event of the customer's orders, returns and alerts, sent or
  pending, keeps its facts but its ``customer`` becomes nulls, its ``customer_id`` and
  ``contact`` null, its address coarsened;
* for the customer's **closed** orders and returns (delivered, collected, failed, picked
  up, or of a past day) and holds (released or expired), coarsens the address to about
  a kilometre (:data:`COARSE_DECIMALS`) wherever it is stored (``day_orders``, ``holds``,
  ``day_returns``, ``tracked_orders``, the driver's fixes of those stops in
  ``tracking_events``, ``back_in_stock_alerts``, and the stops of the stored plans:
  ``plan_jobs``' plan.json, GeoJSON and map) and unlinks the customer id (null), so
  what plans and KPIs count (channel, service, dates, on time, cost) stays, anonymous;
* leaves the **open** orders and returns their address and customer id until they are
  delivered (the answer lists them in ``kept_for_delivery``: call again after).

A second call finds nothing left to erase: zero counts (an unknown customer gets the
same answer, so the endpoint does not tell who is a customer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from api.db import Database
from api.models import PlanJob
from api.models.checkout import BackInStockAlert, DayOrder, Hold
from api.models.orders import ApiOrder, CustomerContact, DayReturn
from api.models.tracking import TrackedOrder, TrackingEvent
from api.models.webhooks import OutboxEvent
from api.schemas.checkout import Contact
from api.schemas.orders import ContactOut

# Two decimals of a degree: 0.01 deg of latitude is 1.11 km (a degree of meridian is
# ~111 km); of longitude at Paris (48.85 N), 0.01 * 111 km * cos(48.85 deg) = 0.73 km.
COARSE_DECIMALS = 2
NO_CUSTOMER = {"customer_id": None, "name": None, "phone": None, "email": None}


def coarse(degrees: float | None) -> float | None:
    """A latitude or longitude to about a kilometre (:data:`COARSE_DECIMALS`)."""
    return None if degrees is None else round(degrees, COARSE_DECIMALS)


# -- contacts -------------------------------------------------------------------------


def save_contact(
    s: Session, kind: str, ref_id: str, customer_id: str | None, contact: Contact | None,
    now: datetime,
) -> None:  # fmt: skip
    """Keep ``contact`` as the one of the order, return or hold ``ref_id`` (replacing any
    it had); nothing when ``contact`` is None."""
    if contact is None:
        return
    s.merge(CustomerContact(kind=kind, ref_id=ref_id, customer_id=customer_id,
                            name=contact.name, phone=contact.phone, email=contact.email,
                            created_at=now))  # fmt: skip


def hold_confirmed(s: Session, hold_id: str, order_id: str) -> None:
    """A hold's contact becomes its order's (in the confirmation's transaction)."""
    row = s.get(CustomerContact, ("hold", hold_id))
    if row is not None:
        s.delete(row)
        s.flush()
        s.add(CustomerContact(kind="order", ref_id=order_id, customer_id=row.customer_id,
                              name=row.name, phone=row.phone, email=row.email,
                              created_at=row.created_at))  # fmt: skip


def hold_ended(s: Session, hold_id: str) -> None:
    """A released or expired hold's contact goes with it."""
    s.execute(
        delete(CustomerContact).where(CustomerContact.kind == "hold",
                                      CustomerContact.ref_id == hold_id)
    )  # fmt: skip


def contact_of(s: Session, kind: str, ref_id: str) -> ContactOut | None:
    """The contact of an order or a return (``name``, ``phone``, ``email``), or None."""
    row = s.get(CustomerContact, (kind, ref_id))
    return None if row is None else ContactOut(name=row.name, phone=row.phone, email=row.email)


def customers_of(s: Session, ids: Iterable[str]) -> dict[str, dict]:
    """The ``customer`` object (``customer_id``, ``name``, ``phone``, ``email``) of each
    order, parcel (``ORDER/2``: its order's) or return of ``ids`` whose customer is known
    (a customer id or a contact); the others are left out."""
    base = {unit: unit.split("/", 1)[0] for unit in ids}
    wanted = set(base.values())
    if not wanted:
        return {}
    found: dict[str, dict] = {}
    for order_id, customer_id in s.execute(
        select(Hold.order_id, Hold.customer_id).where(Hold.order_id.in_(wanted),
                                                      Hold.customer_id.is_not(None))
    ):  # fmt: skip
        found[order_id] = NO_CUSTOMER | {"customer_id": customer_id}
    for return_id, customer_id in s.execute(
        select(DayReturn.return_id, DayReturn.customer_id).where(
            DayReturn.return_id.in_(wanted), DayReturn.customer_id.is_not(None))
    ):  # fmt: skip
        found[return_id] = NO_CUSTOMER | {"customer_id": customer_id}
    contacts = select(CustomerContact).where(CustomerContact.ref_id.in_(wanted),
                                             CustomerContact.kind != "hold")  # fmt: skip
    for row in s.scalars(contacts):
        known = found.get(row.ref_id, NO_CUSTOMER | {"customer_id": row.customer_id})
        found[row.ref_id] = known | {"name": row.name, "phone": row.phone, "email": row.email}
    return {unit: found[order] for unit, order in base.items() if order in found}


def customers_in(db: Database, ids: list[str]) -> dict[str, dict]:
    """:func:`customers_of` in a read transaction of its own (a driver's stops)."""
    with db.transaction(write=False) as s:
        return customers_of(s, ids)


def with_customers(s: Session, datas: list[dict]) -> list[dict]:
    """Each event's ``data`` (with its ``order_id``) given its ``customer`` when known."""
    customers = customers_of(s, [d["order_id"] for d in datas])
    for data in datas:
        if data["order_id"] in customers:
            data["customer"] = customers[data["order_id"]]
    return datas


# -- erasure --------------------------------------------------------------------------


def _coarse_json(text: str, lat: str = "lat", lon: str = "lon") -> str:
    data = json.loads(text)
    for key in (lat, lon):
        if data.get(key) is not None:
            data[key] = coarse(data[key])
    return json.dumps(data, sort_keys=True)  # a hold's option is compared sorted


def _unlinked(text: str) -> str:
    """An answer kept for idempotency, its customer id removed."""
    data = json.loads(text)
    data["customer_id"] = None
    return json.dumps(data)


def erase(s: Session, customer_id: str, open_ids: set[str], closed_ids: set[str]) -> dict:
    """Erase ``customer_id``'s personal data in ``s``'s transaction. ``open_ids`` and
    ``closed_ids``: the customer's orders and returns that are still to deliver or pick
    up, and those that are over (tracking's word, or a past day: the caller's)."""
    erased = {"contacts": 0, "orders": 0, "returns": 0, "holds": 0, "back_in_stock_alerts": 0,
              "tracking_events": 0, "events": 0, "plans": 0}  # fmt: skip
    exact: dict[str, tuple[float, float]] = {}  # closed order or return -> its address
    contacts = list(s.scalars(select(CustomerContact).where(
        CustomerContact.customer_id == customer_id)))  # fmt: skip
    for row in contacts:
        s.delete(row)
    erased["contacts"] = len(contacts)
    alerts = list(s.scalars(select(BackInStockAlert).where(
        BackInStockAlert.customer_id == customer_id)))  # fmt: skip
    for alert in alerts:
        if alert.status == "waiting":
            alert.status = "erased"
        alert.contact, alert.customer_id = None, None
        alert.lat, alert.lon = coarse(alert.lat), coarse(alert.lon)
    erased["back_in_stock_alerts"] = len(alerts)
    holds = list(s.scalars(select(Hold).where(Hold.customer_id == customer_id)))
    for hold in holds:
        if hold.status == "held" or hold.order_id in open_ids:
            continue
        hold.option_json = _coarse_json(hold.option_json, "la", "lo")
        hold.customer_id = None
        if hold.order_id is None:
            erased["holds"] += 1
            continue
        erased["orders"] += 1
        row = s.get(DayOrder, hold.order_id)
        if row is not None:
            exact[hold.order_id] = _lat_lon(row.order_json)
            row.order_json = _coarse_json(row.order_json)
        api = s.get(ApiOrder, hold.order_id)
        if api is not None:
            api.customer_id, api.response_json = None, _unlinked(api.response_json)
    for ret in s.scalars(select(DayReturn).where(DayReturn.customer_id == customer_id)):
        if ret.return_id in open_ids:
            continue
        exact[ret.return_id] = _lat_lon(ret.return_json)
        ret.return_json = _coarse_json(ret.return_json)
        ret.customer_id, ret.response_json = None, _unlinked(ret.response_json)
        erased["returns"] += 1
    erased["tracking_events"] = _coarsen_tracking(s, closed_ids)
    erased["plans"] = _coarsen_plans(s, exact)
    alert_ids = {a.id for a in alerts}
    erased["events"] = _scrub_outbox(s, customer_id, open_ids | closed_ids, alert_ids)
    return erased


def _lat_lon(text: str) -> tuple[float, float]:
    data = json.loads(text)
    return data["lat"], data["lon"]


def _coarsen_plans(s: Session, exact: dict[str, tuple[float, float]]) -> int:
    """Coarsen the planned positions of the closed orders and returns in ``exact`` (their
    address before the erasure) in every stored plan that names them: plan.json, its
    GeoJSON and its map write a stop's coordinates as numbers, each replaced wherever it
    stands whole (another stop at exactly that latitude or longitude is coarsened with
    it: a neighbour's door, a kilometre's precision lost, never a fact). How many plans
    changed."""
    if not exact:
        return 0
    names = [PlanJob.plan_json.contains(f'"{unit}"') for unit in exact]
    changed = 0
    for job in s.scalars(select(PlanJob).where(PlanJob.plan_json.is_not(None), or_(*names))):
        named = [xy for unit, xy in exact.items() if f'"{unit}"' in job.plan_json]
        numbers = {v for xy in named for v in xy if v is not None}
        pattern = re.compile(
            "|".join(rf"(?<![\d.]){re.escape(repr(float(v)))}(?!\d)" for v in numbers)
        )
        to = {repr(float(v)): repr(coarse(float(v))) for v in numbers}
        for field in ("plan_json", "geojson", "map_html"):
            text = getattr(job, field)
            if text:
                setattr(job, field, pattern.sub(lambda m, to=to: to[m.group(0)], text))
        changed += 1
    return changed


def _coarsen_tracking(s: Session, closed_ids: set[str]) -> int:
    """Coarsen the tracked stops of closed orders and the driver's fixes reported for
    them (an arrival's position is the customer's door); how many fixes."""
    if not closed_ids:
        return 0
    units = or_(TrackedOrder.order_id.in_(closed_ids),
                *[TrackedOrder.order_id.startswith(i + "/") for i in closed_ids])  # fmt: skip
    for row in s.scalars(select(TrackedOrder).where(units)):
        row.lat, row.lon = coarse(row.lat), coarse(row.lon)
    fixes = list(s.scalars(select(TrackingEvent).where(
        TrackingEvent.lat.is_not(None),
        or_(TrackingEvent.order_id.in_(closed_ids),
            *[TrackingEvent.order_id.startswith(i + "/") for i in closed_ids]))))  # fmt: skip
    changed = 0
    for event in fixes:
        lat, lon = coarse(event.lat), coarse(event.lon)
        changed += (lat, lon) != (event.lat, event.lon)
        event.lat, event.lon = lat, lon
    return changed


def _scrub_outbox(s: Session, customer_id: str, ids: set[str], alert_ids: set[str]) -> int:
    """Take the customer's personal data out of the outbox events about them (their
    orders, returns and alerts, or naming their customer id), sent or pending; how many
    events changed."""
    needles = [f'"customer_id":"{customer_id}"'] + [f'"order_id":"{i}' for i in ids] + [
        f'"alert_id":"{a}"' for a in alert_ids]  # fmt: skip
    query = select(OutboxEvent).where(or_(*[OutboxEvent.payload_json.contains(n)
                                            for n in needles]))  # fmt: skip
    changed = 0
    for event in s.scalars(query):
        payload = json.loads(event.payload_json)
        data = payload.get("data", {})
        unit = str(data.get("order_id", "")).split("/", 1)[0]
        if not (data.get("customer_id") == customer_id or unit in ids
                or (data.get("customer") or {}).get("customer_id") == customer_id
                or data.get("alert_id") in alert_ids):  # fmt: skip
            continue  # a needle matched by accident (an id that starts with another)
        before = json.dumps(data, sort_keys=True)
        if "customer" in data:
            data["customer"] = dict(NO_CUSTOMER)
        if "customer_id" in data:
            data["customer_id"] = None
        if data.get("contact") is not None:
            data["contact"] = None
        address = data.get("address")
        if isinstance(address, dict) and "lat" in address:
            address["lat"], address["lon"] = coarse(address["lat"]), coarse(address["lon"])
        if json.dumps(data, sort_keys=True) != before:
            event.payload_json = json.dumps(payload, separators=(",", ":"))
            changed += 1
    return changed
