"""Holds and confirmed orders, the checkout's writes: a hold takes stock with a
conditional update and re-checks its insertion against the vehicle rows as stored,
inside the transaction; a confirm turns it into an order of its day; a release or an
expiry gives everything back."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select, update

from api.models.checkout import DayOrder, Hold, InboundStock, StockLevel, VehicleRoute
from api.schemas.checkout import Contact
from api.services import personal_data
from api.services.checkout.common import (
    DAY_S,
    CheckoutError,
    allocation_rows,
    lines_of,
    lines_out,
)
from api.services.outbox import announce
from optimizer.model import Service
from optimizer.promise import LiveRoutes, LiveStop


class HoldsMixin:
    """Holds of :class:`api.services.checkout.CheckoutService` (mixed into it)."""

    def hold(
        self,
        option_id: str,
        now: datetime,
        idempotency_key: str | None = None,
        channel: str | None = None,
        customer_id: str | None = None,
        contact: Contact | None = None,
    ) -> dict:
        """Reserve the option's stock and place for the hold's time to live; ``channel``,
        ``customer_id`` and ``contact`` (optional) go with the hold to its order (the
        contact kept apart, :mod:`api.services.personal_data`)."""
        option = self.codec.decode(option_id)
        if option.get("x", 0) < now.timestamp():
            raise CheckoutError(410, "this option has expired: ask for a new promise",
                                ("body", "option_id"))  # fmt: skip
        self._check_day(now)
        if option.get("sd") != self.day.isoformat():
            raise CheckoutError(410, f"this option was quoted for {option.get('sd')}, the service "
                                f"now serves {self.day}: ask for a new promise",
                                ("body", "option_id"))  # fmt: skip
        if option["s"] != Service.CLICK_COLLECT and option[
            "b"
        ] <= self.scenario.settings.to_seconds(now):
            raise CheckoutError(410, "this slot is over: ask for a new promise",
                                ("body", "option_id"))  # fmt: skip
        with self.db.transaction() as s:
            if idempotency_key:
                done = s.scalar(select(Hold).where(Hold.idempotency_key == idempotency_key))
                if done is not None:
                    if _without_claims(done.option_json) != json.dumps(option, sort_keys=True):
                        raise CheckoutError(
                            422, "Idempotency-Key was used for another option",
                            ("header", "Idempotency-Key"),
                        )  # fmt: skip
                    return json.loads(done.response_json)
            version = self._bump(s)
            self._expire(s, now, version)
            lines = lines_of(option["l"])
            node_id = option["n"]
            allocation = _allocation(option)
            for sku, qty, source, arrives in allocation:
                if arrives is None:
                    row = StockLevel
                    where = (StockLevel.node_id == source, StockLevel.sku == sku,
                             StockLevel.on_hand - StockLevel.committed >= qty)  # fmt: skip
                else:
                    row = InboundStock
                    where = (InboundStock.node_id == source, InboundStock.sku == sku,
                             InboundStock.arrives_at_s == arrives,
                             InboundStock.qty - InboundStock.committed >= qty)  # fmt: skip
                taken = s.execute(
                    update(row).where(*where)
                    .values(committed=row.committed + qty, changed_at=version)
                ).rowcount  # fmt: skip
                if taken != 1:
                    raise CheckoutError(409, f"{sku} is no longer in stock at {source}")
            hold_id = str(uuid.uuid4())
            vehicle_id = None
            stored = option
            if option["s"] != Service.CLICK_COLLECT:
                if option.get("d", 0) > 0:
                    # What the hold took of the crews, given back as it is (not as the
                    # catalogue would say after a reload).
                    stored = option | {"cl": self._reserve_later_place(s, option, version)}
                else:
                    vehicle_id = self._reserve_place(s, option, lines, hold_id, now, version)
            expires = now + timedelta(seconds=self.hold_ttl_s)
            response = {"hold_id": hold_id, "status": "held",
                        "expires_at": expires.astimezone(UTC).isoformat(),
                        "node_id": node_id, "service": option["s"]}  # fmt: skip
            s.add(
                Hold(
                    id=hold_id,
                    status="held",
                    created_at=now,
                    expires_at=expires,
                    idempotency_key=idempotency_key,
                    option_json=json.dumps(stored, sort_keys=True),
                    node_id=node_id,
                    vehicle_id=vehicle_id,
                    lines_json=json.dumps([list(x) for x in allocation]),
                    response_json=json.dumps(response),
                    channel=channel,
                    customer_id=customer_id,
                )
            )
            personal_data.save_contact(s, "hold", hold_id, customer_id, contact, now)
            return response

    def _reserve_place(self, s, option, lines, hold_id, now, version) -> str:
        """Re-check the insertion against the vehicle rows as stored, then write it."""
        sc = self.scenario
        rows = s.scalars(
            select(VehicleRoute)
            .where(VehicleRoute.node_id == option["n"], VehicleRoute.mode == option["m"])
            .where(VehicleRoute.available)
            .with_for_update()
        ).all()
        live = LiveRoutes(
            sc, self.travel, sc.settings.to_seconds(now) + self.params.pick_lead_s,
            vehicle_ids={r.vehicle_id for r in rows},
        )  # fmt: skip
        for row in rows:
            live.set_stops(row.vehicle_id, [LiveStop(**x) for x in json.loads(row.stops_json)])
        weight = sum(sc.catalogue[x.sku].weight_kg * x.qty for x in lines)
        volume = sum(sc.catalogue[x.sku].volume_l * x.qty for x in lines)
        zones = sc.zones_at(option["la"], option["lo"])
        service = Service(option["s"])
        modes = sc.item_needs(lines)  # modes, crew and equipment of the items
        allowed = np.array(
            [vt.may_carry(service, weight, volume, zones, modes) for vt in live.vehicle_types]
        )
        (best,) = live.cheapest_insertions(
            option["la"], option["lo"], option["st"], weight, volume,
            [(option["a"], option["b"])], allowed,
        )  # fmt: skip
        if best is None:
            raise CheckoutError(409, "this slot is no longer available: ask for a new promise")
        stop = LiveStop(
            key=hold_id, lat=option["la"], lon=option["lo"], tw_start_s=option["a"],
            tw_end_s=option["b"], service_s=option["st"], weight_kg=weight, volume_l=volume,
            green=service is Service.GREEN,
        )  # fmt: skip
        vehicle = live.vehicles[best.vehicle_id]
        vehicle.stops.insert(best.position, stop)
        row = next(r for r in rows if r.vehicle_id == best.vehicle_id)
        row.stops_json = json.dumps([asdict(x) for x in vehicle.stops])
        row.changed_at = version
        return best.vehicle_id

    def confirm(
        self,
        hold_id: str,
        now: datetime,
        idempotency_key: str | None = None,
        order_id: str | None = None,
        record=None,
    ) -> dict:
        """Turn the hold into an order of its day (``order_id``: the caller's, from the
        orders API; default ``W`` and the hold's id). ``record(s, confirmation)``, when
        given, writes in the same transaction (the orders API's row) and returns what the
        ``order.confirmed`` event carries besides (its channel and customer id)."""
        with self.db.transaction() as s:
            if idempotency_key:
                done = s.scalar(select(Hold).where(Hold.confirm_key == idempotency_key))
                if done is not None:
                    if done.id != hold_id:
                        raise CheckoutError(422, "Idempotency-Key was used for another hold",
                                            ("header", "Idempotency-Key"))  # fmt: skip
                    return self._confirmation(done)
            version = self._bump(s)
            self._expire(s, now, version)
            hold = s.get(Hold, hold_id, with_for_update=True)
            if hold is None:
                raise CheckoutError(404, "no such hold", ("path", "hold_id"))
            if hold.status == "confirmed":
                return self._confirmation(hold)
            if hold.status != "held":
                raise CheckoutError(410, f"this hold is {hold.status}: ask for a new promise")
            option = json.loads(hold.option_json)
            order_id = order_id or "W" + hold.id.replace("-", "")[:11].upper()
            hold.status, hold.order_id, hold.confirm_key = "confirmed", order_id, idempotency_key
            if hold.vehicle_id is not None:
                self._rename_stop(s, hold.vehicle_id, hold.id, order_id, version)
            personal_data.hold_confirmed(s, hold.id, order_id)
            order = self._order(order_id, option)
            day = (option["r"] if option["s"] == Service.CLICK_COLLECT else option["a"]) // DAY_S
            s.add(DayOrder(order_id=order_id, hold_id=hold.id, order_json=json.dumps(order),
                           service_date=self.date_of(day)))  # fmt: skip
            confirmation = self._confirmation(hold)
            told = {"channel": hold.channel, "customer_id": hold.customer_id}
            if record is not None:
                told |= record(s, confirmation)
            data = self._announced(confirmation, order) | told
            personal_data.with_customers(s, [data])
            announce(s, "order.confirmed", data, now)
            return confirmation

    def _confirmation(self, hold: Hold) -> dict:
        option = json.loads(hold.option_json)
        start = option["r"] if option["s"] == Service.CLICK_COLLECT else option["a"]
        return {"hold_id": hold.id, "status": "confirmed", "order_id": hold.order_id,
                "node_id": hold.node_id, "service_date": self.date_of(start // DAY_S)}  # fmt: skip

    def _announced(self, confirmation: dict, order: dict) -> dict:
        """The ``order.confirmed`` event's data: the confirmation, the service and the
        slot (local times of the service date)."""
        slot = {"slot_start_s": order["slot_start_s"], "slot_end_s": order["slot_end_s"]}
        lines = lines_out(order["lines"])
        return confirmation | {"service": order["service"], "lines": lines} | slot

    def _order(self, order_id: str, option: dict) -> dict:
        """The order as the plan of its day reads it: times from that day's midnight."""
        collect = option["s"] == Service.CLICK_COLLECT
        node = self.scenario.nodes[option["n"]]
        start = option["r"] if collect else option["a"]
        shift = start // DAY_S * DAY_S
        departs = option.get("td") if collect else None
        # Made-to-order goods: at the node from the midnight of their ready day.
        ready = {} if "rd" not in option else {"ready_s": option["rd"] * DAY_S - shift}
        return {
            "order_id": order_id,
            "lat": option["la"],
            "lon": option["lo"],
            "service": option["s"],
            "slot_start_s": start - shift,
            "slot_end_s": node.closes_s if collect else option["b"] - shift,
            "service_time_s": 0 if collect else option["st"],
            "lines": option["l"],
            "collect_node_id": option["n"] if collect else None,
            "ship_from_node_id": option.get("t") if collect else option["n"],
            "transfer_departs_s": None if departs is None else departs - shift,
        } | ready

    def release(self, hold_id: str, now: datetime) -> None:
        with self.db.transaction() as s:
            version = self._bump(s)
            self._expire(s, now, version)
            hold = s.get(Hold, hold_id, with_for_update=True)
            if hold is None:
                raise CheckoutError(404, "no such hold", ("path", "hold_id"))
            if hold.status == "confirmed":
                raise CheckoutError(409, "this hold is confirmed: it is an order of the day")
            if hold.status == "held":
                self._give_back(s, hold, "released", version)

    def expire_due(self, now: datetime) -> int:
        """Release every hold whose time is up (also done at the start of each write)."""
        with self.db.transaction() as s:
            due = s.scalar(select(Hold.id).where(Hold.status == "held", Hold.expires_at < now))
            if due is None:
                return 0
            return self._expire(s, now, self._bump(s))

    def _expire(self, s, now: datetime, version: int) -> int:
        due = s.scalars(
            select(Hold).where(Hold.status == "held", Hold.expires_at < now).with_for_update()
        ).all()
        for hold in due:
            self._give_back(s, hold, "expired", version)
        return len(due)

    def _give_back(self, s, hold: Hold, status: str, version: int) -> None:
        for sku, qty, source, arrives in allocation_rows(hold):
            if arrives is None:
                s.execute(
                    update(StockLevel)
                    .where(StockLevel.node_id == source, StockLevel.sku == sku)
                    .values(committed=StockLevel.committed - qty, changed_at=version)
                )
            else:
                s.execute(
                    update(InboundStock)
                    .where(InboundStock.node_id == source, InboundStock.sku == sku,
                           InboundStock.arrives_at_s == arrives)
                    .values(committed=InboundStock.committed - qty, changed_at=version)
                )  # fmt: skip
        if hold.vehicle_id is not None:
            self._rename_stop(s, hold.vehicle_id, hold.id, None, version)
        option = json.loads(hold.option_json)
        day = option.get("d", 0)
        if option["s"] != Service.CLICK_COLLECT and day > 0:
            self._give_back_later_place(s, option, version)
        personal_data.hold_ended(s, hold.id)
        hold.status = status

    def _rename_stop(self, s, vehicle_id: str, key: str, new_key: str | None, version: int):
        """Rename a stop on a stored route, or remove it when ``new_key`` is None."""
        row = s.get(VehicleRoute, vehicle_id, with_for_update=True)
        if row is None:  # the vehicle left the fleet (a reload)
            return
        stops = json.loads(row.stops_json)
        if new_key is None:
            stops = [x for x in stops if x["key"] != key]
        else:
            for x in stops:
                if x["key"] == key:
                    x["key"] = new_key
        row.stops_json = json.dumps(stops)
        row.changed_at = version

    def hold_status(self, hold_id: str) -> dict:
        with self.db.transaction(write=False) as s:
            hold = s.get(Hold, hold_id)
            if hold is None:
                raise CheckoutError(404, "no such hold", ("path", "hold_id"))
            return {"hold_id": hold.id, "status": hold.status, "order_id": hold.order_id,
                    "expires_at": hold.expires_at.isoformat(), "node_id": hold.node_id}  # fmt: skip


def _without_claims(option_json: str) -> str:
    """A stored hold's option as it was quoted (without the crews' seconds it took)."""
    option = json.loads(option_json)
    option.pop("cl", None)
    return json.dumps(option, sort_keys=True)


def _allocation(option: dict) -> list[tuple[str, int, str, int | None]]:
    """Where an option's units are taken (see ``optimizer.promise.engine.Allocation``);
    a delivery takes the whole basket at its node."""
    if "al" in option:
        return [(sku, int(qty), node, at) for sku, qty, node, at in option["al"]]
    return [(x.sku, x.qty, option["n"], None) for x in lines_of(option["l"])]
