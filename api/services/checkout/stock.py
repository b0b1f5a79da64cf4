"""The checkout's stock: what a plan may use (:meth:`plan_stock`), counts from the WMS
(:meth:`set_stock`, batch by batch) and a reloaded scenario folder (:meth:`reload`)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from api.models.checkout import DayOrder, DayState, Hold, StockLevel, VehicleRoute
from api.services.checkout.common import CheckoutError, add_units, allocation_rows
from optimizer.model import Scenario, on_day

# Rows of a stock count per transaction (PUT /v1/stock): small enough that a hold waits
# milliseconds behind a batch; five bound parameters a row stay far below SQLite's limit.
STOCK_BATCH_ROWS = 500


def _dialect_insert(dialect: str):
    """The ``insert`` of ``dialect`` that has ``on_conflict_do_update`` (SQLite and
    PostgreSQL spell it the same way)."""
    if dialect == "postgresql":
        return postgresql.insert
    return sqlite.insert


class StockMixin:
    """The stock of :class:`api.services.checkout.CheckoutService` (mixed into it)."""

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
            for sku, qty, source, arrives in allocation_rows(hold):
                if arrives is None:
                    taken[source, sku] = taken.get((source, sku), 0) + qty
        later = select(DayOrder).where(DayOrder.service_date > self.day.isoformat())
        for row in s.scalars(later):
            add_units(taken, row, self.scenario)
        return taken

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
