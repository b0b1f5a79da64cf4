"""What the checkout sells on later days: places per slot (``slot_capacity``) and seconds
per crew pool (``slot_crew_capacity``), taken by holds and given back by releases, and
set from a checked plan of that day (:meth:`LaterDaysMixin.plan_later_day`, a plan job
with a ``date``) so that the promise's capacity follows what the day's plan leaves free.
"""

from __future__ import annotations

import json

from sqlalchemy import select, update

from api.models.checkout import DayState, Hold, SlotCapacity, SlotCrewCapacity
from api.services.checkout.common import DAY_S, CheckoutError, lines_of, quoted_day
from optimizer.model import Plan, Scenario, Service
from optimizer.promise.capacity import crew_claims, slot_rooms
from optimizer.promise.engine import later_slots


class LaterDaysMixin:
    """Later days' capacity of :class:`api.services.checkout.CheckoutService`."""

    def _claims(self, option: dict) -> list[tuple[str, int]]:
        """The crew pools a delivery option of a later day takes seconds of: what its hold
        took (``cl``, stored with it), else what its lines need."""
        if "cl" in option:
            return [(need, int(seconds)) for need, seconds in option["cl"]]
        return crew_claims(self.scenario, lines_of(option["l"]), option["st"])

    def _reserve_later_place(self, s, option: dict, version: int) -> list[list]:
        """Take a place in a later day's slot, and the crews' seconds a bulky order
        needs there: ``UPDATE ... WHERE taken < capacity`` (409 when any is gone). The
        crews' seconds taken, ``[[need, seconds], ...]``."""
        day = option["d"]
        where = (SlotCapacity.service_date == self.date_of(day),
                 SlotCapacity.node_id == option["n"],
                 SlotCapacity.slot_start_s == option["a"] - day * DAY_S)  # fmt: skip
        taken = s.execute(
            update(SlotCapacity)
            .where(*where, SlotCapacity.taken < SlotCapacity.capacity)
            .values(taken=SlotCapacity.taken + 1, changed_at=version)
        ).rowcount  # fmt: skip
        if taken != 1:
            raise CheckoutError(409, "this slot is no longer available: ask for a new promise")
        claims = self._claims(option)
        for need, seconds in claims:
            if not self._take_crew(s, option, need, seconds, version):
                raise CheckoutError(
                    409, f"no {_words(need)} left in this slot: ask for a new promise"
                )
        return [[need, seconds] for need, seconds in claims]

    def _take_crew(self, s, option: dict, need: str, seconds: int, version: int) -> bool:
        """Take ``seconds`` of crew pool ``need`` in the option's slot, the pool's row
        made first (an empty day's room) where it is missing: a pool the catalogue
        gained by a reload, or a day stored before 0011."""
        day = option["d"]
        start, end = option["a"] - day * DAY_S, option["b"] - day * DAY_S
        key = (SlotCrewCapacity.service_date == self.date_of(day),
               SlotCrewCapacity.node_id == option["n"],
               SlotCrewCapacity.slot_start_s == start, SlotCrewCapacity.need == need)  # fmt: skip
        if s.scalar(select(SlotCrewCapacity.capacity_s).where(*key)) is None:
            p = self.params
            rooms = slot_rooms(self.scenario, [(start, end)], p.future_capacity_share,
                               p.future_drops_per_vehicle_hour, node_ids=[option["n"]])  # fmt: skip
            s.add(SlotCrewCapacity(
                service_date=self.date_of(day), node_id=option["n"], slot_start_s=start,
                need=need, slot_end_s=end, capacity_s=rooms[0].crew_s.get(need, 0) if rooms
                else 0, taken_s=0, changed_at=version,
            ))  # fmt: skip
            s.flush()
        return s.execute(
            update(SlotCrewCapacity)
            .where(*key, SlotCrewCapacity.taken_s + seconds <= SlotCrewCapacity.capacity_s)
            .values(taken_s=SlotCrewCapacity.taken_s + seconds, changed_at=version)
        ).rowcount == 1  # fmt: skip

    def _give_back_later_place(self, s, option: dict, version: int) -> None:
        """Give a released or expired hold's place and crews' seconds back (what it
        took, on the day it was quoted for)."""
        day = option["d"]
        service_date = quoted_day(option, day, self.day)
        start = option["a"] - day * DAY_S
        s.execute(
            update(SlotCapacity)
            .where(SlotCapacity.service_date == service_date,
                   SlotCapacity.node_id == option["n"], SlotCapacity.slot_start_s == start)
            .values(taken=SlotCapacity.taken - 1, changed_at=version)
        )  # fmt: skip
        for need, seconds in self._claims(option):
            s.execute(
                update(SlotCrewCapacity)
                .where(SlotCrewCapacity.service_date == service_date,
                       SlotCrewCapacity.node_id == option["n"],
                       SlotCrewCapacity.slot_start_s == start, SlotCrewCapacity.need == need)
                .values(taken_s=SlotCrewCapacity.taken_s - seconds, changed_at=version)
            )  # fmt: skip

    def plan_later_day(self, sc: Scenario, plan: Plan) -> bool:
        """A checked plan of a later day (``sc``: the scenario it planned, dated that
        day) sets that day's capacity: each slot keeps what is sold and gets the room
        the plan leaves free (:func:`optimizer.promise.capacity.slot_rooms`), less what
        open holds already took of it (their orders are not in the plan). False, with
        nothing changed, when ``sc``'s day is not a later day within the horizon."""
        day = (sc.settings.date - self.day).days
        if not 0 < day <= self.params.eco_horizon_days:
            return False
        p, when = self.params, sc.settings.date.isoformat()
        rooms = slot_rooms(
            sc, later_slots(sc, p), p.future_capacity_share, p.future_drops_per_vehicle_hour, plan
        )
        with self.db.transaction() as s:
            state = s.get(DayState, 1)
            if state is None or state.scenario_name != self.day_key:
                return False
            version = self._bump(s)
            places, seconds = self._not_in_plan(s, sc)
            rows = {(r.node_id, r.slot_start_s): r for r in s.scalars(
                select(SlotCapacity).where(SlotCapacity.service_date == when).with_for_update()
            )}  # fmt: skip
            crews = {(r.node_id, r.slot_start_s, r.need): r for r in s.scalars(
                select(SlotCrewCapacity).where(SlotCrewCapacity.service_date == when)
                .with_for_update()
            )}  # fmt: skip
            for room in rooms:
                key = (room.node_id, room.slot_start_s)
                row = rows.get(key) or _added(s, SlotCapacity(
                    service_date=when, node_id=room.node_id, slot_start_s=room.slot_start_s,
                    slot_end_s=room.slot_end_s, capacity=0, taken=0,
                ))  # fmt: skip
                row.capacity = row.taken - places.get(key, 0) + room.places
                row.changed_at = version
                for need, free_s in room.crew_s.items():
                    crew = crews.get(key + (need,)) or _added(s, SlotCrewCapacity(
                        service_date=when, node_id=room.node_id, slot_start_s=room.slot_start_s,
                        need=need, slot_end_s=room.slot_end_s, capacity_s=0, taken_s=0,
                    ))  # fmt: skip
                    crew.capacity_s = crew.taken_s - seconds.get(key + (need,), 0) + free_s
                    crew.changed_at = version
        return True

    def _not_in_plan(self, s, sc: Scenario) -> tuple[dict, dict]:
        """What the day's slots have sold that ``sc`` (the scenario its plan planned)
        does not hold: open holds, and orders confirmed after ``sc`` was read. Places per
        (node, slot start), and seconds per (node, slot start, crew pool)."""
        places: dict[tuple[str, int], int] = {}
        seconds: dict[tuple[str, int, str], int] = {}
        day = sc.settings.date.isoformat()
        # The holds table holds the served day's holds only (a new day clears it), so
        # this reads one day's holds at most; an order confirmed on an earlier day for
        # this one is in ``sc``.
        for hold in s.scalars(select(Hold).where(Hold.status.in_(("held", "confirmed")))):
            if hold.status == "confirmed" and hold.order_id in sc.orders_by_id:
                continue  # planned
            option = json.loads(hold.option_json)
            d = option.get("d", 0)
            if option["s"] == Service.CLICK_COLLECT or d <= 0:
                continue
            if quoted_day(option, d, self.day) != day:
                continue
            key = (option["n"], option["a"] - d * DAY_S)
            places[key] = places.get(key, 0) + 1
            for need, busy in self._claims(option):
                seconds[key + (need,)] = seconds.get(key + (need,), 0) + busy
        return places, seconds


def _added(s, row):
    s.add(row)
    return row


def _words(need: str) -> str:
    """A crew pool in words: ``crew:2`` -> ``crew of 2``, ``equipment:tail_lift`` ->
    ``vehicle with tail_lift``."""
    kind, _, value = need.partition(":")
    return f"crew of {value}" if kind == "crew" else f"vehicle with {value}"
