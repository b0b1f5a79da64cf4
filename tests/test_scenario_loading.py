"""Loading a scenario folder: a valid folder becomes the domain model; every kind of bad
input is reported with its file, line and column, all problems at once, and nothing but a
ScenarioError ever escapes."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import assume as hypothesis_assume
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.io import Problem, ScenarioError, load_scenario
from optimizer.model.scenario import (
    FleetEntry,
    Mode,
    NodeKind,
    OrderLine,
    Service,
    ServiceSettings,
    ZoneRule,
)

PARIS = Path(__file__).resolve().parents[1] / "data" / "paris"


def at(hhmm: str, day: str = "2026-11-24", offset: str = "+01:00") -> str:
    return f"{day}T{hhmm}:00{offset}"


def box(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> dict:
    ring = [[lon_min, lat_min], [lon_max, lat_min], [lon_max, lat_max], [lon_min, lat_max]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def feature(zone_id: str, rule: str, geometry: dict, **properties: object) -> dict:
    properties = {"zone_id": zone_id, "name": zone_id.title(), "rule": rule, **properties}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def minimal_files() -> dict[str, object]:
    """A small valid scenario: 2 nodes, a van and a bike type, 3 SKUs, 4 orders (one
    click & collect), one limited-traffic zone around the store (vans are at the hub)."""
    service = {"price_eur": 0.0, "slot_length_min": 0}
    return {
        "scenario.yaml": {
            "name": "Test Tuesday",
            "date": date(2026, 11, 24),
            "timezone": "Europe/Paris",
            "currency": "EUR",
            "unserved_penalty_eur": 500,
            "services": {
                "express": {"price_eur": 6.9, "slot_length_min": 60},
                "eco": {"price_eur": 2.9, "slot_length_min": 240},
                "green": {"price_eur": 3.9, "slot_length_min": 120},
                "click_collect": service,
            },
        },
        "nodes.csv": [
            node("STORE1", "store", 48.8606, 2.3376, "08:00", "21:00"),
            node("HUB1", "urban_hub", 48.8330, 2.3870, "06:30:00", at("22:00")),
        ],
        "vehicle_types.csv": [
            vehicle_type("VAN", "van", 800, 6000, 150, 20, 180, zero_emission="false"),
            vehicle_type("BIKE", "cargo_bike", 120, 300, 50, 14, 8, zero_emission=""),
        ],
        "fleet.csv": [
            fleet("HUB1", "VAN", 2, "07:00", at("19:00")),
            fleet("STORE1", "BIKE", 3, "08:00", "20:00"),
        ],
        "catalogue.csv": [
            {"sku": "SKU-A", "name": "Water 6x1.5L", "weight_kg": 9.3, "volume_l": 9.5},
            {"sku": "SKU-B", "name": "Coffee", "weight_kg": 0.5, "volume_l": 0.8},
            {"sku": "SKU-C", "name": "Printer paper", "weight_kg": 2.5, "volume_l": 3},
        ],
        "stock.csv": [
            {"node_id": "STORE1", "sku": "SKU-A", "qty": 10},
            {"node_id": "STORE1", "sku": "SKU-B", "qty": 0},
            {"node_id": "HUB1", "sku": "SKU-A", "qty": 50},
            {"node_id": "HUB1", "sku": "SKU-C", "qty": 20},
        ],
        "orders.csv": [
            order("O1", "express", at("10:00"), at("11:00"), service_time_s=120),
            order("O2", "eco", at("09:00", "2026-11-25"), at("13:00", "2026-11-25")),
            order("O3", "green", "2026-11-24T13:00:00Z", "2026-11-24T15:00:00+00:00"),
            order("O4", "click_collect", at("16:00"), at("20:00"), collect_node_id="STORE1"),
        ],
        "order_lines.csv": [
            {"order_id": "O1", "sku": "SKU-A", "qty": 2},
            {"order_id": "O2", "sku": "SKU-C", "qty": 1},
            {"order_id": "O1", "sku": "SKU-B", "qty": 1},
            {"order_id": "O3", "sku": "SKU-B", "qty": 3},
            {"order_id": "O4", "sku": "SKU-A", "qty": 1},
        ],
        "zones.geojson": {
            "type": "FeatureCollection",
            "features": [feature("ZTL", "limited_traffic", box(2.33, 48.85, 2.36, 48.87))],
        },
    }


def node(node_id: str, kind: str, lat: float, lon: float, opens: str, closes: str) -> dict:
    return {
        "node_id": node_id,
        "name": f"Node {node_id}",
        "kind": kind,
        "lat": lat,
        "lon": lon,
        "opens": opens,
        "closes": closes,
        "pick_capacity_per_hour": 40,
        "handling_cost_eur": 1.5,
    }


def vehicle_type(
    type_id: str, mode: str, kg: float, litres: float, km: float, kmh: float, co2: float, **more
) -> dict:
    return {
        "vehicle_type_id": type_id,
        "mode": mode,
        "capacity_kg": kg,
        "capacity_l": litres,
        "range_km": km,
        "speed_kmh": kmh,
        "fixed_cost_eur": 30,
        "cost_per_km_eur": 0.1,
        "cost_per_hour_eur": 25,
        "co2_g_per_km": co2,
        **more,
    }


def fleet(node_id: str, type_id: str, count: int, start: str, end: str) -> dict:
    return {
        "node_id": node_id,
        "vehicle_type_id": type_id,
        "count": count,
        "shift_start": start,
        "shift_end": end,
    }


def order(order_id: str, service: str, start: str, end: str, **more) -> dict:
    return {
        "order_id": order_id,
        "lat": 48.8650,
        "lon": 2.3500,
        "service": service,
        "slot_start": start,
        "slot_end": end,
        "collect_node_id": "",
        "service_time_s": 60,
        **more,
    }


def csv_text(rows: list[dict]) -> str:
    header = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_scenario(folder: Path, files: dict[str, object]) -> Path:
    """Write ``files`` (name -> CSV rows, YAML/GeoJSON dict, raw text or bytes; None:
    no file) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if content is None:
            continue
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif name.endswith(".csv"):
            path.write_text(csv_text(content), encoding="utf-8")
        elif name.endswith(".yaml"):
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        else:
            path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(folder)
    return raised.value.problems


# --- the valid scenario --------------------------------------------------------------


def test_minimal_scenario_loads_into_the_model(tmp_path):
    scenario = load_scenario(write_scenario(tmp_path / "day", minimal_files()))

    assert scenario.settings.date == date(2026, 11, 24)
    assert scenario.settings.timezone == "Europe/Paris"
    assert scenario.settings.unserved_penalty_eur == 500
    assert (scenario.settings.max_split, scenario.settings.split_penalty_eur) == (2, 4.0)
    assert scenario.settings.services[Service.ECO] == ServiceSettings(2.9, 240)
    assert set(scenario.settings.services) == set(Service)

    store, hub = scenario.nodes["STORE1"], scenario.nodes["HUB1"]
    assert store.kind is NodeKind.STORE and (store.lat, store.lon) == (48.8606, 2.3376)
    assert (store.opens_s, store.closes_s) == (8 * 3600, 21 * 3600)
    assert (hub.opens_s, hub.closes_s) == (6 * 3600 + 1800, 22 * 3600)

    van, bike = scenario.vehicle_types["VAN"], scenario.vehicle_types["BIKE"]
    assert van.mode is Mode.VAN and van.zero_emission is False and van.capacity_kg == 800
    assert bike.mode is Mode.CARGO_BIKE and bike.zero_emission is True  # empty: default

    assert scenario.fleet == [
        FleetEntry("HUB1", "VAN", 2, 7 * 3600, 19 * 3600),
        FleetEntry("STORE1", "BIKE", 3, 8 * 3600, 20 * 3600),
    ]
    assert [v.vehicle_id for v in scenario.vehicles][:2] == ["HUB1/VAN/1", "HUB1/VAN/2"]
    assert scenario.catalogue["SKU-C"].weight_kg == 2.5
    assert scenario.stock == {
        ("STORE1", "SKU-A"): 10,
        ("STORE1", "SKU-B"): 0,
        ("HUB1", "SKU-A"): 50,
        ("HUB1", "SKU-C"): 20,
    }

    o1, o2, o3, o4 = scenario.orders
    assert [o.order_id for o in scenario.orders] == ["O1", "O2", "O3", "O4"]
    assert o1.service is Service.EXPRESS and (o1.slot_start_s, o1.slot_end_s) == (36000, 39600)
    assert o1.lines == (OrderLine("SKU-A", 2), OrderLine("SKU-B", 1))  # file order
    assert o1.collect_node_id is None and o1.service_time_s == 120
    assert o2.slot_start_s == 86400 + 9 * 3600  # tomorrow's eco slot
    assert (o3.slot_start_s, o3.slot_end_s) == (14 * 3600, 16 * 3600)  # UTC -> Paris
    assert o4.service is Service.CLICK_COLLECT and o4.collect_node_id == "STORE1"

    (zone,) = scenario.zones
    assert zone.rule is ZoneRule.LIMITED_TRAFFIC and zone.allowed_modes is None
    assert zone.contains(store.lat, store.lon) and not zone.contains(hub.lat, hub.lon)
    assert not scenario.may_deliver(van, o1) and scenario.may_deliver(bike, o1)


def test_tours_reloads_and_breaks_load_with_their_defaults(tmp_path):
    files = minimal_files()
    files["vehicle_types.csv"][0] |= {"max_trips": "2", "reload_s": "900"}
    files["vehicle_types.csv"][1] |= {"max_trips": "", "reload_s": ""}
    files["scenario.yaml"] |= {"break_duration_min": 30, "max_work_before_break_min": 300}
    scenario = load_scenario(write_scenario(tmp_path / "day", files))
    van, bike = scenario.vehicle_types["VAN"], scenario.vehicle_types["BIKE"]
    assert (van.max_trips, van.reload_s) == (2, 900)
    assert (bike.max_trips, bike.reload_s) == (1, 600)  # empty: the defaults
    rules = scenario.settings
    assert (rules.break_duration_s, rules.max_work_before_break_s) == (1800, 5 * 3600)
    assert rules.break_over_s == 6 * 3600  # absent: French labour law's 6 h


def test_stops_per_tour_load_and_default_to_no_limit(tmp_path):
    files = minimal_files()
    files["vehicle_types.csv"][0] |= {"max_stops": "12"}
    files["vehicle_types.csv"][1] |= {"max_stops": ""}
    scenario = load_scenario(write_scenario(tmp_path / "day", files))
    assert scenario.vehicle_types["VAN"].max_stops == 12
    assert scenario.vehicle_types["BIKE"].max_stops is None  # empty: no limit


def test_cells_are_stripped_and_blank_lines_ignored(tmp_path):
    files = minimal_files()
    for name, rows in files.items():
        if name.endswith(".csv"):
            text = csv_text(rows)
            padded = "\n".join(
                ",".join(f"  {value} " for value in line.split(",")) for line in text.splitlines()
            )
            files[name] = padded + "\n\n  \n,,\n"
    scenario = load_scenario(write_scenario(tmp_path, files))

    assert scenario == load_scenario(write_scenario(tmp_path / "plain", minimal_files()))


def test_zones_file_is_optional_and_collect_node_column_too(tmp_path):
    files = minimal_files()
    files["zones.geojson"] = None
    for row in files["orders.csv"][:3]:
        del row["collect_node_id"]
    files["orders.csv"] = files["orders.csv"][:3]
    files["order_lines.csv"] = [ln for ln in files["order_lines.csv"] if ln["order_id"] != "O4"]

    scenario = load_scenario(write_scenario(tmp_path, files))

    assert scenario.zones == [] and len(scenario.orders) == 3


def test_a_limited_traffic_zone_that_admits_vans_may_hold_a_van_base(tmp_path):
    files = minimal_files()
    files["zones.geojson"]["features"][0]["properties"]["allowed_modes"] = ["van", "cargo_bike"]
    files["fleet.csv"][0]["node_id"] = "STORE1"

    scenario = load_scenario(write_scenario(tmp_path, files))

    assert scenario.zones[0].allowed_modes == frozenset({Mode.VAN, Mode.CARGO_BIKE})


def test_wall_clock_times_on_a_daylight_saving_day(tmp_path):
    files = minimal_files()
    files["scenario.yaml"]["date"] = date(2026, 3, 29)  # Paris: 02:00 -> 03:00
    files["orders.csv"] = [
        order("O1", "express", "2026-03-29T01:30:00+01:00", "2026-03-29T10:00:00+02:00")
    ]
    files["order_lines.csv"] = files["order_lines.csv"][:1]

    scenario = load_scenario(write_scenario(tmp_path, files))

    assert (scenario.orders[0].slot_start_s, scenario.orders[0].slot_end_s) == (5400, 36000)


# --- bad input, one kind at a time ---------------------------------------------------

Mutation = Callable[[dict], None]


def cell(file: str, line: int, column: str, value: object) -> Mutation:
    def mutate(files: dict) -> None:
        files[file][line - 2][column] = value

    return mutate


def add_row(file: str, **row: object) -> Mutation:
    return lambda files: files[file].append(row)


def drop_file(file: str) -> Mutation:
    return lambda files: files.__setitem__(file, None)


def replace_file(file: str, content: str | bytes) -> Mutation:
    return lambda files: files.__setitem__(file, content)


def drop_column(file: str, column: str) -> Mutation:
    def mutate(files: dict) -> None:
        for row in files[file]:
            del row[column]

    return mutate


def setting(*path: str, value: object = None) -> Mutation:
    """Set ``scenario.yaml``'s key at ``path`` (None: remove the key)."""

    def mutate(files: dict) -> None:
        parent = files["scenario.yaml"]
        for key in path[:-1]:
            parent = parent[key]
        if value is None:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value

    return mutate


def zone(**changes: object) -> Mutation:
    """Change the first zone's geometry or properties."""

    def mutate(files: dict) -> None:
        first = files["zones.geojson"]["features"][0]
        for key, value in changes.items():
            (first if key == "geometry" else first["properties"])[key] = value

    return mutate


def add_zone(*features: dict) -> Mutation:
    return lambda files: files["zones.geojson"]["features"].extend(features)


BOWTIE = [[2.33, 48.85], [2.36, 48.87], [2.36, 48.85], [2.33, 48.87], [2.33, 48.85]]

BAD_INPUT = {
    # files and headers
    "required file missing": (drop_file("stock.csv"), ("stock.csv", None, None, "missing")),
    "settings missing": (drop_file("scenario.yaml"), ("scenario.yaml", None, None, "missing")),
    "missing column": (drop_column("nodes.csv", "lat"), ("nodes.csv", 1, None, "column lat")),
    "not UTF-8": (
        replace_file("nodes.csv", b"node_id,name\nN1,Caf\xe9\n"),
        ("nodes.csv", 2, None, "not UTF-8"),
    ),
    "empty file": (replace_file("catalogue.csv", ""), ("catalogue.csv", None, None, "empty")),
    "repeated column": (
        replace_file("stock.csv", "node_id,sku,qty,qty\nHUB1,SKU-A,3,7\n"),
        ("stock.csv", 1, "qty", "column 'qty' appears 2 times (columns 3, 4)"),
    ),
    "unknown column": (
        replace_file("stock.csv", "node_id,sku,qty,quantity\nHUB1,SKU-A,3,7\n"),
        ("stock.csv", 1, "quantity", "unknown column 'quantity'"),
    ),
    "misspelt optional column": (
        lambda files: [
            row.update(ship_from_node=row.pop("collect_node_id", "")) for row in files["orders.csv"]
        ],  # fmt: skip
        ("orders.csv", 1, "ship_from_node", "did you mean 'ship_from_node_id'?"),
    ),
    "nameless column": (
        replace_file("stock.csv", "node_id,sku,qty,\nHUB1,SKU-A,3,\n"),
        ("stock.csv", 1, None, "column 4 has no name (a trailing comma?)"),
    ),
    "extra cells": (
        replace_file("stock.csv", "node_id,sku,qty\nHUB1,SKU-A,3,7\n"),
        ("stock.csv", 2, None, "4 cells, the header has 3"),
    ),
    # numbers
    "decimal comma": (cell("nodes.csv", 2, "lat", "48,86"), ("nodes.csv", 2, "lat", "'.'")),
    "not a number": (
        cell("vehicle_types.csv", 3, "capacity_kg", "lots"),
        ("vehicle_types.csv", 3, "capacity_kg", "expected a number, got 'lots'"),
    ),
    "not finite": (
        cell("catalogue.csv", 2, "weight_kg", "1e999"),
        ("catalogue.csv", 2, "weight_kg", "out of range"),
    ),
    "integer beyond 64 bits": (
        cell("stock.csv", 2, "qty", str(2**63)),
        ("stock.csv", 2, "qty", "too large: 9223372036854775808 (at most 1,000,000,000"),
    ),
    "integer too large for a day": (
        cell("order_lines.csv", 2, "qty", "1000000001"),
        ("order_lines.csv", 2, "qty", "too large"),
    ),
    "number too large for a day": (
        cell("vehicle_types.csv", 2, "capacity_kg", "1e300"),
        ("vehicle_types.csv", 2, "capacity_kg", "too large: 1e300"),
    ),
    "setting too large": (
        setting("unserved_penalty_eur", value=10**20),
        ("scenario.yaml", 5, "unserved_penalty_eur", "too large"),
    ),
    "order coordinates 0,0": (
        lambda files: files["orders.csv"][1].update(lat=0, lon=0),
        ("orders.csv", 3, "lat", "coordinates 0,0 look missing"),
    ),
    "node coordinates 0,0": (
        lambda files: files["nodes.csv"][0].update(lat="0.0", lon="-0"),
        ("nodes.csv", 2, "lat", "coordinates 0,0 look missing"),
    ),
    "order id with a slash": (
        cell("orders.csv", 2, "order_id", "A/1"),
        ("orders.csv", 2, "order_id", "'A/1' contains '/', which names the parcels"),
    ),
    "not an integer": (
        cell("fleet.csv", 2, "count", "2.5"),
        ("fleet.csv", 2, "count", "expected an integer"),
    ),
    "empty cell": (
        cell("orders.csv", 3, "service_time_s", ""),
        ("orders.csv", 3, "service_time_s", "empty, expected an integer >= 0"),
    ),
    # enums
    "unknown node kind": (
        cell("nodes.csv", 3, "kind", "shop"),
        ("nodes.csv", 3, "kind", "unknown kind 'shop' (allowed: store, urban_hub, dark_store"),
    ),
    "unknown mode": (
        cell("vehicle_types.csv", 2, "mode", "truck"),
        ("vehicle_types.csv", 2, "mode", "allowed: van, cargo_bike, cargo_trike"),
    ),
    "unknown service": (
        cell("orders.csv", 2, "service", "same_day"),
        ("orders.csv", 2, "service", "unknown service 'same_day'"),
    ),
    "bad boolean": (
        cell("vehicle_types.csv", 2, "zero_emission", "yes"),
        ("vehicle_types.csv", 2, "zero_emission", "true or false"),
    ),
    # duplicates
    "duplicate node": (
        cell("nodes.csv", 3, "node_id", "STORE1"),
        ("nodes.csv", 3, "node_id", "duplicate node_id 'STORE1' (first on line 2)"),
    ),
    "duplicate vehicle type": (
        cell("vehicle_types.csv", 3, "vehicle_type_id", "VAN"),
        ("vehicle_types.csv", 3, "vehicle_type_id", "duplicate vehicle_type_id 'VAN'"),
    ),
    "duplicate sku": (
        cell("catalogue.csv", 4, "sku", "SKU-A"),
        ("catalogue.csv", 4, "sku", "duplicate sku 'SKU-A' (first on line 2)"),
    ),
    "duplicate order": (
        cell("orders.csv", 4, "order_id", "O1"),
        ("orders.csv", 4, "order_id", "duplicate order_id 'O1' (first on line 2)"),
    ),
    "duplicate stock pair": (
        add_row("stock.csv", node_id="HUB1", sku="SKU-C", qty=4),
        (
            "stock.csv",
            6,
            "sku",
            "duplicate stock row for node 'HUB1' and SKU 'SKU-C' (first on line 5)",
        ),
    ),
    "duplicate zone": (
        add_zone(feature("ZTL", "low_emission", box(2.2, 48.8, 2.3, 48.9))),
        ("zones.geojson", 39, "features[1].properties.zone_id", "first in features[0], line 4"),
    ),
    # references
    "fleet unknown node": (
        cell("fleet.csv", 2, "node_id", "HUB9"),
        ("fleet.csv", 2, "node_id", "unknown node 'HUB9' (not in nodes.csv)"),
    ),
    "fleet unknown vehicle type": (
        cell("fleet.csv", 3, "vehicle_type_id", "TRIKE"),
        ("fleet.csv", 3, "vehicle_type_id", "unknown vehicle type 'TRIKE'"),
    ),
    "stock unknown node": (
        cell("stock.csv", 3, "node_id", "X"),
        ("stock.csv", 3, "node_id", "unknown node 'X'"),
    ),
    "stock unknown sku": (
        cell("stock.csv", 4, "sku", "SKU-Z"),
        ("stock.csv", 4, "sku", "unknown SKU 'SKU-Z' (not in catalogue.csv)"),
    ),
    "line unknown order": (
        add_row("order_lines.csv", order_id="O9", sku="SKU-A", qty=1),
        ("order_lines.csv", 7, "order_id", "unknown order 'O9' (not in orders.csv)"),
    ),
    "line unknown sku": (
        cell("order_lines.csv", 3, "sku", "SKU-Z"),
        ("order_lines.csv", 3, "sku", "unknown SKU 'SKU-Z'"),
    ),
    "unknown collect node": (
        cell("orders.csv", 5, "collect_node_id", "SHOP9"),
        ("orders.csv", 5, "collect_node_id", "unknown node 'SHOP9'"),
    ),
    # signs
    "negative stock": (cell("stock.csv", 2, "qty", -1), ("stock.csv", 2, "qty", ">= 0, got -1")),
    "zero line qty": (
        cell("order_lines.csv", 2, "qty", 0),
        ("order_lines.csv", 2, "qty", "must be > 0, got 0"),
    ),
    "zero capacity": (
        cell("vehicle_types.csv", 2, "capacity_kg", 0),
        ("vehicle_types.csv", 2, "capacity_kg", "must be > 0"),
    ),
    "negative volume capacity": (
        cell("vehicle_types.csv", 3, "capacity_l", -5),
        ("vehicle_types.csv", 3, "capacity_l", "must be > 0, got -5"),
    ),
    "zero range": (
        cell("vehicle_types.csv", 3, "range_km", 0),
        ("vehicle_types.csv", 3, "range_km", "must be > 0"),
    ),
    "negative count": (cell("fleet.csv", 2, "count", -1), ("fleet.csv", 2, "count", ">= 0")),
    "negative cost": (
        cell("vehicle_types.csv", 2, "fixed_cost_eur", -1),
        ("vehicle_types.csv", 2, "fixed_cost_eur", "must be >= 0"),
    ),
    "negative handling cost": (
        cell("nodes.csv", 2, "handling_cost_eur", -0.5),
        ("nodes.csv", 2, "handling_cost_eur", "must be >= 0"),
    ),
    "negative service time": (
        cell("orders.csv", 2, "service_time_s", -10),
        ("orders.csv", 2, "service_time_s", "must be >= 0"),
    ),
    "zero weight": (
        cell("catalogue.csv", 3, "weight_kg", 0),
        ("catalogue.csv", 3, "weight_kg", "must be > 0"),
    ),
    # coordinates
    "latitude out of range": (
        cell("orders.csv", 3, "lat", 95),
        ("orders.csv", 3, "lat", "between -90 and 90, got 95"),
    ),
    "longitude out of range": (
        cell("nodes.csv", 3, "lon", 200),
        ("nodes.csv", 3, "lon", "between -180 and 180"),
    ),
    # times
    "slot without offset": (
        cell("orders.csv", 2, "slot_start", "2026-11-24T10:00:00"),
        ("orders.csv", 2, "slot_start", "without a UTC offset"),
    ),
    "shift without offset": (
        cell("fleet.csv", 2, "shift_end", "2026-11-24T19:00:00"),
        ("fleet.csv", 2, "shift_end", "without a UTC offset"),
    ),
    "slot as a time of day": (
        cell("orders.csv", 2, "slot_end", "11:00"),
        ("orders.csv", 2, "slot_end", "only a time of day '11:00'"),
    ),
    "not a time": (
        cell("nodes.csv", 2, "opens", "8h"),
        ("nodes.csv", 2, "opens", "expected a time"),
    ),
    "impossible time": (
        cell("nodes.csv", 2, "opens", "25:00"),
        ("nodes.csv", 2, "opens", "not a time of day: '25:00'"),
    ),
    "slot ends before it starts": (
        cell("orders.csv", 2, "slot_end", at("08:00")),
        ("orders.csv", 2, "slot_end", "slot ends (08:00) before it starts (10:00)"),
    ),
    "empty slot": (
        cell("orders.csv", 2, "slot_end", at("10:00")),
        ("orders.csv", 2, "slot_end", "slot ends when it starts (10:00)"),
    ),
    "shift ends before it starts": (
        cell("fleet.csv", 3, "shift_end", "07:00"),
        ("fleet.csv", 3, "shift_end", "shift ends (07:00) before it starts (08:00)"),
    ),
    "node closes when it opens": (
        cell("nodes.csv", 2, "closes", "08:00"),
        ("nodes.csv", 2, "closes", "node closes when it opens (08:00)"),
    ),
    # orders
    "click and collect without node": (
        cell("orders.csv", 5, "collect_node_id", ""),
        ("orders.csv", 5, "collect_node_id", "empty, expected the node where a click_collect"),
    ),
    "delivery with a collect node": (
        cell("orders.csv", 2, "collect_node_id", "STORE1"),
        ("orders.csv", 2, "collect_node_id", "must be empty unless the order is click_collect"),
    ),
    "order without lines": (
        lambda files: files.__setitem__(
            "order_lines.csv", [ln for ln in files["order_lines.csv"] if ln["order_id"] != "O3"]
        ),
        ("orders.csv", 4, "order_id", "order 'O3' has no lines in order_lines.csv"),
    ),
    # zones
    "self-intersecting polygon": (
        zone(geometry={"type": "Polygon", "coordinates": [BOWTIE]}),
        ("zones.geojson", 4, "features[0].geometry", "invalid polygon: Self-intersection"),
    ),
    "not a polygon": (
        zone(geometry={"type": "Point", "coordinates": [2.35, 48.86]}),
        (
            "zones.geojson",
            4,
            "features[0].geometry",
            "Polygon or MultiPolygon geometry, got 'Point'",
        ),
    ),
    "unclosed ring": (
        zone(geometry={"type": "Polygon", "coordinates": [BOWTIE[:4] + [[2.3, 48.8]]]}),
        ("zones.geojson", 4, "features[0].geometry", "ring 1: ring is not closed"),
    ),
    "ring too short": (
        zone(geometry={"type": "Polygon", "coordinates": [BOWTIE[:2] + BOWTIE[:1]]}),
        ("zones.geojson", 4, "features[0].geometry", "at least 4 positions"),
    ),
    "coordinates out of range": (
        zone(geometry=box(2.33, 48.85, 300, 48.87)),
        ("zones.geojson", 4, "features[0].geometry", "within -180..180"),
    ),
    "coordinates not numbers": (
        zone(geometry={"type": "MultiPolygon", "coordinates": [[[["a", 1]] * 4]]}),
        ("zones.geojson", 4, "features[0].geometry", "polygon 1, ring 1: expected a position"),
    ),
    "unknown rule": (
        zone(rule="pedestrian"),
        ("zones.geojson", 4, "features[0].properties.rule", "unknown rule 'pedestrian'"),
    ),
    "unknown allowed mode": (
        zone(allowed_modes=["cargo_bike", "scooter"]),
        ("zones.geojson", 4, "features[0].properties.allowed_modes", "unknown mode 'scooter'"),
    ),
    "allowed modes in a low-emission zone": (
        zone(rule="low_emission", allowed_modes=["van"]),
        ("zones.geojson", 4, "features[0].properties.allowed_modes", "only limited_traffic"),
    ),
    "bad JSON": (
        replace_file("zones.geojson", '{"type": "FeatureCollection",\n "features": [\n}\n'),
        ("zones.geojson", 3, None, "not valid JSON"),
    ),
    "not a feature collection": (
        replace_file("zones.geojson", json.dumps(box(2.33, 48.85, 2.36, 48.87))),
        ("zones.geojson", 1, None, "FeatureCollection"),
    ),
    # scenario.yaml
    "settings key missing": (
        setting("timezone"),
        ("scenario.yaml", None, "timezone", "missing key"),
    ),
    "bad date": (
        setting("date", value="2026-02-30"),
        ("scenario.yaml", 2, "date", "expected a date YYYY-MM-DD, got '2026-02-30'"),
    ),
    "unknown time zone": (
        setting("timezone", value="Europe/Pariss"),
        ("scenario.yaml", 3, "timezone", "unknown time zone 'Europe/Pariss'"),
    ),
    "unknown service name": (
        setting("services", "same_day", value={"price_eur": 9, "slot_length_min": 30}),
        ("scenario.yaml", 19, "services.same_day", "unknown service 'same_day' (allowed:"),
    ),
    "service missing": (
        setting("services", "green"),
        ("scenario.yaml", 6, "services.green", "missing key"),
    ),
    "negative price": (
        setting("services", "eco", "price_eur", value=-1),
        ("scenario.yaml", 11, "services.eco.price_eur", "must be >= 0, got -1"),
    ),
    "fractional slot length": (
        setting("services", "eco", "slot_length_min", value=1.5),
        ("scenario.yaml", 12, "services.eco.slot_length_min", "expected an integer >= 0"),
    ),
    "zero penalty": (
        setting("unserved_penalty_eur", value=0),
        ("scenario.yaml", 5, "unserved_penalty_eur", "must be > 0"),
    ),
    "max_split below one": (
        setting("max_split", value=0),
        ("scenario.yaml", 19, "max_split", "must be >= 1, got 0"),
    ),
    "fractional max_split": (
        setting("max_split", value=1.5),
        ("scenario.yaml", 19, "max_split", "expected an integer >= 1"),
    ),
    "negative split penalty": (
        setting("split_penalty_eur", value=-2),
        ("scenario.yaml", 19, "split_penalty_eur", "must be >= 0, got -2"),
    ),
    "bad YAML": (
        replace_file("scenario.yaml", "name: Tuesday\ndate: [2026-11-24\n"),
        ("scenario.yaml", 3, None, "not valid YAML"),
    ),
    "control character in YAML": (
        replace_file("scenario.yaml", "name: Tuesday\ncurrency: EUR\x1f\n"),
        ("scenario.yaml", 2, None, "character #x001f is not allowed"),
    ),
    # vehicles based inside zones they may not enter
    "van based in a limited-traffic zone": (
        cell("fleet.csv", 2, "node_id", "STORE1"),
        ("fleet.csv", 2, "node_id", "inside limited_traffic zone 'ZTL'"),
    ),
    "no tour a shift": (
        cell("vehicle_types.csv", 3, "max_trips", "0"),
        ("vehicle_types.csv", 3, "max_trips", "must be >= 1, got 0"),
    ),
    "negative reload time": (
        cell("vehicle_types.csv", 2, "reload_s", "-60"),
        ("vehicle_types.csv", 2, "reload_s", "must be >= 0, got -60"),
    ),
    "no stop a tour": (
        cell("vehicle_types.csv", 3, "max_stops", "0"),
        ("vehicle_types.csv", 3, "max_stops", "must be >= 1, got 0"),
    ),
    "half a stop": (
        cell("vehicle_types.csv", 2, "max_stops", "2.5"),
        ("vehicle_types.csv", 2, "max_stops", "expected an integer, got '2.5'"),
    ),
    "break length in hours": (
        setting("break_duration_min", value="0.5h"),
        ("scenario.yaml", 19, "break_duration_min", "expected an integer >= 0"),
    ),
    "combustion vehicle based in a low-emission zone": (
        add_zone(feature("ZFE", "low_emission", box(2.37, 48.82, 2.40, 48.84))),
        ("fleet.csv", 2, "node_id", "inside low_emission zone 'ZFE' which admits only zero"),
    ),
}


@pytest.mark.parametrize(("mutate", "expected"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_reported_with_file_line_and_column(tmp_path, mutate, expected):
    files = minimal_files()
    mutate(files)
    file, line, column, phrase = expected

    problems = problems_of(write_scenario(tmp_path, files))

    located = [p for p in problems if (p.file, p.line, p.column) == (file, line, column)]
    assert any(phrase in p.message for p in located), "\n".join(map(str, problems))


def test_missing_folder_is_one_problem(tmp_path):
    assert problems_of(tmp_path / "nowhere") == [
        Problem(str(tmp_path / "nowhere"), None, None, "scenario folder not found")
    ]


def test_a_bad_header_is_reported_once_not_per_line(tmp_path):
    files = minimal_files()
    drop_column("orders.csv", "lat")(files)

    problems = problems_of(write_scenario(tmp_path, files))

    assert [(p.file, p.line) for p in problems] == [("orders.csv", 1)]


def test_a_missing_file_does_not_cascade_into_unknown_references(tmp_path):
    files = minimal_files()
    files["nodes.csv"] = None

    assert problems_of(write_scenario(tmp_path, files)) == [
        Problem("nodes.csv", None, None, "the file is missing")
    ]


def test_all_problems_in_all_files_are_reported_at_once(tmp_path):
    files = minimal_files()
    for mutate in (
        setting("timezone", value="Mars/Olympus"),
        cell("nodes.csv", 3, "kind", "shop"),
        cell("fleet.csv", 3, "vehicle_type_id", "TRIKE"),
        cell("orders.csv", 2, "slot_end", at("08:00")),
        cell("orders.csv", 4, "lat", 95),
        zone(rule="pedestrian"),
    ):
        mutate(files)

    with pytest.raises(ScenarioError) as raised:
        load_scenario(write_scenario(tmp_path, files))

    assert [(p.file, p.line, p.column) for p in raised.value.problems] == [
        ("scenario.yaml", 3, "timezone"),
        ("nodes.csv", 3, "kind"),
        ("zones.geojson", 4, "features[0].properties.rule"),
        ("fleet.csv", 3, "vehicle_type_id"),
        ("orders.csv", 2, "slot_end"),
        ("orders.csv", 4, "lat"),
    ]
    text = str(raised.value)
    assert text.startswith(f"scenario {tmp_path} has 6 problems:\n")
    assert "orders.csv, line 2, column slot_end: slot ends (" in text  # UTC: no zone
    assert len(text.splitlines()) == 7


def test_problem_and_error_text():
    problem = Problem("orders.csv", 14, "slot_end", "slot ends (08:00) before it starts (10:00)")
    error = ScenarioError("data/x", [problem, Problem("stock.csv", None, None, "missing")])

    assert (
        str(problem)
        == "orders.csv, line 14, column slot_end: slot ends (08:00) before it starts (10:00)"
    )
    assert str(error).splitlines() == [
        "scenario data/x has 2 problems:",
        f"  {problem}",
        "  stock.csv: missing",
    ]


ORDER_COLUMNS = list(minimal_files()["orders.csv"][0])


@settings(max_examples=300, deadline=None)
@given(
    line=st.integers(2, 5),
    column=st.sampled_from(ORDER_COLUMNS),
    garbage=st.text(),
    raw=st.booleans(),
)
def test_garbage_in_an_orders_cell_raises_only_scenario_errors(line, column, garbage, raw):
    files = minimal_files()
    if raw:  # pasted into the file as is: may break quoting and line structure
        lines = csv_text(files["orders.csv"]).split("\n")
        cells = lines[line - 1].split(",")
        cells[ORDER_COLUMNS.index(column)] = garbage
        lines[line - 1] = ",".join(cells)
        files["orders.csv"] = "\n".join(lines)
    else:
        cell("orders.csv", line, column, garbage)(files)
    with tempfile.TemporaryDirectory() as folder:
        try:
            load_scenario(write_scenario(Path(folder), files))
        except ScenarioError as error:
            assert error.problems


@pytest.mark.skipif(not PARIS.is_dir(), reason="the Paris sample is not generated yet")
def test_paris_sample_loads():
    scenario = load_scenario(PARIS)

    assert scenario.orders and scenario.nodes and scenario.vehicles


def test_the_store_shuttle_is_read_from_transfers_with_defaults_where_absent(tmp_path):
    files = minimal_files()
    files["scenario.yaml"]["transfers"] = {"departures": ["14:00", "06:30"], "lead_min": 90}
    shuttle = load_scenario(write_scenario(tmp_path / "a", files)).settings.transfer
    assert shuttle.departures_s == (6 * 3600 + 1800, 14 * 3600) and shuttle.lead_s == 5400
    assert (shuttle.prepare_s, shuttle.pick_before_s, shuttle.cost_eur) == (1800, 3600, 2.0)
    del files["scenario.yaml"]["transfers"]
    default = load_scenario(write_scenario(tmp_path / "b", files)).settings.transfer
    assert default.departures_s == (7 * 3600, 13 * 3600)


def test_a_broken_transfers_block_lists_every_problem(tmp_path):
    files = minimal_files()
    files["scenario.yaml"]["transfers"] = {
        "departures": ["25:00"], "lead_min": -5, "cost": 3,
    }  # fmt: skip
    with pytest.raises(ScenarioError) as error:
        load_scenario(write_scenario(tmp_path, files))
    columns = {p.column for p in error.value.problems}
    assert {"transfers.departures", "transfers.lead_min", "transfers.cost"} <= columns


def test_a_click_and_collect_by_shuttle_needs_its_departure_and_only_it_has_one(tmp_path):
    files = minimal_files()
    files["orders.csv"][3]["ship_from_node_id"] = "HUB1"  # O4, collected at STORE1
    files["orders.csv"][3]["transfer_departs"] = at("13:00")
    (o4,) = [o for o in load_scenario(write_scenario(tmp_path / "a", files)).orders
             if o.order_id == "O4"]  # fmt: skip
    assert (o4.ship_from_node_id, o4.transfer_departs_s) == ("HUB1", 13 * 3600)
    files["orders.csv"][3]["transfer_departs"] = ""
    files["orders.csv"][0]["transfer_departs"] = at("13:00")  # O1 is delivered
    with pytest.raises(ScenarioError) as error:
        load_scenario(write_scenario(tmp_path / "b", files))
    assert {(p.line, p.column) for p in error.value.problems} == {
        (2, "transfer_departs"), (5, "transfer_departs")
    }  # fmt: skip


# --- classes of bad input across every CSV file (issue 13, items 7 and 8) ------------


def _numeric_cells() -> list[tuple[str, int, str]]:
    """(file, line, column) of every number in the minimal scenario's CSV files."""
    return [
        (name, line, column)
        for name, rows in minimal_files().items()
        if name.endswith(".csv")
        for line, row in enumerate(rows, start=2)
        for column, value in row.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


@settings(max_examples=80, deadline=None)
@given(
    where=st.sampled_from(_numeric_cells()),
    huge=st.one_of(
        st.integers(min_value=10**9 + 1).map(str),
        st.integers(max_value=-(10**9) - 1).map(str),
        st.floats(min_value=1.0000001e9, max_value=1e308).map(repr),
        st.sampled_from([str(2**63), str(2**64), str(-(2**63) - 1), "9" * 400]),
    ),
)
def test_a_number_too_large_in_any_numeric_column_is_a_located_problem(where, huge):
    file, line, column = where
    files = minimal_files()
    cell(file, line, column, huge)(files)
    with tempfile.TemporaryDirectory() as folder:
        problems = problems_of(write_scenario(Path(folder), files))
    assert any((p.file, p.line, p.column) == where for p in problems), problems


def _csv_columns() -> list[tuple[str, str]]:
    return [
        (name, column)
        for name, rows in minimal_files().items()
        if name.endswith(".csv")
        for column in rows[0]
    ]


@settings(max_examples=60, deadline=None)
@given(
    where=st.sampled_from(_csv_columns()),
    unknown=st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=12),
    repeat=st.booleans(),
)
def test_a_repeated_or_unknown_column_in_any_csv_file_names_file_and_column(where, unknown, repeat):
    file, column = where
    files = minimal_files()
    header = list(dict.fromkeys(key for row in files[file] for key in row))
    added = column if repeat else unknown
    hypothesis_assume(added not in header or repeat)
    rows = [",".join([*header, added])]
    rows += [",".join([*(str(r.get(c, "")) for c in header), "1"]) for r in files[file]]
    files[file] = "\n".join(rows) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        problems = problems_of(write_scenario(Path(folder), files))
    assert any((p.file, p.line, p.column) == (file, 1, added) for p in problems), problems


def test_the_columns_report_otif_writes_into_service_times_are_accepted(tmp_path):
    files = minimal_files()
    files["postcodes.csv"] = [{"postcode": "75011", "name": "Paris 11e", "lat": 48.86,
                               "lon": 2.38}]  # fmt: skip
    files["service_times.csv"] = [{"postcode": "75011", "factor": 1.5, "samples": 12,
                                   "planned_median_s": 120, "actual_median_s": 180}]  # fmt: skip
    load_scenario(write_scenario(tmp_path, files))


def test_a_return_id_with_a_slash_is_refused(tmp_path):
    files = minimal_files()
    files["returns.csv"] = [{"return_id": "R/1", "lat": 48.86, "lon": 2.35,
                             "slot_start": at("10:00"), "slot_end": at("12:00"),
                             "service_time_s": 60}]  # fmt: skip
    files["return_lines.csv"] = [{"return_id": "R/1", "sku": "SKU-A", "qty": 1}]
    problems = problems_of(write_scenario(tmp_path, files))
    assert [(p.file, p.line, p.column) for p in problems] == [("returns.csv", 2, "return_id")]
    assert "contains '/'" in problems[0].message


# --- ids: '/' where it makes ids ambiguous, control characters anywhere (issue 13 item 10)


def every_file() -> dict[str, object]:
    """:func:`minimal_files` with every optional file too (returns, an exchange, inbound
    stock, postcodes, service times): every id column of the format has a cell."""
    files = minimal_files()
    window = {"slot_start": at("10:00"), "slot_end": at("12:00"), "service_time_s": 60}
    files["returns.csv"] = [
        {"return_id": "R1", "kind": "return", "order_id": "", "lat": 48.86, "lon": 2.35,
         **window, "shipped_from_node_id": "HUB1"},
        {"return_id": "X1", "kind": "exchange", "order_id": "O1", "lat": 48.865, "lon": 2.35,
         **window, "slot_end": at("11:00"), "shipped_from_node_id": ""},  # O1's slot
    ]  # fmt: skip
    files["return_lines.csv"] = [
        {"return_id": "R1", "sku": "SKU-C", "qty": 1},
        {"return_id": "X1", "sku": "SKU-A", "qty": 1},
    ]
    files["inbound.csv"] = [
        {"node_id": "HUB1", "sku": "SKU-B", "qty": 5, "arrives_at": at("14:00")}
    ]
    files["postcodes.csv"] = [{"postcode": "75011", "name": "Paris 11e", "lat": 48.86, "lon": 2.38}]
    files["service_times.csv"] = [{"postcode": "75011", "factor": 1.5}]
    return files


# The columns whose ids may not contain '/': node and vehicle-type ids are joined into
# vehicle ids (NODE/TYPE/k), order and return ids name a split order's parcels (ORDER/k);
# a reference to one of them is held to the same rule.
SLASH_FREE_COLUMNS = {
    "node_id", "vehicle_type_id", "order_id", "return_id", "collect_node_id",
    "ship_from_node_id", "shipped_from_node_id",
}  # fmt: skip
ID_COLUMNS = SLASH_FREE_COLUMNS | {"sku", "postcode"}


def _id_cells(columns: set[str]) -> list[tuple[str, int, str]]:
    """(file, line, column) of every non-empty id cell of :func:`every_file` in ``columns``."""
    return [
        (name, line, column)
        for name, rows in every_file().items()
        if name.endswith(".csv")
        for line, row in enumerate(rows, start=2)
        for column, value in row.items()
        if column in columns and value != ""
    ]


def test_every_file_is_a_valid_scenario_with_every_id_column(tmp_path):
    scenario = load_scenario(write_scenario(tmp_path, every_file()))
    assert len(scenario.returns) == 2 and scenario.places
    seen = {column for _, _, column in _id_cells(ID_COLUMNS)}
    assert seen == ID_COLUMNS - {"ship_from_node_id"}  # an option of click & collect


@settings(max_examples=120, deadline=None)
@given(
    where=st.sampled_from(_id_cells(SLASH_FREE_COLUMNS)),
    at_index=st.integers(0, 10),
    suffix=st.text(st.characters(min_codepoint=48, max_codepoint=90), max_size=3),
)
def test_a_slash_in_any_id_column_is_refused_with_file_line_and_column(where, at_index, suffix):
    file, line, column = where
    files = every_file()
    value = str(files[file][line - 2][column])
    position = min(at_index, len(value))
    cell(file, line, column, value[:position] + "/" + suffix + value[position:])(files)
    with tempfile.TemporaryDirectory() as folder:
        problems = problems_of(write_scenario(Path(folder), files))
    located = [p for p in problems if (p.file, p.line, p.column) == where]
    assert located and "contains '/'" in located[0].message, problems


def test_node_and_vehicle_type_ids_with_a_slash_say_why(tmp_path):
    files = every_file()
    files["vehicle_types.csv"][0]["vehicle_type_id"] = "VAN/2"
    for row in files["fleet.csv"]:
        row["vehicle_type_id"] = row["vehicle_type_id"].replace("VAN", "VAN/2")
    problems = problems_of(write_scenario(tmp_path, files))
    assert [(p.file, p.line, p.column) for p in problems] == [
        ("vehicle_types.csv", 2, "vehicle_type_id")
    ]
    assert "vehicle ids (NODE/TYPE/1" in problems[0].message


@settings(max_examples=120, deadline=None)
@given(
    where=st.sampled_from(_id_cells(ID_COLUMNS)),
    control=st.characters(categories=["Cc", "Zl", "Zp", "Cf"]).filter(
        lambda c: c not in "\r\n\ufeff"  # a line break ends a CSV row; a BOM is stripped
    ),
)
def test_a_control_character_in_any_id_is_refused_with_file_line_and_column(where, control):
    file, line, column = where
    files = every_file()
    value = str(files[file][line - 2][column])
    cell(file, line, column, value[:1] + control + value[1:])(files)
    with tempfile.TemporaryDirectory() as folder:
        problems = problems_of(write_scenario(Path(folder), files))
    located = [p for p in problems if (p.file, p.line, p.column) == where]
    assert located and "control or invisible character" in located[0].message, problems


def test_a_zone_id_with_a_control_character_is_refused(tmp_path):
    files = every_file()
    files["zones.geojson"]["features"][0]["properties"]["zone_id"] = "Z\u200bTL"
    problems = problems_of(write_scenario(tmp_path, files))
    assert [(p.file, p.column) for p in problems] == [
        ("zones.geojson", "features[0].properties.zone_id")
    ]
    assert "U+200B" in problems[0].message


def test_html_and_url_characters_in_skus_and_zone_ids_are_accepted(tmp_path):
    """They never form another id or a URL path, and every HTML output escapes them."""
    files = every_file()
    for name in ("catalogue.csv", "stock.csv", "order_lines.csv", "inbound.csv",
                 "return_lines.csv"):  # fmt: skip
        for row in files[name]:
            row["sku"] = row["sku"].replace("SKU-A", "SKU<A>&'\"/?#%")
    files["zones.geojson"]["features"][0]["properties"]["zone_id"] = "<ZTL>/&?#"
    scenario = load_scenario(write_scenario(tmp_path, files))
    assert "SKU<A>&'\"/?#%" in scenario.catalogue
