"""The checkout's state machine over the database: promise, hold, confirm, release.

Correctness under concurrency comes from the database, not from this process:

* every write transaction first bumps ``day_state.version`` (``UPDATE ... SET version =
  version + 1``): on PostgreSQL the row lock it takes serialises checkout writers across
  processes; on SQLite the transaction already began with ``BEGIN IMMEDIATE``;
* stock is taken with a conditional update (``... WHERE on_hand - committed >= qty``) and
  a hold fails if any line's row count is not 1;
* a hold re-checks its insertion against the vehicle rows as they are in the database,
  inside the transaction, and writes the new route back.

The promise is a read: each process keeps a :class:`PromiseEngine` in memory and, per
request, reloads only the rows whose ``changed_at`` is newer than what it has seen.

The service serves one day at a time, the clock's (``day_for``): the scenario folder is
the template of that day (:func:`optimizer.model.on_day`). The routes the checkout
inserts into are the current version of that day's plan: a plan job or a re-plan of the
day publishes its routes here (:meth:`CheckoutService.publish`), keeping the holds and
the orders confirmed since it was made. The stock plans read is the stock here
(:meth:`CheckoutService.plan_stock`): on hand as counted (``PUT /v1/stock``), less what
holds and later days' orders have taken.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from api.db import Database
from api.errors import Problem
from api.models.checkout import (
    DayOrder,
    DayState,
    Hold,
    InboundStock,
    SlotCapacity,
    StockLevel,
    VehicleRoute,
)
from optimizer.io.plan_files import plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.model import Order, OrderLine, Plan, Scenario, Service, on_day
from optimizer.promise import (
    CollectOption,
    LiveRoutes,
    LiveStop,
    PromiseEngine,
    PromiseParams,
    SlotOption,
)
from optimizer.travel import GreatCircle, TravelProvider

OPTION_TTL_S = 900  # an offered option can be held for 15 minutes after the promise
DAY_S = 24 * 3600


# Rows of a stock count per transaction (PUT /v1/stock): small enough that a hold waits
# milliseconds behind a batch; five bound parameters a row stay far below SQLite's limit.
STOCK_BATCH_ROWS = 500


def _dialect_insert(dialect: str):
    """The ``insert`` of ``dialect`` that has ``on_conflict_do_update`` (SQLite and
    PostgreSQL spell it the same way)."""
    if dialect == "postgresql":
        return postgresql.insert
    return sqlite.insert


class CheckoutError(Problem):
    """A request the checkout refuses: HTTP ``status`` with a field path ``loc`` (an
    :class:`api.errors.Problem`: raised through a route, it is the answer)."""


@dataclass
class Quote:
    """A promise answer, with times as aware datetimes and option ids signed."""

    lat: float
    lon: float
    options: list[dict]
    lines: list[dict]
    quoted_at: datetime
    expires_at: datetime


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


class CheckoutService:
    """Promise, holds and confirmed orders of one day, over one database."""

    def __init__(
        self,
        db: Database,
        scenario: Scenario,
        secret: bytes,
        hold_ttl_s: int = 600,
        travel: TravelProvider | None = None,
        params: PromiseParams | None = None,
        day: date | None = None,
    ):
        """``secret`` signs option ids (``api.auth.server_secret``: made at first start).
        ``scenario`` is the template of the days served; ``day`` the first day served
        (default: the scenario's own date)."""
        self.db = db
        self.template = scenario
        self.scenario = on_day(scenario, day or scenario.settings.date)
        self.hold_ttl_s = hold_ttl_s
        self.travel = travel or GreatCircle()
        self.params = params or PromiseParams()
        self.codec = OptionCodec(secret)
        self._engine: PromiseEngine | None = None
        self._version = -1
        # Guards this process's in-memory cache only; the database arbitrates holds.
        self._cache_lock = threading.Lock()

    # -- the day -------------------------------------------------------------------------

    @property
    def day(self) -> date:
        """The day served."""
        return self.scenario.settings.date

    @property
    def day_key(self) -> str:
        """What ``day_state.scenario_name`` holds once the served day is stored."""
        return f"{self.scenario.settings.name}@{self.day.isoformat()}"

    @property
    def ready(self) -> bool:
        with self.db.transaction(write=False) as s:
            state = s.get(DayState, 1)
            return state is not None and state.scenario_name == self.day_key

    def day_for(self, now: datetime) -> date:
        """The day the service serves at ``now``: its local date in the scenario's zone."""
        return now.astimezone(self.scenario.settings.tz).date()

    def switch_day(self, day: date) -> None:
        """Serve ``day`` (the template re-dated); its routes are stored by :meth:`start`."""
        with self._cache_lock:
            self.scenario = on_day(self.template, day)
            self._engine, self._version = None, -1

    def scenario_of_day(self, day: date | None = None, live_stock: bool = False) -> Scenario:
        """The template dated ``day`` (default: the served day) with the orders confirmed
        at checkout for it or carried into it; with ``live_stock``, the stock as the
        checkout holds it (:meth:`plan_stock`) rather than the folder's count."""
        day = day or self.day
        sc = self.scenario if day == self.day else on_day(self.template, day)
        confirmed = self.confirmed_orders(day)
        if confirmed:
            sc = replace(sc, orders=sc.orders + confirmed)
        if live_stock and day == self.day:
            stock = self.plan_stock()
            if stock is not None:
                sc = replace(sc, stock=stock)
        return sc

    def day_scenario(self) -> Scenario:
        """The served day's scenario with the orders confirmed at checkout for it (e.g. an
        eco slot bought on an earlier day) and those carried from the day before: what
        the day's first plan plans."""
        return self.scenario_of_day(self.day)

    def plan_stock(self) -> dict[tuple[str, str], int] | None:
        """The stock a plan of the served day may use: on hand as last counted, less what
        open holds reserve and what later days' confirmed orders will take (the day's own
        confirmed orders are orders of the plan). None before the day is stored."""
        with self.db.transaction(write=False) as s:
            state = s.get(DayState, 1)
            if state is None or state.scenario_name != self.day_key:
                return None
            stock = {(r.node_id, r.sku): r.on_hand for r in s.scalars(select(StockLevel))}
            for key, qty in self._reserved_elsewhere(s).items():
                if key in stock:
                    stock[key] = max(0, stock[key] - qty)
            return stock

    def _reserved_elsewhere(self, s) -> dict[tuple[str, str], int]:
        """Units open holds and later days' confirmed orders take, per (node, SKU)."""
        taken: dict[tuple[str, str], int] = {}
        for hold in s.scalars(select(Hold).where(Hold.status == "held")):
            for sku, qty, source, arrives in _allocation_rows(hold):
                if arrives is None:
                    taken[source, sku] = taken.get((source, sku), 0) + qty
        later = select(DayOrder).where(DayOrder.service_date > self.day.isoformat())
        for row in s.scalars(later):
            _add_units(taken, row)
        return taken

    def start(self, plan_day: Callable[[], Plan], planned: Scenario | None = None) -> None:
        """Make sure the database holds this scenario's day: if not, plan it (outside any
        transaction) and store its routes and committed stock. ``planned`` is the scenario
        ``plan_day`` plans (default: the service's; :meth:`day_scenario` to include the
        orders confirmed for the day on earlier days)."""
        if self.ready:
            return
        planned = planned or self.scenario
        plan = plan_day()
        document = plan_to_dict(planned, plan, plan_kpis(planned, plan))
        with self.db.transaction() as s:
            state = s.get(DayState, 1)
            if state is not None and state.scenario_name == self.day_key:
                return  # another process initialised it meanwhile
            self._store_day(s, planned, plan, json.dumps(document))

    def _store_day(self, s, sc: Scenario, plan: Plan, plan_json: str) -> None:
        """The day's routes and stock. Orders confirmed for this day or later days are
        kept (this day's are in ``sc``, planned); later days' keep their stock committed
        and their places in those days' slots."""
        today = sc.settings.date.isoformat()
        # Earlier days' orders stay (tracking reads them); rows from before 0003 go.
        s.execute(delete(DayOrder).where(DayOrder.service_date.is_(None)))
        s.execute(delete(SlotCapacity).where(SlotCapacity.service_date <= today))
        for hold in s.scalars(select(Hold).where(Hold.status == "held")):
            # A hold left open at midnight gives its place in a later day's slot back.
            self._give_back(s, hold, "expired", 0)
        for table in (Hold, VehicleRoute, StockLevel, InboundStock, DayState):
            s.execute(delete(table))
        committed = self._committed(s, sc, plan)
        keys = set(sc.stock) | set(committed)
        s.add_all(
            StockLevel(node_id=n, sku=k, on_hand=sc.stock.get((n, k), 0),
                       committed=committed.get((n, k), 0), changed_at=1)
            for n, k in sorted(keys)
        )  # fmt: skip
        live = LiveRoutes.from_plan(sc, plan, self.travel)
        s.add_all(
            VehicleRoute(
                vehicle_id=v.vehicle.vehicle_id,
                node_id=v.node.node_id,
                mode=str(v.vehicle_type.mode),
                stops_json=json.dumps([asdict(x) for x in v.stops]),
                changed_at=1,
            )
            for v in live.vehicles.values()
        )
        inbound: dict[tuple[str, str, int], int] = {}
        for i in sc.inbound:
            key = (i.node_id, i.sku, i.arrives_at_s)
            inbound[key] = inbound.get(key, 0) + i.qty
        s.add_all(
            InboundStock(node_id=n, sku=k, arrives_at_s=at, qty=qty, committed=0, changed_at=1)
            for (n, k, at), qty in sorted(inbound.items())
        )
        s.flush()
        self._add_slot_capacity(s, sc, version=1)
        s.add(DayState(id=1, scenario_name=self.day_key, version=1, plan_json=plan_json))
        s.flush()

    def _committed(self, s, sc: Scenario, plan: Plan) -> dict[tuple[str, str], int]:
        """Units committed per (node, SKU): what ``plan`` (of the served day, ``sc``)
        ships, what open holds reserve, what the day's orders confirmed after ``sc`` was
        read will take, and what later days' orders will take."""
        committed = self._reserved_elsewhere(s)
        for node_id, lines in plan.shipments(sc):
            for line in lines:
                key = (node_id, line.sku)
                committed[key] = committed.get(key, 0) + line.qty
        today = select(DayOrder).where(DayOrder.service_date == sc.settings.date.isoformat())
        for row in s.scalars(today):
            if row.order_id not in sc.orders_by_id:
                _add_units(committed, row)
        return committed

    def publish(
        self, sc: Scenario, plan: Plan, plan_json: str, off_road: frozenset[str] = frozenset()
    ) -> bool:
        """Make ``plan`` (a plan job's or a re-plan's plan of the served day, ``sc`` the
        scenario it planned) the routes the checkout sells on, at once; the vehicles
        ``off_road`` (broken down) sell nothing more that day. Stops the plan
        does not know are kept: open holds and orders confirmed after ``sc`` was read are
        put back at their cheapest feasible place on a vehicle of their node and mode (or
        at the end of the vehicle they were on, which then sells nothing more). Committed
        stock becomes what the plan ships plus what holds and other orders take. False,
        with nothing changed, when ``plan`` is of another day or the day is not stored."""
        if sc.settings.date != self.day:
            return False
        live = LiveRoutes.from_plan(sc, plan, self.travel)
        planned = {x.key for v in live.vehicles.values() for x in v.stops}
        with self.db.transaction() as s:
            state = s.get(DayState, 1)
            if state is None or state.scenario_name != self.day_key:
                return False
            version = self._bump(s)
            rows = {r.vehicle_id: r for r in s.scalars(select(VehicleRoute).with_for_update())}
            held = {
                h.id: h
                for h in s.scalars(select(Hold).where(Hold.status == "held").with_for_update())
            }
            kept: list[tuple[str, LiveStop]] = []  # (vehicle it was on, stop)
            for row in rows.values():
                for x in json.loads(row.stops_json):
                    stop = LiveStop(**x)
                    if stop.key in planned:
                        continue
                    if stop.key in held or stop.key not in sc.stops_by_id:
                        kept.append((row.vehicle_id, stop))
            off_road = off_road | {v for v, r in rows.items() if not r.available}
            for vehicle_id, stop in kept:
                if vehicle_id not in live.vehicles:
                    continue
                moved_to = self._put_back(live, vehicle_id, stop, off_road)
                if stop.key in held:
                    held[stop.key].vehicle_id = moved_to
            for vehicle_id, v in live.vehicles.items():
                stops_json = json.dumps([asdict(x) for x in v.stops])
                row = rows.get(vehicle_id)
                available = vehicle_id not in off_road
                if row is None:
                    s.add(VehicleRoute(vehicle_id=vehicle_id, node_id=v.node.node_id,
                                       mode=str(v.vehicle_type.mode), stops_json=stops_json,
                                       changed_at=version, available=available))  # fmt: skip
                elif row.stops_json != stops_json or row.available != available:
                    row.stops_json, row.changed_at = stops_json, version
                    row.available = available
            committed = self._committed(s, sc, plan)
            for row in s.scalars(select(StockLevel).with_for_update()):
                want = committed.pop((row.node_id, row.sku), 0)
                if row.committed != want:
                    row.committed, row.changed_at = want, version
            for (node_id, sku), qty in committed.items():
                s.add(StockLevel(node_id=node_id, sku=sku, on_hand=0, committed=qty,
                                 changed_at=version))  # fmt: skip
            state.plan_json = plan_json
        return True

    def _put_back(
        self, live: LiveRoutes, was_on: str, stop: LiveStop, off_road: frozenset[str]
    ) -> str:
        """Insert ``stop`` at its cheapest feasible place among the vehicles on the road of
        the node and mode of ``was_on``; if none fits, at the end of the first of them
        (``was_on`` itself when it is on the road or none is). The vehicle used."""
        home = live.vehicles[was_on]
        same = (home.node.node_id, home.vehicle_type.mode)
        on_road = [
            vehicle_id
            for vehicle_id, v in live.vehicles.items()
            if (v.node.node_id, v.vehicle_type.mode) == same and vehicle_id not in off_road
        ]
        allowed = np.array(
            [
                v.vehicle.vehicle_id in on_road
                and (not stop.green or v.vehicle_type.may_serve(Service.GREEN, []))
                for v in live.vehicles.values()
            ]
        )
        (best,) = live.cheapest_insertions(
            stop.lat, stop.lon, stop.service_s, stop.weight_kg, stop.volume_l,
            [(stop.tw_start_s, stop.tw_end_s)], allowed,
        )  # fmt: skip
        if best is None:
            last = was_on if was_on not in off_road or not on_road else on_road[0]
            live.insert(last, len(live.vehicles[last].stops), stop)
            return last
        live.insert(best.vehicle_id, best.position, stop)
        return best.vehicle_id

    def _add_slot_capacity(self, s, sc: Scenario, version: int) -> None:
        """Rows of places for every eco slot of the next ``eco_horizon_days`` at every node
        with vehicles in ``sc``, where missing (:meth:`PromiseEngine.future_capacity`)."""
        engine = PromiseEngine(sc, LiveRoutes(sc, self.travel, vehicle_ids=set()), self.params)
        have = {
            (r.service_date, r.node_id, r.slot_start_s) for r in s.scalars(select(SlotCapacity))
        }
        based = sorted({v.node_id for v in sc.vehicles})
        for day in range(1, self.params.eco_horizon_days + 1):
            when = self.date_of(day)
            for node_id in based:
                for start, end in engine.future_slots():
                    if (when, node_id, start) not in have:
                        s.add(SlotCapacity(
                            service_date=when, node_id=node_id, slot_start_s=start,
                            slot_end_s=end, capacity=engine.future_capacity(node_id, start, end),
                            taken=0, changed_at=version,
                        ))  # fmt: skip

    def date_of(self, day: int) -> str:
        """The ISO date ``day`` days after the service's day."""
        return (self.scenario.settings.date + timedelta(days=day)).isoformat()

    def day_of(self, iso_date: str | None) -> int:
        """Days from the service's day to ``iso_date`` (None: the service's day)."""
        if iso_date is None:
            return 0
        return (date.fromisoformat(iso_date) - self.scenario.settings.date).days

    # -- the promise (a read) ------------------------------------------------------------

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
        basket = [[x.sku, x.qty] for x in lines]
        to = sc.settings.to_datetime
        options = []
        for o in answer.options:
            if isinstance(o, SlotOption) and o.slot_end_s <= now_s:
                continue  # a later day's slot over before the instant asked for
            payload = {"la": lat, "lo": lon, "l": basket, "st": answer.service_time_s,
                       "x": int(expires.timestamp()), "n": o.node_id, "p": o.price_eur,
                       "sd": self.day.isoformat()}  # fmt: skip
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
                "in_stock": x.in_stock,
                "earliest_promise": None if x.earliest_s is None else to(x.earliest_s),
            }
            for x in answer.lines
        ]
        return Quote(lat, lon, options, line_status, asked_at, expires)

    # -- holds (writes) ------------------------------------------------------------------

    def _bump(self, s) -> int:
        version = s.execute(
            update(DayState).where(DayState.id == 1).values(version=DayState.version + 1)
            .returning(DayState.version)
        ).scalar_one_or_none()  # fmt: skip
        if version is None:
            raise CheckoutError(503, "the day's plan is not ready yet; retry shortly")
        return version

    def hold(self, option_id: str, now: datetime, idempotency_key: str | None = None) -> dict:
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
                    if done.option_json != json.dumps(option, sort_keys=True):
                        raise CheckoutError(
                            422, "Idempotency-Key was used for another option",
                            ("header", "Idempotency-Key"),
                        )  # fmt: skip
                    return json.loads(done.response_json)
            version = self._bump(s)
            self._expire(s, now, version)
            lines = [OrderLine(sku, int(qty)) for sku, qty in option["l"]]
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
            if option["s"] != Service.CLICK_COLLECT:
                if option.get("d", 0) > 0:
                    self._reserve_later_place(s, option, version)
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
                    option_json=json.dumps(option, sort_keys=True),
                    node_id=node_id,
                    vehicle_id=vehicle_id,
                    lines_json=json.dumps([list(x) for x in allocation]),
                    response_json=json.dumps(response),
                )
            )
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
        allowed = np.array(
            [vt.may_carry(service, weight, volume, zones) for vt in live.vehicle_types]
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

    def _reserve_later_place(self, s, option: dict, version: int) -> None:
        """Take a place in a later day's slot: ``UPDATE ... WHERE taken < capacity``."""
        day = option["d"]
        taken = s.execute(
            update(SlotCapacity)
            .where(SlotCapacity.service_date == self.date_of(day),
                   SlotCapacity.node_id == option["n"],
                   SlotCapacity.slot_start_s == option["a"] - day * DAY_S,
                   SlotCapacity.taken < SlotCapacity.capacity)
            .values(taken=SlotCapacity.taken + 1, changed_at=version)
        ).rowcount  # fmt: skip
        if taken != 1:
            raise CheckoutError(409, "this slot is no longer available: ask for a new promise")

    def confirm(self, hold_id: str, now: datetime, idempotency_key: str | None = None) -> dict:
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
            order_id = "W" + hold.id.replace("-", "")[:11].upper()
            hold.status, hold.order_id, hold.confirm_key = "confirmed", order_id, idempotency_key
            if hold.vehicle_id is not None:
                self._rename_stop(s, hold.vehicle_id, hold.id, order_id, version)
            order = self._order(order_id, option)
            day = (option["r"] if option["s"] == Service.CLICK_COLLECT else option["a"]) // DAY_S
            s.add(DayOrder(order_id=order_id, hold_id=hold.id, order_json=json.dumps(order),
                           service_date=self.date_of(day)))  # fmt: skip
            return self._confirmation(hold)

    def _confirmation(self, hold: Hold) -> dict:
        option = json.loads(hold.option_json)
        start = option["r"] if option["s"] == Service.CLICK_COLLECT else option["a"]
        return {"hold_id": hold.id, "status": "confirmed", "order_id": hold.order_id,
                "node_id": hold.node_id, "service_date": self.date_of(start // DAY_S)}  # fmt: skip

    def _order(self, order_id: str, option: dict) -> dict:
        """The order as the plan of its day reads it: times from that day's midnight."""
        collect = option["s"] == Service.CLICK_COLLECT
        node = self.scenario.nodes[option["n"]]
        start = option["r"] if collect else option["a"]
        shift = start // DAY_S * DAY_S
        departs = option.get("td") if collect else None
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
        }

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
        for sku, qty, source, arrives in _allocation_rows(hold):
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
            s.execute(
                update(SlotCapacity)
                .where(SlotCapacity.service_date == _quoted_day(option, day, self.day),
                       SlotCapacity.node_id == option["n"],
                       SlotCapacity.slot_start_s == option["a"] - day * DAY_S)
                .values(taken=SlotCapacity.taken - 1, changed_at=version)
            )  # fmt: skip
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

    # -- stock and orders ----------------------------------------------------------------

    def set_stock(self, rows: list[tuple[str, str, int]], now: datetime) -> int:
        """Set on-hand quantities (a stock count from the WMS); what is committed stays.

        Applied batch by batch, not atomically: :data:`STOCK_BATCH_ROWS` rows per
        transaction, each one upsert statement and its own version, so a hold or a
        confirm waits for one short batch at most, never for the whole count. A row given
        twice counts once, its last quantity. Returns the last batch's version; a failure
        midway leaves the batches before it applied (sending the same count again is
        harmless: it sets the same quantities)."""
        wanted = {(node_id, sku): qty for node_id, sku, qty in rows}  # the last one wins
        items = list(wanted.items())
        version = None
        for start in range(0, len(items), STOCK_BATCH_ROWS):
            batch = items[start : start + STOCK_BATCH_ROWS]
            with self.db.transaction() as s:
                version = self._bump(s)
                values = [
                    {"node_id": n, "sku": k, "on_hand": q, "committed": 0, "changed_at": version}
                    for (n, k), q in batch
                ]
                upsert = _dialect_insert(self.db.dialect)(StockLevel).values(values)
                s.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[StockLevel.node_id, StockLevel.sku],
                        set_={"on_hand": upsert.excluded.on_hand, "changed_at": version},
                    )
                )
        if version is None:  # no rows (the API refuses an empty count): still a version
            with self.db.transaction() as s:
                version = self._bump(s)
        return version

    def reload(self, scenario: Scenario, now: datetime) -> dict:
        """Serve a new version of the scenario (fleet, nodes, catalogue, stock counts) for
        the same day, keeping the live routes, holds and confirmed orders: new vehicles
        start with empty routes, removed vehicles must have none, on-hand stock is reset
        to the new stock.csv. Another day means a new start: refused here (409)."""
        if scenario.settings.name != self.template.settings.name:
            raise CheckoutError(409, "the reloaded scenario is another day: restart the service")
        template, scenario = scenario, on_day(scenario, self.day)
        with self.db.transaction() as s:
            version = self._bump(s)
            rows = {r.vehicle_id: r for r in s.scalars(select(VehicleRoute).with_for_update())}
            wanted = {v.vehicle_id: v for v in scenario.vehicles}
            busy = sorted(
                v for v, r in rows.items() if v not in wanted and json.loads(r.stops_json)
            )
            if busy:
                raise CheckoutError(
                    409, f"vehicles with stops cannot be removed: {', '.join(busy[:10])}"
                )
            for vehicle_id, row in rows.items():
                if vehicle_id not in wanted:
                    s.delete(row)
            for vehicle_id, v in wanted.items():
                if vehicle_id not in rows:
                    s.add(VehicleRoute(vehicle_id=vehicle_id, node_id=v.node_id,
                                       mode=str(scenario.vehicle_types[v.vehicle_type_id].mode),
                                       stops_json="[]", changed_at=version))  # fmt: skip
            levels = {
                (r.node_id, r.sku): r for r in s.scalars(select(StockLevel).with_for_update())
            }
            for key, qty in scenario.stock.items():
                if key in levels:
                    levels[key].on_hand, levels[key].changed_at = qty, version
                else:
                    s.add(StockLevel(node_id=key[0], sku=key[1], on_hand=qty, committed=0,
                                     changed_at=version))  # fmt: skip
            s.flush()
            self._add_slot_capacity(s, scenario, version)  # nodes that got vehicles
            added = len(set(wanted) - set(rows))
            removed = len(set(rows) - set(wanted))
        with self._cache_lock:
            self.template, self.scenario = template, scenario
            self._engine, self._version = None, -1  # rebuilt from the database on next use
        return {"version": version, "vehicles_added": added, "vehicles_removed": removed}

    def confirmed_orders(self, day: date | None = None) -> list[Order]:
        """Orders confirmed at checkout for ``day`` (default: the service's day), for that
        day's plan."""
        day = day or self.scenario.settings.date
        with self.db.transaction(write=False) as s:
            wanted = DayOrder.service_date == day.isoformat()
            state = s.get(DayState, 1)
            if (
                day == self.scenario.settings.date
                and state is not None
                and (state.scenario_name == self.day_key)
            ):
                wanted = wanted | DayOrder.service_date.is_(None)  # rows from before 0003
            query = select(DayOrder).where(wanted).order_by(DayOrder.created_at, DayOrder.order_id)
            out = []
            for row in s.scalars(query):
                data = json.loads(row.order_json)
                data["lines"] = tuple(OrderLine(sku, int(qty)) for sku, qty in data["lines"])
                data["service"] = Service(data["service"])
                out.append(Order(**data))
            return out


def _add_units(units: dict[tuple[str, str], int], row: DayOrder) -> None:
    """Add what a ``day_orders`` row takes, per (node it ships from, SKU), to ``units``."""
    data = json.loads(row.order_json)
    node_id = data["ship_from_node_id"] or data["collect_node_id"]
    for sku, qty in data["lines"]:
        units[node_id, sku] = units.get((node_id, sku), 0) + int(qty)


def _quoted_day(option: dict, day: int, served: date) -> str:
    """The ISO date ``day`` days after the day ``option`` was quoted on (options from
    before days rolled carry no day: the day served)."""
    quoted = date.fromisoformat(option["sd"]) if "sd" in option else served
    return (quoted + timedelta(days=day)).isoformat()


def _allocation(option: dict) -> list[tuple[str, int, str, int | None]]:
    """Where an option's units are taken (see ``optimizer.promise.engine.Allocation``);
    a delivery takes the whole basket at its node."""
    if "al" in option:
        return [(sku, int(qty), node, at) for sku, qty, node, at in option["al"]]
    return [(sku, int(qty), option["n"], None) for sku, qty in option["l"]]


def _allocation_rows(hold: Hold) -> list[tuple[str, int, str, int | None]]:
    """A hold's reserved units; rows written before 0003 are ``[sku, qty]`` at its node."""
    rows = json.loads(hold.lines_json)
    return [
        (r[0], int(r[1]), r[2], r[3]) if len(r) == 4 else (r[0], int(r[1]), hold.node_id, None)
        for r in rows
    ]
