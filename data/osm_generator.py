"""A seeded delivery day on any OpenStreetMap extract, in the scenario format.

:func:`generate_from_osm` is the entry (``lastmile generate --osm FILE``): it reads the
extract's streets, derives the city from them (:mod:`data.osm_city`: nodes, zones,
districts, where people live), and makes the day with the Paris generator's retail
(:mod:`data.generator`: catalogue, stock, services, slots, service times, returns,
inbound stock), with a fleet scaled to the orders and weighted to cargo bikes in a bike
city. Every order is drawn on a home street within
:data:`~data.osm_city.ADDRESS_MAX_SNAP_M` of a junction of both the van and the bike
network; home pickups of returns are moved onto the nearest home street.

The scenario's ``scenario.yaml`` names the extract (``travel: {provider: road, osm:
<path relative to the scenario folder>}``) for the road travel provider; the reader
ignores the key until the provider is chosen by it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import zoneinfo
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from data import generator
from data.generator import (
    STORE_BIKE_EARLIEST,
    STORE_BIKES,
    STORE_IN_LIMITED_TRAFFIC,
    City,
    GeneratedScenario,
    Shift,
)
from data.osm_city import HomeStreets, OsmCity, derive_city
from optimizer.io.osm import read_streets
from optimizer.model import Settings
from optimizer.travel.road import build_networks

# Vehicle shifts per order: the Paris fleet (data.generator.FLEET_TEMPLATE) runs 72 for
# 600 orders (24 vans, 45 bikes, 3 trikes).
VEHICLE_SHIFTS_PER_ORDER = 0.12
MIN_VEHICLE_SHIFTS = 8
# Share of the vehicle shifts ridden by cargo bikes and trikes: Paris's is 0.67; a bike
# city (data.osm_city.BIKE_CITY_CYCLEWAY_SHARE) rides more of its day, a city of main
# roads and hills less.
BIKE_SHARE = {True: 0.8, False: 0.5}
# Of the vans, the share based at the warehouse (Paris: 12 of 20 scaled vans); the rest
# leave from the urban hub.
WAREHOUSE_VAN_SHARE = 0.6
# Shifts of the warehouse and the hub, as in data.generator.FLEET_TEMPLATE.
EARLY_VAN = {"warehouse": ("07:00", "15:00"), "urban_hub": ("07:30", "15:30")}
LATE_VAN = ("12:00", "20:30")
BIKE_SHIFTS = (("07:30", "14:30"), ("13:00", "20:30"))
HUB_TRIKE = Shift("etrike", 1, "08:00", "16:00")
DIESEL_VAN = Shift("dvan", 1, "07:00", "15:00", scaled=False)


def generate_from_osm(
    osm_path: str | Path,
    orders: int,
    seed: int,
    out_dir: str | Path,
    force: bool = False,
    *,
    city: str | None = None,
    date: str = "2026-11-24",
    timezone: str = "Europe/Paris",
    bike_city: bool | None = None,
    stock_scale: float = 1.0,
) -> Path:
    """Generate a day of ``orders`` on the extract at ``osm_path`` and write it into
    ``out_dir``; returns ``out_dir``.

    Parameters
    ----------
    osm_path
        An OpenStreetMap extract (``.osm.pbf`` or ``.osm``).
    orders, seed
        Customer orders (>= 1); the seed of every draw: same seed, same bytes.
    out_dir
        The scenario folder (created if missing). A folder with files in it is refused
        unless ``force``, which removes its scenario files first (a README stays).
    city
        The city's name in the scenario, nodes and districts; default: the extract's
        file name up to its first dot.
    date, timezone
        The day (``YYYY-MM-DD``) and the city's IANA time zone.
    bike_city
        Weight the fleet to cargo bikes; None: measured from the cycle tracks.
    stock_scale
        As :func:`data.generator.generate`.

    Raises
    ------
    FileNotFoundError
        No extract at ``osm_path``.
    ValueError
        The extract cannot be read or has too few streets, an argument is invalid.
    FileExistsError, NotADirectoryError
        ``out_dir`` holds files (without ``force``) or is a file.
    """
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, force)
    scenario = generate_osm(
        osm_path,
        orders,
        seed,
        city=city,
        date=date,
        timezone=timezone,
        bike_city=bike_city,
        stock_scale=stock_scale,
    )
    travel = {"provider": "road", "osm": _relative_path(Path(osm_path), out_dir)}
    scenario = dataclasses.replace(scenario, settings={**scenario.settings, "travel": travel})
    generator.write(scenario, out_dir, replace=force)
    return out_dir


def generate_osm(
    osm_path: str | Path,
    orders: int,
    seed: int,
    *,
    city: str | None = None,
    date: str = "2026-11-24",
    timezone: str = "Europe/Paris",
    bike_city: bool | None = None,
    stock_scale: float = 1.0,
) -> GeneratedScenario:
    """The day :func:`generate_from_osm` writes (without its ``travel`` key)."""
    day = generator.checked_day(orders, date, stock_scale)
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"timezone must be an IANA name (e.g. Europe/Copenhagen), got {timezone!r}."
        ) from None
    osm_city = read_city(osm_path, orders, city, bike_city)
    scenario = generator.generate_in(
        _city(osm_city, orders, timezone), orders, seed, day, stock_scale
    )
    returns = _returns_on_streets(scenario.returns, osm_city.home_streets)
    return dataclasses.replace(scenario, returns=returns)


def read_city(
    osm_path: str | Path, orders: int, city: str | None = None, bike_city: bool | None = None
) -> OsmCity:
    """The city of the extract (see :func:`data.osm_city.derive_city`)."""
    osm_path = Path(osm_path)
    try:
        streets = read_streets(osm_path)
    except RuntimeError as error:  # osmium: not a format it reads, a broken block
        raise ValueError(f"{osm_path}: not a readable OpenStreetMap extract ({error}).") from None
    if streets.n_ways == 0:
        raise ValueError(f"{osm_path}: the extract holds no street (no way tagged highway).")
    name = city or osm_path.name.split(".")[0]
    return derive_city(name, streets, build_networks(streets), orders, bike_city)


def _city(osm_city: OsmCity, orders: int, timezone: str) -> City:
    def addresses(rng: np.random.Generator, n_orders: int, limited: list[Polygon]):
        return draw_addresses(osm_city.home_streets, rng, n_orders, limited)

    return City(
        name=osm_city.name.lower().replace(" ", "-"),
        timezone=timezone,
        nodes=osm_city.nodes,
        zones=osm_city.zones,
        postcodes=osm_city.postcodes,
        pick_scale=generator.fleet_scale(orders),
        fleet=lambda limited, clock: fleet_rows(osm_city, orders, limited, clock),
        addresses=addresses,
    )


def draw_addresses(
    home: HomeStreets, rng: np.random.Generator, n_orders: int, limited: list[Polygon]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each order on a home street: a piece by its odds, a point uniformly along it.
    Returns lat, lon (6 decimals, ~0.1 m) and whether each is in a limited-traffic zone."""
    piece = rng.choice(len(home.odds), size=n_orders, p=home.odds)
    along = rng.random(n_orders)
    lat = home.lat[piece, 0] + along * (home.lat[piece, 1] - home.lat[piece, 0])
    lon = home.lon[piece, 0] + along * (home.lon[piece, 1] - home.lon[piece, 0])
    lat, lon = np.round(lat, 6), np.round(lon, 6)
    in_limited = np.zeros(n_orders, dtype=bool)
    for poly in limited:
        in_limited |= shapely.contains_xy(poly, lon, lat)
    return lat, lon, in_limited


def fleet_rows(
    osm_city: OsmCity, orders: int, limited: list[Polygon], clock: Settings
) -> list[dict[str, Any]]:
    """The fleet: :data:`VEHICLE_SHIFTS_PER_ORDER`, :data:`BIKE_SHARE` of them bikes.
    Stores run their bikes (a store in the limited-traffic zone bikes and a trike, as
    in Paris); the hub the rest of the bikes, a trike and part of the vans; the warehouse
    the other vans and the subcontracted diesel van."""
    total = max(MIN_VEHICLE_SHIFTS, math.ceil(VEHICLE_SHIFTS_PER_ORDER * orders))
    bikes = round(total * BIKE_SHARE[osm_city.bike_city])
    vans = max(2, total - bikes)
    shifts: dict[str, tuple[Shift, ...]] = {}
    for node in osm_city.nodes:
        if node.kind != "store":
            continue
        if any(poly.covers(shapely.Point(node.lon, node.lat)) for poly in limited):
            shifts[node.node_id] = tuple(
                Shift(vt, count, node.opens, node.closes) for vt, count in STORE_IN_LIMITED_TRAFFIC
            )
        else:
            start = max(node.opens, STORE_BIKE_EARLIEST)  # HH:MM sorts as text
            shifts[node.node_id] = (Shift("ebike", STORE_BIKES, start, node.closes),)
    store_bikes = sum(s.count for node_shifts in shifts.values() for s in node_shifts)
    hub_bikes = max(2, bikes - store_bikes - HUB_TRIKE.count)
    warehouse_vans = max(1, round(WAREHOUSE_VAN_SHARE * vans))
    for node in osm_city.nodes:
        if node.kind == "warehouse":
            shifts[node.node_id] = (*_two_van_shifts("warehouse", warehouse_vans), DIESEL_VAN)
        elif node.kind == "urban_hub":
            shifts[node.node_id] = (
                *_two_van_shifts("urban_hub", max(1, vans - warehouse_vans)),
                *(Shift("ebike", -(-hub_bikes // 2), *times) for times in BIKE_SHIFTS),
                HUB_TRIKE,
            )
    rows = []
    for node in osm_city.nodes:
        rows += generator.shift_rows(node.node_id, shifts[node.node_id], 1, clock)
    return rows


def _two_van_shifts(kind: str, vans: int) -> tuple[Shift, Shift]:
    early = -(-vans // 2)
    return Shift("evan", early, *EARLY_VAN[kind]), Shift("evan", max(1, vans - early), *LATE_VAN)


def _returns_on_streets(rows: list[dict[str, Any]], home: HomeStreets) -> list[dict[str, Any]]:
    """Home pickups moved onto the nearest end of a home street piece (the generator
    moves them ~300 m off a customer's address, which may fall in a park or a river);
    exchanges are at their order's address already."""
    cos_lat = math.cos(math.radians(float(home.lat.mean())))
    ends_lat, ends_lon = home.lat.ravel(), home.lon.ravel()
    tree = cKDTree(np.column_stack([ends_lat, ends_lon * cos_lat]))
    moved = []
    for row in rows:
        if row["kind"] == "return":
            _, end = tree.query([row["lat"], row["lon"] * cos_lat])
            row = {
                **row,
                "lat": round(float(ends_lat[end]), 6),
                "lon": round(float(ends_lon[end]), 6),
            }
        moved.append(row)
    return moved


def _check_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise NotADirectoryError(
                f"{out_dir} exists and is not a folder; give a folder to write the day into."
            )
        if any(out_dir.iterdir()) and not force:
            raise FileExistsError(
                f"{out_dir} exists and is not empty; choose another folder, or force to "
                "replace the scenario in it (its scenario files are removed)."
            )


def _relative_path(osm_path: Path, out_dir: Path) -> str:
    """The extract's path as the scenario folder sees it (``/``-separated)."""
    try:
        return Path(os.path.relpath(osm_path.resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return osm_path.resolve().as_posix()
