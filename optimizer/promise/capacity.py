"""What the checkout may still sell in a slot of a later day, for which no route is live.

A node's room in a slot is the vehicle time its fleet has free in it: the part of each
vehicle's shift inside the slot and the node's opening hours, less the time the day's
plan (when one is given: ``lastmile plan --days``, or a plan job for that date) keeps
the vehicle driving, serving or loading there. Without a plan the whole overlap is free.
Of that free time the checkout sells ``PromiseParams.future_capacity_share``:

- **places** for any delivery: ``floor(share x free hours x drops per vehicle-hour)``,
  one per order;
- **crew seconds** for bulky items, one pool per need (:func:`need_keys`): the free
  seconds of the vehicles that can serve it (a crew of 2 or more, a tail lift), taken
  by a bulky order's busy time (:func:`busy_s`: its door and installation time plus the
  drive to it). A sofa for two therefore takes a place *and* an hour of a two-person
  van, so the single-driver vans of a node never sell the crews' time.

Pure: a scenario, a plan and the promise's knobs in; numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from optimizer.model import ItemNeeds, OrderLine, Plan, Scenario, Vehicle

# Drive from one drop to the next in dense city streets: ~8 min, the part of the 15 min
# a drop takes (PromiseParams.future_drops_per_vehicle_hour = 4) that is not at the door
# (3 to 7 min in the sample's service times).
BETWEEN_DROPS_S = 8 * 60


@dataclass(frozen=True)
class SlotRoom:
    """The room of one node in one slot of a later day (seconds since its midnight)."""

    node_id: str
    slot_start_s: int
    slot_end_s: int
    places: int
    crew_s: dict[str, int] = field(default_factory=dict)  # need key -> seconds


def need_keys(needs: ItemNeeds | None) -> list[str]:
    """The crew pools a basket draws on: ``crew:K`` for a crew of K >= 2, and
    ``equipment:NAME`` per piece of equipment (none for a parcel)."""
    if needs is None:
        return []
    keys = [f"crew:{needs.crew}"] if needs.crew > 1 else []
    return keys + [f"equipment:{name}" for name in sorted(needs.equipment)]


def catalogue_needs(scenario: Scenario) -> list[str]:
    """Every crew pool the catalogue's items can draw on, sorted."""
    keys: set[str] = set()
    for sku in scenario.catalogue.values():
        keys.update(need_keys(ItemNeeds(crew=sku.crew, equipment=sku.equipment)))
    return sorted(keys)


def serves_need(scenario: Scenario, vehicle: Vehicle, key: str) -> bool:
    """Whether ``vehicle`` has the crew or equipment of pool ``key``."""
    vt = scenario.vehicle_types[vehicle.vehicle_type_id]
    kind, _, value = key.partition(":")
    if kind == "crew":
        return vt.crew >= int(value)
    return value in vt.equipment


def busy_s(service_s: int) -> int:
    """Vehicle time an order takes in a slot: at the door (and installing) plus the drive
    to it (:data:`BETWEEN_DROPS_S`)."""
    return int(service_s) + BETWEEN_DROPS_S


def crew_claims(
    scenario: Scenario, lines: Iterable[OrderLine], service_s: int
) -> list[tuple[str, int]]:
    """What an order of ``lines`` with ``service_s`` at the door takes of a later day's
    crew pools: ``(key, seconds)`` per pool its items need (none for a parcel; SKUs the
    catalogue no longer knows need nothing)."""
    known = [x for x in lines if x.sku in scenario.catalogue]
    return [(key, busy_s(service_s)) for key in need_keys(scenario.item_needs(known))]


def busy_intervals(plan: Plan | None) -> dict[str, list[tuple[int, int]]]:
    """Per vehicle, when its routes in ``plan`` keep it busy: from leaving (loading
    included) to coming back, less the waits before a slot opens."""
    out: dict[str, list[tuple[int, int]]] = {}
    for route in plan.routes if plan is not None else ():
        spans, t = [], route.start_s
        for stop in route.stops:
            if stop.service_start_s > stop.arrival_s:  # waiting for the slot: free
                spans.append((t, stop.arrival_s))
                t = stop.service_start_s
        spans.append((t, route.end_s))
        out.setdefault(route.vehicle_id, []).extend((a, b) for a, b in spans if b > a)
    return out


def _overlap_s(begin: int, end: int, spans: Iterable[tuple[int, int]]) -> int:
    return sum(max(0, min(end, b) - max(begin, a)) for a, b in spans)


def free_s(
    scenario: Scenario, vehicle: Vehicle, start_s: int, end_s: int, busy: list[tuple[int, int]]
) -> int:
    """Seconds ``vehicle`` is free in ``[start_s, end_s)``: inside its shift and its
    node's opening hours, and not in ``busy``."""
    node = scenario.nodes[vehicle.node_id]
    begin = max(start_s, vehicle.shift_start_s, node.opens_s)
    end = min(end_s, vehicle.shift_end_s, node.closes_s)
    if end <= begin:
        return 0
    return (end - begin) - _overlap_s(begin, end, busy)


def slot_rooms(
    scenario: Scenario,
    slots: list[tuple[int, int]],
    share: float,
    drops_per_vehicle_hour: float,
    plan: Plan | None = None,
    node_ids: Iterable[str] | None = None,
) -> list[SlotRoom]:
    """The room of every node with vehicles (or of ``node_ids``) in every slot, given
    the day's ``plan`` (None: an empty day). ``share`` and ``drops_per_vehicle_hour``
    are :class:`optimizer.promise.PromiseParams`' ``future_capacity_share`` and
    ``future_drops_per_vehicle_hour``."""
    busy = busy_intervals(plan)
    keys = catalogue_needs(scenario)
    wanted = None if node_ids is None else set(node_ids)
    fleets: dict[str, list[Vehicle]] = {}
    for v in scenario.vehicles:
        if wanted is None or v.node_id in wanted:
            fleets.setdefault(v.node_id, []).append(v)
    out = []
    for node_id in sorted(fleets):
        for start, end in slots:
            free = {
                v.vehicle_id: free_s(scenario, v, start, end, busy.get(v.vehicle_id, []))
                for v in fleets[node_id]
            }
            hours = sum(free.values()) / 3600
            crew = {
                key: int(share * sum(free[v.vehicle_id] for v in fleets[node_id]
                                     if serves_need(scenario, v, key)))
                for key in keys
            }  # fmt: skip
            places = int(share * drops_per_vehicle_hour * hours + 1e-9)
            out.append(SlotRoom(node_id, start, end, places, crew))
    return out
