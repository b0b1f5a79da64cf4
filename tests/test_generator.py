"""The seeded Paris day generator: deterministic, consistent, and true to the city."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from shapely.geometry import Point, Polygon, shape

from data import paris_city
from data.generator import (
    CATALOGUE,
    GeneratedScenario,
    _order_ids,
    fleet_scale,
    generate,
    write,
)

FILES = (
    "scenario.yaml",
    "nodes.csv",
    "vehicle_types.csv",
    "fleet.csv",
    "catalogue.csv",
    "stock.csv",
    "orders.csv",
    "order_lines.csv",
    "zones.geojson",
)


@pytest.fixture(scope="module")
def day() -> GeneratedScenario:
    return generate(600, 1)


def _zone(day: GeneratedScenario, zone_id: str) -> Polygon:
    for feature in day.zones["features"]:
        if feature["properties"]["zone_id"] == zone_id:
            return shape(feature["geometry"])
    raise AssertionError(f"no zone {zone_id}")


def _node(day: GeneratedScenario, node_id: str) -> Point:
    node = next(n for n in day.nodes if n["node_id"] == node_id)
    return Point(node["lon"], node["lat"])


def _vehicles(day: GeneratedScenario) -> int:
    return sum(row["count"] for row in day.fleet)


def test_same_seed_writes_the_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        write(generate(600, seed), tmp_path / name)
    for filename in FILES:
        assert (tmp_path / "a" / filename).read_bytes() == (tmp_path / "b" / filename).read_bytes()
    assert (tmp_path / "a" / "orders.csv").read_bytes() != (
        tmp_path / "c" / "orders.csv"
    ).read_bytes()


def test_files_have_the_documented_columns_in_order(tmp_path: Path) -> None:
    write(generate(50, 3), tmp_path)
    expected = {
        "nodes.csv": "node_id,name,kind,lat,lon,opens,closes,pick_capacity_per_hour,"
        "handling_cost_eur",
        "vehicle_types.csv": "vehicle_type_id,mode,capacity_kg,capacity_l,range_km,speed_kmh,"
        "fixed_cost_eur,cost_per_km_eur,cost_per_hour_eur,co2_g_per_km,zero_emission",
        "fleet.csv": "node_id,vehicle_type_id,count,shift_start,shift_end",
        "catalogue.csv": "sku,name,weight_kg,volume_l",
        "stock.csv": "node_id,sku,qty",
        "orders.csv": "order_id,lat,lon,service,slot_start,slot_end,collect_node_id,service_time_s",
        "order_lines.csv": "order_id,sku,qty",
    }
    for filename, header in expected.items():
        assert (tmp_path / filename).read_text(encoding="utf-8").splitlines()[0] == header


def test_orders_and_lines_are_consistent(day: GeneratedScenario) -> None:
    order_ids = [o["order_id"] for o in day.orders]
    assert len(order_ids) == 600 and len(set(order_ids)) == 600
    assert order_ids[0] == "O00001" and order_ids[-1] == "O00600"
    skus = {c["sku"] for c in day.catalogue}
    assert len(skus) >= 35
    assert all(line["order_id"] in set(order_ids) for line in day.order_lines)
    assert all(line["sku"] in skus and line["qty"] > 0 for line in day.order_lines)
    assert {line["order_id"] for line in day.order_lines} == set(order_ids)
    pairs = [(line["order_id"], line["sku"]) for line in day.order_lines]
    assert len(pairs) == len(set(pairs))
    node_ids = {n["node_id"] for n in day.nodes}
    assert {(r["node_id"], r["sku"]) for r in day.stock} <= {(n, s) for n in node_ids for s in skus}
    assert len({(r["node_id"], r["sku"]) for r in day.stock}) == len(day.stock)


def test_order_ids_are_padded_to_the_number_of_orders() -> None:
    assert _order_ids(3) == ["O00001", "O00002", "O00003"]
    assert _order_ids(123_456)[-1] == "O123456" and _order_ids(123_456)[0] == "O000001"


def test_service_mix_and_slots_follow_the_offer(day: GeneratedScenario) -> None:
    mix = Counter(o["service"] for o in day.orders)
    assert 0.2 < mix["express"] / 600 < 0.4
    assert 0.25 < mix["eco"] / 600 < 0.45
    assert 0.1 < mix["green"] / 600 < 0.3
    assert 0.08 < mix["click_collect"] / 600 < 0.22
    nodes = {n["node_id"]: n for n in day.nodes}
    for o in day.orders:
        start = datetime.fromisoformat(o["slot_start"])
        end = datetime.fromisoformat(o["slot_end"])
        assert start.utcoffset().total_seconds() == 3600  # Paris in November: +01:00
        if o["service"] == "click_collect":
            assert nodes[o["collect_node_id"]]["kind"] in ("store", "dark_store")
            assert end.strftime("%H:%M") == nodes[o["collect_node_id"]]["closes"]
            assert 10 <= start.hour < 18 or start.strftime("%H:%M") == "18:00"
        else:
            assert o["collect_node_id"] == ""
            minutes = {"express": 120, "green": 120, "eco": 240}[o["service"]]
            assert (end - start).total_seconds() == minutes * 60
            assert start.hour >= 8 and end.hour <= 20 and end.minute == 0


def test_summer_dates_carry_the_summer_offset() -> None:
    summer = generate(20, 1, date="2026-07-01")
    assert summer.orders[0]["slot_start"].endswith("+02:00")
    assert summer.fleet[0]["shift_start"] == "2026-07-01T07:00:00+02:00"


def test_green_baskets_fit_a_bike(day: GeneratedScenario) -> None:
    items = {c.sku: c for c in CATALOGUE}
    weight_kg: Counter[str] = Counter()
    volume_l: Counter[str] = Counter()
    for line in day.order_lines:
        weight_kg[line["order_id"]] += items[line["sku"]].weight_kg * line["qty"]
        volume_l[line["order_id"]] += items[line["sku"]].volume_l * line["qty"]
    green = [o["order_id"] for o in day.orders if o["service"] == "green"]
    assert green
    assert all(weight_kg[o] <= 60 and volume_l[o] <= 300 for o in green)


def test_one_sku_is_sold_out_everywhere_and_about_one_percent_of_orders_want_it(
    day: GeneratedScenario,
) -> None:
    held: Counter[str] = Counter()
    for row in day.stock:
        held[row["sku"]] += row["qty"]
    sold_out = [sku for sku in (c["sku"] for c in day.catalogue) if held[sku] == 0]
    assert len(sold_out) == 1
    wanting = {line["order_id"] for line in day.order_lines if line["sku"] == sold_out[0]}
    assert 1 <= len(wanting) <= 15


def test_the_warehouse_holds_nearly_everything_and_dark_stores_no_bulky_goods(
    day: GeneratedScenario,
) -> None:
    bulky = {c.sku for c in CATALOGUE if c.kind == "bulky"}
    stocked = {(r["node_id"], r["sku"]) for r in day.stock if r["qty"] > 0}
    assert sum(1 for sku in {c.sku for c in CATALOGUE} if ("WH-GARONOR", sku) in stocked) >= 39
    dark_stores = {n["node_id"] for n in day.nodes if n["kind"] == "dark_store"}
    assert not {(n, s) for n, s in stocked if n in dark_stores and s in bulky}


def test_the_fleet_grows_with_the_orders() -> None:
    small, big = generate(600, 1), generate(5000, 1)
    assert _vehicles(big) >= 4 * _vehicles(small)
    assert fleet_scale(1) == 1 and fleet_scale(600) == 1 and fleet_scale(1200) == 2
    diesel = [row for row in big.fleet if row["vehicle_type_id"] == "dvan"]
    assert [(row["node_id"], row["count"]) for row in diesel] == [("WH-GARONOR", 1)]


def test_the_warehouse_lies_outside_the_low_emission_zone(day: GeneratedScenario) -> None:
    zfe = _zone(day, "ZFE-A86")
    assert zfe.is_valid
    assert not zfe.covers(_node(day, "WH-GARONOR"))
    assert all(zfe.covers(_node(day, n["node_id"])) for n in day.nodes if n["kind"] != "warehouse")


def test_les_halles_lies_inside_the_limited_traffic_zone_and_runs_no_van(
    day: GeneratedScenario,
) -> None:
    ztl = _zone(day, "ZTL-CENTRE")
    assert ztl.is_valid
    inside = {n["node_id"] for n in day.nodes if ztl.covers(_node(day, n["node_id"]))}
    assert inside == {"ST-HALLES"}
    modes = {vt["vehicle_type_id"]: vt["mode"] for vt in day.vehicle_types}
    assert {modes[r["vehicle_type_id"]] for r in day.fleet if r["node_id"] == "ST-HALLES"} <= {
        "cargo_bike",
        "cargo_trike",
    }


def test_urban_nodes_lie_in_paris_intramuros(day: GeneratedScenario) -> None:
    paris = Polygon(paris_city.PARIS_PERIPHERIQUE)
    outside = {n["node_id"] for n in day.nodes if not paris.covers(_node(day, n["node_id"]))}
    assert outside == {"WH-GARONOR", "ST-DEFENSE", "ST-BOULOGNE", "ST-MONTREUIL"}
    assert all(
        paris.covers(_node(day, n["node_id"]))
        for n in day.nodes
        if n["kind"] in ("urban_hub", "dark_store")
    )


def test_orders_fall_where_people_live(day: GeneratedScenario) -> None:
    lats = [o["lat"] for o in day.orders]
    lons = [o["lon"] for o in day.orders]
    assert 48.78 < min(lats) and max(lats) < 48.97
    assert 2.20 < min(lons) and max(lons) < 2.56
    paris = Polygon(paris_city.PARIS_PERIPHERIQUE)
    in_paris = sum(paris.covers(Point(lon, lat)) for lat, lon in zip(lats, lons, strict=True))
    assert 0.6 < in_paris / 600 < 0.85  # Paris is ~73 % of the areas' population


def test_sample_in_the_repository_is_the_generated_one(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parent.parent / "data" / "paris"
    write(generate(600, 1), tmp_path)
    for filename in FILES:
        assert (sample / filename).read_bytes() == (tmp_path / filename).read_bytes(), filename


def test_written_csv_reads_back_with_booleans_and_empty_cells(tmp_path: Path) -> None:
    write(generate(100, 2), tmp_path)
    with open(tmp_path / "vehicle_types.csv", encoding="utf-8", newline="") as f:
        flags = {row["vehicle_type_id"]: row["zero_emission"] for row in csv.DictReader(f)}
    assert flags["dvan"] == "false" and flags["evan"] == "true"
    with open(tmp_path / "orders.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(
        (row["collect_node_id"] == "") == (row["service"] != "click_collect") for row in rows
    )


@pytest.mark.parametrize("orders", [0, -5, 2.5])
def test_refuses_a_nonsense_number_of_orders(orders) -> None:
    with pytest.raises(ValueError, match="orders"):
        generate(orders)


def test_refuses_a_malformed_date() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        generate(10, 1, date="24/11/2026")


def test_stock_scale_makes_a_scarcer_day_with_the_same_orders() -> None:
    full, scarce = generate(300, 3), generate(300, 3, stock_scale=0.3)
    assert scarce.order_lines == full.order_lines
    assert [(o["lat"], o["lon"]) for o in scarce.orders] == [
        (o["lat"], o["lon"]) for o in full.orders
    ]
    assert sum(r["qty"] for r in scarce.stock) < 0.5 * sum(r["qty"] for r in full.stock)
    with pytest.raises(ValueError, match="stock_scale"):
        generate(10, 1, stock_scale=0)
