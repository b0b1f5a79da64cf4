"""The checkout's state machine over the database: promise, hold, confirm, release
(:class:`CheckoutService`: the day it serves here; :mod:`.promise`, :mod:`.holds`,
:mod:`.publish`, :mod:`.later_days` and :mod:`.stock` each bring one concern's methods).

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

import json
import threading
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from api.db import Database
from api.models.checkout import DayOrder, DayState
from api.models.orders import DayReturn
from api.services.checkout.common import CheckoutError, lines_of
from api.services.checkout.holds import HoldsMixin
from api.services.checkout.later_days import LaterDaysMixin
from api.services.checkout.promise import OptionCodec, PromiseMixin
from api.services.checkout.publish import PublishMixin
from api.services.checkout.stock import StockMixin
from optimizer.model import Order, Return, ReturnKind, Scenario, Service, on_day
from optimizer.promise import PromiseEngine, PromiseParams
from optimizer.travel import TravelProvider, travel_of


class CheckoutService(PromiseMixin, HoldsMixin, LaterDaysMixin, PublishMixin, StockMixin):
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
        self.travel = travel or travel_of(scenario)
        self.params = params or PromiseParams.for_scenario(scenario)
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
        at checkout for it or carried into it, and the returns taken by API for it; with
        ``live_stock``, the stock as the checkout holds it (:meth:`plan_stock`) rather
        than the folder's count."""
        day = day or self.day
        sc = self.scenario if day == self.day else on_day(self.template, day)
        confirmed = self.confirmed_orders(day)
        if confirmed:
            sc = replace(sc, orders=sc.orders + confirmed)
        returns = self.api_returns(day)
        if returns:
            sc = replace(sc, returns=sc.returns + returns)
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

    def date_of(self, day: int) -> str:
        """The ISO date ``day`` days after the service's day."""
        return (self.scenario.settings.date + timedelta(days=day)).isoformat()

    def day_of(self, iso_date: str | None) -> int:
        """Days from the service's day to ``iso_date`` (None: the service's day)."""
        if iso_date is None:
            return 0
        return (date.fromisoformat(iso_date) - self.scenario.settings.date).days

    # -- versions ------------------------------------------------------------------------

    def _bump(self, s) -> int:
        version = s.execute(
            update(DayState).where(DayState.id == 1).values(version=DayState.version + 1)
            .returning(DayState.version)
        ).scalar_one_or_none()  # fmt: skip
        if version is None:
            raise CheckoutError(503, "the day's plan is not ready yet; retry shortly")
        return version

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
                data["lines"] = tuple(lines_of(data["lines"]))
                data["service"] = Service(data["service"])
                out.append(Order(**data))
            return out

    def api_returns(self, day: date) -> list[Return]:
        """The returns taken by API (``POST /v1/returns``) for ``day``, for its plan."""
        with self.db.transaction(write=False) as s:
            query = (
                select(DayReturn)
                .where(DayReturn.service_date == day.isoformat())
                .order_by(DayReturn.created_at, DayReturn.return_id)
            )
            out = []
            for row in s.scalars(query):
                data = json.loads(row.return_json)
                data["lines"] = tuple(lines_of(data["lines"]))
                data["kind"] = ReturnKind(data["kind"])
                out.append(Return(**data))
            return out
