"""Days of a furniture retailer: a seeded Paris day or fortnight of bulky and small items.

``lastmile generate --kind furniture --days 14`` writes one scenario folder whose
``orders.csv`` holds the orders of every day (slots on each date), planned day by day
with ``lastmile plan --days 14`` (:mod:`optimizer.workflows.plan_days`).

What the days are made of:

- a warehouse on the edge of Paris (the bulky stock, the two-person vans) and a store
  with a showroom in the city (small items, click & collect, cargo bikes);
- sofas from stock and sofas customised in the showroom (fabric, armrests), made to
  order with a lead time: each such order carries ``ready_at``, the midnight of the day
  its sofa is at the warehouse, never after its delivery day;
- wardrobes, beds and tables that take two people and an assembly time, mattresses and
  small items (lamps, cushions, rugs, chairs) one person carries;
- two-person vans with a tail lift, one-person vans and cargo bikes; the old sofa taken
  back (``takeback``) when a new one is delivered, for recycling.

``generate`` is pure (the same arguments give the same tables) and ``write`` turns a
fortnight into the files of ``docs/scenario-format.md`` (via
:func:`data.generator.write_folder`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from data.generator import write_folder
from optimizer.model import Settings

TIMEZONE = "Europe/Paris"
MAX_DAYS = 366  # a year of days is the most one folder is generated for

# The two nodes. The warehouse is at Gennevilliers (the port's logistics zone, where
# Paris furniture retailers keep their bulky stock; the peers' day puts its warehouse
# there too, data/domain_generator.py); the store is a showroom near Bastille
# (Faubourg Saint-Antoine, Paris's historic furniture street). Hours assumed: the
# warehouse dispatches 07:00-20:00, the store opens 10:00-20:00 as Paris furniture
# showrooms commonly do.
NODES: tuple[dict[str, Any], ...] = (
    {"node_id": "WH", "name": "Warehouse Gennevilliers", "kind": "warehouse",
     "lat": 48.9300, "lon": 2.3000, "opens": "07:00", "closes": "20:00",
     "pick_capacity_per_hour": 60, "handling_cost_eur": 6.0},
    {"node_id": "SHOW", "name": "Showroom Faubourg Saint-Antoine", "kind": "store",
     "lat": 48.8515, "lon": 2.3760, "opens": "10:00", "closes": "20:00",
     "pick_capacity_per_hour": 20, "handling_cost_eur": 2.0},
)  # fmt: skip
# Picking: 60 orders an hour at the warehouse and 20 at the store are assumptions
# (never binding at tens of orders a day); handling 6 EUR per bulky order at the
# warehouse (two people, a forklift) and 2 EUR at the store are assumptions too.

# Vehicle types. Costs and speeds of the one-person van and the bike are the peers'
# Paris day's (data/domain_generator.py, VEHICLE_TYPES). The two-person van: a 20 m3
# box van with a tail lift (a 3.5 t Renault Master or Iveco Daily box body carries
# about 1,000 kg and 20 m3; we count 15,000 L usable for sofas that do not stack), two
# people at the peers' 25 EUR/h each, and 80 EUR a day for the van (the peers' 60 EUR
# plus an assumed 20 EUR for the box body and tail lift). One tour a shift for all.
VEHICLE_TYPES: tuple[dict[str, Any], ...] = (
    {"vehicle_type_id": "van2", "mode": "van", "capacity_kg": 1000, "capacity_l": 15000,
     "range_km": 150.0, "speed_kmh": 18.0, "fixed_cost_eur": 80.0, "cost_per_km_eur": 0.30,
     "cost_per_hour_eur": 50.0, "co2_g_per_km": 14, "zero_emission": True, "max_trips": 1,
     "crew": 2, "equipment": "tail_lift"},
    {"vehicle_type_id": "van1", "mode": "van", "capacity_kg": 700, "capacity_l": 5000,
     "range_km": 150.0, "speed_kmh": 18.0, "fixed_cost_eur": 60.0, "cost_per_km_eur": 0.25,
     "cost_per_hour_eur": 25.0, "co2_g_per_km": 11, "zero_emission": True, "max_trips": 1,
     "crew": 1, "equipment": None},
    {"vehicle_type_id": "bike", "mode": "cargo_bike", "capacity_kg": 150, "capacity_l": 1000,
     "range_km": 50.0, "speed_kmh": 14.0, "fixed_cost_eur": 25.0, "cost_per_km_eur": 0.02,
     "cost_per_hour_eur": 20.0, "co2_g_per_km": 1, "zero_emission": True, "max_trips": 1,
     "crew": 1, "equipment": None},
)  # fmt: skip
# The fleet of a day of BASE_ORDERS orders, and how it grows: per type, (node, count at
# BASE_ORDERS, shift). A two-person crew installing a sofa or a wardrobe serves about
# 8-10 stops in a 10-hour shift (30-90 minutes at the door, an hour's drive in and out
# of Paris): with ~40 % of orders bulky, 40 orders need 2-3 crews; we give 3, the rest
# of the orders to one van and the store's bikes. Counts grow with the orders (rounded
# up), so a bigger day is as well served.
BASE_ORDERS = 40
FLEET: tuple[tuple[str, str, int, str, str], ...] = (
    ("WH", "van2", 3, "08:00", "19:00"),
    ("WH", "van1", 1, "08:00", "19:00"),
    ("SHOW", "bike", 2, "10:00", "20:00"),
)

# The catalogue: sku, name, weight_kg, volume_l, modes, crew, install_min, equipment,
# lead_time_days. Weights and volumes are of the order of retailers' product sheets
# (a 3-seat sofa of 2.2 m weighs 50-70 kg and fills ~1.5-2 m3 wrapped; a two-door
# wardrobe flat-packed 90-110 kg in ~0.7 m3). Installation minutes are assumptions
# of the order of retailers' assembly-service quotes: 20 min to unwrap and place a sofa
# and fit its feet, 90 min to assemble a wardrobe, 45 for a bed frame, 30 for a table.
# The customised sofa's 4 days is issue 18's example (a sofa made to order with a
# 4-day lead time); real made-to-order sofas often take weeks, which a fortnight plan
# shows as orders whose goods arrive after the fortnight (not generated here).
CATALOGUE: tuple[tuple[Any, ...], ...] = (
    ("SOFA", "Sofa 3 seats (stock)", 60, 1800, "van", 2, 20, "tail_lift", 0),
    ("SOFA-CUSTOM", "Sofa 3 seats customised (made to order)", 65, 1800, "van", 2, 20,
     "tail_lift", 4),
    ("WARDROBE", "Wardrobe 2 doors (flat-pack)", 100, 700, "van", 2, 90, None, 0),
    ("BED", "Bed frame 160 (flat-pack)", 60, 400, "van", 2, 45, None, 0),
    ("TABLE", "Dining table", 40, 300, "van", 2, 30, None, 0),
    ("MATTRESS", "Mattress 160 (rolled)", 30, 250, "van", 1, 0, None, 0),
    ("CHAIR", "Chairs, box of 2", 12, 120, None, 1, 0, None, 0),
    ("LAMP", "Floor lamp", 4, 30, None, 1, 0, None, 0),
    ("CUSHION", "Cushions, set of 4", 2, 40, None, 1, 0, None, 0),
    ("RUG", "Rug 160x230 (rolled)", 8, 60, None, 1, 0, None, 0),
    ("OLD-SOFA", "Old sofa taken back (recycling)", 50, 1800, None, 2, 0, None, 0),
)  # fmt: skip
CATALOGUE_COLUMNS = ("sku", "name", "weight_kg", "volume_l", "modes", "crew", "install_min",
                     "equipment", "lead_time_days")  # fmt: skip
BULKY = ("SOFA", "SOFA-CUSTOM", "WARDROBE", "BED", "TABLE")
SMALL = ("MATTRESS", "CHAIR", "LAMP", "CUSHION", "RUG")
# Shares, assumed for a furniture retailer's delivered orders (no published split): 45 %
# of orders hold a bulky item, among them half a sofa and a third of those customised;
# the rest hold small items only, 1-3 lines; 15 % of all orders are click & collect of
# small items at the showroom; 30 % of small deliveries near the store go green (bike).
BULKY_SHARE = 0.45
BULKY_ITEM_SHARE = (0.30, 0.20, 0.20, 0.15, 0.15)  # SOFA, SOFA-CUSTOM, WARDROBE, BED, TABLE
SMALL_ITEM_SHARE = (0.15, 0.25, 0.20, 0.25, 0.15)  # MATTRESS, CHAIR, LAMP, CUSHION, RUG
SMALL_LINES = (1, 2, 3)
SMALL_LINES_SHARE = (0.6, 0.3, 0.1)
COLLECT_SHARE = 0.15
GREEN_SHARE = 0.30
GREEN_MAX_KM = 4.0  # a bike's delivery stays within 4 km of the store (assumed)
# Half the buyers of a sofa have an old one taken back for recycling (assumed; France's
# furniture take-back scheme, Ecomaison, obliges retailers to offer it one for one).
TAKEBACK_SHARE = 0.5
TAKEBACK_SERVICE_S = 600  # carrying the old sofa out to the van: 10 min (assumed)
# Made to order: days between the order and its delivery beyond the lead time (the
# customer chose a later slot), 0 to 3, uniform (assumed).
CUSTOM_SLACK_DAYS = 3
# A customised sofa's configuration (its order line's ``variant``): the fabric and the
# armrests chosen in the showroom, in turn (no random draw: the same seed gives the same
# orders as before variants existed). Linen is made in the SKU's 4 days; velvet and
# bouclé come from the mill first: 10 and 7 days (assumed, of the order of furniture
# retailers' "special fabric" delays), ``lead_times.csv`` rows with a ``variant`` at
# both nodes.
FABRICS = ("linen", "velvet", "boucle")
ARMS = ("slim", "wide")
FABRIC_LEAD_DAYS = {"velvet": 10, "boucle": 7}
# Slots: express in 2-hour slots, eco in 4-hour day-parts, 08:00-18:00 (the vans' shift,
# back by 19:00); click & collect from the store's opening to its closing.
EXPRESS_SLOTS_H = (8, 10, 12, 14, 16)
ECO_SLOTS_H = (8, 12, 14)
EXPRESS_SHARE = 0.4  # of deliveries (assumed)
# Time at the door: 5 minutes to park, ring and hand over a furniture delivery (the
# Paris generator's bulky stops take 15 with the carrying, data/generator.py); the
# reader adds each item's install_min.
SERVICE_S = 300
# Customers: around the store, a normal spread of 3 km, within 9 km (Paris and the
# inner suburbs; assumed).
SIGMA_KM, MAX_KM = 3.0, 9.0
KM_PER_DEG_LAT = 111.32  # mean length of a degree of latitude
# Stock: the warehouse holds the period's demand of each stocked bulky and small item
# and a margin of 20 % (assumed); the showroom the period's small items for click &
# collect and green, with the same margin.
STOCK_MARGIN = 1.2
# Prices (EUR) the scenario says, assumed of the order of Paris furniture retailers':
# express 79, eco 49, green 19, click & collect free; issue 18's "Express in 5 days,
# Eco in 15 days" as the services' days, and a promise horizon of 21 days.
SERVICES = {
    "express": {"price_eur": 79, "slot_length_min": 120, "min_days": 0, "max_days": 5},
    "eco": {"price_eur": 49, "slot_length_min": 240, "min_days": 5, "max_days": 15},
    "green": {"price_eur": 19, "slot_length_min": 240},
    "click_collect": {"price_eur": 0, "slot_length_min": 0},
}
HORIZON_DAYS = 21

NODE_COLUMNS = tuple(NODES[0])
VEHICLE_TYPE_COLUMNS = tuple(VEHICLE_TYPES[0])
FLEET_COLUMNS = ("node_id", "vehicle_type_id", "count", "shift_start", "shift_end")
STOCK_COLUMNS = ("node_id", "sku", "qty")
ORDER_COLUMNS = ("order_id", "lat", "lon", "service", "slot_start", "slot_end",
                 "collect_node_id", "service_time_s", "ready_at")  # fmt: skip
LINE_COLUMNS = ("order_id", "sku", "qty", "variant")
LEAD_TIME_COLUMNS = ("node_id", "sku", "lead_time_days", "variant")
RETURN_COLUMNS = ("return_id", "kind", "order_id", "lat", "lon", "slot_start", "slot_end",
                  "service_time_s")  # fmt: skip
RETURN_LINE_COLUMNS = ("return_id", "sku", "qty")


@dataclass(frozen=True)
class FurnitureDays:
    """Generated days: ``scenario.yaml`` as a dict, each CSV table as rows."""

    settings: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]


def fleet_rows(orders_per_day: int) -> list[dict[str, Any]]:
    """The fleet of every day: :data:`FLEET` grown with the orders (rounded up)."""
    factor = max(1.0, orders_per_day / BASE_ORDERS)
    return [
        {"node_id": node, "vehicle_type_id": vt, "count": math.ceil(count * factor),
         "shift_start": start, "shift_end": end}
        for node, vt, count, start, end in FLEET
    ]  # fmt: skip


def generate(
    orders: int = BASE_ORDERS, days: int = 1, seed: int = 1, date: str = "2026-11-24"
) -> FurnitureDays:
    """``orders`` orders on each of ``days`` days from ``date`` (the scenario's day), the
    same for the same arguments. ``ValueError`` names every bad argument."""
    problems = []
    if orders < 1:
        problems.append(f"orders {orders}: at least 1 a day")
    if not 1 <= days <= MAX_DAYS:
        problems.append(f"days {days}: from 1 to {MAX_DAYS}")
    try:
        first = Date.fromisoformat(date)
    except ValueError:
        problems.append(f"date {date!r}: not a date YYYY-MM-DD")
    if problems:
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(seed)
    tables: dict[str, list[dict[str, Any]]] = {
        "orders": [], "order_lines": [], "returns": [], "return_lines": []
    }  # fmt: skip
    for k in range(days):
        clock = Settings(name="day", date=first + timedelta(days=k), timezone=TIMEZONE)
        _day(rng, clock, orders, f"F{clock.date:%m%d}-", tables)
    demand = _demand(tables["order_lines"])
    settings = {
        "name": f"furniture-{days}d-{orders}o-s{seed}",
        "date": first.isoformat(),
        "timezone": TIMEZONE,
        "currency": "EUR",
        "services": SERVICES,
        "promise": {"horizon_days": HORIZON_DAYS},
    }
    tables |= {
        "nodes": [dict(n) for n in NODES],
        "vehicle_types": [dict(vt) for vt in VEHICLE_TYPES],
        "fleet": fleet_rows(orders),
        "catalogue": [dict(zip(CATALOGUE_COLUMNS, row, strict=True)) for row in CATALOGUE],
        "stock": _stock(demand),
        "lead_times": [  # the factory's delays, wherever the sofa is delivered or collected
            {"node_id": node["node_id"], "sku": "SOFA-CUSTOM", "lead_time_days": days,
             "variant": f"fabric={fabric}"}
            for node in NODES
            for fabric, days in FABRIC_LEAD_DAYS.items()
        ],
    }  # fmt: skip
    return FurnitureDays(settings=settings, tables=tables)


def write(days: FurnitureDays, out_dir: Path, replace: bool = False) -> None:
    """Write ``days`` as one scenario folder (created if missing); with ``replace``, the
    scenario format's files already there are removed first."""
    t = days.tables
    tables = (
        ("nodes.csv", NODE_COLUMNS, t["nodes"]),
        ("vehicle_types.csv", VEHICLE_TYPE_COLUMNS, t["vehicle_types"]),
        ("fleet.csv", FLEET_COLUMNS, t["fleet"]),
        ("catalogue.csv", CATALOGUE_COLUMNS, t["catalogue"]),
        ("stock.csv", STOCK_COLUMNS, t["stock"]),
        ("orders.csv", ORDER_COLUMNS, t["orders"]),
        ("order_lines.csv", LINE_COLUMNS, t["order_lines"]),
        ("lead_times.csv", LEAD_TIME_COLUMNS, t["lead_times"]),
        ("returns.csv", RETURN_COLUMNS, t["returns"]),
        ("return_lines.csv", RETURN_LINE_COLUMNS, t["return_lines"]),
    )
    zones = {"type": "FeatureCollection", "features": []}
    write_folder(out_dir, days.settings, tables, zones, replace)


def _day(
    rng: np.random.Generator, clock: Settings, n: int, prefix: str, tables: dict[str, list]
) -> None:
    """One day's ``n`` orders (with their lines and take-backs) appended to ``tables``."""
    store = NODES[1]
    lat, lon = _addresses(rng, n, store["lat"], store["lon"])
    east_km_per_deg = KM_PER_DEG_LAT * math.cos(math.radians(store["lat"]))
    km = np.hypot((lat - store["lat"]) * KM_PER_DEG_LAT, (lon - store["lon"]) * east_km_per_deg)
    for i in range(n):
        order_id = f"{prefix}{i + 1:03d}"
        bulky = rng.random() < BULKY_SHARE
        if bulky:
            lines = {str(rng.choice(BULKY, p=BULKY_ITEM_SHARE)): 1}
            if rng.random() < 0.5:  # half the bulky orders add a small item (assumed)
                lines[str(rng.choice(SMALL, p=SMALL_ITEM_SHARE))] = 1
        else:
            count = int(rng.choice(SMALL_LINES, p=SMALL_LINES_SHARE))
            skus = rng.choice(SMALL, size=count, replace=False, p=SMALL_ITEM_SHARE)
            lines = {str(s): 1 for s in skus}
        row = {"order_id": order_id, "lat": round(float(lat[i]), 6),
               "lon": round(float(lon[i]), 6), "collect_node_id": None,
               "service_time_s": SERVICE_S, "ready_at": None}  # fmt: skip
        small_only = not bulky and "MATTRESS" not in lines
        if small_only and rng.random() < COLLECT_SHARE / (1 - BULKY_SHARE):
            row |= {"service": "click_collect", "collect_node_id": store["node_id"]}
            start_h, end_h = 12, 20  # ready by noon (picked from 10:00), until closing
        else:
            green = small_only and km[i] <= GREEN_MAX_KM and rng.random() < GREEN_SHARE
            express = not green and rng.random() < EXPRESS_SHARE
            row["service"] = "green" if green else "express" if express else "eco"
            start_h = int(rng.choice(EXPRESS_SLOTS_H if express else ECO_SLOTS_H))
            end_h = start_h + (2 if express else 4)
        row |= {"slot_start": clock.to_iso(start_h * 3600), "slot_end": clock.to_iso(end_h * 3600)}
        if "SOFA-CUSTOM" in lines:
            # Ordered lead + slack days before: its sofa is ready slack days before.
            slack = int(rng.integers(0, CUSTOM_SLACK_DAYS + 1))
            row["ready_at"] = clock.to_iso(-slack * 86_400)
        tables["orders"].append(row)
        tables["order_lines"] += [
            {"order_id": order_id, "sku": s, "qty": q,
             "variant": _configuration(len(tables["orders"])) if s == "SOFA-CUSTOM" else ""}
            for s, q in lines.items()
        ]  # fmt: skip
        if lines.keys() & {"SOFA", "SOFA-CUSTOM"} and rng.random() < TAKEBACK_SHARE:
            return_id = f"R{order_id[1:]}"
            tables["returns"].append({
                "return_id": return_id, "kind": "takeback", "order_id": order_id,
                "lat": row["lat"], "lon": row["lon"], "slot_start": row["slot_start"],
                "slot_end": row["slot_end"], "service_time_s": TAKEBACK_SERVICE_S,
            })  # fmt: skip
            tables["return_lines"].append({"return_id": return_id, "sku": "OLD-SOFA", "qty": 1})


def _configuration(k: int) -> str:
    """The ``k``-th order's customised sofa: fabric and armrests in turn."""
    return f"fabric={FABRICS[k % len(FABRICS)]};arms={ARMS[k % len(ARMS)]}"


def _addresses(
    rng: np.random.Generator, n: int, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` addresses around (lat0, lon0): normal, :data:`SIGMA_KM`, within :data:`MAX_KM`."""
    north, east = np.empty(0), np.empty(0)
    while len(north) < n:
        dn, de = rng.normal(0.0, SIGMA_KM, n), rng.normal(0.0, SIGMA_KM, n)
        keep = np.hypot(dn, de) <= MAX_KM
        north, east = np.concatenate([north, dn[keep]]), np.concatenate([east, de[keep]])
    lat = lat0 + north[:n] / KM_PER_DEG_LAT
    lon = lon0 + east[:n] / (KM_PER_DEG_LAT * math.cos(math.radians(lat0)))
    return lat, lon


def _demand(lines: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        out[line["sku"]] = out.get(line["sku"], 0) + line["qty"]
    return out


def _stock(demand: dict[str, int]) -> list[dict[str, Any]]:
    """The warehouse holds every stocked item, the showroom the small ones (each the
    period's demand and :data:`STOCK_MARGIN`); made-to-order sofas are never stocked."""
    made_to_order = {row[0] for row in CATALOGUE if row[-1]}
    rows = []
    for node_id, skus in (("WH", BULKY + SMALL), ("SHOW", SMALL)):
        for sku in skus:
            if sku not in made_to_order:
                qty = math.ceil(demand.get(sku, 0) * STOCK_MARGIN)
                rows.append({"node_id": node_id, "sku": sku, "qty": qty})
    return rows
