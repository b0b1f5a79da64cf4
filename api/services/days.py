"""The service's days: which day it serves, moving to the next, carrying what was left.

The service serves the day its clock is on (in the scenario's time zone). When the clock
passes midnight (or the service starts on a later day than the one its database holds),
the :class:`DayKeeper` moves it on:

1. what the day ending did not deliver is carried into the new day
   (:func:`carry_over`): the orders its final plan version left unassigned and the routed
   orders its tracking shows not delivered (failed, or never reported done), each with
   its reason, as orders of the new day in the same window of the day;
2. the checkout serves the template re-dated to the new day
   (:meth:`api.services.checkout.CheckoutService.switch_day`);
3. the new day is planned (its template orders, those confirmed for it at checkout on
   earlier days and those carried) and becomes the routes the checkout sells on.

Once the day is ready after a start or a new day, the back-in-stock alerts still
waiting are promised again (:func:`api.services.back_in_stock.tell_back_in_stock`): a
stop between a stock count and its alerts' check leaves none waiting for the next count.

A routed order whose plan no event ever touched counts as done (no news from the road is
no failure). A click & collect basket not collected waits at its store (nothing to ship
again). Returns' pickups are not carried: a pickup not made is a return the customer is
asked to book again.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.clock import Clock
from api.db import Database
from api.models import PlanJob
from api.models.checkout import DayOrder, DayState
from api.models.tracking import TrackedOrder
from api.services.back_in_stock import tell_back_in_stock
from api.services.checkout import CheckoutService
from api.services.checkout.common import line_rows
from optimizer.io.plan_files import PICKUP_SERVICE, plan_from_dict, read_lines
from optimizer.model import Order, Scenario, with_order_changes
from optimizer.planning import PlanParams, plan_day
from optimizer.processes import worker_pool

log = logging.getLogger("lastmile.api.days")

DONE = ("delivered", "collected", "picked_up")


def stored_day(db: Database) -> date | None:
    """The day the database's checkout state is of (None before the first)."""
    with db.transaction(write=False) as s:
        state = s.get(DayState, 1)
    if state is None or "@" not in state.scenario_name:
        return None
    return date.fromisoformat(state.scenario_name.rpartition("@")[2])


def final_plan(db: Database, scenario_dir: Path, day: date) -> tuple[str | None, dict] | None:
    """The newest plan of ``day`` for the served folder: a done plan job's (its id and
    plan.json), else the checkout's start-of-day plan (no id); None if there is none."""
    with db.transaction(write=False) as s:
        jobs = s.scalars(
            select(PlanJob.id)
            .where(PlanJob.status == "done", PlanJob.scenario_dir == str(scenario_dir))
            .order_by(PlanJob.finished_at.desc(), PlanJob.created_at.desc())
        ).all()
        for job_id in jobs:
            doc = json.loads(s.get(PlanJob, job_id).plan_json)
            if doc["scenario"]["date"] == day.isoformat():
                return job_id, doc
        state = s.get(DayState, 1)
        if state is not None and state.scenario_name.endswith(f"@{day.isoformat()}"):
            return None, json.loads(state.plan_json)
    return None


def carry_over(
    db: Database, service: CheckoutService, scenario_dir: Path, from_day: date, to_day: date
) -> int:
    """Write the orders ``from_day`` did not deliver as orders of ``to_day`` (see the
    module docstring); how many. Done once: a second call for the same days adds none."""
    if to_day <= from_day:
        return 0
    with db.transaction(write=False) as s:
        if s.scalar(select(DayOrder.order_id).where(DayOrder.carried_from == from_day.isoformat())):
            return 0
    found = final_plan(db, scenario_dir, from_day)
    if found is None:
        return 0
    plan_id, doc = found
    base = service.scenario_of_day(from_day)
    plan = plan_from_dict(base, doc)
    day = with_order_changes(base, plan.order_changes)
    left = _left(db, plan_id, doc, day)
    planned = {a["order_id"] for a in doc["assignments"]}
    for order in base.orders:  # confirmed at checkout after the day's last plan was made
        if order.order_id not in planned:
            left.setdefault(order.order_id, (None, "confirmed after the day's last plan"))
    carried = []
    for order_id, (lines, reason) in left.items():
        order = day.orders_by_id.get(order_id)
        if order is None:
            continue
        carried.append((_carried(order, lines), f"not delivered on {from_day}: {reason}"))
    with db.transaction() as s:
        for data, reason in carried:
            row = s.get(DayOrder, data["order_id"])
            if row is None:
                row = DayOrder(order_id=data["order_id"], hold_id=None)
                s.add(row)
            row.order_json = json.dumps(data)
            row.service_date = to_day.isoformat()
            row.carried_from, row.carried_reason = from_day.isoformat(), reason
    return len(carried)


def _left(
    db: Database, plan_id: str | None, doc: dict, day: Scenario
) -> dict[str, tuple[list | None, str]]:
    """Order id -> (lines left, or None for all; why) for what ``doc`` did not deliver."""
    left: dict[str, tuple[list | None, str]] = {}
    for u in doc["unassigned"]:
        if u["order_id"] not in day.orders_by_id:
            continue  # a return's pickup
        lines = u.get("lines")
        mine = left.get(u["order_id"])
        if lines is not None and mine is not None and mine[0] is not None:
            lines = mine[0] + lines
        left[u["order_id"]] = (lines, f"{u['code']} ({u['reason']})")
    if plan_id is None:
        return left
    parcels = {
        st["parcel_id"]: st["order_id"]
        for r in doc["routes"]
        for st in r["stops"]
        if st.get("parcel_id")
    }
    with db.transaction(write=False) as s:
        rows = s.scalars(
            select(TrackedOrder).where(
                TrackedOrder.plan_id == plan_id, TrackedOrder.service != PICKUP_SERVICE
            )
        ).all()
    if not any(r.status != "planned" for r in rows):
        return left  # never tracked: no news is no failure
    for r in rows:
        if r.status in DONE or r.vehicle_id is None:
            continue  # a collection not yet collected waits at its store: nothing to ship
        order_id = parcels.get(r.order_id, r.order_id)
        why = r.status + (f": {r.failure_reason}" if r.failure_reason else "")
        left.setdefault(order_id, (None, f"last status {why}"))
    return left


def _carried(order: Order, lines: list | None) -> dict:
    """The order as a ``day_orders`` row of the next day: the same window of the day,
    shipped from whichever node the next plan chooses (click & collect at its store);
    ``lines``: the parcels' lines left, as plan.json has them (None: all of them), each
    line's variant kept."""
    return {
        "order_id": order.order_id,
        "lat": order.lat,
        "lon": order.lon,
        "service": str(order.service),
        "slot_start_s": order.slot_start_s,
        "slot_end_s": order.slot_end_s,
        "service_time_s": order.service_time_s,
        "lines": line_rows(order.lines if lines is None else read_lines(lines)),
        "collect_node_id": order.collect_node_id,
        "ship_from_node_id": None,
        "transfer_departs_s": None,
    }


class DayKeeper:
    """Background work of the service's days: plan the served day if the database does
    not hold it yet (promises answer 503 until then), move to the next day when the
    clock passes midnight, and release expired holds every ``SWEEP_S``."""

    SWEEP_S = 30.0

    def __init__(
        self,
        service: CheckoutService,
        scenario_dir: Path,
        clock: Clock,
        plan_time_limit_s: float,
        mp_context: Any,
        on_new_day=lambda scenario: None,
    ):
        self.service = service
        self.scenario_dir = scenario_dir
        self.clock = clock
        self.time_limit_s = plan_time_limit_s
        self.mp_context = mp_context
        self.on_new_day = on_new_day
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pool: ProcessPoolExecutor | None = None
        service.on_stale_day = self._wake.set
        # The back-in-stock alerts are checked once the day is ready after a start (the
        # service may have stopped between a stock count and its alerts' check) and
        # after a new day started (its stock).
        self._alerts_due = True
        self._thread = threading.Thread(target=self._run, name="lastmile-days", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the clock now rather than at the next sweep."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                today = self.service.day_for(self.clock.now())
                if today > self.service.day or not self.service.ready:
                    self._start(max(today, self.service.day))
                if self._stop.is_set():
                    return
                self.service.expire_due(self.clock.now())
                if self._alerts_due:  # once the day is ready: alerts a stop left waiting
                    tell_back_in_stock(self.service, None, self.clock.now())
                    self._alerts_due = False
            except Exception:  # the service stays up; promises answer 503 meanwhile
                if self._stop.is_set():
                    return
                log.exception("the checkout's day could not be made ready; retrying")
            self._wake.wait(self.SWEEP_S)
            self._wake.clear()

    def _start(self, today: date) -> None:
        service = self.service
        before = stored_day(service.db)
        if before is not None and before < today:
            n = carry_over(service.db, service, self.scenario_dir, before, today)
            log.info("%d orders carried from %s to %s", n, before, today)
        if today != service.day:
            service.switch_day(today)
            self.on_new_day(service.scenario)
        scenario = service.day_scenario()
        params = PlanParams(time_limit_s=self.time_limit_s, workers=1)
        # In a child process: OR-Tools holds the interpreter lock while it solves, and the
        # service must keep answering meanwhile.
        with worker_pool(1, mp_context=self.mp_context) as pool:
            self._pool = pool
            plan = pool.submit(plan_day, scenario, params).result()
        self._pool = None
        if not self._stop.is_set():
            service.start(lambda: plan, scenario)
            self._alerts_due = True

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        pool = self._pool
        if pool is not None:  # a day plan still running is of no use any more
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
        self._thread.join(timeout=10)
