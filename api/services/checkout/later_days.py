"""What the checkout sells on later days: places per slot (``slot_capacity``) and seconds
per crew pool (``slot_crew_capacity``), taken by holds and given back by releases, and
set from a checked plan of that day (:meth:`LaterDaysMixin.plan_later_day`, a plan job
with a ``date``) so that the promise's capacity follows what the day's plan leaves free.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select, update

from api.models.checkout import DayState, Hold, SlotCapacity, SlotCrewCapacity
from api.services.checkout.common import DAY_S, CheckoutError, lines_of
from optimizer.model import Plan, Scenario, Service
from optimizer.promise.capacity import crew_claims, slot_rooms
from optimizer.promise.engine import later_slots


class LaterDaysMixin:
    """Later days' capacity of :class:`api.services.checkout.CheckoutService`."""

    def _claims(self, option: dict) -> list[tuple[str, int]]:
        """The crew pools a delivery option of a later day takes seconds of."""
        return crew_claims(self.scenario, lines_of(option["l"]), option["st"])

    def _reserve_later_place(self, s, option: dict, version: int) -> None:
        """Take a place in a later day's slot, and the crews' seconds a bulky order
        needs there: ``UPDATE ... WHERE taken < capacity`` (409 when any is gone)."""
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
        for need, seconds in self._claims(option):
            taken = s.execute(
                update(SlotCrewCapacity)
                .where(SlotCrewCapacity.service_date == self.date_of(day),
                       SlotCrewCapacity.node_id == option["n"],
                       SlotCrewCapacity.slot_start_s == option["a"] - day * DAY_S,
                       SlotCrewCapacity.need == need,
                       SlotCrewCapacity.taken_s + seconds <= SlotCrewCapacity.capacity_s)
                .values(taken_s=SlotCrewCapacity.taken_s + seconds, changed_at=version)
            ).rowcount  # fmt: skip
            if taken != 1:
                raise CheckoutError(
                    409, f"no {_words(need)} left in this slot: ask for a new promise"
                )

    def _give_back_later_place(self, s, option: dict, service_date: str, version: int) -> None:
        """Give a released or expired hold's place and crews' seconds back."""
        day = option["d"]
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
            places, seconds = self._held_later(s, sc.settings.date)
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

    def _held_later(self, s, day: date) -> tuple[dict, dict]:
        """What open holds took of ``day``'s slots: places per (node, slot start), and
        seconds per (node, slot start, crew pool)."""
        places: dict[tuple[str, int], int] = {}
        seconds: dict[tuple[str, int, str], int] = {}
        for hold in s.scalars(select(Hold).where(Hold.status == "held")):
            option = json.loads(hold.option_json)
            d = option.get("d", 0)
            if option["s"] == Service.CLICK_COLLECT or d <= 0 or self.date_of(d) != day.isoformat():
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
