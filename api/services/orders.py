"""Orders and returns taken by API, from any channel (issue 17, items 1 and 2), and a
customer's open deliveries and returns across channels.

An order is taken the way a checkout takes one, so that it lands where every confirmed
order lands (``day_orders``: the next plan and re-plan of its day have it, tracking knows
it at once) and ``order.confirmed`` is written to the outbox in the confirmation's
transaction: its lines, address, service and slot are checked (every problem at once,
with its field path), the promise is asked for that basket at that address, the option of
that service and slot is held and confirmed under the caller's ``order_id``. Or the
caller confirms a hold it already has (``from_hold``).

A return is stored in ``day_returns`` and read by the plan of its day
(:meth:`CheckoutService.scenario_of_day`), as a ``returns.csv`` row would be: the live
day's routes have no place for a pickup booked after they were made (a hold inserts
deliveries only), so it joins the day's next plan (``POST /v1/plans``) or re-plan
(``POST /v1/plans/{id}/replan``: :mod:`optimizer.live.replan.booked`).

The caller's id makes every request idempotent: the same id with the same body gets the
first answer again; with another body, a 409.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.errors import ApiError, Problem, problems
from api.models.checkout import DayOrder, Hold
from api.models.orders import ApiOrder, DayReturn
from api.schemas.checkout import Contact
from api.schemas.orders import (
    ContactOut,
    CustomerOrders,
    OrderIn,
    OrderOut,
    PersonalDataErased,
    ReturnIn,
    ReturnOut,
)
from api.services import personal_data
from api.services.checkout import CheckoutService
from api.services.checkout.answers import resolve
from api.services.checkout.common import (
    DAY_S,
    CheckoutError,
    basket_lines,
    line_rows,
    lines_of,
    lines_out,
)
from api.services.tracking import TrackingService
from optimizer.model import Service

# What a delivery or a return is no longer open at (tracking's statuses).
CLOSED = frozenset({"delivered", "collected", "picked_up", "failed"})
# A return's stop time at the door when its order has none (a click & collect order):
# the shipped sample's delivery stop time, 3 min (data/generator.py's service time).
RETURN_SERVICE_TIME_S = 180


def digest(body: BaseModel) -> str:
    """The request's SHA-256 over its canonical JSON (what idempotency compares)."""
    text = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _prefixed(exc: ApiError, loc: tuple) -> ApiError:
    """``exc`` with each problem's ``body`` path moved under ``loc`` (a batch's order)."""
    if isinstance(exc.detail, str):
        return exc
    detail = [
        d | {"loc": list(loc) + d["loc"][1:]} if d["loc"][:1] == ["body"] else d for d in exc.detail
    ]
    return ApiError(exc.status_code, detail, headers=exc.headers)


class OrdersService:
    """Orders and returns by API over the checkout (its database, its day)."""

    def __init__(self, checkout: CheckoutService, tracking: TrackingService):
        self.checkout, self.tracking = checkout, tracking

    # -- orders ---------------------------------------------------------------------------

    def take_all(self, orders: list[OrderIn], now: datetime, batch: bool) -> tuple[list, bool]:
        """Take each order in turn (each its own transaction: one refused order leaves the
        orders before it taken; sending the batch again is harmless). Returns the answers
        and whether any order was new. A refusal names the order's place in the batch."""
        answers, created = [], False
        for i, order in enumerate(orders):
            loc = ("body", "orders", i) if batch else ("body",)
            try:
                answer, new = self.take(order, now, loc)
            except ApiError as exc:
                raise _prefixed(exc, loc) from exc
            answers.append(answer)
            created |= new
        return answers, created

    def take(
        self, o: OrderIn, now: datetime, loc: tuple = ("body",), retried: bool = False
    ) -> tuple[OrderOut, bool]:
        """One order: its answer and whether it is new (the same request again: False)."""
        wanted = digest(o)
        with self.checkout.db.transaction(write=False) as s:
            done = _earlier_answer(s, ApiOrder, o.order_id, wanted, OrderOut, "order")
            if done is not None:
                done.contact = personal_data.contact_of(s, "order", o.order_id)
                return done, False
            if s.get(DayOrder, o.order_id) is not None or any(
                x.order_id == o.order_id for x in self.checkout.scenario.orders
            ):
                raise CheckoutError(409, f"order id {o.order_id} is another order's",
                                    ("body", "order_id"))  # fmt: skip
        try:
            if o.from_hold is not None:
                return self._confirm(o, o.from_hold, now, wanted), True
            option_id = self._option(o, now)
            hold = self.checkout.hold(option_id, now, None, o.channel, o.customer_id)
            try:
                return self._confirm(o, hold["hold_id"], now, wanted), True
            except BaseException:
                self.checkout.release(hold["hold_id"], now)
                raise
        except IntegrityError:
            if retried:
                raise
            # The same order_id taken by a twin request meanwhile: its answer, or a 409.
            return self.take(o, now, loc, retried=True)

    def _option(self, o: OrderIn, now: datetime) -> str:
        """The promise's option of the order's service and slot; every problem of the
        request at once (422), then stock (409, naming the line) and the slot's place."""
        sc, found = self.checkout.scenario, []
        for i, line in enumerate(o.lines):
            if line.sku not in sc.catalogue:
                found.append((("body", "lines", i, "sku"), f"unknown SKU {line.sku!r}"))
        settings = sc.settings.services.get(Service(o.service))
        if settings is None or settings.slot_length_min <= 0:
            found.append((("body", "service"), f"this network offers no {o.service} service"))
        else:
            found += self._slot_problems(o.slot, settings.slot_length_min * 60, now)
        try:
            point = resolve(sc, o.address)
        except Problem as exc:
            found.append((exc.loc, exc.message))
            point = None
        if found:
            raise problems(422, found)
        lines = basket_lines(o.lines)
        quote = self.checkout.promise(lines, point.lat, point.lon, now)
        short = [(("body", "lines", i), f"{x['sku']}: {x['qty']} not in stock for this address")
                 for i, x in enumerate(quote.lines) if not x["in_stock"]]  # fmt: skip
        if short:
            raise problems(409, short)
        for option in quote.options:
            if option["service"] == o.service and option["slot_start"] == o.slot:
                return option["option_id"]
        raise CheckoutError(409, f"no {o.service} place left in the slot starting "
                            f"{o.slot.isoformat()} for this basket at this address",
                            ("body", "slot"))  # fmt: skip

    def _slot_problems(self, slot: datetime, length_s: int, now: datetime) -> list:
        """A slot off the service's grid (the promise's delivery hours cut in slots of
        the service's length) or over at the service's ``now``."""
        p, tz = self.checkout.params, self.checkout.scenario.settings.tz
        local = slot.astimezone(tz)
        start_s = local.hour * 3600 + local.minute * 60 + local.second
        found = []
        if (
            local.microsecond
            or start_s < p.delivery_start_s
            or start_s + length_s > p.delivery_end_s
            or (start_s - p.delivery_start_s) % length_s
        ):
            first = timedelta(seconds=p.delivery_start_s)
            found.append((("body", "slot"), f"{local.isoformat()} is not a slot start: slots "
                          f"of {length_s // 60} min from {first} local time"))  # fmt: skip
        if slot + timedelta(seconds=length_s) <= now:
            found.append((("body", "slot"), f"this slot is over (now {now.astimezone(tz)})"))
        return found

    def _confirm(self, o: OrderIn, hold_id: str, now: datetime, wanted: str) -> OrderOut:
        with self.checkout.db.transaction(write=False) as s:
            hold = s.get(Hold, hold_id)
            if hold is None:
                raise CheckoutError(404, "no such hold", ("body", "from_hold"))
            if hold.status == "confirmed":
                raise CheckoutError(409, f"this hold is order {hold.order_id} already",
                                    ("body", "from_hold"))  # fmt: skip
        answer: dict = {}

        def record(s, confirmation: dict) -> dict:
            s.flush()  # the day_orders row confirm() added
            held = s.get(Hold, hold_id)
            held.channel, held.customer_id = o.channel, o.customer_id
            personal_data.save_contact(s, "order", o.order_id, o.customer_id, o.contact, now)
            out = self._out(s.get(DayOrder, o.order_id), held, "confirmed")
            answer["out"] = out.model_copy(
                update={"contact": personal_data.contact_of(s, "order", o.order_id)}
            )
            s.add(ApiOrder(order_id=o.order_id, channel=o.channel, customer_id=o.customer_id,
                           request_sha256=wanted, hold_id=hold_id,
                           response_json=out.model_dump_json(),  # no contact: not kept here
                           created_at=now))  # fmt: skip
            return {"channel": o.channel, "customer_id": o.customer_id}

        self.checkout.confirm(hold_id, now, order_id=o.order_id, record=record)
        if "out" not in answer:  # confirmed meanwhile by another request
            raise CheckoutError(409, "this hold was confirmed meanwhile", ("body", "from_hold"))
        return answer["out"]

    def _out(
        self, row: DayOrder, hold: Hold | None, status: str, contact: dict | None = None
    ) -> OrderOut:
        """An order's answer from its ``day_orders`` row and its hold (and its contact,
        read from ``customer_contacts`` by the caller)."""
        data = json.loads(row.order_json)
        day = self.checkout.day_of(row.service_date) * DAY_S
        to = self.checkout.scenario.settings.to_datetime
        token = self.tracking.token(row.order_id)
        return OrderOut(
            order_id=row.order_id,
            status=status,
            channel=hold.channel if hold else None,
            customer_id=hold.customer_id if hold else None,
            contact=contact,
            hold_id=row.hold_id or "",
            node_id=data["collect_node_id"] or data["ship_from_node_id"],
            service=data["service"],
            service_date=date.fromisoformat(row.service_date or self.checkout.day.isoformat()),
            slot_start=to(day + data["slot_start_s"]),
            slot_end=to(day + data["slot_end_s"]),
            lines=lines_out(data["lines"]),
            tracking_url=self.tracking.tracking_url(row.order_id, token),
            tracking_token=token,
        )

    def order(self, order_id: str) -> OrderOut:
        """An order confirmed at checkout or by API, with its status as tracked now."""
        with self.checkout.db.transaction(write=False) as s:
            row = s.get(DayOrder, order_id)
            if row is None:
                raise CheckoutError(404, f"no order {order_id!r} taken by API or checkout",
                                    ("path", "order_id"))  # fmt: skip
            hold = s.get(Hold, row.hold_id) if row.hold_id else None
            contact = personal_data.contact_of(s, "order", order_id)
            return self._out(row, hold, self._status(order_id), contact)

    def _status(self, order_id: str, unknown: str = "confirmed") -> str:
        """What tracking says of an order or a return (``unknown`` if nothing yet)."""
        try:
            return self.tracking.tracking(order_id).status
        except ApiError:
            return unknown

    # -- returns --------------------------------------------------------------------------

    def take_return(self, r: ReturnIn, now: datetime) -> tuple[ReturnOut, bool]:
        """A return or exchange of a known order, its pickup at the order's address in the
        slot asked for (on the eco grid, as the promise cuts later days' slots)."""
        wanted = digest(r)
        with self.checkout.db.transaction(write=False) as s:
            done = _earlier_answer(s, DayReturn, r.return_id, wanted, ReturnOut, "return")
            if done is not None:
                done.contact = personal_data.contact_of(s, "return", r.return_id)
                return done, False
            row = s.get(DayOrder, r.order_id)
            hold = s.get(Hold, row.hold_id) if row is not None and row.hold_id else None
        order = json.loads(row.order_json) if row is not None else None
        if order is None:
            known = self.checkout.scenario.orders_by_id.get(r.order_id)
            if known is not None:
                order = {"lat": known.lat, "lon": known.lon, "lines": line_rows(known.lines),
                         "service_time_s": known.service_time_s,
                         "ship_from_node_id": known.ship_from_node_id,
                         "slot_start_s": known.slot_start_s,
                         "slot_end_s": known.slot_end_s}  # fmt: skip
        found = self._return_problems(r, order, now)
        if found:
            raise problems(422, found)
        sc, tz = self.checkout.scenario, self.checkout.scenario.settings.tz
        length_s = sc.settings.services[Service.ECO].slot_length_min * 60
        local = r.slot.astimezone(tz)
        service_date = local.date().isoformat()
        start_s = local.hour * 3600 + local.minute * 60
        if r.kind != "return":
            self._one_visit_free(r)
            if _same_slot_start(order, row, service_date, start_s, self.checkout.day):
                # One visit with the delivery: the pickup takes the delivery's slot.
                length_s = int(order["slot_end_s"]) - start_s
        ret = {
            "return_id": r.return_id, "lat": order["lat"], "lon": order["lon"],
            "slot_start_s": start_s, "slot_end_s": start_s + length_s,
            "service_time_s": order.get("service_time_s") or RETURN_SERVICE_TIME_S,
            "lines": line_rows(basket_lines(r.lines)), "kind": r.kind,
            "order_id": r.order_id, "shipped_from_node_id": order.get("ship_from_node_id"),
        }  # fmt: skip
        customer_id = r.customer_id or (hold.customer_id if hold else None)
        day = self.checkout.day_of(service_date) * DAY_S
        to = sc.settings.to_datetime
        out = ReturnOut(
            return_id=r.return_id, order_id=r.order_id, kind=r.kind, status="booked",
            channel=r.channel, customer_id=customer_id, service_date=service_date,
            slot_start=to(day + start_s), slot_end=to(day + start_s + length_s),
            lines=lines_out(ret["lines"]),
        )  # fmt: skip
        try:
            with self.checkout.db.transaction() as s:
                s.add(DayReturn(return_id=r.return_id, order_id=r.order_id, kind=r.kind,
                                channel=r.channel, customer_id=customer_id,
                                service_date=service_date, return_json=json.dumps(ret),
                                request_sha256=wanted, response_json=out.model_dump_json(),
                                created_at=now))  # fmt: skip
                contact = r.contact
                if contact is None:  # the order's, if it has one
                    known = personal_data.contact_of(s, "order", r.order_id)
                    contact = None if known is None else Contact(**known.model_dump())
                personal_data.save_contact(s, "return", r.return_id, customer_id, contact, now)
        except IntegrityError:  # the same return_id taken by a twin request meanwhile
            return self.take_return(r, now)
        answer = None if contact is None else ContactOut(**contact.model_dump())
        return out.model_copy(update={"contact": answer}), True

    def _one_visit_free(self, r: ReturnIn) -> None:
        """409 when the order already has an exchange or a take-back (a file's or one
        booked by API): one visit hands over one delivery and takes one pickup back."""
        with self.checkout.db.transaction(write=False) as s:
            booked = s.scalars(
                select(DayReturn.return_id)
                .where(DayReturn.order_id == r.order_id, DayReturn.kind != "return")
                .where(DayReturn.return_id != r.return_id)
            ).first()
        if booked is None:
            booked = next(
                (x.return_id for x in self.checkout.scenario.returns
                 if x.order_id == r.order_id and x.kind.one_visit),
                None,
            )  # fmt: skip
        if booked is not None:
            raise problems(409, [(("body", "order_id"), f"order {r.order_id!r} already has "
                                  f"an exchange or take-back ({booked!r}): one per order, "
                                  "one visit; book a plain return instead")])  # fmt: skip

    def _return_problems(self, r: ReturnIn, order: dict | None, now: datetime) -> list:
        sc, found = self.checkout.scenario, []
        if order is None:
            found.append((("body", "order_id"), f"no order {r.order_id!r} to return"))
        ordered: dict[str, int] = {}
        for line in lines_of((order or {}).get("lines", [])):
            ordered[line.sku] = ordered.get(line.sku, 0) + line.qty
        for i, line in enumerate(r.lines):
            if line.sku not in sc.catalogue:
                found.append((("body", "lines", i, "sku"), f"unknown SKU {line.sku!r}"))
            elif order is not None and r.kind == "return" and line.qty > ordered.get(line.sku, 0):
                found.append((("body", "lines", i, "qty"), f"order {r.order_id} has "
                              f"{ordered.get(line.sku, 0)} of {line.sku} to return"))  # fmt: skip
        eco = sc.settings.services.get(Service.ECO)
        if eco is None or eco.slot_length_min <= 0:
            found.append((("body", "slot"), "this network cuts no pickup slots (no eco service)"))
            return found
        found += self._slot_problems(r.slot, eco.slot_length_min * 60, now)
        ahead = (r.slot.astimezone(sc.settings.tz).date() - self.checkout.day).days
        if ahead > self.checkout.params.eco_horizon_days:
            found.append((("body", "slot"), f"pickups are booked at most "
                          f"{self.checkout.params.eco_horizon_days} days ahead"))  # fmt: skip
        return found

    # -- customers ------------------------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerOrders:
        """A customer's open deliveries (confirmed by API or at checkout, every channel)
        and open returns (their pickup day not past)."""
        with self.checkout.db.transaction(write=False) as s:
            holds = s.scalars(
                select(Hold).where(Hold.customer_id == customer_id, Hold.status == "confirmed")
                .order_by(Hold.created_at, Hold.id)
            ).all()  # fmt: skip
            rows = [(s.get(DayOrder, h.order_id), h) for h in holds]
            returns = s.scalars(
                select(DayReturn)
                .where(DayReturn.customer_id == customer_id,
                       DayReturn.service_date >= self.checkout.day.isoformat())
                .order_by(DayReturn.created_at, DayReturn.return_id)
            ).all()  # fmt: skip
            outs = [
                self._out(row, h, self._status(row.order_id),
                          personal_data.contact_of(s, "order", row.order_id))
                for row, h in rows if row
            ]  # fmt: skip
            rets = [
                ReturnOut.model_validate_json(x.response_json).model_copy(
                    update={"contact": personal_data.contact_of(s, "return", x.return_id)})
                for x in returns
            ]  # fmt: skip
        for ret in rets:
            ret.status = self._status(ret.return_id, "booked")
        return CustomerOrders(
            customer_id=customer_id,
            deliveries=[x for x in outs if x.status not in CLOSED],
            returns=[x for x in rets if x.status not in CLOSED],
        )

    # -- personal data ------------------------------------------------------------------

    def erase_customer(self, customer_id: str) -> PersonalDataErased:
        """Erase a customer's personal data (:func:`api.services.personal_data.erase`):
        their orders and returns still to deliver or pick up keep their address and are
        listed; the others are closed (tracking says so, or their day is past)."""
        today = self.checkout.day.isoformat()
        with self.checkout.db.transaction(write=False) as s:
            orders = s.execute(
                select(DayOrder.order_id, DayOrder.service_date).join(
                    Hold, Hold.id == DayOrder.hold_id).where(Hold.customer_id == customer_id)
            ).all()  # fmt: skip
            returns = s.execute(
                select(DayReturn.return_id, DayReturn.service_date).where(
                    DayReturn.customer_id == customer_id)
            ).all()  # fmt: skip
        open_ids, closed_ids = set(), set()
        for ref_id, service_date in [*orders, *returns]:
            over = (service_date or today) < today or self._status(ref_id) in CLOSED
            (closed_ids if over else open_ids).add(ref_id)
        with self.checkout.db.transaction() as s:
            erased = personal_data.erase(s, customer_id, open_ids, closed_ids)
        kept = sorted(open_ids)
        note = ("personal data erased; anonymous facts kept for plans and KPIs"
                + (f"; {len(kept)} open order(s) or return(s) keep their address and "
                   "customer id until delivered: call again after" if kept else ""))  # fmt: skip
        return PersonalDataErased(customer_id=customer_id, erased=erased,
                                  kept_for_delivery=kept, note=note)  # fmt: skip


def _same_slot_start(order: dict, row, service_date: str, start_s: int, today: date) -> bool:
    """Whether a pickup slot starting at ``start_s`` on ``service_date`` starts with the
    delivery ``order``'s slot (``row``: its ``day_orders`` row, None for the day's file
    order, which is of the service's day)."""
    if "slot_start_s" not in order or "slot_end_s" not in order:
        return False
    day = (row.service_date if row is not None and row.service_date else None) or today.isoformat()
    return day == service_date and int(order["slot_start_s"]) == start_s


def _earlier_answer(s, table, key: str, wanted: str, answer, what: str):
    """The answer given to an earlier request under the caller's id ``key`` (an order or
    a return, ``what``), or None: the same body gets it again, another body is a 409."""
    done = s.get(table, key)
    if done is None:
        return None
    if done.request_sha256 != wanted:
        raise CheckoutError(
            409, f"{what} {key} was sent before with another body", ("body", f"{what}_id")
        )
    return answer.model_validate_json(done.response_json)
