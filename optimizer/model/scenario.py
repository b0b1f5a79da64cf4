"""The domain model: what a day of omnichannel fulfilment is made of.

Inside the core every time is an integer number of seconds since local midnight of
the scenario's day (``*_s``); :class:`Settings` turns them into aware datetimes at
the edges. Every quantity carries its unit in its name.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from optimizer.model.travel import Mode, TravelSettings


class NodeKind(StrEnum):
    STORE = "store"
    URBAN_HUB = "urban_hub"
    DARK_STORE = "dark_store"
    WAREHOUSE = "warehouse"
    # A cargo-bike base (a container or a parking-level room) restocked each morning from
    # a hub with the fast movers: bikes and trikes only, see optimizer/network/sites.py.
    MICRO_HUB = "micro_hub"


class Service(StrEnum):
    EXPRESS = "express"
    ECO = "eco"
    GREEN = "green"  # delivered by cargo bike (or trike) only
    CLICK_COLLECT = "click_collect"  # collected by the customer at a named node


class ZoneRule(StrEnum):
    # Only the modes in ``allowed_modes`` may deliver inside (default: bikes, not vans).
    LIMITED_TRAFFIC = "limited_traffic"
    # Only zero-emission vehicles may enter.
    LOW_EMISSION = "low_emission"


@dataclass(frozen=True)
class Node:
    """A fulfilment node: where stock is picked and vehicles are based."""

    node_id: str
    name: str
    kind: NodeKind
    lat: float
    lon: float
    opens_s: int
    closes_s: int
    pick_capacity_per_hour: float
    handling_cost_eur: float

    @property
    def pick_capacity_per_day(self) -> int:
        """Orders the node can pick in its opening hours."""
        return int(self.pick_capacity_per_hour * max(0, self.closes_s - self.opens_s) / 3600)


# One tour a shift unless the vehicle type says more (max_trips): the engine then
# reloads a bike when that costs less than another one. Not the default because on the
# Paris sample and a generated 1,500-order day, whose fleets have bikes to spare,
# allowing 3 tours per bike did not lower the cost (three paired 30-60 s runs on Paris:
# -0.1 % to +0.2 %, 2 to 5 more bikes used; 1,500 orders: +0.14 %, one order fewer).
DEFAULT_MAX_TRIPS = {Mode.VAN: 1, Mode.CARGO_BIKE: 1, Mode.CARGO_TRIKE: 1}
# Reloading at the hub: parking, swapping the pre-sorted boxes of the next tour and
# scanning them out; our estimate for a bike with pre-picked loads (set it per type).
DEFAULT_RELOAD_S = 600


def grams(kg: float, floor: bool = False) -> int:
    """``kg`` in whole grams (or litres in millilitres), as the engines' integer loads:
    a demand rounds up and a capacity (``floor``) down, so a plan that fits in grams also
    fits in kilograms."""
    return int(math.floor(kg * 1000 + 1e-6)) if floor else int(math.ceil(kg * 1000 - 1e-6))


@dataclass(frozen=True)
class VehicleType:
    vehicle_type_id: str
    mode: Mode
    capacity_kg: float
    capacity_l: float
    range_km: float
    speed_kmh: float
    fixed_cost_eur: float
    cost_per_km_eur: float
    cost_per_hour_eur: float
    co2_g_per_km: float
    zero_emission: bool = True
    # Tours a vehicle may drive in one shift, reloading at its node in between (None:
    # the mode's default, DEFAULT_MAX_TRIPS), and how long a reload takes there (None:
    # DEFAULT_RELOAD_S). The range stays one battery for the whole shift: no swap.
    max_trips: int | None = None
    reload_s: int | None = None
    # Stops a tour may make at most (a driver's round, a bike's parcel rack); None: no
    # limit. An exchange's delivery and pickup, one visit, are one stop.
    max_stops: int | None = None
    # People on board (``vehicle_types.csv``'s ``crew``): a two-person van may carry a
    # sofa that needs two (``Sku.crew``). And what it is fitted with (``equipment``: a
    # tail lift, a trolley...), names an item may need (``Sku.equipment``).
    crew: int = 1
    equipment: frozenset[str] = frozenset()

    def __post_init__(self):
        if self.max_trips is None:
            object.__setattr__(self, "max_trips", DEFAULT_MAX_TRIPS[self.mode])
        if self.reload_s is None:
            object.__setattr__(self, "reload_s", DEFAULT_RELOAD_S)
        if self.max_trips < 1:
            raise ValueError("max_trips < 1 not understood.")
        if self.reload_s < 0:
            raise ValueError("reload_s < 0 not understood.")
        if self.max_stops is not None and self.max_stops < 1:
            raise ValueError("max_stops < 1 not understood.")
        if self.crew < 1:
            raise ValueError("crew < 1 not understood.")

    # -- unit views: the figures in the solver's units, so no caller converts by hand --

    @property
    def range_m(self) -> float:
        """The range in metres (one battery for the whole shift)."""
        return self.range_km * 1000

    @property
    def cost_per_m_eur(self) -> float:
        return self.cost_per_km_eur / 1000

    @property
    def cost_per_s_eur(self) -> float:
        """Paid from leaving the node to coming back."""
        return self.cost_per_hour_eur / 3600

    @property
    def co2_g_per_m(self) -> float:
        return self.co2_g_per_km / 1000

    @property
    def capacity_g(self) -> int:
        """The capacity in whole grams, rounded down (the engines' integer loads: a
        plan that fits in grams also fits in kilograms, see :func:`grams`)."""
        return grams(self.capacity_kg, floor=True)

    @property
    def capacity_ml(self) -> int:
        """The capacity in whole millilitres, rounded down."""
        return grams(self.capacity_l, floor=True)

    def may_serve(
        self,
        service: Service,
        zones: list[Zone],
        item_modes: ItemNeeds | frozenset[Mode] | None = None,
    ) -> bool:
        """Service, zone and item rules: click & collect is never delivered, green goes
        by bike or trike only, every zone at the address must admit this vehicle type,
        and the basket's items must admit it: ``item_modes`` is what they need
        (:meth:`Scenario.item_needs`: modes, crew, equipment) or only the modes they
        allow (:meth:`Scenario.item_modes`); None: anything."""
        if service is Service.CLICK_COLLECT:
            return False
        if service is Service.GREEN and not self.mode.is_bike:
            return False
        if isinstance(item_modes, ItemNeeds):
            if not item_modes.admits(self):
                return False
        elif item_modes is not None and self.mode not in item_modes:
            return False
        return all(z.admits(self) for z in zones)

    def may_carry(
        self,
        service: Service,
        weight_kg: float,
        volume_l: float,
        zones: list[Zone],
        item_modes: ItemNeeds | frozenset[Mode] | None = None,
    ) -> bool:
        """:meth:`may_serve`, and the basket fits by weight and volume."""
        return (
            weight_kg <= self.capacity_kg + 1e-9
            and volume_l <= self.capacity_l + 1e-9
            and self.may_serve(service, zones, item_modes)
        )


@dataclass(frozen=True)
class FleetEntry:
    """``count`` vehicles of one type based at one node, working one shift."""

    node_id: str
    vehicle_type_id: str
    count: int
    shift_start_s: int
    shift_end_s: int


@dataclass(frozen=True)
class Vehicle:
    """One vehicle of the fleet (a :class:`FleetEntry` expanded)."""

    vehicle_id: str
    node_id: str
    vehicle_type_id: str
    shift_start_s: int
    shift_end_s: int


@dataclass(frozen=True)
class Sku:
    sku: str
    name: str
    weight_kg: float
    volume_l: float
    # The modes that may carry it (``catalogue.csv``'s ``modes``: a sofa by van only);
    # None: any mode.
    modes: frozenset[Mode] | None = None
    # Bulky items (``crew``, ``install_min``, ``equipment``): the people it takes to carry
    # it in, the time per unit to carry it in and install or assemble it (added to the
    # order's service time by the scenario reader), and what the vehicle must be fitted
    # with (a tail lift). The defaults: a parcel one driver hands over.
    crew: int = 1
    install_s: int = 0
    equipment: frozenset[str] = frozenset()

    # Made to order or shipped from a supplier (``catalogue.csv``'s ``lead_time_days``):
    # its goods are at any node that ships it this many days after the order, never
    # taken from stock; 0: a stocked item. ``lead_times.csv`` sets it per node.
    lead_time_days: int = 0


@dataclass(frozen=True)
class ItemNeeds:
    """What a basket's items need of the vehicle that carries them
    (:meth:`Scenario.item_needs`): one of ``modes`` (None: any), at least ``crew``
    people on board, and every piece of ``equipment``."""

    modes: frozenset[Mode] | None = None
    crew: int = 1
    equipment: frozenset[str] = frozenset()

    def admits(self, vehicle_type: VehicleType) -> bool:
        """Whether ``vehicle_type`` is of an allowed mode, has the crew and the equipment."""
        return (
            (self.modes is None or vehicle_type.mode in self.modes)
            and vehicle_type.crew >= self.crew
            and self.equipment <= vehicle_type.equipment
        )

    def in_words(self) -> str:
        """The crew and equipment, for a planner (``a crew of 2, tail_lift``)."""
        out = [f"a crew of {self.crew}"] if self.crew > 1 else []
        return ", ".join(out + sorted(self.equipment)) or "no crew or equipment"

    def shortfalls(self, vehicle_type: VehicleType) -> list[str]:
        """What ``vehicle_type`` lacks for these items, in words (crew, equipment; the
        modes are the caller's to name with their SKUs)."""
        out = []
        if vehicle_type.crew < self.crew:
            out.append(f"a crew of {self.crew}, it has {vehicle_type.crew}")
        missing = sorted(self.equipment - vehicle_type.equipment)
        if missing:
            out.append(f"{', '.join(missing)}, which it lacks")
        return out


@dataclass(frozen=True)
class OrderLine:
    sku: str
    qty: int
    # The configuration of a made-to-order item as the shop's configurator sends it:
    # options ``name=value`` separated by ``;`` (``fabric=velvet;arms=slim``); "" for
    # none. A variant's lead time (``lead_times.csv``'s ``variant``) may differ.
    variant: str = ""


MAX_VARIANT_CHARS = 200  # a configuration of a few options; longer is not one


def variant_problem(variant: str) -> str | None:
    """What is wrong with ``variant`` as an order line's configuration, or None: at most
    :data:`MAX_VARIANT_CHARS` characters, no control character, every option
    ``name=value`` with both parts (options separated by ``;``, empty ones ignored)."""
    if len(variant) > MAX_VARIANT_CHARS:
        return f"a variant of at most {MAX_VARIANT_CHARS} characters, got {len(variant)}"
    if any(ord(c) < 32 or ord(c) == 127 for c in variant):
        return "a variant without control characters"
    options = [o.strip() for o in variant.split(";") if o.strip()]
    bad = [o for o in options if not all(part.strip() for part in o.partition("=")[::2])]
    if (variant.strip() and not options) or bad:
        shown = f" (not {bad[0]!r})" if bad else ""
        return f"a variant of options name=value separated by ';'{shown}"
    return None


def variant_options(variant: str) -> frozenset[str]:
    """The options of a variant, as compared: ``Fabric = Velvet; arms=slim`` ->
    ``{"fabric=velvet", "arms=slim"}`` (spaces around names and values trimmed, case
    folded), so a rule and an order line match however either is typed."""
    out = set()
    for option in variant.split(";"):
        name, _, value = option.partition("=")
        if name.strip() or value.strip():
            out.add(f"{name.strip().casefold()}={value.strip().casefold()}")
    return frozenset(out)


@dataclass(frozen=True)
class Order:
    """A customer order. For ``click_collect`` the slot is the collection window:
    the order must be ready at ``collect_node_id`` by ``slot_start_s``."""

    order_id: str
    lat: float
    lon: float
    service: Service
    slot_start_s: int
    slot_end_s: int
    service_time_s: int
    lines: tuple[OrderLine, ...]
    collect_node_id: str | None = None
    # Set when the order was promised from a node (a checkout hold reserved its stock
    # there): the plan ships it from that node. For click & collect, a node other than
    # ``collect_node_id`` means the basket comes by the store shuttle (a transfer).
    ship_from_node_id: str | None = None
    # A transfer's shuttle departure from ``ship_from_node_id`` (seconds since the day's
    # midnight; < 0 for a shuttle of an earlier day).
    transfer_departs_s: int | None = None
    # When its made-to-order or supplier goods are at the node it ships from (seconds
    # since the day's midnight, < 0 on an earlier day; ``orders.csv``'s ``ready_at``): no
    # tour may leave with it, nor collection be ready, before. None: stock on hand.
    ready_s: int | None = None


class ReturnKind(StrEnum):
    RETURN = "return"
    # The return half of an exchange: a delivery order (``order_id``) and this pickup at
    # the same address in the same slot.
    EXCHANGE = "exchange"
    # The old item taken back (to be recycled) when its replacement is delivered: a
    # pickup with its delivery order in one visit, as an exchange.
    TAKEBACK = "takeback"

    @property
    def one_visit(self) -> bool:
        """Whether the pickup goes with its delivery order (``order_id``) in one visit."""
        return self in (ReturnKind.EXCHANGE, ReturnKind.TAKEBACK)


# An exchange's pickup is at its order's address: the same coordinates, up to 1e-6
# degrees (about 0.1 m, a rounding of the file's decimals), so the two handovers are one
# stop with no leg between them.
SAME_ADDRESS_DEG = 1e-6


@dataclass(frozen=True)
class Return:
    """A customer return: a pickup of ``lines`` at the customer's address in the slot
    ``[slot_start_s, slot_end_s]``, brought back to the node that ends the route and put
    back into that node's stock when the vehicle is back.

    ``order_id`` is the original order (optional, informative) or, for an exchange, the
    delivery order of the same visit; ``shipped_from_node_id`` is the node that shipped
    the original order, when known (a candidate end node).
    """

    return_id: str
    lat: float
    lon: float
    slot_start_s: int
    slot_end_s: int
    service_time_s: int
    lines: tuple[OrderLine, ...]
    kind: ReturnKind = ReturnKind.RETURN
    order_id: str | None = None
    shipped_from_node_id: str | None = None

    def as_stop(self) -> Order:
        """The return as an order-like stop (for routing and re-planning): its address,
        slot, service time and lines; any vehicle type may pick up (``eco``: no service
        rule), zones still apply. Its id is the ``return_id``."""
        return Order(
            order_id=self.return_id,
            lat=self.lat,
            lon=self.lon,
            service=Service.ECO,
            slot_start_s=self.slot_start_s,
            slot_end_s=self.slot_end_s,
            service_time_s=self.service_time_s,
            lines=self.lines,
        )


@dataclass(frozen=True)
class Inbound:
    """Stock on its way to a node: ``qty`` units of ``sku`` arriving at ``arrives_at_s``."""

    node_id: str
    sku: str
    qty: int
    arrives_at_s: int


@dataclass(frozen=True)
class Place:
    """A postcode's reference point, for addresses given without coordinates."""

    postcode: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Zone:
    """An access-controlled area (a shapely polygon in lon/lat)."""

    zone_id: str
    name: str
    rule: ZoneRule
    geometry: BaseGeometry
    allowed_modes: frozenset[Mode] | None = None

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the point lies in the zone (its boundary counts as inside)."""
        return bool(shapely.intersects_xy(self.geometry, lon, lat))

    def contains_points(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`contains` over arrays of points."""
        shapely.prepare(self.geometry)
        return shapely.intersects_xy(self.geometry, np.asarray(lon), np.asarray(lat))

    def admits(self, vehicle_type: VehicleType) -> bool:
        """Whether a vehicle of this type may deliver inside the zone."""
        if self.rule is ZoneRule.LOW_EMISSION:
            return vehicle_type.zero_emission
        allowed = self.allowed_modes or frozenset({Mode.CARGO_BIKE, Mode.CARGO_TRIKE})
        return vehicle_type.mode in allowed


@dataclass(frozen=True)
class ServiceSettings:
    """What a service costs the customer and how its slots are cut."""

    price_eur: float
    slot_length_min: int
    # The days it is offered on, counted from the day the basket's goods are at the node
    # (today for stock on hand; later for made-to-order goods, ``Sku.lead_time_days``):
    # from ``min_days`` to ``max_days`` (None: eco to the promise's horizon, the other
    # services the first day only), never beyond the horizon (``promise_horizon_days``).
    min_days: int = 0
    max_days: int | None = None


@dataclass(frozen=True)
class TransferSettings:
    """The retailer's store replenishment shuttle, which also carries click & collect
    baskets from a node that has the stock to the store where the customer collects.

    The defaults are assumptions for a city store network, to be set per retailer in
    ``scenario.yaml`` (``transfers``): two runs a day leaving every node at 07:00 and
    13:00 (a morning run before stores open and a midday run, the pattern of urban
    store replenishment with small vans), 2 h from departure to the goods being checked
    in at the store (a multi-drop run across the city), 30 min to put the basket on the
    collection shelf, the basket picked 1 h before departure (as a delivery pick), and
    2.00 EUR per basket (its share of the shuttle run and the extra handling).
    """

    departures_s: tuple[int, ...] = (7 * 3600, 13 * 3600)
    lead_s: int = 2 * 3600
    prepare_s: int = 30 * 60
    pick_before_s: int = 3600
    cost_eur: float = 2.0


@dataclass(frozen=True)
class Settings:
    """The day's settings (``scenario.yaml``)."""

    name: str
    date: date
    timezone: str
    currency: str = "EUR"
    services: dict[Service, ServiceSettings] = field(default_factory=dict)
    # What leaving one order unserved costs the plan; well above any one order's
    # marginal route cost, so the solver drops an order only when it cannot serve it.
    unserved_penalty_eur: float = 1000.0
    # Baskets may ship from up to this many nodes, one parcel each (1: never split). Two
    # covers the usual case (a store short of one line, the rest from a hub) without
    # sending a customer three vans for one order.
    max_split: int = 2
    # What each parcel beyond the first costs besides its own picking (the node's handling
    # cost) and its own stop (its route insertion): a second box and its filling, about
    # 1 EUR, and the customer's experience of a split delivery, assumed at 3 EUR (a
    # second doorstep visit to wait for, and more "where is the rest?" contacts).
    split_penalty_eur: float = 4.0
    transfer: TransferSettings = field(default_factory=TransferSettings)
    travel: TravelSettings = field(default_factory=TravelSettings)
    # Drivers' and riders' break: a working day (first departure to last return) longer
    # than break_over_s has a break of break_duration_s, with no more than
    # max_work_before_break_s of work before it or after it. French labour law
    # (Code du travail, art. L3121-16): "dès que le temps de travail quotidien atteint
    # six heures, le salarié bénéficie d'un temps de pause d'une durée minimale de vingt
    # minutes consécutives". 0 s: no breaks.
    break_duration_s: int = 20 * 60
    max_work_before_break_s: int = 6 * 3600
    break_over_s: int = 6 * 3600
    # Days after today the checkout promise offers (``promise: horizon_days``); None:
    # the promise's defaults (``optimizer.promise.PromiseParams``, 2 days).
    promise_horizon_days: int | None = None

    def __post_init__(self):
        for name in ("break_duration_s", "max_work_before_break_s", "break_over_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} < 0 not understood.")

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def day_start(self) -> datetime:
        return datetime(self.date.year, self.date.month, self.date.day, tzinfo=self.tz)

    def to_datetime(self, seconds: float) -> datetime:
        """Seconds since local midnight -> aware datetime (DST-safe: wall clock + offset)."""
        naive = datetime(self.date.year, self.date.month, self.date.day) + timedelta(
            seconds=int(round(seconds))
        )
        return naive.replace(tzinfo=self.tz)

    def to_iso(self, seconds: float) -> str:
        return self.to_datetime(seconds).isoformat()

    def to_seconds(self, moment: datetime) -> int:
        """Aware datetime -> seconds since local midnight of the day (wall clock)."""
        local = moment.astimezone(self.tz)
        naive_day = datetime(self.date.year, self.date.month, self.date.day)
        return int(round((local.replace(tzinfo=None) - naive_day).total_seconds()))


@dataclass
class Scenario:
    """Everything a daily plan is made from, validated (see ``optimizer.io``)."""

    settings: Settings
    nodes: dict[str, Node]
    vehicle_types: dict[str, VehicleType]
    fleet: list[FleetEntry]
    catalogue: dict[str, Sku]
    stock: dict[tuple[str, str], int]
    orders: list[Order]
    zones: list[Zone] = field(default_factory=list)
    inbound: list[Inbound] = field(default_factory=list)
    places: dict[str, Place] = field(default_factory=dict)  # by postcode
    returns: list[Return] = field(default_factory=list)  # pickups (returns.csv)
    # Lead times per (node_id, sku) in days (``lead_times.csv``), over the catalogue's.
    lead_times: dict[tuple[str, str], int] = field(default_factory=dict)
    # Per (node_id, sku) made to order there, lead times of its configured variants
    # (``lead_times.csv`` rows with a ``variant``): (the options a line's variant must
    # include, days), in the file's order.
    variant_lead_times: dict[tuple[str, str], tuple[tuple[frozenset[str], int], ...]] = field(
        default_factory=dict
    )
    # The street-network provider (an optimizer.travel.road.RoadTravel) when
    # settings.travel.provider is road, built by the reader from the extract; None for
    # great-circle travel. Typed loosely: the model does not import the travel package
    # (which imports the model). Use optimizer.travel.travel_of(scenario).
    road_travel: Any = field(default=None, repr=False, compare=False)
    # What the reader noticed and accepted, for the planner to read (an address snapped
    # far from the street network, say), one sentence each naming the order.
    warnings: list[str] = field(default_factory=list, compare=False)

    @cached_property
    def vehicles(self) -> list[Vehicle]:
        """The fleet, one entry per vehicle, with stable ids ``NODE/TYPE/k``."""
        out: list[Vehicle] = []
        seen: dict[tuple[str, str], int] = {}
        for entry in self.fleet:
            key = (entry.node_id, entry.vehicle_type_id)
            for _ in range(entry.count):
                k = seen.get(key, 0) + 1
                seen[key] = k
                out.append(
                    Vehicle(
                        vehicle_id=f"{entry.node_id}/{entry.vehicle_type_id}/{k}",
                        node_id=entry.node_id,
                        vehicle_type_id=entry.vehicle_type_id,
                        shift_start_s=entry.shift_start_s,
                        shift_end_s=entry.shift_end_s,
                    )
                )
        return out

    @cached_property
    def orders_by_id(self) -> dict[str, Order]:
        return {o.order_id: o for o in self.orders}

    @cached_property
    def returns_by_id(self) -> dict[str, Return]:
        return {r.return_id: r for r in self.returns}

    @cached_property
    def stops_by_id(self) -> dict[str, Order]:
        """Every order and, as order-like stops (:meth:`Return.as_stop`), every return:
        what a route's stop may be, by its ``order_id``."""
        return self.orders_by_id | {r.return_id: r.as_stop() for r in self.returns}

    @cached_property
    def vehicles_by_id(self) -> dict[str, Vehicle]:
        return {v.vehicle_id: v for v in self.vehicles}

    def exchange_order(self, ret: Return) -> Order | None:
        """The delivery order an exchange's (or a take-back's) pickup is one visit with
        (the driver hands over the replacement and takes the old item back):
        ``ret.order_id`` when ``ret`` is an exchange or a take-back whose order is in the
        scenario, delivered (not click & collect), at the same address (within
        ``SAME_ADDRESS_DEG``) and in the same slot (what the scenario reader requires).
        None otherwise: the pickup is then a plain return."""
        if not ret.kind.one_visit or ret.order_id is None:
            return None
        order = self.orders_by_id.get(ret.order_id)
        if (
            order is None
            or order.service is Service.CLICK_COLLECT
            or abs(order.lat - ret.lat) > SAME_ADDRESS_DEG
            or abs(order.lon - ret.lon) > SAME_ADDRESS_DEG
            or (order.slot_start_s, order.slot_end_s) != (ret.slot_start_s, ret.slot_end_s)
        ):
            return None
        return order

    def weight_kg(self, order: Order | Return) -> float:
        return sum(self.catalogue[line.sku].weight_kg * line.qty for line in order.lines)

    def volume_l(self, order: Order | Return) -> float:
        return sum(self.catalogue[line.sku].volume_l * line.qty for line in order.lines)

    def item_modes(self, lines: tuple[OrderLine, ...] | list[OrderLine]) -> frozenset[Mode] | None:
        """The modes that may carry all of ``lines`` (an order's, or a parcel's): the
        modes every restricted SKU among them allows (``Sku.modes``); None when no line
        is restricted (any mode), empty when two lines allow no common mode."""
        allowed = None
        for line in lines:
            modes = self.catalogue[line.sku].modes
            if modes is not None:
                allowed = modes if allowed is None else allowed & modes
        return allowed

    def item_needs(
        self, lines: tuple[OrderLine, ...] | list[OrderLine], modes: bool = True
    ) -> ItemNeeds | None:
        """What the vehicle carrying ``lines`` needs (:class:`ItemNeeds`): the modes of
        :meth:`item_modes` (unless ``modes`` is False: a pickup is not bound by them), the
        largest crew and every piece of equipment of their SKUs; None when nothing
        restricts the vehicle."""
        skus = [self.catalogue[line.sku] for line in lines]
        needs = ItemNeeds(
            modes=self.item_modes(lines) if modes else None,
            crew=max((s.crew for s in skus), default=1),
            equipment=frozenset().union(*(s.equipment for s in skus)),
        )
        return None if needs == ItemNeeds() else needs

    def pickup_needs(self, ret: Return) -> ItemNeeds | None:
        """What picking ``ret`` up needs: the crew and equipment of its items (the old
        sofa takes two people, as the new one), not their modes."""
        return self.item_needs(ret.lines, modes=False)

    def lead_time_days(self, node_id: str, sku: str, variant: str = "") -> int | None:
        """Days until made-to-order or supplier goods of ``sku`` (configured as
        ``variant``) are at ``node_id``: the longest lead time of the variant rules whose
        options the variant has (``lead_times.csv`` rows with a ``variant``), else the
        SKU's at the node (``lead_times.csv``), else the catalogue's ``lead_time_days``.
        None for a stocked item there (taken from stock; a variant never changes that),
        and for a SKU not in the catalogue (a plan read from outside may name one: the
        checker then finds it out of stock)."""
        days = self.lead_times.get((node_id, sku))
        if days is None and sku in self.catalogue:
            days = self.catalogue[sku].lead_time_days or None
        rules = self.variant_lead_times.get((node_id, sku)) if days is not None else None
        if rules and variant:
            options = variant_options(variant)
            matching = [d for wanted, d in rules if wanted <= options]
            if matching:
                return max(matching)
        return days

    def line_lead_time_days(self, node_id: str, line: OrderLine) -> int | None:
        """:meth:`lead_time_days` of an order line (its SKU and variant)."""
        return self.lead_time_days(node_id, line.sku, line.variant)

    def zones_at(self, lat: float, lon: float) -> list[Zone]:
        return [z for z in self.zones if z.contains(lat, lon)]

    def may_deliver(self, vehicle_type: VehicleType, order: Order) -> bool:
        """Zone, service and item rules: may this vehicle type deliver this order?"""
        zones = self.zones_at(order.lat, order.lon)
        return vehicle_type.may_serve(order.service, zones, self.item_needs(order.lines))


def on_day(scenario: Scenario, day: date) -> Scenario:
    """``scenario`` used as the template of ``day``: the same network, fleet, catalogue,
    stock and times of day, dated ``day``. Its orders and returns are that day's too,
    under ids suffixed with the day (``O0001`` -> ``O0001-20261204``; an exchange keeps
    pointing at its order), so the orders of two days never share an id. A scenario
    already dated ``day`` is returned as it is."""
    if day == scenario.settings.date:
        return scenario
    suffix = f"-{day:%Y%m%d}"
    return dataclasses.replace(
        scenario,
        settings=dataclasses.replace(scenario.settings, date=day),
        orders=[dataclasses.replace(o, order_id=o.order_id + suffix) for o in scenario.orders],
        returns=[
            dataclasses.replace(
                r,
                return_id=r.return_id + suffix,
                order_id=None if r.order_id is None else r.order_id + suffix,
            )
            for r in scenario.returns
        ],
    )
