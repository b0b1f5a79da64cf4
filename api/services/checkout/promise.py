"""The promise, a read: each process keeps a :class:`PromiseEngine` in memory and, per
request, reloads only the rows whose ``changed_at`` is newer than what it has seen.
Option ids are signed, self-contained tokens (:class:`OptionCodec`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from api.models.checkout import (
    DayState,
    InboundStock,
    SlotCapacity,
    SlotCrewCapacity,
    StockLevel,
    VehicleRoute,
)
from api.services.checkout.common import OPTION_TTL_S, CheckoutError, line_rows
from optimizer.model import OrderLine
from optimizer.promise import CollectOption, LiveRoutes, LiveStop, PromiseEngine, SlotOption


@dataclass
class Quote:
    """A promise answer, with times as aware datetimes and option ids signed."""

    lat: float
    lon: float
    options: list[dict]
    lines: list[dict]
    quoted_at: datetime
    expires_at: datetime
    unavailable: list[dict] = field(default_factory=list)


class OptionCodec:
    """Option ids are signed, self-contained tokens: the promise writes nothing, and a
    hold trusts only what it can verify (HMAC-SHA256 with the service's secret)."""

    def __init__(self, secret: bytes):
        self.secret = secret

    def encode(self, payload: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body.decode().rstrip('=')}.{self._sign(body.rstrip(b'='))}"

    def decode(self, token: str) -> dict:
        body, _, signature = token.rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body.encode())):
            raise CheckoutError(422, "unknown or altered option id", ("body", "option_id"))
        try:
            padded = body + "=" * (-len(body) % 4)
            return json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (ValueError, UnicodeDecodeError):
            raise CheckoutError(422, "malformed option id", ("body", "option_id")) from None

    def _sign(self, body: bytes) -> str:
        digest = hmac.new(self.secret, body, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode()


class PromiseMixin:
    """The promise of :class:`api.services.checkout.CheckoutService` (mixed into it)."""

    def _refresh(self) -> PromiseEngine:
        """The in-memory engine, brought up to the database's version."""
        with self.db.transaction(write=False) as s:
            state = s.get(DayState, 1)
            if state is None or state.scenario_name != self.day_key:
                raise CheckoutError(503, "the day's plan is not ready yet; retry shortly")
            if state.version == self._version and self._engine is not None:
                return self._engine
            since = self._version if self._engine is not None else -1
            off = set(s.scalars(select(VehicleRoute.vehicle_id).where(~VehicleRoute.available)))
            if self._engine is not None and off & set(self._engine.live.vehicles):
                self._engine, since = None, -1  # a vehicle left the road: rebuild without it
            if self._engine is None:
                on_road = {v.vehicle_id for v in self.scenario.vehicles} - off
                self._engine = PromiseEngine(
                    self.scenario,
                    LiveRoutes(self.scenario, self.travel, vehicle_ids=on_road),
                    self.params,
                )
            engine = self._engine
            for row in s.scalars(select(StockLevel).where(StockLevel.changed_at > since)):
                j, k = engine.node_index.get(row.node_id), engine.sku_index.get(row.sku)
                if j is not None and k is not None:
                    engine.free[j, k] = row.on_hand - row.committed
            for row in s.scalars(select(VehicleRoute).where(VehicleRoute.changed_at > since)):
                if row.vehicle_id in engine.live.vehicles:
                    stops = [LiveStop(**x) for x in json.loads(row.stops_json)]
                    engine.live.set_stops(row.vehicle_id, stops)
            if since < 0:
                engine.inbound_left.clear()
            for row in s.scalars(select(InboundStock).where(InboundStock.changed_at > since)):
                engine.inbound_left[row.node_id, row.sku, row.arrives_at_s] = (
                    row.qty - row.committed
                )
            for row in s.scalars(select(SlotCapacity).where(SlotCapacity.changed_at > since)):
                day = self.day_of(row.service_date)
                if day > 0:
                    places = row.capacity - row.taken
                    engine.set_places_left(day, row.node_id, row.slot_start_s, places)
            for row in s.scalars(
                select(SlotCrewCapacity).where(SlotCrewCapacity.changed_at > since)
            ):
                day = self.day_of(row.service_date)
                if day > 0:
                    seconds = row.capacity_s - row.taken_s
                    engine.set_crew_left(day, row.node_id, row.slot_start_s, row.need, seconds)
            self._version = state.version
            return engine

    def _check_day(self, now: datetime) -> None:
        """503 while the clock has moved to a day the service does not serve yet (the
        next day's plan is being made): nothing of a past day is offered or held."""
        if self.day_for(now) != self.day:
            self.on_stale_day()
            raise CheckoutError(
                503, f"the service is moving to {self.day_for(now).isoformat()}; retry shortly"
            )

    def on_stale_day(self) -> None:
        """Called when a request finds the clock on another day than the one served (the
        service wakes its day keeper here)."""

    def promise(
        self,
        lines: list[OrderLine],
        lat: float,
        lon: float,
        now: datetime,
        asked_at: datetime | None = None,
    ) -> Quote:
        """The options for ``lines`` at (lat, lon), quoted at ``now`` (the clock) for a
        customer asking at ``asked_at`` (default ``now``; an earlier instant counts as
        ``now``: the past is never offered). Options expire ``OPTION_TTL_S`` after
        ``now`` whatever ``asked_at`` is."""
        self._check_day(now)
        sc = self.scenario
        asked_at = max(asked_at or now, now)
        horizon = max(self.params.eco_horizon_days, self.params.collect_horizon_days)
        if asked_at.astimezone(sc.settings.tz).date() > self.day + timedelta(days=horizon):
            raise CheckoutError(
                422,
                f"requested_at is beyond what the promise offers ({horizon} days after today)",
                ("body", "requested_at"),
            )
        now_s = sc.settings.to_seconds(asked_at)
        with self._cache_lock:
            engine = self._refresh()
            answer = engine.promise(lines, lat, lon, now_s)
        expires = now + timedelta(seconds=OPTION_TTL_S)
        basket = line_rows(lines)
        to = sc.settings.to_datetime
        options = []
        for o in answer.options:
            if isinstance(o, SlotOption) and o.slot_end_s <= now_s:
                continue  # a later day's slot over before the instant asked for
            payload = {"la": lat, "lo": lon, "l": basket, "st": answer.service_time_s,
                       "x": int(expires.timestamp()), "n": o.node_id, "p": o.price_eur,
                       "sd": self.day.isoformat()}  # fmt: skip
            ready_day, stocked = engine.made_to_order(o.node_id, lines)
            if ready_day or len(stocked) < len(lines):  # made to order: what stock it takes
                payload |= {"rd": ready_day, "al": [[x.sku, x.qty, o.node_id, None]
                                                    for x in stocked]}  # fmt: skip
            if isinstance(o, SlotOption):
                payload |= {"s": str(o.service), "a": o.slot_start_s, "b": o.slot_end_s,
                            "m": o.mode, "c": o.co2_g, "d": o.day}  # fmt: skip
                options.append(
                    {
                        "option_id": self.codec.encode(payload),
                        "service": str(o.service),
                        "slot_start": to(o.slot_start_s),
                        "slot_end": to(o.slot_end_s),
                        "eta_start": to(o.eta_start_s),
                        "eta_end": to(o.eta_end_s),
                        "price_eur": o.price_eur,
                        "co2_g": o.co2_g,
                        "node_id": o.node_id,
                        "mode": o.mode,
                        "recommended": o.recommended,
                        "service_date": self.date_of(o.day),
                    }
                )
            elif isinstance(o, CollectOption):
                payload |= {"s": "click_collect", "r": o.ready_by_s,
                            "al": [list(x) for x in o.allocation],
                            "t": o.transfer_from_node_id, "td": o.transfer_departs_s}  # fmt: skip
                options.append(
                    {
                        "option_id": self.codec.encode(payload),
                        "service": "click_collect",
                        "node_id": o.node_id,
                        "node_name": o.name,
                        "ready_by": to(o.ready_by_s),
                        "price_eur": o.price_eur,
                        "distance_km": o.distance_km,
                        "service_date": self.date_of(o.day),
                        "transfer_from_node_id": o.transfer_from_node_id,
                        "stock_arrives_at": None
                        if o.stock_arrives_s is None
                        else to(o.stock_arrives_s),
                    }
                )
        line_status = [
            {
                "sku": x.sku,
                "qty": x.qty,
                "variant": line.variant or None,
                "in_stock": x.in_stock,
                "earliest_promise": None if x.earliest_s is None else to(x.earliest_s),
                "lead_time_days": x.lead_time_days,
            }
            for x, line in zip(answer.lines, lines, strict=True)
        ]
        unavailable = [{"service": str(k), "reason": v} for k, v in answer.unavailable.items()]
        return Quote(lat, lon, options, line_status, asked_at, expires, unavailable)
