"""Back-in-stock alerts (issue 17, item 5): a customer whose basket line is out of stock
at an address waits for it (``POST /v1/back-in-stock``); after each stock count (``PUT
/v1/stock``) or scenario reload, the waiting alerts of the SKUs it touched are promised
again at their address, and an alert whose SKU is promisable there now is told once:
one ``stock.back_in_stock`` event with the first promisable instant and date, written in
the transaction that ends the alert (a conditional update: two counts at once tell it
once).

An alert is checked after the count that makes its SKU promisable is committed: a crash
in between leaves it waiting, told once the restarted service's day is ready
(:class:`api.services.days.DayKeeper` checks every waiting alert then) or at the next
count of that SKU. The contact is
personal data: never logged, answered only to checkout keys (the role that creates
alerts), sent only to the webhook subscribers and left out of the event feed
(:func:`api.services.webhooks.feed`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from api.db import Database
from api.errors import problem
from api.models.checkout import BackInStockAlert
from api.schemas.checkout import ResolvedAddress
from api.services.checkout.common import CheckoutError
from api.services.checkout.service import CheckoutService
from api.services.outbox import announce
from optimizer.model import OrderLine

log = logging.getLogger("lastmile.api.back_in_stock")


def first_promisable(
    service: CheckoutService, sku: str, qty: int, lat: float, lon: float, now: datetime
) -> dict | None:
    """The earliest option the promise gives ``qty`` of ``sku`` at (lat, lon) now: its
    instant (a delivery's ETA window start, a collection's ready time), date, service
    and node; None when nothing is promisable there."""
    quote = service.promise([OrderLine(sku, qty)], lat, lon, now)
    best = None
    for o in quote.options:
        at = o["ready_by"] if o["service"] == "click_collect" else o["eta_start"]
        if best is None or at < best[0]:
            best = (at, o)
    if best is None:
        return None
    at, option = best
    return {"first_promisable_at": at.isoformat(),
            "first_promisable_date": str(option["service_date"]),
            "service": option["service"], "node_id": option["node_id"]}  # fmt: skip


def alert_out(alert: BackInStockAlert, with_contact: bool) -> dict:
    out = {"id": alert.id, "sku": alert.sku, "qty": alert.qty,
           "address": {"lat": alert.lat, "lon": alert.lon, "postcode": alert.postcode},
           "channel": alert.channel, "customer_id": alert.customer_id, "status": alert.status,
           "created_at": alert.created_at,
           "notified_at": alert.notified_at, "event_id": alert.event_id}  # fmt: skip
    if with_contact:
        out["contact"] = alert.contact
    return out


def subscribe(
    service: CheckoutService,
    sku: str,
    qty: int,
    point: ResolvedAddress,
    channel: str,
    contact: str,
    now: datetime,
    customer_id: str | None = None,
) -> dict:
    """A waiting alert for ``qty`` of ``sku`` at ``point``; 409 when it is promisable
    there already (the checkout promises it instead)."""
    if first_promisable(service, sku, qty, point.lat, point.lon, now) is not None:
        raise problem(409, f"{sku} is promisable at this address now: promise it",
                      ("body", "sku"))  # fmt: skip
    alert = BackInStockAlert(id="bis_" + uuid.uuid4().hex, sku=sku, qty=qty, lat=point.lat,
                             lon=point.lon, postcode=point.postcode, channel=channel,
                             contact=contact, customer_id=customer_id, status="waiting",
                             created_at=now)  # fmt: skip
    with service.db.transaction() as s:
        s.add(alert)
    return alert_out(alert, with_contact=True)


def alerts(db: Database, with_contact: bool, status: str | None, limit: int) -> list[dict]:
    """The latest alerts (of a ``status``, or all), newest first; contacts only
    ``with_contact``."""
    query = select(BackInStockAlert)
    if status is not None:
        query = query.where(BackInStockAlert.status == status)
    query = query.order_by(BackInStockAlert.created_at.desc(), BackInStockAlert.id).limit(limit)
    with db.transaction(write=False) as s:
        return [alert_out(a, with_contact) for a in s.scalars(query)]


def tell_back_in_stock(service: CheckoutService, skus: Iterable[str] | None, now: datetime) -> int:
    """Promise the waiting alerts of ``skus`` (None: all) again; tell each one now
    promisable (one ``stock.back_in_stock`` event) and end it. How many were told."""
    query = select(BackInStockAlert).where(BackInStockAlert.status == "waiting")
    with service.db.transaction(write=False) as s:  # the waiting few, not the count's SKUs
        waiting = list(s.scalars(query.order_by(BackInStockAlert.created_at)))
    if skus is not None:
        counted = set(skus)
        waiting = [a for a in waiting if a.sku in counted]
    told = 0
    for alert in waiting:
        try:
            found = first_promisable(service, alert.sku, alert.qty, alert.lat, alert.lon, now)
        except CheckoutError:  # the day not ready, say: the next count tries again
            continue
        except Exception:  # the count is committed and answered; this alert waits on
            log.exception("back in stock: alert %s could not be checked", alert.id)
            continue
        if found is None:
            continue
        data = {"alert_id": alert.id, "sku": alert.sku, "qty": alert.qty,
                "address": {"lat": alert.lat, "lon": alert.lon, "postcode": alert.postcode},
                "channel": alert.channel, "contact": alert.contact,
                "customer_id": alert.customer_id} | found  # fmt: skip
        with service.db.transaction() as s:
            ended = s.execute(
                update(BackInStockAlert)
                .where(BackInStockAlert.id == alert.id, BackInStockAlert.status == "waiting")
                .values(status="notified", notified_at=now)
            ).rowcount
            if ended:
                event = announce(s, "stock.back_in_stock", data, now)
                s.execute(
                    update(BackInStockAlert)
                    .where(BackInStockAlert.id == alert.id)
                    .values(event_id=event.event_id)
                )
                told += 1
    if told:
        log.info("back in stock: %d alert(s) told", told)  # counts only: no contact
    return told
