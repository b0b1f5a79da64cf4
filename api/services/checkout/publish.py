"""The day's routes the checkout sells on: stored at the start of a day (:meth:`start`)
and replaced by each checked plan of the day (:meth:`publish`), keeping the holds and the
orders confirmed since the plan was made."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
from sqlalchemy import delete, select

from api.models.checkout import (
    DayOrder,
    DayState,
    Hold,
    InboundStock,
    SlotCapacity,
    SlotCrewCapacity,
    StockLevel,
    VehicleRoute,
)
from api.services.checkout.common import add_units, stocked
from optimizer.model import Plan, Scenario, Service
from optimizer.promise import LiveRoutes, LiveStop
from optimizer.promise.capacity import slot_rooms
from optimizer.promise.engine import later_slots
from optimizer.workflows.plan import plan_document


class PublishMixin:
    """The day's routes of :class:`api.services.checkout.CheckoutService` (mixed into it)."""

    def start(self, plan_day: Callable[[], Plan], planned: Scenario | None = None) -> None:
        """Make sure the database holds this scenario's day: if not, plan it (outside any
        transaction) and store its routes and committed stock. ``planned`` is the scenario
        ``plan_day`` plans (default: the service's; :meth:`day_scenario` to include the
        orders confirmed for the day on earlier days)."""
        if self.ready:
            return
        planned = planned or self.scenario
        plan = plan_day()
        _, document = plan_document(planned, plan)
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
        s.execute(delete(SlotCrewCapacity).where(SlotCrewCapacity.service_date <= today))
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
                if stocked(sc, node_id, line.sku):
                    key = (node_id, line.sku)
                    committed[key] = committed.get(key, 0) + line.qty
        today = select(DayOrder).where(DayOrder.service_date == sc.settings.date.isoformat())
        for row in s.scalars(today):
            if row.order_id not in sc.orders_by_id:
                add_units(committed, row, sc)
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
        """Rows of places, and of seconds per crew pool, for every slot of the next
        ``eco_horizon_days`` at every node with vehicles in ``sc``, where missing: an
        empty day's room (:func:`optimizer.promise.capacity.slot_rooms`)."""
        have = {
            (r.service_date, r.node_id, r.slot_start_s) for r in s.scalars(select(SlotCapacity))
        }
        have_crew = {
            (r.service_date, r.node_id, r.slot_start_s, r.need)
            for r in s.scalars(select(SlotCrewCapacity))
        }
        p = self.params
        rooms = slot_rooms(
            sc, later_slots(sc, p), p.future_capacity_share, p.future_drops_per_vehicle_hour
        )
        for day in range(1, self.params.eco_horizon_days + 1):
            when = self.date_of(day)
            for room in rooms:
                node_id, start, end = room.node_id, room.slot_start_s, room.slot_end_s
                if (when, node_id, start) not in have:
                    s.add(SlotCapacity(
                        service_date=when, node_id=node_id, slot_start_s=start,
                        slot_end_s=end, capacity=room.places, taken=0, changed_at=version,
                    ))  # fmt: skip
                for need, seconds in room.crew_s.items():
                    if (when, node_id, start, need) not in have_crew:
                        s.add(SlotCrewCapacity(
                            service_date=when, node_id=node_id, slot_start_s=start,
                            need=need, slot_end_s=end, capacity_s=seconds, taken_s=0,
                            changed_at=version,
                        ))  # fmt: skip
