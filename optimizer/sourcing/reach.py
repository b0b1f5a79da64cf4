"""What each fleet group can reach on its own: the rules every plan must respect.

For every (order, fleet group) pair we know, before any routing, whether one vehicle
of that group could deliver the order alone: zone and service rules, size, battery
range for the round trip, what the items need (``Sku.modes``, crew, equipment), and the
slot within the shift. Sourcing only sends an order to a node that passes; a route that drops it
anyway was simply full.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from optimizer.model import FleetEntry, Scenario, Service
from optimizer.travel import Profile, TravelProvider


class Stage(IntEnum):
    """How far an order gets with a fleet group; the first rule it breaks names why."""

    NO_ALLOWED_VEHICLE = 0  # zone, service or item rules exclude the vehicle type
    TOO_BIG = 1  # basket over the vehicle's weight or volume
    OUT_OF_RANGE = 2  # round trip beyond the battery range
    SLOT_UNREACHABLE = 3  # cannot arrive in the slot and be back by the shift's end
    FEASIBLE = 4


@dataclass(frozen=True)
class FleetGroup:
    """Vehicles of one type at one node working one shift (a fleet.csv row)."""

    node_id: str
    vehicle_type_id: str
    earliest_start_s: int  # max(shift start, node opening)
    latest_end_s: int
    count: int


@dataclass
class Reach:
    """Per order (rows) and fleet group (columns): the stage reached, and the one-way
    distance from the group's node to the customer. ``parcel_stage`` is the stage a part
    of the basket reaches, whatever its size and items (every rule but TOO_BIG and the
    items' modes: a split order's parcel may fit a vehicle its whole basket does not,
    and may leave the van-only item to the other parcel)."""

    groups: list[FleetGroup]
    stage: np.ndarray  # (O, G) int8 of Stage
    distance_m: np.ndarray  # (O, G) int64, node -> customer with the group's profile
    order_ids: list[str]
    parcel_stage: np.ndarray | None = None  # (O, G) int8 of Stage, size not checked

    def node_stage(self, node_ids: list[str], parcel: bool = False) -> np.ndarray:
        """(O, N): best stage over the groups of each node (NO_ALLOWED_VEHICLE if none);
        with ``parcel``, of a part of the basket of any size."""
        stage = self.parcel_stage if parcel else self.stage
        out = np.zeros((len(self.order_ids), len(node_ids)), dtype=np.int8)
        column = {n: j for j, n in enumerate(node_ids)}
        for g, group in enumerate(self.groups):
            j = column[group.node_id]
            out[:, j] = np.maximum(out[:, j], stage[:, g])
        return out


def fleet_groups(scenario: Scenario) -> list[FleetGroup]:
    groups = []
    for entry in scenario.fleet:
        if entry.count <= 0:
            continue
        groups.append(_group(scenario, entry))
    return groups


def _group(scenario: Scenario, entry: FleetEntry) -> FleetGroup:
    node = scenario.nodes[entry.node_id]
    return FleetGroup(
        node_id=entry.node_id,
        vehicle_type_id=entry.vehicle_type_id,
        earliest_start_s=max(entry.shift_start_s, node.opens_s),
        latest_end_s=entry.shift_end_s,
        count=entry.count,
    )


def compute_reach(scenario: Scenario, travel: TravelProvider, order_ids: list[str]) -> Reach:
    """Stage of every given (delivery) order with every fleet group, vectorised."""
    groups = fleet_groups(scenario)
    orders = [scenario.orders_by_id[o] for o in order_ids]
    n = len(orders)
    lat = np.array([o.lat for o in orders], dtype=np.float64)
    lon = np.array([o.lon for o in orders], dtype=np.float64)
    weight = np.array([scenario.weight_kg(o) for o in orders])
    volume = np.array([scenario.volume_l(o) for o in orders])
    slot_start = np.array([o.slot_start_s for o in orders], dtype=np.int64)
    slot_end = np.array([o.slot_end_s for o in orders], dtype=np.int64)
    service = np.array([o.service_time_s for o in orders], dtype=np.int64)
    green = np.array([o.service is Service.GREEN for o in orders], dtype=bool)

    # Zone rules per vehicle type: which orders lie in a zone that refuses it.
    inside = {z.zone_id: z.contains_points(lat, lon) for z in scenario.zones}
    refused = {}
    for vt in scenario.vehicle_types.values():
        mask = np.zeros(n, dtype=bool)
        for zone in scenario.zones:
            if not zone.admits(vt):
                mask |= inside[zone.zone_id]
        if not vt.mode.is_bike:
            mask |= green
        refused[vt.vehicle_type_id] = mask

    # Item rules per vehicle type: what the whole basket's items need (modes, crew,
    # equipment; a parcel's own lines are checked when a split is chosen, so not in
    # parcel_stage).
    item_needs = [scenario.item_needs(o.lines) for o in orders]
    unfit = {
        vt.vehicle_type_id: np.array(
            [m is not None and not m.admits(vt) for m in item_needs], dtype=bool
        )
        for vt in scenario.vehicle_types.values()
    }

    stage = np.zeros((n, len(groups)), dtype=np.int8)
    parcel_stage = np.zeros((n, len(groups)), dtype=np.int8)
    distance = np.zeros((n, len(groups)), dtype=np.int64)
    tables: dict[tuple[str, str], tuple[np.ndarray, ...]] = {}
    for g, group in enumerate(groups):
        vt = scenario.vehicle_types[group.vehicle_type_id]
        node = scenario.nodes[group.node_id]
        key = (group.node_id, group.vehicle_type_id)
        if key not in tables:
            profile = Profile.of(vt)
            out_m, out_s = travel.table(
                np.array([node.lat]), np.array([node.lon]), lat, lon, profile
            )
            back_m, back_s = travel.table(
                lat, lon, np.array([node.lat]), np.array([node.lon]), profile
            )
            tables[key] = (out_m[0], out_s[0], back_m[:, 0], back_s[:, 0])
        out_m, out_s, back_m, back_s = tables[key]
        distance[:, g] = out_m
        fits = (weight <= vt.capacity_kg + 1e-9) & (volume <= vt.capacity_l + 1e-9)
        in_range = out_m + back_m <= vt.range_m
        begin = np.maximum(group.earliest_start_s + out_s, slot_start)
        in_time = (begin <= slot_end) & (begin + service + back_s <= group.latest_end_s)
        in_time &= group.earliest_start_s <= node.closes_s  # must leave while it is open
        s = np.full(n, Stage.FEASIBLE, dtype=np.int8)
        s[~in_time] = Stage.SLOT_UNREACHABLE
        s[~in_range] = Stage.OUT_OF_RANGE
        parcel_stage[:, g] = np.where(refused[vt.vehicle_type_id], Stage.NO_ALLOWED_VEHICLE, s)
        s[~fits] = Stage.TOO_BIG
        s[refused[vt.vehicle_type_id] | unfit[vt.vehicle_type_id]] = Stage.NO_ALLOWED_VEHICLE
        stage[:, g] = s
    return Reach(
        groups=groups,
        stage=stage,
        distance_m=distance,
        order_ids=order_ids,
        parcel_stage=parcel_stage,
    )
