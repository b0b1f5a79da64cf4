"""The checkout promise: which options and slots can be kept for a basket at an address.

A delivery slot is offered only when

- a node holds the whole basket in free stock (stock minus what is planned and held),
- one of that node's vehicles may deliver there (zone rules, green = bike only, size),
- the stop fits into that vehicle's current route inside the slot without breaking any
  other stop's slot, its capacity, battery range or shift (:mod:`optimizer.insertion`),
- the goods can be picked before the vehicle leaves (``pick_lead_s`` from now).

Price and CO2 come from the marginal cost of that cheapest insertion (see
:func:`price_eur` for the formula).

Eco is also offered on the next ``eco_horizon_days`` (``scenario.yaml``'s ``promise:
horizon_days`` sets it), and any delivery service on the days its ``min_days`` and
``max_days`` allow: no route exists for those days, so a slot is priced from an
insertion into an empty route (its fixed cost and stem shared by a full shift's drops)
and bounded by the places a node's fleet has in it, which every service shares.

A SKU made to order or shipped from a supplier (``Scenario.lead_time_days``) takes no
stock: its goods are at the node that many days after the order, and a service's days
are counted from that day; an option that the horizon cuts off is answered as
unavailable with its reason (:attr:`Promise.unavailable`).

Click & collect at a nearby store is ready when the store has picked the basket, or
when the store shuttle has brought it from a node that holds it (``scenario.yaml``
``transfers``), or when inbound deliveries to the store have covered it; possibly on a
later day. Everything is pure: the caller passes the clock and the places left.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from optimizer.insertion import LiveRoutes
from optimizer.model import NodeKind, OrderLine, Plan, Scenario, Service, VehicleType
from optimizer.promise.capacity import SlotRoom, busy_s, catalogue_needs, need_keys, slot_rooms
from optimizer.travel import TravelProvider
from optimizer.travel.great_circle import great_circle_km

DAY_S = 24 * 3600


@dataclass(frozen=True)
class PromiseParams:
    """Knobs of the promise, with the reasons for their defaults.

    Parameters
    ----------
    delivery_start_s, delivery_end_s
        Hours in which delivery slots are cut (08:00-20:00: the sample's slots).
    pick_lead_s
        Time to pick and pack an order before its vehicle leaves (1 h: a store pick
        of a few lines plus staging; dark stores do it faster, stores slower).
    collect_radius_km
        Click & collect is offered at stores and dark stores within this distance.
    pass_through
        Share of the marginal cost above (or below) ``reference_cost_eur`` passed on
        to the customer's price.
    reference_cost_eur
        What a delivery costs on average (cost per drop of the Paris sample, ~6 EUR).
    steer_discount_eur
        Discount on the cheapest-to-serve slots (within 10 % of the best), to steer
        customers to slots that densify routes.
    collect_horizon_days
        Click & collect may be ready up to this many days after today (a transfer by the
        store shuttle or an inbound delivery that arrives later).
    eco_horizon_days
        Eco slots are also offered on this many following days (0: today only).
    future_drops_per_vehicle_hour
        Drops a vehicle makes per hour of shift in a slot of a later day, for which no
        route exists yet: 4 (15 min a drop: 3 to 7 min at the door, as in the sample's
        service times, plus ~8 min between drops in dense city streets). It bounds the
        slot's capacity and shares an empty vehicle's fixed cost and stem in the price
        estimate (see :meth:`PromiseEngine.future_capacity`).
    future_capacity_share
        Share of that capacity sold at checkout days ahead: the rest is kept for the
        orders the day's own plan will bring (store orders, other channels).
    """

    delivery_start_s: int = 8 * 3600
    delivery_end_s: int = 20 * 3600
    pick_lead_s: int = 3600
    collect_radius_km: float = 5.0
    pass_through: float = 0.5
    reference_cost_eur: float = 6.0
    steer_discount_eur: float = 1.0
    max_slots_per_service: int = 12
    collect_horizon_days: int = 2
    eco_horizon_days: int = 2
    future_drops_per_vehicle_hour: float = 4.0
    future_capacity_share: float = 0.5

    @classmethod
    def for_scenario(cls, scenario: Scenario, **knobs) -> PromiseParams:
        """The defaults, with the scenario's horizon (``promise: horizon_days``) for eco,
        every service's later days and click & collect; ``knobs`` over both."""
        horizon = scenario.settings.promise_horizon_days
        if horizon is not None:
            knobs = {"eco_horizon_days": horizon, "collect_horizon_days": horizon} | knobs
        return cls(**knobs)

    def __post_init__(self) -> None:
        for name in ("collect_horizon_days", "eco_horizon_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} < 0 not understood.")
        if self.future_drops_per_vehicle_hour <= 0:
            raise ValueError("future_drops_per_vehicle_hour must be > 0.")
        if not 0 <= self.future_capacity_share <= 1:
            raise ValueError("future_capacity_share must be within [0, 1].")


@dataclass(frozen=True)
class SlotOption:
    service: Service
    slot_start_s: int
    slot_end_s: int
    eta_start_s: int
    eta_end_s: int
    node_id: str
    vehicle_id: str
    mode: str
    position: int
    price_eur: float
    marginal_cost_eur: float
    co2_g: float
    recommended: bool = False
    # Days after today (times above are seconds since today's midnight, so a slot of
    # tomorrow starts at >= 86400). A later day's slot has no route yet: its price is an
    # estimate and it takes one of the node's places in that slot (``set_places_left``).
    day: int = 0


# Where a basket's units are taken: (sku, qty, node_id, inbound arrival or None for stock
# on hand); a hold reserves exactly these.
Allocation = tuple[tuple[str, int, str, int | None], ...]


@dataclass(frozen=True)
class CollectOption:
    node_id: str
    name: str
    ready_by_s: int  # seconds since today's midnight (>= 86400 on a later day)
    price_eur: float
    distance_km: float
    allocation: Allocation = ()
    transfer_from_node_id: str | None = None  # the basket comes by the store shuttle
    transfer_departs_s: int | None = None
    stock_arrives_s: int | None = None  # when the shuttle or the last inbound unit is in

    @property
    def day(self) -> int:
        return self.ready_by_s // DAY_S


@dataclass(frozen=True)
class LineAvailability:
    sku: str
    qty: int
    in_stock: bool  # some node holds the qty in free stock now
    earliest_s: int | None = None  # when inbound stock makes it promisable, if not now
    lead_time_days: int | None = None  # made to order: the shortest lead time over nodes


@dataclass
class Promise:
    options: list[SlotOption | CollectOption] = field(default_factory=list)
    lines: list[LineAvailability] = field(default_factory=list)
    service_time_s: int = 0
    # Services asked for that nothing can offer within the horizon, with the reason (a
    # made-to-order lead time that ends beyond it), by service.
    unavailable: dict[Service, str] = field(default_factory=dict)


def door_time_s(weight_kg: float, volume_l: float, lines: int) -> int:
    """Time at the door for a basket: park, walk, hand over (3 min), a little more per
    extra line, and a quarter of an hour for two-person bulky items (> 50 kg or > 400 L),
    as in the sample generator's service times."""
    if weight_kg > 50 or volume_l > 400:
        return 900
    return int(min(420, 180 + 60 * (lines - 1) + 4 * weight_kg))


def price_eur(base_eur: float, marginal_eur: float, params: PromiseParams) -> float:
    """``base + pass_through x (marginal - reference)``, kept within [0.5, 2] x base and
    rounded to 10 cents: a slot that costs more to serve costs the customer a little more."""
    raw = base_eur + params.pass_through * (marginal_eur - params.reference_cost_eur)
    return round(float(np.clip(raw, 0.5 * base_eur, 2.0 * base_eur)) * 10) / 10


class PromiseEngine:
    """Answers checkout questions against live routes and free stock."""

    def __init__(self, scenario: Scenario, live: LiveRoutes, params: PromiseParams | None = None):
        self.scenario = scenario
        self.live = live
        self.params = params or PromiseParams.for_scenario(scenario)
        self.node_ids = list(scenario.nodes)
        self.node_index = {n: j for j, n in enumerate(self.node_ids)}
        self.skus = list(scenario.catalogue)
        self.sku_index = {s: k for k, s in enumerate(self.skus)}
        # free stock: what the scenario holds minus the day's planned orders (set by caller)
        self.free = np.zeros((len(self.node_ids), len(self.skus)), dtype=np.int64)
        for (node_id, sku), qty in scenario.stock.items():
            self.free[self.node_index[node_id], self.sku_index[sku]] += qty
        self.vehicle_node = np.array(
            [self.node_index[live.vehicles[v].node.node_id] for v in live.vehicles],
            dtype=np.int64,  # also when no vehicle is on the road
        )
        self.vehicle_types = live.vehicle_types
        # Inbound stock not yet promised, per (node, sku, arrival): the caller may set it
        # from its own bookkeeping (the checkout's database).
        self.inbound_left: dict[tuple[str, str, int], int] = {}
        for i in scenario.inbound:
            key = (i.node_id, i.sku, i.arrives_at_s)
            self.inbound_left[key] = self.inbound_left.get(key, 0) + i.qty
        # Places left per (day, slot start), one per node, on later days: the full
        # :meth:`future_capacity` until the caller (the checkout's database) says less.
        self._places: dict[tuple[int, int], np.ndarray] = {}
        # And seconds per crew pool (a crew of two, a tail lift), same way.
        self._crew: dict[tuple[int, int, str], np.ndarray] = {}
        self._needs = catalogue_needs(scenario)
        self._empty: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] | None = None
        self._future: LiveRoutes | None = None
        self._made_to_order = bool(scenario.lead_times) or any(
            s.lead_time_days for s in scenario.catalogue.values()
        )

    @classmethod
    def from_plan(
        cls,
        scenario: Scenario,
        plan: Plan,
        travel: TravelProvider,
        params: PromiseParams | None = None,
    ) -> PromiseEngine:
        """The day as planned: its routes are live, its orders' stock is taken."""
        engine = cls(scenario, LiveRoutes.from_plan(scenario, plan, travel), params)
        for node_id, lines in plan.shipments(scenario):
            engine.take(node_id, list(lines))
        return engine

    # -- stock -------------------------------------------------------------------------

    def basket(self, lines: list[OrderLine]) -> np.ndarray:
        out = np.zeros(len(self.skus), dtype=np.int64)
        for line in lines:
            out[self.sku_index[line.sku]] += line.qty
        return out

    def take(self, node_id: str, lines: list[OrderLine]) -> None:
        self.free[self.node_index[node_id]] -= self.basket(lines)

    def give_back(self, node_id: str, lines: list[OrderLine]) -> None:
        self.free[self.node_index[node_id]] += self.basket(lines)

    def made_to_order(self, node_id: str, lines: list[OrderLine]) -> tuple[int, list[OrderLine]]:
        """The day (from today) the made-to-order goods of ``lines`` are at ``node_id``
        (0: none), and the lines taken from its stock (the others)."""
        if not self._made_to_order:
            return 0, list(lines)
        ready, stocked = 0, []
        for line in lines:
            days = self.scenario.line_lead_time_days(node_id, line)
            if days is None:
                stocked.append(line)
            else:
                ready = max(ready, days)
        return ready, stocked

    def _ready_days(self, lines: list[OrderLine], need: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per node: whether its free stock holds the basket's stocked lines, and the day
        its made-to-order goods are there (0: none)."""
        if not self._made_to_order:
            return np.all(self.free >= need, axis=1), np.zeros(len(self.node_ids), np.int64)
        has, ready = np.zeros(len(self.node_ids), bool), np.zeros(len(self.node_ids), np.int64)
        for j, node_id in enumerate(self.node_ids):
            ready[j], stocked = self.made_to_order(node_id, lines)
            has[j] = bool(np.all(self.free[j] >= self.basket(stocked)))
        return has, ready

    def service_days(self, service: Service) -> tuple[int, int]:
        """The first and last day ``service`` is offered on, counted from the day the
        goods are at the node (``ServiceSettings.min_days`` and ``max_days``; by default
        eco to the horizon, the others their first day only)."""
        settings = self.scenario.settings.services[service]
        last = settings.max_days
        if last is None:
            last = self.params.eco_horizon_days if service is Service.ECO else settings.min_days
        return settings.min_days, last

    # -- the question ------------------------------------------------------------------

    def promise(
        self,
        lines: list[OrderLine],
        lat: float,
        lon: float,
        now_s: int,
        services: Collection[Service] = tuple(Service),
    ) -> Promise:
        """The options for ``lines`` delivered to (or collected near) ``lat, lon`` when
        asked at ``now_s``; only the ``services`` asked for (default: every one; eco
        includes its later days). The lines' availability is always answered."""
        sc, params = self.scenario, self.params
        need = self.basket(lines)
        has_stock, ready_day = self._ready_days(lines, need)
        weight = sum(sc.catalogue[x.sku].weight_kg * x.qty for x in lines)
        volume = sum(sc.catalogue[x.sku].volume_l * x.qty for x in lines)
        # The door time, and the installation of bulky items (catalogue ``install_min``).
        service_s = door_time_s(weight, volume, len(lines)) + sum(
            sc.catalogue[x.sku].install_s * x.qty for x in lines
        )
        result = Promise(lines=self._availability(lines, need, now_s), service_time_s=service_s)
        if Service.CLICK_COLLECT in services:
            result.options += self._collect(lat, lon, lines, need, (has_stock, ready_day), now_s)
        if not has_stock.any():
            return result
        result.unavailable = self._beyond_horizon(lines, services, has_stock, ready_day)
        self.live.set_now(now_s + params.pick_lead_s)
        zones = sc.zones_at(lat, lon)
        # What the items need of the vehicle: a van-only item gets no bike-only (green)
        # offer, a sofa for two only a vehicle with a crew of two (and its tail lift).
        modes = sc.item_needs(lines)
        offers = []
        for service in (Service.EXPRESS, Service.GREEN, Service.ECO):
            settings = sc.settings.services.get(service)
            if service not in services or settings is None or settings.slot_length_min <= 0:
                continue
            slots = self._slots(settings.slot_length_min * 60, now_s)
            today = has_stock & (ready_day == 0) & (settings.min_days == 0)
            allowed = (
                _carry_mask(self.vehicle_types, service, weight, volume, zones, modes)
                & today[self.vehicle_node]
            )
            if slots and allowed.any():
                offers.append((service, settings, slots, allowed))
        if offers:
            union = np.logical_or.reduce([allowed for *_, allowed in offers])
            table = self.live.insertion_table(lat, lon, service_s, weight, volume, union)
        for service, settings, slots, allowed in offers:
            best = self.live.best_in_slots(table, slots, allowed)
            options = []
            for (start, end), ins in zip(slots, best, strict=True):
                if ins is None:
                    continue
                eta = (ins.service_start_s, min(end, ins.latest_start_s))
                options.append(
                    _option(service, (start, end), eta, ins, self.live, settings, params)
                )
            result.options += _steer(options, params)
        basket = (weight, volume, zones, modes)
        result.options += self._later_days(
            lat, lon, service_s, basket, (has_stock, ready_day), services
        )
        return result

    def _beyond_horizon(self, lines, services, has_stock, ready_day) -> dict[Service, str]:
        """The services asked for whose first day, at every node that could ship the
        basket, is after the horizon because of a lead time, with the reason."""
        if not ready_day.any():
            return {}
        out = {}
        first_ready = int(ready_day[has_stock].min())
        made = sorted({
            x.sku for x in lines
            if any(self.scenario.lead_time_days(n, x.sku) is not None for n in self.node_ids)
        })  # fmt: skip
        why = f"{', '.join(made)} made to order: ready in {first_ready} days at the earliest"
        for service in services:
            settings = self.scenario.settings.services.get(service)
            if settings is None:
                continue
            if service is Service.CLICK_COLLECT:
                horizon, first = self.params.collect_horizon_days, first_ready
            else:
                horizon, first = self.params.eco_horizon_days, first_ready + settings.min_days
            if first > horizon:
                out[service] = (
                    f"{why}; {service} from day {first}, beyond the promise's horizon of "
                    f"{horizon} days"
                )
        return out

    def _slots(self, length_s: int, now_s: int) -> list[tuple[int, int]]:
        return _slots(self.params, length_s, now_s)

    # -- eco on later days ----------------------------------------------------------------

    def future_room(self, node_id: str, start_s: int, end_s: int) -> SlotRoom:
        """What a node's fleet may take at checkout in a slot of a later day before any
        of it is sold or planned (:func:`optimizer.promise.capacity.slot_rooms` of an
        empty day): places, and seconds per crew pool."""
        p = self.params
        (room,) = slot_rooms(
            self.scenario, [(start_s, end_s)], p.future_capacity_share,
            p.future_drops_per_vehicle_hour, node_ids=[node_id],
        ) or [SlotRoom(node_id, start_s, end_s, 0, dict.fromkeys(self._needs, 0))]  # fmt: skip
        return room

    def future_capacity(self, node_id: str, start_s: int, end_s: int) -> int:
        """Orders a node's fleet may take at checkout in a slot of a later day:
        ``floor(share x drops per hour x hours of its vehicles' shifts inside the slot
        and the node's opening hours)`` (:class:`PromiseParams`)."""
        return self.future_room(node_id, start_s, end_s).places

    def future_slots(self) -> list[tuple[int, int]]:
        """The eco slots of a later day (seconds since that day's midnight)."""
        return later_slots(self.scenario, self.params)

    def _future_routes(self) -> LiveRoutes:
        """Every vehicle with an empty route: where and at what estimated cost a stop of
        a later day can go. An empty vehicle's fixed cost and its drive out and back are
        shared by the stops a full shift carries at ``future_drops_per_vehicle_hour``
        (the amortisation route-aware sourcing uses for empty vehicles)."""
        if self._future is None:
            # Empty routes of identical vehicles (node, type, shift) price the same: one each.
            alike: dict[tuple, str] = {}
            for v in self.scenario.vehicles:
                key = (v.node_id, v.vehicle_type_id, v.shift_start_s, v.shift_end_s)
                alike.setdefault(key, v.vehicle_id)
            live = LiveRoutes(self.scenario, self.live.travel, 0, set(alike.values()))
            rate = self.params.future_drops_per_vehicle_hour
            live.amortize_stops = np.array([
                max(1.0, rate * max(0, v.latest_start_s - v.earliest_start_s) / 3600)
                for v in live.vehicles.values()
            ])  # fmt: skip
            self._future = live
            self._future_node = np.array(
                [self.node_index[v.node.node_id] for v in live.vehicles.values()],
                dtype=np.int64,
            )
        return self._future

    def _later_days(self, lat, lon, service_s, basket: tuple, nodes: tuple, services) -> list:
        """Options on later days, every delivery service on the days it allows
        (:meth:`service_days`) from the day the goods are at the node; ``basket``:
        weight_kg, volume_l, zones at the address, the items' modes; ``nodes``: per node,
        whether it holds the stocked lines and the day the made-to-order goods are in."""
        weight, volume, zones, modes = basket
        has_stock, ready_day = nodes
        slots = self.future_slots()
        if not slots:
            return []
        live = self._future_routes()
        home = self._future_node
        offers = []
        for service in (Service.EXPRESS, Service.GREEN, Service.ECO):
            settings = self.scenario.settings.services.get(service)
            if service not in services or settings is None or settings.slot_length_min <= 0:
                continue
            first, last = self.service_days(service)
            lo, hi = ready_day[home] + first, ready_day[home] + last
            if max(1, int(lo.min())) > min(self.params.eco_horizon_days, int(hi.max())):
                continue  # no later day within the horizon (express today only, say)
            carry = _carry_mask(live.vehicle_types, service, weight, volume, zones, modes)
            carry &= has_stock[home]
            if carry.any():
                offers.append((service, settings, (lo, hi), carry))
        if not offers:
            return []
        union = np.logical_or.reduce([carry for *_, carry in offers])
        table = live.insertion_table(lat, lon, service_s, weight, volume, union)
        # A bulky basket also needs its crews' time in the slot (a sofa: a two-person van).
        claims = [(key, busy_s(service_s)) for key in need_keys(modes)]
        out = []
        for service, settings, (lo, hi), carry in offers:
            last = min(self.params.eco_horizon_days, int(hi.max()))
            for day in range(max(1, int(lo.min())), last + 1):
                allowed = carry & (lo <= day) & (day <= hi)
                if allowed.any():
                    found = self._best_later(live, table, day, slots, allowed, claims)
                    options = [
                        _option(service, slot, slot, ins, live, settings, self.params, day)
                        for slot, ins in found
                    ]
                    out += _steer(options, self.params)
        return out

    def _best_later(self, live, table, day: int, slots, allowed, claims=()) -> list:
        """The cheapest insertion per slot of ``day`` among the ``allowed`` vehicles of
        nodes with places left in it, and the seconds of every crew pool ``claims``
        names (``(key, seconds)``): (slot as seconds since today's midnight, insertion),
        in slot order, slots with none left out."""
        # slots whose nodes with places left are the same share one search
        groups: dict[bytes, tuple[np.ndarray, list[tuple[int, int]]]] = {}
        for start, end in slots:
            room = self._places_row(day, start) > 0
            for key, seconds in claims:
                room &= self._crew_row(day, start, key) >= seconds
            usable = allowed & room[self._future_node]
            groups.setdefault(usable.tobytes(), (usable, []))[1].append((start, end))
        found = []
        for usable, group in groups.values():
            found += zip(group, live.best_in_slots(table, group, usable), strict=True)
        # A later day's routes are not built yet: the ETA is the slot itself.
        return [
            ((day * DAY_S + start, day * DAY_S + end), ins)
            for (start, end), ins in sorted(found, key=lambda item: item[0])
            if ins is not None
        ]

    def set_crew_left(self, day: int, node_id: str, start_s: int, key: str, seconds: int) -> None:
        """Seconds of crew pool ``key`` (:func:`optimizer.promise.capacity.need_keys`) the
        checkout may still sell at ``node_id`` in the slot starting at ``start_s`` on
        ``day`` days from today (ignored for unknown nodes, slots or pools)."""
        j = self.node_index.get(node_id)
        row = self._crew_row(day, start_s, key)
        if j is not None and row is not None:
            row[j] = seconds

    def crew_left(self, day: int, node_id: str, start_s: int, key: str) -> int:
        row = self._crew_row(day, start_s, key)
        return 0 if row is None else int(row[self.node_index[node_id]])

    def _crew_row(self, day: int, start_s: int, key: str) -> np.ndarray | None:
        row = self._crew.get((day, start_s, key))
        if row is None:
            empty = self._empty_day().get(start_s)
            if empty is None or key not in empty[1]:
                return None
            row = self._crew[day, start_s, key] = empty[1][key].copy()
        return row

    def _empty_day(self) -> dict[int, tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Per slot start of a later day, an empty day's room per node (places, and
        seconds per crew pool): the same every later day, so computed once, in one
        :func:`optimizer.promise.capacity.slot_rooms` over every node and slot."""
        if self._empty is None:
            p, n = self.params, len(self.node_ids)
            self._empty = {
                start: (np.zeros(n, np.int64), {k: np.zeros(n, np.int64) for k in self._needs})
                for start, _ in self.future_slots()
            }
            rooms = slot_rooms(self.scenario, self.future_slots(), p.future_capacity_share,
                               p.future_drops_per_vehicle_hour)  # fmt: skip
            for room in rooms:
                places, crews = self._empty[room.slot_start_s]
                j = self.node_index[room.node_id]
                places[j] = room.places
                for key, seconds in room.crew_s.items():
                    crews[key][j] = seconds
        return self._empty

    def set_places_left(self, day: int, node_id: str, start_s: int, places: int) -> None:
        """Places the checkout may still sell at ``node_id`` in the eco slot starting at
        ``start_s`` on ``day`` days from today (ignored for unknown nodes or slots)."""
        j = self.node_index.get(node_id)
        row = self._places_row(day, start_s)
        if j is not None and row is not None:
            row[j] = places

    def places_left(self, day: int, node_id: str, start_s: int) -> int:
        row = self._places_row(day, start_s)
        return 0 if row is None else int(row[self.node_index[node_id]])

    def _places_row(self, day: int, start_s: int) -> np.ndarray | None:
        row = self._places.get((day, start_s))
        if row is None:
            empty = self._empty_day().get(start_s)
            if empty is None:
                return None
            row = self._places[day, start_s] = empty[0].copy()
        return row

    # -- click & collect -------------------------------------------------------------------

    def _ready_at(self, node_id: str, earliest_s: int, work_s: int) -> int | None:
        """When ``work_s`` of work at the node, begun no earlier than ``earliest_s`` and
        inside its opening hours of one day, is done; None if not within the horizon."""
        node = self.scenario.nodes[node_id]
        for day in range(max(0, earliest_s // DAY_S), self.params.collect_horizon_days + 1):
            begin = max(earliest_s, day * DAY_S + node.opens_s)
            if begin + work_s <= day * DAY_S + node.closes_s:
                return begin + work_s
        return None

    def _collect(self, lat, lon, lines, need, nodes, now_s) -> list[CollectOption]:
        """At each store or dark store within the radius, the earliest of: picking the
        basket there (once its made-to-order goods are in), the basket coming by the
        shuttle from a node that holds it, or the missing units arriving there as inbound
        stock (these two for stocked baskets only). ``nodes``: per node, whether it holds
        the stocked lines and the day its made-to-order goods are there."""
        sc, p = self.scenario, self.params
        has_stock, ready_day = nodes
        base = sc.settings.services.get(Service.CLICK_COLLECT)
        price = base.price_eur if base else 0.0
        out = []
        for j, node_id in enumerate(self.node_ids):
            node = sc.nodes[node_id]
            if node.kind not in (NodeKind.STORE, NodeKind.DARK_STORE):
                continue
            km = great_circle_km(lat, lon, node.lat, node.lon)
            if km > p.collect_radius_km:
                continue
            made_day, stocked = self.made_to_order(node_id, lines)
            basket = tuple((x.sku, x.qty, node_id, None) for x in stocked)
            option = None
            if has_stock[j]:
                ready = self._ready_at(node_id, max(now_s, made_day * DAY_S), p.pick_lead_s)
                if ready is not None:
                    option = CollectOption(node_id, node.name, ready, price, round(km, 2), basket)
            elif len(stocked) == len(lines) and not ready_day.any():
                option = _earliest(
                    self._by_transfer(j, lines, has_stock, now_s, price, round(km, 2)),
                    self._by_inbound(j, lines, need, now_s, price, round(km, 2)),
                )
            if option is not None:
                out.append(option)
        return sorted(out, key=lambda o: o.distance_km)[:3]

    def _by_transfer(self, j, lines, has_stock, now_s, price, km) -> CollectOption | None:
        """The whole basket picked at another node that holds it and brought by the
        shuttle (one parcel, one pick): the earliest ready time over the sources."""
        sc, p = self.scenario, self.params
        shuttle = sc.settings.transfer
        store = sc.nodes[self.node_ids[j]]
        best: CollectOption | None = None
        for k in np.flatnonzero(has_stock):
            if k == j:
                continue
            source = self.node_ids[int(k)]
            picked = self._ready_at(source, now_s, shuttle.pick_before_s)
            if picked is None:
                continue
            # The first run after the pick that reaches the store while it is open (a
            # closed store receives nothing) and whose basket is ready within the horizon.
            found = None
            for d in range(picked // DAY_S, p.collect_horizon_days + 1):
                for t in shuttle.departures_s:
                    departs, arrives = d * DAY_S + t, d * DAY_S + t + shuttle.lead_s
                    if departs < picked or arrives % DAY_S > store.closes_s:
                        continue
                    ready = self._ready_at(store.node_id, arrives, shuttle.prepare_s)
                    if ready is not None:
                        found = (departs, ready)
                        break
                if found is not None:
                    break
            if found is None or (best is not None and found[1] >= best.ready_by_s):
                continue
            departs, ready = found
            best = CollectOption(
                store.node_id, store.name, ready,
                round((price + p.pass_through * shuttle.cost_eur) * 10) / 10, km,
                tuple((x.sku, x.qty, source, None) for x in lines), source, departs,
                departs + shuttle.lead_s,
            )  # fmt: skip
        return best

    def _by_inbound(self, j, lines, need, now_s, price, km) -> CollectOption | None:
        """What the store holds, and the rest from inbound deliveries to the store (the
        earliest arrivals first): ready once the last needed delivery is in and picked."""
        store_id = self.node_ids[j]
        allocation, arrived, last = [], now_s, None
        for k in np.flatnonzero(need):
            sku, qty = self.skus[int(k)], int(need[k])
            here = int(min(qty, max(0, self.free[j, k])))
            if here:
                allocation.append((sku, here, store_id, None))
            missing = qty - here
            for (node_id, s, at), left in sorted(
                self.inbound_left.items(), key=lambda item: item[0][2]
            ):
                if missing == 0:
                    break
                if node_id != store_id or s != sku or left <= 0:
                    continue
                take = min(missing, left)
                allocation.append((sku, take, store_id, at))
                missing -= take
                arrived, last = max(arrived, at), max(last or at, at)
            if missing:
                return None
        ready = self._ready_at(store_id, arrived, self.params.pick_lead_s)
        if ready is None:
            return None
        name = self.scenario.nodes[store_id].name
        return CollectOption(
            store_id, name, ready, price, km, tuple(allocation), stock_arrives_s=last
        )

    def _availability(self, lines, need, now_s) -> list[LineAvailability]:
        out = []
        for line in lines:
            k = self.sku_index[line.sku]
            in_stock = bool(np.any(self.free[:, k] >= line.qty))
            earliest = None
            if not in_stock:
                arrivals = sorted(
                    (i.arrives_at_s, i.qty)
                    for i in self.scenario.inbound
                    if i.sku == line.sku and i.arrives_at_s >= now_s
                )
                got = 0
                for at, qty in arrivals:
                    got += qty
                    if got >= line.qty:
                        earliest = at + self.params.pick_lead_s
                        break
            leads = [self.scenario.line_lead_time_days(n, line) for n in self.node_ids]
            lead = min((d for d in leads if d is not None), default=None)
            out.append(LineAvailability(line.sku, line.qty, in_stock, earliest, lead))
        return out


def _slots(p: PromiseParams, length_s: int, now_s: int) -> list[tuple[int, int]]:
    """Slots of ``length_s`` from ``delivery_start_s``, those not over before an order
    asked at ``now_s`` could leave."""
    slots, t = [], p.delivery_start_s
    while t + length_s <= p.delivery_end_s and len(slots) < p.max_slots_per_service:
        if t + length_s > now_s + p.pick_lead_s:  # the slot is not over before we could go
            slots.append((t, t + length_s))
        t += length_s
    return slots


def later_slots(scenario: Scenario, params: PromiseParams) -> list[tuple[int, int]]:
    """The slots every service sells on a later day (the eco slots; seconds since that
    day's midnight); none without eco or a horizon."""
    eco = scenario.settings.services.get(Service.ECO)
    if eco is None or eco.slot_length_min <= 0 or params.eco_horizon_days == 0:
        return []
    return _slots(params, eco.slot_length_min * 60, -DAY_S)


def _carry_mask(
    types: list[VehicleType],
    service: Service,
    weight_kg: float,
    volume_l: float,
    zones: list,
    item_modes: frozenset | None = None,
) -> np.ndarray:
    """Which of ``types`` (one per vehicle) may carry the basket there (its items by
    ``item_modes``): decided once per vehicle type."""
    verdict: dict[str, bool] = {}
    for vt in types:
        if vt.vehicle_type_id not in verdict:
            carry = (service, weight_kg, volume_l, zones, item_modes)
            verdict[vt.vehicle_type_id] = vt.may_carry(*carry)
    return np.array([verdict[vt.vehicle_type_id] for vt in types], dtype=bool)


def _earliest(*options: CollectOption | None) -> CollectOption | None:
    found = [o for o in options if o is not None]
    return min(found, key=lambda o: o.ready_by_s) if found else None


def _option(service, slot, eta, ins, live, settings, params, day: int = 0) -> SlotOption:
    """The option a cheapest insertion ``ins`` into ``live`` makes for ``slot``: its
    node, vehicle and mode, its price (the service's fee adjusted by the insertion's
    marginal cost), its cost and CO2; ``eta`` is the window the customer is shown.
    Today's options name the insertion's position in the route; a later day's none."""
    v = live.vehicles[ins.vehicle_id]
    return SlotOption(
        service=service,
        slot_start_s=slot[0],
        slot_end_s=slot[1],
        eta_start_s=eta[0],
        eta_end_s=eta[1],
        node_id=v.node.node_id,
        vehicle_id=ins.vehicle_id,
        mode=str(v.vehicle_type.mode),
        position=ins.position if day == 0 else 0,
        price_eur=price_eur(settings.price_eur, ins.cost_eur, params),
        marginal_cost_eur=round(ins.cost_eur, 4),
        co2_g=round(ins.co2_g, 2),
        day=day,
    )


def _steer(options: list[SlotOption], params: PromiseParams) -> list[SlotOption]:
    """Mark the cheapest-to-serve slots (within 10 % of the best) and discount them."""
    if not options:
        return options
    best = min(o.marginal_cost_eur for o in options)
    out = []
    for o in options:
        if o.marginal_cost_eur <= best * 1.1 + 1e-9:
            cheaper = max(0.0, round((o.price_eur - params.steer_discount_eur) * 10) / 10)
            o = SlotOption(**{**o.__dict__, "price_eur": cheaper, "recommended": True})
        out.append(o)
    return out
