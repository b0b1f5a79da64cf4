"""A seeded generator of realistic Paris delivery days, in the scenario format.

``generate`` is pure: the same ``(orders, seed, date)`` give the same tables, and
``write`` turns them into the files of ``docs/scenario-format.md`` byte for byte the
same. The city (areas, nodes, vehicles, zones) comes from :mod:`data.paris_city`;
this module adds what a retailer's day is made of: a catalogue, stock, a fleet
sized to the day, and orders drawn where people live. ``generate_in`` makes that day
in any :class:`City`; :mod:`data.osm_generator` gives it one read off an
OpenStreetMap extract.

What the day is built to show:

- most orders are small parcels; a few bulky ones (TVs, washing machines, sofas)
  take two people and 15 minutes at the door, go neither green nor click & collect
  nor into the limited-traffic zone, and the 3-seat sofa fits no bike at all;
- the nearest node often lacks an item (stores hold a subset, dark stores only small
  fast-moving goods), so sourcing must look further;
- one SKU (a games console at launch) is sold out everywhere: ~1 % of orders cannot
  be served;
- a subcontracted diesel van at the warehouse, which the low-emission zone keeps
  outside the A86, and a limited-traffic zone in Paris Centre that vans may not enter.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely
import yaml
from shapely.geometry import Polygon

from data import paris_city
from optimizer.io.scenario_reader import SCENARIO_FILES
from optimizer.model import Settings

TIMEZONE = "Europe/Paris"

# What the customer pays per service (a typical Paris omnichannel price list, 2024)
# and how its slots are cut.
SERVICES: dict[str, dict[str, float | int]] = {
    "express": {"price_eur": 7.9, "slot_length_min": 120},
    "eco": {"price_eur": 3.9, "slot_length_min": 240},
    "green": {"price_eur": 4.9, "slot_length_min": 120},
    "click_collect": {"price_eur": 0.0, "slot_length_min": 0},
}
# Share of orders asking for each service. The rules below turn ~10 % of green and
# ~13 % of click & collect requests into eco, so the day ends near 30 % express, 35 %
# eco, 20 % green and 15 % click & collect.
SERVICE_SHARE = {"express": 0.30, "eco": 0.305, "green": 0.22, "click_collect": 0.175}
# Slot starts (hour of the day) and how customers pick them: evenings are favoured.
TWO_HOUR_SLOTS = (8, 10, 12, 14, 16, 18)
TWO_HOUR_SLOT_SHARE = (0.13, 0.16, 0.16, 0.16, 0.18, 0.21)
FOUR_HOUR_SLOTS = (8, 12, 16)
FOUR_HOUR_SLOT_SHARE = (0.30, 0.33, 0.37)
# Green is offered only where a node with bikes or trikes within this distance
# shows the basket in stock, and only for baskets a rider can take along with others
# (~half a cargo bike's load).
GREEN_MAX_NODE_KM = 5.0
GREEN_MAX_KG = 60.0
GREEN_MAX_L = 300.0
# Click & collect: the customer picks one of the nearest stores or dark stores that
# shows the basket available, and a ready-by time on the half hour, at least an hour
# after opening.
COLLECT_CANDIDATES = 3
COLLECT_READY_FIRST_S = 10 * 3600
COLLECT_READY_LAST_S = 18 * 3600
COLLECT_MIN_LEAD_S = 3600
# Baskets: lines per order and quantity per line.
LINES_PER_ORDER = (1, 2, 3, 4)
LINES_SHARE = (0.55, 0.25, 0.13, 0.07)
QTY = (1, 2, 3)
QTY_SHARE = (0.85, 0.12, 0.03)
# Time at the door: parking, walking up, hand-over (~3 min for a parcel, up to 7 min
# for a big basket); bulky goods take two people and 15 minutes.
SERVICE_TIME_MIN_S = 180
SERVICE_TIME_MAX_S = 420
SERVICE_TIME_PER_EXTRA_UNIT_S = 30
SERVICE_TIME_PER_LITRE_S = 3
SERVICE_TIME_BULKY_S = 900
# Customers are spread around their area's centroid, sigma = radius / 2, kept
# within 1.2 radii.
SPREAD_SIGMA_RADII = 0.5
SPREAD_MAX_RADII = 1.2
# The fleet below serves this many orders; it is multiplied for bigger days.
BASE_ORDERS = 600
# The Paris network of ``paris_city.NODES`` serves up to this many orders a day (its
# fleet then has ~570 vehicles). Bigger days get a bigger network: per further
# ``NETWORK_BASE_ORDERS`` orders, one more urban hub and ``EXTRA_DARK_STORES`` dark
# stores, placed where the most people per node live (see :func:`network`), so no
# node grows to a fleet of thousands.
NETWORK_BASE_ORDERS = 5000
EXTRA_DARK_STORES = 3

KM_PER_DEG_LAT = 111.32  # mean length of a degree of latitude


class CatalogueItem(NamedTuple):
    sku: str
    name: str
    weight_kg: float  # packed, as shipped
    volume_l: float
    popularity: float  # relative share of order lines
    kind: str  # small | medium | large | bulky
    fast: bool = False  # fast mover: what a dark store carries


# Weights and volumes are those of the packed product (typical retail specs, rounded).
CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem("SKU-1001", "Phone case", 0.2, 1, 6, "small", True),
    CatalogueItem("SKU-1002", "USB-C charger 65 W", 0.3, 1, 5, "small", True),
    CatalogueItem("SKU-1003", "Paperback novel", 0.3, 1, 7, "small", True),
    CatalogueItem("SKU-1004", "Wireless earbuds", 0.2, 1, 5, "small", True),
    CatalogueItem("SKU-1005", "Skincare gift set", 0.6, 2, 4, "small", True),
    CatalogueItem("SKU-1006", "Cotton T-shirt", 0.3, 2, 6, "small", True),
    CatalogueItem("SKU-1007", "Jeans", 0.7, 3, 4, "small", True),
    CatalogueItem("SKU-1008", "Smartphone 128 GB", 0.5, 2, 3, "small", True),
    CatalogueItem("SKU-1009", "Perfume 100 ml", 0.6, 2, 3, "small", True),
    CatalogueItem("SKU-1010", "AA batteries, pack of 24", 0.6, 1, 4, "small", True),
    CatalogueItem("SKU-1011", "Printer ink cartridges", 0.3, 1, 3, "small", True),
    CatalogueItem("SKU-1012", "Coffee beans 1 kg", 1.0, 3, 4, "small", True),
    CatalogueItem("SKU-1013", "Board game", 1.2, 5, 3, "small", True),
    CatalogueItem("SKU-1014", "Building bricks set", 1.3, 6, 3, "small", True),
    CatalogueItem("SKU-1015", "Electric toothbrush", 0.8, 3, 2, "small", True),
    CatalogueItem("SKU-1016", "Tablet 11-inch", 1.0, 3, 2, "small", True),
    CatalogueItem("SKU-2001", "Kettle 1.7 L", 1.5, 8, 2, "medium", True),
    CatalogueItem("SKU-2002", "Toaster", 2.2, 10, 1.5, "medium"),
    CatalogueItem("SKU-2003", "Capsule coffee machine", 4.0, 18, 1.5, "medium"),
    CatalogueItem("SKU-2004", "Hair dryer", 1.0, 5, 1.5, "medium", True),
    CatalogueItem("SKU-2005", "Running shoes", 1.2, 10, 3, "medium", True),
    CatalogueItem("SKU-2006", "Winter jacket", 1.5, 12, 2.5, "medium", True),
    CatalogueItem("SKU-2007", "Bedding set 240x260", 2.5, 12, 1.5, "medium"),
    CatalogueItem("SKU-2008", "Bath towel set", 2.0, 10, 1.5, "medium"),
    CatalogueItem("SKU-2009", "Cookware set, 5 pieces", 6.0, 25, 1, "medium"),
    CatalogueItem("SKU-2010", "Laptop 14-inch", 2.5, 8, 1.5, "medium"),
    CatalogueItem("SKU-2011", "Blender", 4.5, 16, 1, "medium"),
    CatalogueItem("SKU-2012", "Nappies, pack of 60", 2.5, 20, 2.5, "medium", True),
    CatalogueItem("SKU-2013", "Mineral water 6 x 1.5 L", 9.5, 12, 2, "medium", True),
    CatalogueItem("SKU-2014", "Cat litter 10 L", 6.0, 12, 1.5, "medium", True),
    CatalogueItem("SKU-2015", "Games console, launch edition", 4.5, 12, 0.35, "medium"),
    CatalogueItem("SKU-3001", "Cordless vacuum cleaner", 4.5, 35, 1, "large"),
    CatalogueItem("SKU-3002", "Microwave oven 20 L", 12.0, 50, 0.8, "large"),
    CatalogueItem("SKU-3003", "Office chair, flat-packed", 15.0, 110, 0.6, "large"),
    CatalogueItem("SKU-3004", "Monitor 27-inch", 7.0, 45, 0.8, "large"),
    CatalogueItem("SKU-3005", "Cabin suitcase", 3.0, 45, 0.8, "large"),
    CatalogueItem("SKU-3006", "Kids' bike 16-inch", 9.0, 120, 0.5, "large"),
    CatalogueItem("SKU-4001", "TV 55-inch", 20.0, 150, 0.6, "bulky"),
    CatalogueItem("SKU-4002", "Washing machine 8 kg", 70.0, 300, 0.4, "bulky"),
    CatalogueItem("SKU-4003", "Sofa, 2 seats", 45.0, 900, 0.3, "bulky"),
    CatalogueItem("SKU-4004", "Sofa, 3 seats", 70.0, 1600, 0.2, "bulky"),
)
# Sold out everywhere on the day (a console launch): its orders cannot be served.
SOLD_OUT_SKU = "SKU-2015"
# Furniture: too big for an urban hub's shelving.
FURNITURE_SKUS = ("SKU-4003", "SKU-4004")


class StockPolicy(NamedTuple):
    """How one kind of node is stocked, in units of the day's expected demand."""

    share_of_skus: float  # of the SKUs it may carry, the share it does
    demand_cover: float  # units held per unit of the day's expected demand
    base_units: float  # plus this many


# The warehouse holds everything in depth; hubs a broad range; dark stores the fast
# movers; stores a subset, a few units each.
STOCK_POLICY = {
    "warehouse": StockPolicy(1.0, 1.2, 3),
    "urban_hub": StockPolicy(0.9, 0.25, 1),
    "dark_store": StockPolicy(0.85, 0.15, 3),
    "store": StockPolicy(0.7, 0.08, 3),  # 25 SKUs: ~60 % of the catalogue
}


class Shift(NamedTuple):
    vehicle_type_id: str
    count: int  # vehicles for BASE_ORDERS orders a day
    start: str  # HH:MM
    end: str
    scaled: bool = True  # multiplied for bigger days


# Fleet per kind of node. Bikes carry ~500 L, so they come in numbers; one tour per
# vehicle and shift row. Stores get theirs from their opening hours (below).
FLEET_TEMPLATE: dict[str, tuple[Shift, ...]] = {
    "warehouse": (
        Shift("evan", 6, "07:00", "15:00"),
        Shift("evan", 6, "12:00", "20:30"),
        # The subcontracted diesel van is booked once a day whatever the volume.
        Shift("dvan", 1, "07:00", "15:00", scaled=False),
    ),
    "urban_hub": (
        Shift("evan", 2, "07:30", "15:30"),
        Shift("evan", 2, "12:00", "20:30"),
        Shift("ebike", 4, "07:30", "14:30"),
        Shift("ebike", 4, "13:00", "20:30"),
        Shift("etrike", 1, "08:00", "16:00"),
    ),
    "dark_store": (
        Shift("evan", 1, "09:00", "20:30"),
        Shift("ebike", 2, "07:30", "14:30"),
        Shift("ebike", 2, "13:00", "20:30"),
    ),
}
STORE_BIKES = 2
STORE_BIKE_EARLIEST = "09:30"
# A store inside a limited-traffic zone runs bikes and a trike only: a van based
# there could not reach its own door.
STORE_IN_LIMITED_TRAFFIC = (("ebike", 3), ("etrike", 1))

NODE_COLUMNS = (
    "node_id",
    "name",
    "kind",
    "lat",
    "lon",
    "opens",
    "closes",
    "pick_capacity_per_hour",
    "handling_cost_eur",
)
VEHICLE_TYPE_COLUMNS = (
    "vehicle_type_id",
    "mode",
    "capacity_kg",
    "capacity_l",
    "range_km",
    "speed_kmh",
    "fixed_cost_eur",
    "cost_per_km_eur",
    "cost_per_hour_eur",
    "co2_g_per_km",
    "zero_emission",
)
FLEET_COLUMNS = ("node_id", "vehicle_type_id", "count", "shift_start", "shift_end")
CATALOGUE_COLUMNS = ("sku", "name", "weight_kg", "volume_l")
STOCK_COLUMNS = ("node_id", "sku", "qty")
ORDER_COLUMNS = (
    "order_id",
    "lat",
    "lon",
    "service",
    "slot_start",
    "slot_end",
    "collect_node_id",
    "service_time_s",
)
ORDER_LINE_COLUMNS = ("order_id", "sku", "qty")
INBOUND_COLUMNS = ("node_id", "sku", "qty", "arrives_at")
RETURN_COLUMNS = (
    "return_id",
    "kind",
    "order_id",
    "lat",
    "lon",
    "slot_start",
    "slot_end",
    "service_time_s",
    "shipped_from_node_id",
)
RETURN_LINE_COLUMNS = ("return_id", "sku", "qty")
# Returns collected at home, booked for the day: 5 % of the day's order count (our
# assumption: online return rates run 10-30 % of orders depending on the category, most
# go back through drop-off points or the post; home pickups of earlier orders are a
# small share). A fifth of them are exchanges: the customer swaps an item of one of
# today's deliveries at the door (same address, same slot). Returns are small and
# medium items only (bulky ones go back with the two-person crew on another day); each
# is one unit of one SKU, picked up in a 4-hour slot in SERVICE_TIME_MIN_S, and was
# shipped by a hub or the warehouse (drawn at random; the shipping node is a candidate
# end node). They use their own random stream, so the orders stay the same.
RETURN_SHARE = 0.05
EXCHANGE_SHARE = 0.2
RETURN_STREAM = 7_001
POSTCODE_COLUMNS = ("postcode", "name", "lat", "lon")
# Inbound stock: the sold-out console arrives at the warehouse the next morning, and
# each urban hub gets its two best sellers topped up in the early afternoon.
SOLD_OUT_ARRIVES_NEXT_DAY_S = 6 * 3600
HUB_TOP_UP_S = 14 * 3600


@dataclass(frozen=True)
class GeneratedScenario:
    """A generated day: ``scenario.yaml`` as a dict, each CSV table as a list of rows
    (dicts keyed by the documented columns) and ``zones.geojson`` as a dict."""

    settings: dict[str, Any]
    nodes: list[dict[str, Any]]
    vehicle_types: list[dict[str, Any]]
    fleet: list[dict[str, Any]]
    catalogue: list[dict[str, Any]]
    stock: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    order_lines: list[dict[str, Any]]
    zones: dict[str, Any]
    inbound: list[dict[str, Any]] = field(default_factory=list)
    postcodes: list[dict[str, Any]] = field(default_factory=list)
    returns: list[dict[str, Any]] = field(default_factory=list)
    return_lines: list[dict[str, Any]] = field(default_factory=list)


def fleet_scale(orders: int) -> int:
    """How many times the base fleet (sized for 600 orders) a day of ``orders`` gets."""
    return max(1, int(orders / BASE_ORDERS + 0.5))


def network_size(orders: int) -> int:
    """How many ``NETWORK_BASE_ORDERS`` blocks of orders the day's network is built for."""
    return max(1, -(-orders // NETWORK_BASE_ORDERS))


def network(orders: int) -> tuple[paris_city.NodeFacts, ...]:
    """The nodes of a day of ``orders``: the Paris network, plus for each further
    ``NETWORK_BASE_ORDERS`` orders one urban hub and ``EXTRA_DARK_STORES`` dark stores.

    Each new node goes to the area with the most residents per node already within
    its radius + 1 km, at a point off its centre (golden-angle turns, half a radius
    out) so two nodes in one area do not coincide. Deterministic: no random draw.
    """
    nodes = list(paris_city.NODES)
    extra = network_size(orders) - 1
    kinds = ("urban_hub",) + ("dark_store",) * EXTRA_DARK_STORES
    areas = paris_city.AREAS
    placed = {a.postcode: 0 for a in areas}
    numbers = {"urban_hub": 0, "dark_store": 0}
    for k in range(extra * len(kinds)):
        kind = kinds[k % len(kinds)]
        lat = np.array([n.lat for n in nodes])
        lon = np.array([n.lon for n in nodes])
        crowding = [
            a.population
            / (1 + int((_distance_km(a.lat, a.lon, lat, lon) <= a.radius_km + 1).sum()))
            for a in areas
        ]
        area = areas[int(np.argmax(crowding))]
        placed[area.postcode] += 1
        numbers[kind] += 1
        turn = np.radians(137.508 * placed[area.postcode])  # the golden angle
        out_km = 0.5 * area.radius_km
        profile = paris_city.PROFILES[kind]
        prefix, label = ("HUB", "urban hub") if kind == "urban_hub" else ("DS", "dark store")
        nodes.append(
            paris_city.NodeFacts(
                node_id=f"{prefix}-X{numbers[kind]:02d}",
                name=f"{area.name} {label} (grown network)",
                kind=kind,
                lat=round(float(area.lat + out_km * np.sin(turn) / KM_PER_DEG_LAT), 4),
                lon=round(
                    float(
                        area.lon
                        + out_km * np.cos(turn) / (KM_PER_DEG_LAT * np.cos(np.radians(area.lat)))
                    ),
                    4,
                ),
                opens=profile.opens,
                closes=profile.closes,
                pick_capacity_per_hour=profile.pick_capacity_per_hour,
                handling_cost_eur=profile.handling_cost_eur,
            )
        )
    return tuple(nodes)


def _network_fleet_scale(orders: int, nodes: tuple[paris_city.NodeFacts, ...]) -> int:
    """Fleet multiplier per node: the base fleet's vehicles per 600 orders, spread over
    every node of the (possibly grown) network instead of the Paris one alone."""

    def units(kind: str) -> int:
        return sum(s.count for s in FLEET_TEMPLATE.get(kind, ()) if s.scaled)

    base = sum(units(n.kind) for n in paris_city.NODES)
    grown = sum(units(n.kind) for n in nodes)
    return max(1, int(orders / BASE_ORDERS * base / grown + 0.5))


def generate(
    orders: int = 600, seed: int = 1, date: str = "2026-11-24", stock_scale: float = 1.0
) -> GeneratedScenario:
    """Generate a Paris delivery day.

    Parameters
    ----------
    orders
        Number of customer orders (>= 1). The fleet and the nodes' picking capacity
        grow with it (see :func:`fleet_scale`), stock with the expected demand.
    seed
        Seed of ``numpy.random.default_rng``: same seed, same day.
    date
        The day, ``YYYY-MM-DD``; slots and shifts carry Europe/Paris's UTC offset on it.
    stock_scale
        Multiplies every node's stock depth (:data:`STOCK_POLICY`): 1 as documented; below
        1 a scarce day (e.g. 0.3, before a delivery of stock), where the warehouse no
        longer holds every basket and some baskets need two nodes. The random draws are
        the same whatever the scale: the same seed gives the same baskets at the same
        addresses (the services offered follow the stock: click & collect and green
        only where a nearby node shows the basket).
    """
    day = checked_day(orders, date, stock_scale)
    nodes = network(orders)
    scale = _network_fleet_scale(orders, nodes)
    city = City(
        name="paris",
        timezone=TIMEZONE,
        nodes=nodes,
        zones=paris_city.ZONES,
        postcodes=tuple((a.postcode, a.name, a.lat, a.lon) for a in paris_city.AREAS),
        pick_scale=scale,
        fleet=lambda limited, clock: _fleet(nodes, limited, scale, clock),
        addresses=_addresses,
    )
    return generate_in(city, orders, seed, day, stock_scale)


def checked_day(orders: int, date: str, stock_scale: float = 1.0) -> Date:
    """The day of ``date``, once ``orders`` and ``stock_scale`` are checked (a
    ``ValueError`` saying what is wrong otherwise)."""
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 1:
        raise ValueError(f"orders must be a positive integer, got {orders!r}.")
    if not (isinstance(stock_scale, int | float) and 0 < stock_scale <= 100):
        raise ValueError(f"stock_scale must be a number in (0, 100], got {stock_scale!r}.")
    try:
        return Date.fromisoformat(date)
    except (TypeError, ValueError):
        raise ValueError(f"date must be YYYY-MM-DD, got {date!r}.") from None


class City(NamedTuple):
    """Where a day is generated: the facts :func:`generate_in` builds a day on.

    ``fleet(limited, clock)`` gives the rows of ``fleet.csv`` (``limited``: the
    limited-traffic polygons); ``addresses(rng, n_orders, limited)`` draws the orders'
    ``(lat, lon, in_limited)``, first of the order draws. ``postcodes`` are
    ``(postcode, name, lat, lon)``.
    """

    name: str  # the scenario's name starts with it
    timezone: str  # IANA name
    nodes: tuple[paris_city.NodeFacts, ...]
    zones: tuple[paris_city.ZoneFacts, ...]
    postcodes: tuple[tuple[str, str, float, float], ...]
    pick_scale: int  # multiplies every node's picking capacity
    fleet: Callable[[list[Polygon], Settings], list[dict[str, Any]]]
    addresses: Callable[
        [np.random.Generator, int, list[Polygon]], tuple[np.ndarray, np.ndarray, np.ndarray]
    ]


def generate_in(
    city: City, orders: int, seed: int, day: Date, stock_scale: float = 1.0
) -> GeneratedScenario:
    """A day of ``orders`` in ``city``: the catalogue, stock, orders, returns and inbound
    stock of this module on the city's nodes, fleet, zones and addresses. The draws are
    made in a fixed order from ``seed``, so a seed gives the same day."""
    rng = np.random.default_rng(seed)
    clock = Settings(name="", date=day, timezone=city.timezone)
    nodes_facts = city.nodes
    settings = {
        "name": f"{city.name}-{day.isoformat()}-{orders}o-s{seed}",
        "date": day,
        "timezone": city.timezone,
        "currency": "EUR",
        "unserved_penalty_eur": 1000,
        "services": {name: dict(values) for name, values in SERVICES.items()},
    }
    nodes = [_node_row(node, city.pick_scale) for node in nodes_facts]
    vehicle_types = [_vehicle_type_row(vt) for vt in paris_city.VEHICLE_TYPES]
    zones = _zones_geojson(city.zones)
    limited = [Polygon(z.ring) for z in city.zones if z.rule == "limited_traffic"]
    fleet = city.fleet(limited, clock)
    catalogue = [
        {"sku": c.sku, "name": c.name, "weight_kg": c.weight_kg, "volume_l": c.volume_l}
        for c in CATALOGUE
    ]
    stock_qty = _stock(rng, orders, nodes_facts, stock_scale)
    stock = [
        {"node_id": node.node_id, "sku": item.sku, "qty": int(stock_qty[n, s])}
        for n, node in enumerate(nodes_facts)
        for s, item in enumerate(CATALOGUE)
        if stock_qty[n, s] >= 0
    ]
    addresses = city.addresses(rng, orders, limited)
    order_rows, line_rows = _orders(rng, addresses, nodes_facts, stock_qty, fleet, clock)
    return_rows, return_line_rows = _returns(
        np.random.default_rng([seed, RETURN_STREAM]), order_rows, line_rows, nodes_facts, clock
    )
    return GeneratedScenario(
        settings=settings,
        nodes=nodes,
        vehicle_types=vehicle_types,
        fleet=fleet,
        catalogue=catalogue,
        stock=stock,
        orders=order_rows,
        order_lines=line_rows,
        zones=zones,
        inbound=_inbound(orders, nodes_facts, clock),
        postcodes=[
            {"postcode": code, "name": name, "lat": lat, "lon": lon}
            for code, name, lat, lon in city.postcodes
        ],
        returns=return_rows,
        return_lines=return_line_rows,
    )


def write(scenario: GeneratedScenario, out_dir: Path, replace: bool = False) -> None:
    """Write ``scenario`` as a scenario folder (created if missing) in ``out_dir``. With
    ``replace``, every file of the scenario format already there is removed first, so no
    file of the day replaced (an optional service_times.csv, a zones.shp) mixes into the
    new one; files of no scenario (a README) stay."""
    tables = (
        ("nodes.csv", NODE_COLUMNS, scenario.nodes),
        ("vehicle_types.csv", VEHICLE_TYPE_COLUMNS, scenario.vehicle_types),
        ("fleet.csv", FLEET_COLUMNS, scenario.fleet),
        ("catalogue.csv", CATALOGUE_COLUMNS, scenario.catalogue),
        ("stock.csv", STOCK_COLUMNS, scenario.stock),
        ("orders.csv", ORDER_COLUMNS, scenario.orders),
        ("order_lines.csv", ORDER_LINE_COLUMNS, scenario.order_lines),
        ("inbound.csv", INBOUND_COLUMNS, scenario.inbound),
        ("postcodes.csv", POSTCODE_COLUMNS, scenario.postcodes),
        ("returns.csv", RETURN_COLUMNS, scenario.returns),
        ("return_lines.csv", RETURN_LINE_COLUMNS, scenario.return_lines),
    )
    write_folder(out_dir, scenario.settings, tables, scenario.zones, replace)


def write_folder(
    out_dir: Path,
    settings: dict[str, Any],
    tables: tuple[tuple[str, tuple[str, ...], list[dict[str, Any]]], ...],
    zones: dict[str, Any],
    replace: bool = False,
    zones_indent: int = 2,
) -> None:
    """Write a generated day as a scenario folder (created if missing): scenario.yaml,
    one CSV per (file name, columns, rows) of ``tables`` and zones.geojson. With
    ``replace``, every file of the scenario format already there is removed first."""
    out_dir = Path(out_dir)
    if replace and out_dir.is_dir():
        for name in SCENARIO_FILES:
            (out_dir / name).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "scenario.yaml", "w", encoding="utf-8", newline="\n") as f:
        yaml.safe_dump(settings, f, sort_keys=False, allow_unicode=True)
    for filename, columns, rows in tables:
        with open(out_dir / filename, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([_cell(row[c]) for c in columns] for row in rows)
    with open(out_dir / "zones.geojson", "w", encoding="utf-8", newline="\n") as f:
        json.dump(zones, f, indent=zones_indent, ensure_ascii=False)
        f.write("\n")


def write_calendar_day(entry: Any, out_dir: Path) -> None:
    """The generated day of a calendar entry (an :class:`optimizer.network.demand.DemandDay`:
    its ``orders``, ``seed`` and ``day``) written into ``out_dir``: the ``make_day`` of
    :func:`optimizer.workflows.design_days.generated_days`."""
    write(generate(orders=entry.orders, seed=entry.seed, date=entry.day.isoformat()), out_dir)


def _returns(
    rng: np.random.Generator,
    order_rows: list[dict[str, Any]],
    line_rows: list[dict[str, Any]],
    nodes: tuple[paris_city.NodeFacts, ...],
    clock: Settings,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The day's home pickups (see :data:`RETURN_SHARE`): returns at the address of a
    random order of the day moved by up to ~300 m (another customer of the same
    neighbourhood), exchanges at a delivery's own address and slot, one per delivery at
    most."""
    n = int(round(RETURN_SHARE * len(order_rows)))
    if n == 0:
        return [], []
    returnable = [c.sku for c in CATALOGUE if c.kind != "bulky"]
    kinds = {c.sku: c.kind for c in CATALOGUE}
    shippers = [nd.node_id for nd in nodes if nd.kind in ("urban_hub", "warehouse")]
    lines_of: dict[str, list[dict[str, Any]]] = {}
    for row in line_rows:
        lines_of.setdefault(row["order_id"], []).append(row)
    delivered = [
        r for r in order_rows
        if r["service"] != "click_collect"
        and any(kinds[x["sku"]] != "bulky" for x in lines_of[r["order_id"]])
    ]  # fmt: skip
    exchange = rng.random(n) < EXCHANGE_SHARE
    pick = rng.integers(0, len(order_rows), size=n)
    pick_delivery = rng.integers(0, max(1, len(delivered)), size=n)
    offset_deg = rng.normal(0.0, 0.3 / KM_PER_DEG_LAT / 2, size=(n, 2))
    sku_draw = rng.integers(0, len(returnable), size=n)
    slot_draw = rng.choice(FOUR_HOUR_SLOTS, size=n, p=FOUR_HOUR_SLOT_SHARE)
    shipper = rng.integers(0, len(shippers), size=n)
    rows, lines = [], []
    width = len(str(n))
    exchanged: set[str] = set()  # an order has one exchange at most (one visit)
    for k in range(n):
        return_id = f"R{k + 1:0{width}d}"
        order = delivered[pick_delivery[k]] if delivered else None
        if exchange[k] and order is not None and order["order_id"] not in exchanged:
            # A second draw of the same delivery becomes a plain return below (the draws
            # stay those of the seed: every other row is unchanged).
            exchanged.add(order["order_id"])
            swap = [x for x in lines_of[order["order_id"]] if kinds[x["sku"]] != "bulky"]
            rows.append(
                {
                    "return_id": return_id,
                    "kind": "exchange",
                    "order_id": order["order_id"],
                    "lat": order["lat"],
                    "lon": order["lon"],
                    "slot_start": order["slot_start"],
                    "slot_end": order["slot_end"],
                    "service_time_s": SERVICE_TIME_MIN_S,
                    "shipped_from_node_id": "",
                }
            )
            lines.append({"return_id": return_id, "sku": swap[0]["sku"], "qty": 1})
            continue
        near = order_rows[pick[k]]
        lat = round(float(near["lat"]) + float(offset_deg[k, 0]), 6)
        lon = round(float(near["lon"]) + float(offset_deg[k, 1]) / math.cos(math.radians(lat)), 6)
        start_s = int(slot_draw[k]) * 3600
        rows.append(
            {
                "return_id": return_id,
                "kind": "return",
                "order_id": "",
                "lat": lat,
                "lon": lon,
                "slot_start": clock.to_iso(start_s),
                "slot_end": clock.to_iso(start_s + SERVICES["eco"]["slot_length_min"] * 60),
                "service_time_s": SERVICE_TIME_MIN_S,
                "shipped_from_node_id": shippers[shipper[k]],
            }
        )
        lines.append({"return_id": return_id, "sku": returnable[sku_draw[k]], "qty": 1})
    return rows, lines


def _inbound(
    orders: int, nodes: tuple[paris_city.NodeFacts, ...], clock: Settings
) -> list[dict[str, Any]]:
    warehouse = next(n for n in nodes if n.kind == "warehouse")
    rows = [
        {
            "node_id": warehouse.node_id,
            "sku": SOLD_OUT_SKU,
            "qty": max(20, orders // 20),
            "arrives_at": clock.to_iso(86400 + SOLD_OUT_ARRIVES_NEXT_DAY_S),
        }
    ]
    best = sorted(CATALOGUE, key=lambda c: (-c.popularity, c.sku))[:2]
    for node in nodes:
        if node.kind == "urban_hub":
            rows += [
                {
                    "node_id": node.node_id,
                    "sku": item.sku,
                    "qty": max(10, orders // 30),
                    "arrives_at": clock.to_iso(HUB_TOP_UP_S),
                }
                for item in best
            ]
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _hhmm_s(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def _node_row(node: paris_city.NodeFacts, scale: int) -> dict[str, Any]:
    row = node._asdict()
    # A bigger day is a bigger operation: more pickers per node, as more vehicles.
    row["pick_capacity_per_hour"] = node.pick_capacity_per_hour * scale
    return row


def _vehicle_type_row(vt: paris_city.VehicleTypeFacts) -> dict[str, Any]:
    return vt._asdict()


def _zones_geojson(zones: tuple[paris_city.ZoneFacts, ...]) -> dict[str, Any]:
    features = []
    for zone in zones:
        ring = [list(point) for point in zone.ring]
        features.append(
            {
                "type": "Feature",
                "properties": {"zone_id": zone.zone_id, "name": zone.name, "rule": zone.rule},
                "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _fleet(
    nodes: tuple[paris_city.NodeFacts, ...], limited: list[Polygon], scale: int, clock: Settings
) -> list[dict[str, Any]]:
    rows = []
    for node in nodes:
        if node.kind == "store":
            inside = any(poly.covers(shapely.Point(node.lon, node.lat)) for poly in limited)
            if inside:
                shifts = tuple(
                    Shift(vt, count, node.opens, node.closes)
                    for vt, count in STORE_IN_LIMITED_TRAFFIC
                )
            else:
                start = max(node.opens, STORE_BIKE_EARLIEST)  # HH:MM sorts as text
                shifts = (Shift("ebike", STORE_BIKES, start, node.closes),)
        else:
            shifts = FLEET_TEMPLATE[node.kind]
        rows += shift_rows(node.node_id, shifts, scale, clock)
    return rows


def shift_rows(
    node_id: str, shifts: tuple[Shift, ...], scale: int, clock: Settings
) -> list[dict[str, Any]]:
    """The ``fleet.csv`` rows of a node's shifts, each ``scaled`` count times ``scale``."""
    return [
        {
            "node_id": node_id,
            "vehicle_type_id": shift.vehicle_type_id,
            "count": shift.count * scale if shift.scaled else shift.count,
            "shift_start": clock.to_iso(_hhmm_s(shift.start)),
            "shift_end": clock.to_iso(_hhmm_s(shift.end)),
        }
        for shift in shifts
    ]


def _expected_units(orders: int) -> np.ndarray:
    """The day's expected demand per SKU (units), as a demand forecast would give."""
    popularity = np.array([c.popularity for c in CATALOGUE])
    lines = orders * float(np.dot(LINES_PER_ORDER, LINES_SHARE))
    units_per_line = float(np.dot(QTY, QTY_SHARE))
    return lines * units_per_line * popularity / popularity.sum()


def _stock(
    rng: np.random.Generator,
    orders: int,
    nodes: tuple[paris_city.NodeFacts, ...],
    scale: float = 1.0,
) -> np.ndarray:
    """Units per (node, SKU); -1 where the node does not list the SKU at all. ``scale``
    multiplies the depth of every node's stock. In a grown network (see
    :func:`network`) each kind of node holds, all its nodes together, what that kind
    holds in the Paris network: a node's share of the day's demand is the kind's Paris
    node count over its count here."""
    expected = _expected_units(orders)
    paris = Counter(n.kind for n in paris_city.NODES)
    here = Counter(n.kind for n in nodes)
    popularity = np.array([c.popularity for c in CATALOGUE])
    kind = np.array([c.kind for c in CATALOGUE])
    fast = np.array([c.fast for c in CATALOGUE])
    skus = np.array([c.sku for c in CATALOGUE])
    sold_out = skus == SOLD_OUT_SKU
    carried_by = {
        "warehouse": np.ones(len(CATALOGUE), dtype=bool),
        "urban_hub": ~np.isin(skus, FURNITURE_SKUS),
        "dark_store": fast,
        "store": (kind != "bulky") & ~sold_out,
    }
    qty = np.full((len(nodes), len(CATALOGUE)), -1, dtype=np.int64)
    for n, node in enumerate(nodes):
        policy = STOCK_POLICY[node.kind]
        eligible = np.flatnonzero(carried_by[node.kind])
        # Which SKUs this node lists: a share of what it may carry, popular ones first
        # (weighted draw without replacement).
        keep = round(policy.share_of_skus * len(eligible))
        weights = np.sqrt(popularity[eligible])
        listed = rng.choice(eligible, size=keep, replace=False, p=weights / weights.sum())
        share = paris[node.kind] / here[node.kind]
        mean = policy.demand_cover * share * expected[listed] + policy.base_units
        if node.kind == "warehouse":
            units = np.ceil(mean)
        else:
            units = 1 + rng.poisson(mean)
        # Scaled after the draws, so every scale draws the same numbers.
        qty[n, listed] = np.floor(units * scale + 0.5)
    qty[:, sold_out] = np.where(qty[:, sold_out] >= 0, 0, -1)
    return qty


def _order_ids(n_orders: int) -> list[str]:
    """``O00001``, ``O00002``, ...: at least five digits, more when the day needs them."""
    width = max(5, len(str(n_orders)))
    return [f"O{i + 1:0{width}d}" for i in range(n_orders)]


def _distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km) between broadcastable arrays of points (haversine).

    ``optimizer.travel`` only builds square matrices over one point set; here orders
    are measured against the handful of nodes.
    """
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlam = np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlam / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


class _Baskets(NamedTuple):
    """What each order holds: units per SKU (``basket``, orders x SKUs), the SKUs drawn
    in order (``ranked``) and how many of them it takes (``n_lines``), its weight,
    volume and whether a bulky item is in it."""

    ranked: np.ndarray
    n_lines: np.ndarray
    basket: np.ndarray
    kg: np.ndarray
    litres: np.ndarray
    has_bulky: np.ndarray


def _orders(
    rng: np.random.Generator,
    addresses: tuple[np.ndarray, np.ndarray, np.ndarray],
    nodes: tuple[paris_city.NodeFacts, ...],
    stock_qty: np.ndarray,
    fleet: list[dict[str, Any]],
    clock: Settings,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The orders and their lines at ``addresses`` (``lat, lon, in_limited``, drawn just
    before): what, which service, when and how long at the door. The draws are made in
    this order, so a seed gives the same day."""
    lat, lon, in_limited = addresses
    n_orders = len(lat)
    baskets = _baskets(rng, n_orders, in_limited)
    node_lat = np.array([nd.lat for nd in nodes])
    node_lon = np.array([nd.lon for nd in nodes])
    dist_km = _distance_km(lat[:, None], lon[:, None], node_lat[None, :], node_lon[None, :])
    service = _services(rng, n_orders, nodes, stock_qty, fleet, baskets, dist_km)
    collect, ready_s = _collections(rng, service, nodes, stock_qty, baskets.basket, dist_km)
    slot_start, slot_end = _slots(rng, service, nodes, collect, ready_s)
    service_time = _service_times(service, baskets)

    order_ids = _order_ids(n_orders)
    iso = {s: clock.to_iso(s) for s in np.unique(np.concatenate([slot_start, slot_end]))}
    node_ids = [nd.node_id for nd in nodes]
    order_rows = [
        {
            "order_id": order_ids[o],
            "lat": float(lat[o]),
            "lon": float(lon[o]),
            "service": str(service[o]),
            "slot_start": iso[slot_start[o]],
            "slot_end": iso[slot_end[o]],
            "collect_node_id": node_ids[collect[o]] if collect[o] >= 0 else "",
            "service_time_s": int(service_time[o]),
        }
        for o in range(n_orders)
    ]
    return order_rows, _line_rows(order_ids, baskets)


def _addresses(
    rng: np.random.Generator, n_orders: int, limited: list[Polygon]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where: an area by population, then a Gaussian around its centroid; returns lat,
    lon and whether each address is inside a limited-traffic zone."""
    areas = paris_city.AREAS
    population = np.array([a.population for a in areas], dtype=float)
    area = rng.choice(len(areas), size=n_orders, p=population / population.sum())
    radius_km = np.array([a.radius_km for a in areas])[area]
    offset_km = rng.normal(0.0, 1.0, size=(n_orders, 2)) * (SPREAD_SIGMA_RADII * radius_km)[:, None]
    norm = np.hypot(offset_km[:, 0], offset_km[:, 1])
    limit = SPREAD_MAX_RADII * radius_km
    offset_km *= np.minimum(1.0, limit / np.maximum(norm, 1e-9))[:, None]
    lat0 = np.array([a.lat for a in areas])[area]
    lon0 = np.array([a.lon for a in areas])[area]
    lat = np.round(lat0 + offset_km[:, 1] / KM_PER_DEG_LAT, 6)
    lon = np.round(lon0 + offset_km[:, 0] / (KM_PER_DEG_LAT * np.cos(np.radians(lat0))), 6)
    in_limited = np.zeros(n_orders, dtype=bool)
    for poly in limited:
        in_limited |= shapely.contains_xy(poly, lon, lat)
    return lat, lon, in_limited


def _baskets(rng: np.random.Generator, n_orders: int, in_limited: np.ndarray) -> _Baskets:
    """What: 1-4 distinct SKUs by popularity (Gumbel top-k: weighted draws without
    replacement, all orders at once). Bulky goods go by van with two people: the web
    shop does not offer them at addresses vans may not reach. What is left always
    fits the biggest bike (at most ~1,000 L and ~140 kg for 4 lines of 3 units)."""
    n_skus = len(CATALOGUE)
    weight = np.array([c.weight_kg for c in CATALOGUE])
    volume = np.array([c.volume_l for c in CATALOGUE])
    bulky = np.array([c.kind == "bulky" for c in CATALOGUE])
    popularity = np.array([c.popularity for c in CATALOGUE])
    keys = np.log(popularity) + rng.gumbel(size=(n_orders, n_skus))
    keys[np.ix_(in_limited, bulky)] = -np.inf
    ranked = np.argsort(-keys, axis=1, kind="stable")[:, : max(LINES_PER_ORDER)]
    n_lines = rng.choice(LINES_PER_ORDER, size=n_orders, p=LINES_SHARE)
    qty_draw = rng.choice(QTY, size=(n_orders, max(LINES_PER_ORDER)), p=QTY_SHARE)
    basket = np.zeros((n_orders, n_skus), dtype=np.int64)
    for j in range(max(LINES_PER_ORDER)):
        rows = np.flatnonzero(n_lines > j)
        sku = ranked[rows, j]
        basket[rows, sku] = np.where(bulky[sku], 1, qty_draw[rows, j])  # one sofa
    has_bulky = (basket[:, bulky] > 0).any(axis=1)
    return _Baskets(ranked, n_lines, basket, basket @ weight, basket @ volume, has_bulky)


def _services(
    rng: np.random.Generator,
    n_orders: int,
    nodes: tuple[paris_city.NodeFacts, ...],
    stock_qty: np.ndarray,
    fleet: list[dict[str, Any]],
    baskets: _Baskets,
    dist_km: np.ndarray,
) -> np.ndarray:
    """Which service, by its share; green only where a node with bikes near enough
    holds the basket and it fits a bike, click & collect never for bulky goods (those
    become eco)."""
    basket = baskets.basket
    names = tuple(SERVICE_SHARE)
    service = np.array(names)[rng.choice(len(names), size=n_orders, p=list(SERVICE_SHARE.values()))]
    bike_types = {vt.vehicle_type_id for vt in paris_city.VEHICLE_TYPES if vt.mode != "van"}
    bike_nodes = {row["node_id"] for row in fleet if row["vehicle_type_id"] in bike_types}
    has_bikes = np.flatnonzero([nd.node_id in bike_nodes for nd in nodes])
    bikes_hold = (basket[:, None, :] <= np.maximum(stock_qty[has_bikes], 0)[None]).all(axis=2)
    near_bikes = (bikes_hold & (dist_km[:, has_bikes] <= GREEN_MAX_NODE_KM)).any(axis=1)
    green_fits = (baskets.kg <= GREEN_MAX_KG) & (baskets.litres <= GREEN_MAX_L) & ~baskets.has_bulky
    service[(service == "green") & ~(near_bikes & green_fits)] = "eco"
    service[(service == "click_collect") & baskets.has_bulky] = "eco"
    return service


def _collections(
    rng: np.random.Generator,
    service: np.ndarray,
    nodes: tuple[paris_city.NodeFacts, ...],
    stock_qty: np.ndarray,
    basket: np.ndarray,
    dist_km: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Click & collect: the web shop offers the closest stores / dark stores that show
    the whole basket available, and the customer takes the nearest. Where none does
    (the sold-out console, say), the customer has it delivered (eco) instead: ``service``
    is changed in place. Returns each order's collection node (-1: none) and, per
    click & collect order, when it is ready: by a half hour, at least an hour after the
    node opens."""
    collect = np.full(len(service), -1, dtype=np.int64)
    cc = np.flatnonzero(service == "click_collect")
    counters = np.flatnonzero([nd.kind in ("store", "dark_store") for nd in nodes])
    nearest = counters[np.argsort(dist_km[np.ix_(cc, counters)], axis=1, kind="stable")]
    nearest = nearest[:, :COLLECT_CANDIDATES]
    holds = (basket[cc, None, :] <= np.maximum(stock_qty[nearest], 0)).all(axis=2)
    service[cc[~holds.any(axis=1)]] = "eco"
    collect[cc] = nearest[np.arange(len(cc)), holds.argmax(axis=1)]  # 0 if none holds
    cc = np.flatnonzero(service == "click_collect")
    collect[service != "click_collect"] = -1
    opens_s = np.array([_hhmm_s(nd.opens) for nd in nodes])
    earliest = np.maximum(COLLECT_READY_FIRST_S, opens_s[collect[cc]] + COLLECT_MIN_LEAD_S)
    half_hours = (COLLECT_READY_LAST_S - earliest) // 1800 + 1
    ready_s = earliest + 1800 * np.floor(rng.random(len(cc)) * half_hours).astype(np.int64)
    return collect, ready_s


def _slots(
    rng: np.random.Generator,
    service: np.ndarray,
    nodes: tuple[paris_city.NodeFacts, ...],
    collect: np.ndarray,
    ready_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Slots: 2-hour windows for express and green, 4-hour ones for eco, 08:00-20:00; a
    click & collect order is collectable from when it is ready until its node closes."""
    n_orders = len(service)
    cc = np.flatnonzero(service == "click_collect")
    closes_s = np.array([_hhmm_s(nd.closes) for nd in nodes])
    slot_start = np.zeros(n_orders, dtype=np.int64)
    two_hour_start = rng.choice(TWO_HOUR_SLOTS, size=n_orders, p=TWO_HOUR_SLOT_SHARE)
    four_hour_start = rng.choice(FOUR_HOUR_SLOTS, size=n_orders, p=FOUR_HOUR_SLOT_SHARE)
    two_hour = np.isin(service, ("express", "green"))
    slot_start[two_hour] = two_hour_start[two_hour] * 3600
    slot_start[service == "eco"] = four_hour_start[service == "eco"] * 3600
    slot_end = slot_start.copy()
    for name, values in SERVICES.items():
        slot_end[service == name] += values["slot_length_min"] * 60
    slot_start[cc] = ready_s
    slot_end[cc] = closes_s[collect[cc]]
    return slot_start, slot_end


def _service_times(service: np.ndarray, baskets: _Baskets) -> np.ndarray:
    """Time at the door: by units and volume, rounded to 10 s; bulky goods take
    :data:`SERVICE_TIME_BULKY_S`, a click & collect none (no vehicle stops)."""
    units = baskets.basket.sum(axis=1)
    service_time = SERVICE_TIME_MIN_S + SERVICE_TIME_PER_EXTRA_UNIT_S * (units - 1)
    service_time = service_time + SERVICE_TIME_PER_LITRE_S * baskets.litres
    service_time = np.clip(
        np.round(service_time / 10) * 10, SERVICE_TIME_MIN_S, SERVICE_TIME_MAX_S
    ).astype(np.int64)
    service_time[baskets.has_bulky] = SERVICE_TIME_BULKY_S
    service_time[service == "click_collect"] = 0  # the customer comes to the counter
    return service_time


def _line_rows(order_ids: list[str], baskets: _Baskets) -> list[dict[str, Any]]:
    """The rows of order_lines.csv, each order's SKUs in the order they were drawn."""
    skus = [c.sku for c in CATALOGUE]
    line_rows = []
    for o, order_id in enumerate(order_ids):
        for j in range(baskets.n_lines[o]):
            sku = baskets.ranked[o, j]
            if baskets.basket[o, sku] > 0:
                line_rows.append(
                    {"order_id": order_id, "sku": skus[sku], "qty": int(baskets.basket[o, sku])}
                )
    return line_rows
