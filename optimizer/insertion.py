"""The day's routes as the checkout sees them: where a new stop can still go.

Shared by the checkout promise (:mod:`optimizer.promise`) and route-aware sourcing
(:mod:`optimizer.sourcing`), so it sits at the core's base, inside neither.

Each vehicle keeps its stops in order with two schedules (Savelsbergh 1992, "The
vehicle routing problem with time windows: minimizing route duration"):

- ``earliest``: service starts if the vehicle leaves as early as it may;
- ``latest``: the latest service start at each stop that still keeps every later
  slot and the return before the shift ends.

Inserting a stop ``x`` between points ``g`` and ``g + 1`` is then feasible in O(1):
``max(slot start, departure_g + t(g, x)) <= slot end`` and
``start_x + service_x + t(x, g + 1) <= latest_{g + 1}``, plus capacity, range and the
type's ``max_stops``.
All insertion positions of all vehicles are kept as flat numpy arrays ("gaps"), so a
checkout question is a handful of vectorised operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.model import Node, Plan, Scenario, Vehicle, VehicleType
from optimizer.travel import Profile, TravelProvider, speed_profile
from optimizer.travel.time_of_day import HOUR_S, HOURS, conservative_s


@dataclass(frozen=True)
class LiveStop:
    """A stop on a live route: a planned order, a held or a confirmed checkout."""

    key: str  # order id, or the hold id while it is held
    lat: float
    lon: float
    tw_start_s: int
    tw_end_s: int
    service_s: int
    weight_kg: float
    volume_l: float
    green: bool = False


@dataclass
class LiveVehicle:
    vehicle: Vehicle
    vehicle_type: VehicleType
    node: Node
    stops: list[LiveStop] = field(default_factory=list)
    # derived by refresh(): points are [depot, stops..., depot]
    departure_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # earliest, per point
    latest_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # latest service start
    leg_m: np.ndarray = field(default_factory=lambda: np.zeros(0))  # point i -> i + 1
    leg_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nowait_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # start -> departure
    feasible: bool = True

    @property
    def earliest_start_s(self) -> int:
        return max(self.vehicle.shift_start_s, self.node.opens_s)

    @property
    def latest_start_s(self) -> int:
        return min(self.node.closes_s, self.vehicle.shift_end_s)

    @property
    def load_kg(self) -> float:
        return sum(s.weight_kg for s in self.stops)

    @property
    def load_l(self) -> float:
        return sum(s.volume_l for s in self.stops)

    @property
    def distance_m(self) -> int:
        return int(self.leg_m.sum())

    def refresh(self, travel: TravelProvider) -> None:
        """Recompute the schedules, leaving as early as the shift and the node allow.

        With waiting allowed before a slot, the departure from point ``i`` when the
        vehicle leaves at ``t`` is ``max(departure_s[i], t + nowait_s[i])``: the schedule
        for any later start (e.g. "not before the order is picked") needs no recompute.
        """
        lat = np.array([self.node.lat] + [s.lat for s in self.stops] + [self.node.lat])
        lon = np.array([self.node.lon] + [s.lon for s in self.stops] + [self.node.lon])
        dist, dur = travel.matrices(lat, lon, Profile.of(self.vehicle_type))
        dur = _worst_hour(travel, dur, self.vehicle_type.mode)
        n = len(lat)
        idx = np.arange(n - 1)
        self.leg_m = dist[idx, idx + 1].astype(np.int64)
        self.leg_s = dur[idx, idx + 1].astype(np.int64)
        start = np.array([0] + [s.tw_start_s for s in self.stops] + [0], dtype=np.int64)
        end = np.array(
            [self.latest_start_s] + [s.tw_end_s for s in self.stops] + [self.vehicle.shift_end_s],
            dtype=np.int64,
        )
        service = np.array([0] + [s.service_s for s in self.stops] + [0], dtype=np.int64)
        departure = np.zeros(n, dtype=np.int64)
        departure[0] = self.earliest_start_s
        ok = self.earliest_start_s <= self.latest_start_s
        for i in range(1, n):
            begin = max(int(start[i]), int(departure[i - 1] + self.leg_s[i - 1]))
            ok &= begin <= end[i]
            departure[i] = begin + service[i]
        latest = np.zeros(n, dtype=np.int64)
        latest[n - 1] = end[n - 1]
        for i in range(n - 2, -1, -1):
            latest[i] = min(int(end[i]), int(latest[i + 1] - self.leg_s[i] - service[i]))
        self.departure_s, self.latest_s = departure, latest
        self.nowait_s = np.concatenate([[0], np.cumsum(self.leg_s + service[1:])])
        self.feasible = bool(ok) and bool(np.all(latest >= departure - service))


def _worst_hour(travel: TravelProvider, duration_s: np.ndarray, mode) -> np.ndarray:
    """Durations at the day's slowest hour for ``mode`` (the travel's time of day; the
    free-flow ones without): a promise made on them holds at any hour, since leaving
    earlier never arrives later."""
    return conservative_s(duration_s, speed_profile(travel).of(mode), 0, HOURS * HOUR_S)


@dataclass
class Insertion:
    """The cheapest feasible place for a new stop on one vehicle, in one slot."""

    vehicle_id: str
    position: int  # the new stop goes after this many existing stops
    service_start_s: int  # earliest service start at the door
    latest_start_s: int  # latest service start that keeps the later stops
    added_m: int
    added_s: int
    cost_eur: float
    co2_g: float


class LiveRoutes:
    """Every vehicle's current route and where a new stop fits."""

    def __init__(
        self,
        scenario: Scenario,
        travel: TravelProvider,
        now_s: int = 0,
        vehicle_ids: set[str] | None = None,
    ):
        """Every vehicle of the scenario with an empty route (or only ``vehicle_ids``)."""
        self.scenario = scenario
        self.travel = travel
        self.now_s = now_s
        self.vehicles: dict[str, LiveVehicle] = {
            v.vehicle_id: LiveVehicle(
                vehicle=v,
                vehicle_type=scenario.vehicle_types[v.vehicle_type_id],
                node=scenario.nodes[v.node_id],
            )
            for v in scenario.vehicles
            if vehicle_ids is None or v.vehicle_id in vehicle_ids
        }
        self._stale = set(self.vehicles)
        self._gaps: dict | None = None
        # Per vehicle (in ``vehicles`` order): stops a route is expected to carry, to share
        # an empty vehicle's fixed cost and stem when planning; None when pricing.
        self.amortize_stops: np.ndarray | None = None

    @classmethod
    def from_plan(
        cls, scenario: Scenario, plan: Plan, travel: TravelProvider, now_s: int = 0
    ) -> LiveRoutes:
        live = cls(scenario, travel, now_s)
        for route in plan.routes:
            vehicle = live.vehicles[route.vehicle_id]
            for stop in route.stops:
                # A return's pickup counts as weight on board from the start: LiveRoutes
                # models deliveries only, so it errs on the safe side.
                order = scenario.stops_by_id[stop.order_id]
                parcel = plan.parcels.get(stop.parcel_id or "")
                if parcel is not None:  # a part of a split order: its own stop and lines
                    order = replace(order, order_id=parcel.parcel_id, lines=parcel.lines)
                vehicle.stops.append(
                    LiveStop(
                        key=order.order_id,
                        lat=order.lat,
                        lon=order.lon,
                        tw_start_s=order.slot_start_s,
                        tw_end_s=order.slot_end_s,
                        service_s=order.service_time_s,
                        weight_kg=scenario.weight_kg(order),
                        volume_l=scenario.volume_l(order),
                        green=order.service == "green",
                    )
                )
        return live

    @property
    def vehicle_types(self) -> list[VehicleType]:
        return [v.vehicle_type for v in self.vehicles.values()]

    # -- changes -------------------------------------------------------------------------

    def set_now(self, now_s: int) -> None:
        """Vehicles leave no earlier than ``now_s`` (applied per query, nothing recomputed)."""
        self.now_s = now_s

    def insert(self, vehicle_id: str, position: int, stop: LiveStop) -> None:
        self.vehicles[vehicle_id].stops.insert(position, stop)
        self._touch(vehicle_id)

    def remove(self, key: str) -> bool:
        for vehicle_id, v in self.vehicles.items():
            for i, s in enumerate(v.stops):
                if s.key == key:
                    del v.stops[i]
                    self._touch(vehicle_id)
                    return True
        return False

    def set_stops(self, vehicle_id: str, stops: list[LiveStop]) -> None:
        """Replace a vehicle's stops (e.g. with its route as stored in the database)."""
        self.vehicles[vehicle_id].stops = list(stops)
        self._touch(vehicle_id)

    def _touch(self, vehicle_id: str) -> None:
        self._stale.add(vehicle_id)
        self._gaps = None

    # -- queries -------------------------------------------------------------------------

    def gaps(self) -> dict:
        """Flat arrays over every insertion position of every open vehicle."""
        if self._gaps is not None:
            return self._gaps
        for vehicle_id in self._stale:
            self.vehicles[vehicle_id].refresh(self.travel)
        self._stale = set()
        parts: dict[str, list] = {k: [] for k in (
            "vehicle", "position", "prev_lat", "prev_lon", "next_lat", "next_lon",
            "departure_s", "latest_next_s", "leg_m", "leg_s", "first", "last",
            "route_start_s", "nowait_s", "earliest_start_s")}  # fmt: skip
        ids = list(self.vehicles)
        for k, vehicle_id in enumerate(ids):
            v = self.vehicles[vehicle_id]
            if not v.feasible:
                continue  # its stops no longer fit its shift: closed to checkouts
            lat = [v.node.lat] + [s.lat for s in v.stops] + [v.node.lat]
            lon = [v.node.lon] + [s.lon for s in v.stops] + [v.node.lon]
            m = len(v.stops)
            parts["vehicle"].append(np.full(m + 1, k))
            parts["position"].append(np.arange(m + 1))
            parts["prev_lat"].append(np.array(lat[:-1]))
            parts["prev_lon"].append(np.array(lon[:-1]))
            parts["next_lat"].append(np.array(lat[1:]))
            parts["next_lon"].append(np.array(lon[1:]))
            parts["departure_s"].append(v.departure_s[:-1])
            parts["latest_next_s"].append(v.latest_s[1:])
            parts["leg_m"].append(v.leg_m)
            parts["leg_s"].append(v.leg_s)
            # Where a stop would open or close a route that has stops: its span may grow
            # by more than the detour (an earlier start, or waiting for a later slot).
            parts["first"].append((np.arange(m + 1) == 0) & (m > 0))
            parts["last"].append((np.arange(m + 1) == m) & (m > 0))
            parts["route_start_s"].append(np.full(m + 1, v.latest_s[0]))
            parts["nowait_s"].append(v.nowait_s[:-1])
            parts["earliest_start_s"].append(np.full(m + 1, v.earliest_start_s))
        gaps = {k: (np.concatenate(p) if p else np.zeros(0)) for k, p in parts.items()}
        gaps["ids"] = ids
        gaps["vehicle"] = gaps["vehicle"].astype(np.int64)
        self._gaps = gaps
        return gaps

    def cheapest_insertions(
        self,
        lat: float,
        lon: float,
        service_s: int,
        weight_kg: float,
        volume_l: float,
        slots: list[tuple[int, int]],
        allowed_vehicles: np.ndarray,
    ) -> list[Insertion | None]:
        """For each slot, the cheapest feasible insertion over the allowed vehicles."""
        table = self.insertion_table(lat, lon, service_s, weight_kg, volume_l, allowed_vehicles)
        return self.best_in_slots(table, slots, allowed_vehicles)

    def insertion_table(
        self,
        lat: float,
        lon: float,
        service_s: int,
        weight_kg: float,
        volume_l: float,
        allowed_vehicles: np.ndarray,
    ) -> dict:
        """What inserting a stop at (lat, lon) costs at every position of every allowed
        vehicle with room and range for it; slots are applied by :meth:`best_in_slots`."""
        g = self.gaps()
        per_vehicle = self._vehicle_arrays()
        room = (per_vehicle["load_kg"] + weight_kg <= per_vehicle["capacity_kg"] + 1e-9) & (
            per_vehicle["load_l"] + volume_l <= per_vehicle["capacity_l"] + 1e-9
        )
        room &= per_vehicle["stops_left"] > 0  # a tour at its type's max_stops takes no more
        mask = (allowed_vehicles & room)[g["vehicle"]] if len(g["vehicle"]) else np.zeros(0, bool)
        # Vehicles leave no earlier than now (e.g. once the order is picked): a route
        # that must leave before that is closed, the others' departures shift.
        leave = np.maximum(g["earliest_start_s"], self.now_s) if len(mask) else np.zeros(0)
        mask &= leave <= g["route_start_s"]
        idx = np.flatnonzero(mask)
        departure = np.maximum(g["departure_s"][idx], leave[idx] + g["nowait_s"][idx])
        vehicle = g["vehicle"][idx]
        to_x_m, to_x_s = np.zeros(len(idx), np.int64), np.zeros(len(idx), np.int64)
        from_x_m, from_x_s = np.zeros(len(idx), np.int64), np.zeros(len(idx), np.int64)
        x_lat, x_lon = np.array([lat]), np.array([lon])
        type_of = per_vehicle["type"][vehicle]
        for t in np.unique(type_of):
            sel = type_of == t
            rows = idx[sel]
            profile = per_vehicle["profiles"][t]
            d_in, t_in = self.travel.table(
                g["prev_lat"][rows], g["prev_lon"][rows], x_lat, x_lon, profile
            )
            d_out, t_out = self.travel.table(
                x_lat, x_lon, g["next_lat"][rows], g["next_lon"][rows], profile
            )
            to_x_m[sel] = d_in[:, 0]
            to_x_s[sel] = _worst_hour(self.travel, t_in, profile.mode)[:, 0]
            from_x_m[sel] = d_out[0]
            from_x_s[sel] = _worst_hour(self.travel, t_out, profile.mode)[0]
        added_m = to_x_m + from_x_m - g["leg_m"][idx]
        added_s = to_x_s + from_x_s - g["leg_s"][idx] + service_s
        cost = (
            per_vehicle["fixed_eur"][vehicle]
            + added_m * per_vehicle["per_m_eur"][vehicle]
            + added_s * per_vehicle["per_s_eur"][vehicle]
        )
        if self.amortize_stops is not None:
            # Planning, not pricing: an empty vehicle's fixed cost and stem are shared by
            # the stops a route of its type is expected to carry, so greedy insertion
            # does not shun vans (Solomon 1987's insertion heuristics have the same bias).
            # The time at the door is this stop's own: only the fixed cost and the
            # drive out and back are shared.
            empty = per_vehicle["fixed_eur"][vehicle] > 0
            door = service_s * per_vehicle["per_s_eur"][vehicle]
            shared = (cost - door) / self.amortize_stops[vehicle] + door
            cost = np.where(empty, shared, cost)
        in_range = added_m <= per_vehicle["range_left_m"][vehicle]
        return {
            "row": idx[in_range],
            "vehicle": vehicle[in_range],
            "to_x_s": to_x_s[in_range],
            "per_s_eur": per_vehicle["per_s_eur"][vehicle][in_range],
            "first": g["first"][idx][in_range].astype(bool),
            "last": g["last"][idx][in_range].astype(bool),
            "route_start_s": g["route_start_s"][idx][in_range],
            "arrive": (departure + to_x_s)[in_range],
            "latest_x": (g["latest_next_s"][idx] - from_x_s - service_s)[in_range],
            "added_m": added_m[in_range],
            "added_s": added_s[in_range],
            "cost": cost[in_range],
            "co2_g": (added_m * per_vehicle["co2_per_m_g"][vehicle])[in_range],
        }

    def best_in_slots(
        self, table: dict, slots: list[tuple[int, int]], allowed_vehicles: np.ndarray
    ) -> list[Insertion | None]:
        """For each slot, the cheapest row of ``table`` on an allowed vehicle that serves
        inside the slot and keeps the later stops."""
        g = self.gaps()
        ids = g["ids"]
        usable = allowed_vehicles[table["vehicle"]]
        out: list[Insertion | None] = []
        for start, end in slots:
            begin = np.maximum(table["arrive"], start)
            ok = usable & (begin <= end) & (begin <= table["latest_x"])
            if not ok.any():
                out.append(None)
                continue
            cost = table["cost"] + table["per_s_eur"] * self._span_beyond_detour(table, begin, end)
            j = int(np.flatnonzero(ok)[np.argmin(cost[ok])])
            out.append(
                Insertion(
                    vehicle_id=ids[int(table["vehicle"][j])],
                    position=int(g["position"][table["row"][j]]),
                    service_start_s=int(begin[j]),
                    latest_start_s=int(min(end, table["latest_x"][j])),
                    added_m=int(table["added_m"][j]),
                    added_s=int(table["added_s"][j]),
                    cost_eur=float(cost[j]),
                    co2_g=float(table["co2_g"][j]),
                )
            )
        return out

    @staticmethod
    def _span_beyond_detour(table: dict, begin: np.ndarray, end: int) -> np.ndarray:
        """Seconds a route's paid span grows beyond the detour: appended last, the wait
        for the slot; prepended first, how much earlier the vehicle must now leave."""
        wait = np.where(table["last"], begin - table["arrive"], 0)
        leave_by = np.minimum(end, table["latest_x"]) - table["to_x_s"]
        earlier = np.maximum(0, table["route_start_s"] - leave_by) - table["added_s"]
        return wait + np.where(table["first"], np.maximum(0, earlier), 0)

    def _vehicle_arrays(self) -> dict:
        """Per-vehicle figures in the order of ``gaps()["ids"]`` (cached with the gaps)."""
        g = self.gaps()
        if "per_vehicle" in g:
            return g["per_vehicle"]
        vehicles = [self.vehicles[v] for v in g["ids"]]
        profiles = sorted({Profile.of(v.vehicle_type) for v in vehicles}, key=str)
        index = {p: k for k, p in enumerate(profiles)}
        vt = [v.vehicle_type for v in vehicles]
        arrays = {
            "profiles": profiles,
            "type": np.array([index[Profile.of(t)] for t in vt], dtype=np.int64),
            "load_kg": np.array([v.load_kg for v in vehicles]),
            "load_l": np.array([v.load_l for v in vehicles]),
            "capacity_kg": np.array([t.capacity_kg for t in vt]),
            "capacity_l": np.array([t.capacity_l for t in vt]),
            "per_m_eur": np.array([t.cost_per_m_eur for t in vt]),
            "per_s_eur": np.array([t.cost_per_s_eur for t in vt]),
            "co2_per_m_g": np.array([t.co2_g_per_m for t in vt]),
            "fixed_eur": np.array([0.0 if v.stops else t.fixed_cost_eur
                                   for t, v in zip(vt, vehicles, strict=True)]),
            "range_left_m": np.array([t.range_m - v.distance_m
                                      for t, v in zip(vt, vehicles, strict=True)]),
            # A vehicle's stops are one tour here: a type's max_stops caps them all.
            "stops_left": np.array([len(v.stops) + 1 if t.max_stops is None
                                    else t.max_stops - len(v.stops)
                                    for t, v in zip(vt, vehicles, strict=True)]),
        }  # fmt: skip
        g["per_vehicle"] = arrays
        return arrays
