"""The independent checker: it passes a correct plan and catches each planted violation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from shapely.geometry import box

from optimizer.check import CheckReport, Violation, check_plan
from optimizer.check.checker import CODES
from optimizer.model import (
    FleetEntry,
    Mode,
    Node,
    NodeKind,
    Order,
    OrderLine,
    Scenario,
    Service,
    Settings,
    Sku,
    VehicleType,
    Zone,
    ZoneRule,
)
from optimizer.travel import GreatCircle, Profile

H = 3600


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * H + int(m) * 60


def make_scenario() -> Scenario:
    """One hub, a van and a cargo bike, a limited-traffic zone north of the hub, six orders."""
    order = dict(slot_start_s=hm("09:00"), slot_end_s=hm("12:00"), service_time_s=120)
    return Scenario(
        settings=Settings(name="checker test", date=date(2026, 11, 24), timezone="Europe/Paris"),
        nodes={
            "HUB": Node(
                "HUB",
                "Hub",
                NodeKind.URBAN_HUB,
                48.86,
                2.35,
                hm("07:00"),
                hm("20:00"),
                pick_capacity_per_hour=10,
                handling_cost_eur=1.5,
            )
        },
        vehicle_types={
            "van": VehicleType(
                "van",
                Mode.VAN,
                capacity_kg=100,
                capacity_l=500,
                range_km=60,
                speed_kmh=25,
                fixed_cost_eur=30,
                cost_per_km_eur=0.3,
                cost_per_hour_eur=28,
                co2_g_per_km=180,
                zero_emission=False,
                max_trips=2,
            ),
            "bike": VehicleType(
                "bike",
                Mode.CARGO_BIKE,
                capacity_kg=40,
                capacity_l=200,
                range_km=20,
                speed_kmh=15,
                fixed_cost_eur=10,
                cost_per_km_eur=0.05,
                cost_per_hour_eur=22,
                co2_g_per_km=8,
            ),
        },
        fleet=[
            FleetEntry("HUB", "van", 1, hm("07:00"), hm("13:00")),
            FleetEntry("HUB", "bike", 1, hm("07:00"), hm("13:00")),
        ],
        catalogue={
            "SKU-A": Sku("SKU-A", "kettle", 2.0, 10.0),
            "SKU-B": Sku("SKU-B", "microwave", 5.0, 20.0),
        },
        stock={("HUB", "SKU-A"): 10, ("HUB", "SKU-B"): 3},
        orders=[
            Order("O1", 48.850, 2.350, Service.EXPRESS, lines=(OrderLine("SKU-A", 2),), **order),
            Order("O2", 48.850, 2.365, Service.ECO, lines=(OrderLine("SKU-B", 1),), **order),
            # O3 is inside the limited-traffic zone, O4 (green) just outside it.
            Order("O3", 48.870, 2.350, Service.EXPRESS, lines=(OrderLine("SKU-A", 1),), **order),
            Order("O4", 48.865, 2.370, Service.GREEN, lines=(OrderLine("SKU-A", 1),), **order),
            Order(
                "O5",
                48.880,
                2.330,
                Service.CLICK_COLLECT,
                hm("10:00"),
                hm("19:00"),
                0,
                (OrderLine("SKU-B", 1),),
                collect_node_id="HUB",
            ),
            # Five microwaves, three in stock: out of stock.
            Order("O6", 48.855, 2.340, Service.ECO, lines=(OrderLine("SKU-B", 5),), **order),
        ],
        zones=[Zone("ZTL-1", "Centre", ZoneRule.LIMITED_TRAFFIC, box(2.34, 48.866, 2.36, 48.875))],
    )


VAN, BIKE = "HUB/van/1", "HUB/bike/1"
GOOD_ROUTES = [(VAN, "09:00", ["O1", "O2"]), (BIKE, "09:00", ["O3", "O4"])]


def build_plan(
    sc: Scenario, routes=GOOD_ROUTES, collections=("O5",), unassigned=(("O6", "out_of_stock"),)
) -> dict:
    """Write plan.json by hand as a planner would: times and figures from the travel model.

    A route is (vehicle, start, orders) or (vehicle, start, orders, (after_stop, break_s)):
    a break taken as soon as the vehicle is free after that many stops. A vehicle's later
    tours reload at the hub first."""
    iso = sc.settings.to_iso
    first_start = {}
    for vid, start, *_ in routes:
        first_start[vid] = min(first_start.get(vid, hm(start)), hm(start))
    plan_routes, assignments = [], []
    km_by_mode, cost_by_mode, co2_g, on_time = {}, {}, 0.0, 0
    for vid, start, order_ids, *rest in routes:
        after_stop, break_s = rest[0] if rest else (None, 0)
        breaks = []
        vehicle = sc.vehicles_by_id[vid]
        vt, node = sc.vehicle_types[vehicle.vehicle_type_id], sc.nodes[vehicle.node_id]
        orders = [sc.orders_by_id[o] for o in order_ids]
        dist, dur = GreatCircle().matrices(
            np.array([node.lat] + [o.lat for o in orders]),
            np.array([node.lon] + [o.lon for o in orders]),
            Profile.of(vt),
        )
        load_kg = sum(sc.weight_kg(o) for o in orders)
        load_l = sum(sc.volume_l(o) for o in orders)
        start_s = hm(start)
        reload_s = vt.reload_s if start_s != first_start[vid] else 0
        t = start_s + reload_s
        stops = []

        def rest_after(k: int, t: int, after_stop=after_stop, break_s=break_s, breaks=breaks):
            if k != after_stop:
                return t
            breaks.append({"start": iso(t), "end": iso(t + break_s), "after_stop": k})
            return t + break_s

        t = rest_after(0, t)
        for k, o in enumerate(orders):
            arrival = t + int(dur[k, k + 1])
            service = max(arrival, o.slot_start_s)
            t = service + o.service_time_s
            on_time += service <= o.slot_end_s
            stops.append(
                {
                    "order_id": o.order_id,
                    "lat": o.lat,
                    "lon": o.lon,
                    "arrival": iso(arrival),
                    "service_start": iso(service),
                    "departure": iso(t),
                    "slot_start": iso(o.slot_start_s),
                    "slot_end": iso(o.slot_end_s),
                    "distance_from_prev_m": int(dist[k, k + 1]),
                    "load_kg": load_kg,
                    "load_l": load_l,
                }
            )
            load_kg -= sc.weight_kg(o)
            load_l -= sc.volume_l(o)
            t = rest_after(k + 1, t)
            assignments.append(
                {
                    "order_id": o.order_id,
                    "status": "routed",
                    "node_id": node.node_id,
                    "vehicle_id": vid,
                }
            )
        n = len(orders)
        end_s = t + int(dur[n, 0])
        distance_m = int(sum(dist[k, k + 1] for k in range(n)) + dist[n, 0])
        km, hours = distance_m / 1000, (end_s - start_s) / H
        fixed = vt.fixed_cost_eur if start_s == first_start[vid] else 0.0
        cost = fixed + vt.cost_per_km_eur * km + vt.cost_per_hour_eur * hours
        mode = vt.mode.value
        km_by_mode[mode] = km_by_mode.get(mode, 0.0) + km
        cost_by_mode[mode] = cost_by_mode.get(mode, 0.0) + cost
        co2_g += vt.co2_g_per_km * km
        plan_routes.append(
            {
                "vehicle_id": vid,
                "vehicle_type_id": vt.vehicle_type_id,
                "node_id": node.node_id,
                "mode": mode,
                "start": iso(start_s),
                "reload_s": reload_s,
                "end": iso(end_s),
                "breaks": breaks,
                "distance_m": distance_m,
                "duration_s": end_s - start_s,
                "load_kg": sum(sc.weight_kg(o) for o in orders),
                "load_l": sum(sc.volume_l(o) for o in orders),
                "cost_eur": cost,
                "co2_g": vt.co2_g_per_km * km,
                "stops": stops,
            }
        )
    for oid in collections:
        assignments.append(
            {"order_id": oid, "status": "collected", "node_id": "HUB", "vehicle_id": None}
        )
    for oid, _ in unassigned:
        assignments.append(
            {"order_id": oid, "status": "unassigned", "node_id": None, "vehicle_id": None}
        )
    routed = sum(len(r[2]) for r in routes)
    served = routed + len(collections)
    deliverable = len(sc.orders) - sum(
        code not in ("pick_capacity", "fleet_full") for _, code in unassigned
    )
    handling = served * sc.nodes["HUB"].handling_cost_eur
    used = {
        vid: sc.vehicle_types[sc.vehicles_by_id[vid].vehicle_type_id].mode.value
        for vid, *_ in routes
    }
    return {
        "format": "lastmile-plan/1",
        "scenario": {"name": sc.settings.name, "date": "2026-11-24", "timezone": "Europe/Paris"},
        "engine": "hand",
        "solve_s": 0.0,
        "routes": plan_routes,
        "collections": [
            {"order_id": oid, "node_id": "HUB", "ready_by": iso(sc.orders_by_id[oid].slot_start_s)}
            for oid in collections
        ],
        "unassigned": [
            {"order_id": oid, "code": code, "reason": f"{oid}: {code}", "node_id": None}
            for oid, code in unassigned
        ],
        "assignments": assignments,
        "kpis": {
            "orders_total": len(sc.orders),
            "orders_routed": routed,
            "orders_collected": len(collections),
            "orders_unassigned": len(unassigned),
            "orders_deliverable": deliverable,
            "served_deliverable_pct": 100.0 * served / deliverable,
            "on_time_pct": 100.0 * on_time / routed if routed else 100.0,
            "distance_km_by_mode": km_by_mode,
            "route_cost_eur_by_mode": cost_by_mode,
            "handling_cost_eur": handling,
            "cost_eur": sum(cost_by_mode.values()) + handling,
            "co2_g": co2_g,
            "vehicles_used": len(used),
            "vehicles_used_by_mode": {m: list(used.values()).count(m) for m in set(used.values())},
            "unassigned_by_reason": {code: 1 for _, code in unassigned},
            "solve_s": 0.0,
        },
    }


def codes(report: CheckReport) -> set[str]:
    found = {v.code for v in report.violations}
    assert found <= set(CODES), f"undocumented codes: {found - set(CODES)}"
    return found


def only(report: CheckReport, code: str) -> list[Violation]:
    """The report's violations, asserting they all carry ``code``."""
    assert codes(report) == {code}, [str(v) for v in report.violations]
    return report.violations


@pytest.fixture
def sc() -> Scenario:
    return make_scenario()


@pytest.fixture
def plan(sc) -> dict:
    return build_plan(sc)


# --- a correct plan ----------------------------------------------------------------------


def test_correct_plan_passes(sc, plan):
    report = check_plan(sc, plan)
    assert report.ok, [str(v) for v in report.violations]


def test_kpis_are_recomputed_from_the_plan(sc, plan):
    kpis = check_plan(sc, plan).kpis
    assert kpis["orders_total"] == 6
    assert (kpis["orders_routed"], kpis["orders_collected"], kpis["orders_unassigned"]) == (4, 1, 1)
    assert kpis["orders_deliverable"] == 5  # O6 is out of stock: more fleet would not help
    assert kpis["served_deliverable_pct"] == pytest.approx(100.0)
    assert kpis["on_time_pct"] == pytest.approx(100.0)
    assert kpis["handling_cost_eur"] == pytest.approx(5 * 1.5)
    assert kpis["vehicles_used"] == 2
    assert kpis["vehicles_used_by_mode"] == {"van": 1, "cargo_bike": 1}
    assert kpis["unassigned_by_reason"] == {"out_of_stock": 1}
    van, bike = plan["routes"]
    assert kpis["distance_km_by_mode"] == pytest.approx(
        {"van": van["distance_m"] / 1000, "cargo_bike": bike["distance_m"] / 1000}
    )
    # Hub -> 1.1 km south -> 1.1 km east -> hub, x1.35 detour: about 5 km.
    assert 4.0 < kpis["distance_km_by_mode"]["van"] < 6.0
    assert kpis["cost_eur"] == pytest.approx(van["cost_eur"] + bike["cost_eur"] + 7.5)
    assert kpis["co2_g"] == pytest.approx(
        180 * van["distance_m"] / 1000 + 8 * bike["distance_m"] / 1000
    )


def test_fixed_cost_is_charged_on_the_first_tour_only(sc):
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1"]), (VAN, "10:00", ["O2"]), (BIKE, "09:00", ["O3", "O4"])]
    )
    assert check_plan(sc, plan).ok
    first, second = plan["routes"][:2]
    first["cost_eur"], second["cost_eur"] = first["cost_eur"] - 30, second["cost_eur"] + 30
    violations = only(check_plan(sc, plan), "route_figure_mismatch")
    assert len(violations) == 2
    assert "fixed 30.00 (on its first tour)" in violations[0].message


# --- planted violations, one at a time ----------------------------------------------------


def test_late_stop_is_caught_with_minutes_late(sc):
    plan = build_plan(sc, [(VAN, "11:59", ["O1", "O2"]), (BIKE, "09:00", ["O3", "O4"])])
    violations = only(check_plan(sc, plan), "late_stop")
    assert [v.order_id for v in violations] == ["O1", "O2"]
    assert "after the slot ends 12:00" in violations[0].message
    assert "late)" in violations[0].message
    assert check_plan(sc, plan).kpis["on_time_pct"] == pytest.approx(50.0)  # O3, O4 on time


def test_overloaded_van_is_caught(sc):
    sc = replace(
        sc,
        vehicle_types={**sc.vehicle_types, "van": replace(sc.vehicle_types["van"], capacity_kg=5)},
    )
    (violation,) = only(check_plan(sc, build_plan(sc)), "overloaded")
    assert "9.0 kg" in violation.message and violation.vehicle_id == VAN


def test_van_delivering_in_limited_traffic_zone_is_caught(sc):
    plan = build_plan(sc, [(VAN, "09:00", ["O1", "O3"]), (BIKE, "09:00", ["O2", "O4"])])
    (violation,) = only(check_plan(sc, plan), "limited_traffic_zone")
    assert violation.order_id == "O3" and "Centre" in violation.message


def test_green_order_on_van_is_caught(sc):
    plan = build_plan(sc, [(VAN, "09:00", ["O1", "O2", "O4"]), (BIKE, "09:00", ["O3"])])
    (violation,) = only(check_plan(sc, plan), "green_not_bike")
    assert violation.order_id == "O4"


def test_van_in_low_emission_zone_is_caught(sc):
    lez = Zone("ZFE", "Low emission", ZoneRule.LOW_EMISSION, box(2.34, 48.845, 2.355, 48.855))
    sc = replace(sc, zones=[*sc.zones, lez])
    (violation,) = only(check_plan(sc, build_plan(sc)), "low_emission_zone")
    assert violation.order_id == "O1"


def test_missing_order_is_caught(sc):
    plan = build_plan(sc, collections=())
    (violation,) = only(check_plan(sc, plan), "order_missing")
    assert violation.order_id == "O5"


def test_order_planned_twice_is_caught(sc, plan):
    plan["unassigned"].append({"order_id": "O1", "code": "fleet_full", "reason": "full"})
    report = check_plan(sc, plan)
    (violation,) = [v for v in report.violations if v.code == "order_duplicated"]
    assert "routed on HUB/van/1" in violation.message and "fleet_full" in violation.message


def test_unknown_order_is_caught(sc, plan):
    plan["routes"][0]["stops"][0]["order_id"] = "O99"
    report = check_plan(sc, plan)
    assert {"unknown_order", "order_missing"} <= codes(report)


def test_stock_exceeded_is_caught(sc):
    sc = replace(sc, stock={**sc.stock, ("HUB", "SKU-B"): 1})
    (violation,) = only(check_plan(sc, build_plan(sc)), "stock_exceeded")
    assert "HUB ships 2 x SKU-B (O2 x1, O5 x1) but holds 1" in violation.message


def test_pick_capacity_exceeded_is_caught(sc):
    hub = replace(sc.nodes["HUB"], pick_capacity_per_hour=0.3)  # 3 orders in 13 h
    sc = replace(sc, nodes={"HUB": hub})
    only(check_plan(sc, build_plan(sc)), "pick_capacity_exceeded")


def test_route_over_its_range_is_caught(sc):
    sc = replace(
        sc,
        vehicle_types={**sc.vehicle_types, "bike": replace(sc.vehicle_types["bike"], range_km=1)},
    )
    (violation,) = only(check_plan(sc, build_plan(sc)), "out_of_range")
    assert violation.vehicle_id == BIKE


def test_tours_over_the_battery_for_the_shift_are_caught(sc):
    sc = replace(
        sc, vehicle_types={**sc.vehicle_types, "van": replace(sc.vehicle_types["van"], range_km=6)}
    )
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1"]), (VAN, "10:00", ["O2"]), (BIKE, "09:00", ["O3", "O4"])]
    )
    # Each tour alone fits in 6 km, the two together (about 7.2 km) do not.
    (violation,) = only(check_plan(sc, plan), "battery_exceeded")
    assert "in 2 tours" in violation.message


def test_route_ending_after_shift_end_is_caught(sc):
    sc = replace(sc, fleet=[FleetEntry("HUB", "van", 1, hm("07:00"), hm("09:10")), sc.fleet[1]])
    (violation,) = only(check_plan(sc, build_plan(sc)), "after_shift_end")
    assert "after the shift ends 09:10" in violation.message


def test_route_leaving_before_shift_and_opening_is_caught(sc):
    plan = build_plan(sc, [(VAN, "06:30", ["O1", "O2"]), (BIKE, "09:00", ["O3", "O4"])])
    assert codes(check_plan(sc, plan)) == {"before_shift", "node_closed"}


def test_overlapping_tours_of_one_vehicle_are_caught(sc):
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1"]), (VAN, "09:05", ["O2"]), (BIKE, "09:00", ["O3", "O4"])]
    )
    only(check_plan(sc, plan), "vehicle_overlap")


def test_teleport_is_caught(sc, plan):
    stop = plan["routes"][0]["stops"][0]
    stop["arrival"] = plan["routes"][0]["start"]  # at the door the moment it leaves the hub
    (violation,) = only(check_plan(sc, plan), "teleport")
    assert violation.order_id == "O1" and "earlier than possible" in violation.message


def test_service_before_slot_opens_is_caught(sc, plan):
    plan["routes"][0]["stops"][0]["service_start"] = "2026-11-24T08:50:00+01:00"
    (violation,) = only(check_plan(sc, plan), "early_stop")
    assert "before the slot opens 09:00" in violation.message


def test_route_end_before_the_vehicle_can_be_back_is_caught(sc, plan):
    route = plan["routes"][0]
    route["end"] = route["stops"][-1]["departure"]
    assert "back_after_route_end" in codes(check_plan(sc, plan))


def test_reported_distance_that_differs_from_travel_model_is_caught(sc, plan):
    plan["routes"][1]["stops"][1]["distance_from_prev_m"] += 50
    (violation,) = only(check_plan(sc, plan), "distance_mismatch")
    assert violation.order_id == "O4"


def test_reported_load_that_differs_from_catalogue_is_caught(sc, plan):
    plan["routes"][0]["stops"][1]["load_kg"] = 9.0  # O1 (4 kg) was delivered before
    (violation,) = only(check_plan(sc, plan), "load_mismatch")
    assert violation.order_id == "O2" and "gives 5 kg" in violation.message


def test_kpi_that_does_not_match_is_caught(sc, plan):
    plan["kpis"]["cost_eur"] += 5
    plan["kpis"]["orders_routed"] += 1
    violations = only(check_plan(sc, plan), "kpi_mismatch")
    assert sorted(v.message.split(" ")[0] for v in violations) == [
        "kpis.cost_eur",
        "kpis.orders_routed",
    ]


def test_rounded_money_within_a_cent_is_accepted(sc, plan):
    plan["kpis"]["cost_eur"] = round(plan["kpis"]["cost_eur"], 2)
    plan["routes"][0]["cost_eur"] = round(plan["routes"][0]["cost_eur"], 2)
    assert check_plan(sc, plan).ok


def test_click_and_collect_order_on_a_route_is_caught(sc):
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1", "O2"]), (BIKE, "09:00", ["O3", "O4", "O5"])], collections=()
    )
    (violation,) = only(check_plan(sc, plan), "collect_routed")
    assert violation.order_id == "O5"


def test_collection_at_the_wrong_node_or_too_late_is_caught(sc, plan):
    plan["collections"][0]["node_id"] = "ST-OPERA"
    plan["collections"][0]["ready_by"] = "2026-11-24T11:00:00+01:00"
    assert {"wrong_collect_node", "collect_not_ready"} <= codes(check_plan(sc, plan))


def test_delivery_order_marked_collected_is_caught(sc):
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1"]), (BIKE, "09:00", ["O3", "O4"])], collections=("O5", "O2")
    )
    (violation,) = only(check_plan(sc, plan), "not_click_collect")
    assert violation.order_id == "O2"


def test_unassigned_without_known_code_or_reason_is_caught(sc, plan):
    plan["unassigned"][0].update(code="bad_luck", reason="  ")
    assert {"bad_unassigned_code", "missing_reason"} <= codes(check_plan(sc, plan))


def test_assignments_that_disagree_with_the_plan_are_caught(sc, plan):
    row = next(a for a in plan["assignments"] if a["order_id"] == "O1")
    row["vehicle_id"] = BIKE
    (violation,) = only(check_plan(sc, plan), "assignment_mismatch")
    assert violation.order_id == "O1"


def test_route_that_does_not_match_its_vehicle_is_caught(sc, plan):
    plan["routes"][0]["mode"] = "cargo_bike"
    only(check_plan(sc, plan), "vehicle_mismatch")
    plan["routes"][0]["vehicle_id"] = "HUB/van/7"
    assert "unknown_vehicle" in codes(check_plan(sc, plan))


def test_plan_for_another_day_is_caught(sc, plan):
    plan["scenario"]["date"] = "2026-11-25"
    assert "wrong_scenario" in codes(check_plan(sc, plan))


# --- malformed plans: reported, never raised ----------------------------------------------


def test_malformed_time_string_is_reported_not_raised(sc, plan):
    plan["routes"][0]["stops"][1]["arrival"] = "10h30"
    plan["routes"][1]["start"] = "2026-11-24T09:00:00"  # no UTC offset
    report = check_plan(sc, plan)
    malformed = [v.message for v in report.violations if v.code == "malformed"]
    assert any("'10h30' is not an ISO 8601 datetime" in m for m in malformed)
    assert any("has no UTC offset" in m for m in malformed)


def test_missing_key_is_reported_not_raised(sc, plan):
    del plan["routes"][0]["stops"][0]["departure"]
    del plan["routes"][1]["end"]
    report = check_plan(sc, plan)
    assert codes(report) == {"malformed"}
    assert len(report.violations) == 2


@pytest.mark.parametrize(
    "junk",
    [
        None,
        [],
        "plan",
        {},
        {"routes": "x", "collections": 3, "unassigned": None},
        {"routes": [None, {"stops": [1, {}]}], "collections": [{}], "unassigned": [{}]},
        {
            "routes": [
                {
                    "vehicle_id": 5,
                    "start": 3,
                    "end": [],
                    "distance_m": "far",
                    "stops": [{"order_id": "O1", "arrival": None}],
                }
            ]
        },
        {
            "routes": [],
            "collections": [],
            "unassigned": [],
            "assignments": [{"order_id": 1}],
            "kpis": {"orders_total": "six", "distance_km_by_mode": [1]},
        },
    ],
)
def test_garbage_plan_never_crashes_the_checker(sc, junk):
    report = check_plan(sc, junk)
    assert not report.ok
    codes(report)


def test_garbage_in_a_correct_plan_never_crashes_the_checker(sc, plan):
    route = plan["routes"][0]
    route["distance_m"] = float("nan")
    route["stops"][0]["distance_from_prev_m"] = True
    route["stops"].append("not a stop")
    plan["kpis"]["vehicles_used_by_mode"] = {"van": "one"}
    assert codes(check_plan(sc, plan)) >= {"malformed"}


# --- tours and reloads ---------------------------------------------------------------------


def test_a_later_tour_leaving_before_its_reload_is_caught(sc):
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1"]), (VAN, "10:00", ["O2"]), (BIKE, "09:00", ["O3", "O4"])]
    )
    assert check_plan(sc, plan).ok
    second = plan["routes"][1]
    first_stop = second["stops"][0]
    # At the door as if it had left without reloading.
    arrival = datetime.fromisoformat(first_stop["arrival"]) - timedelta(seconds=600)
    first_stop["arrival"] = arrival.isoformat()
    (violation,) = only(check_plan(sc, plan), "reload_too_short")
    assert "reloading 10 min at HUB from 10:00" in violation.message


def test_more_tours_than_the_vehicle_type_allows_are_caught(sc):
    van = replace(sc.vehicle_types["van"], max_trips=1)
    sc = replace(sc, vehicle_types={**sc.vehicle_types, "van": van})
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1"]), (VAN, "10:00", ["O2"]), (BIKE, "09:00", ["O3", "O4"])]
    )
    (violation,) = only(check_plan(sc, plan), "too_many_trips")
    assert "2 tours, over the van's 1 a shift" in violation.message


def test_a_later_tour_leaving_after_the_node_closes_is_caught(sc):
    hub = replace(sc.nodes["HUB"], closes_s=hm("10:05"))
    sc = replace(sc, nodes={"HUB": hub})
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1"]), (VAN, "10:00", ["O2"]), (BIKE, "09:00", ["O3", "O4"])]
    )
    (violation,) = only(check_plan(sc, plan), "node_closed")
    assert "after its 10 min reload" in violation.message


# --- breaks ------------------------------------------------------------------------------

# A short rule so that the hand-built routes (15 to 25 min) need a break.
SHORT_BREAKS = dict(break_duration_s=300, max_work_before_break_s=20 * 60, break_over_s=10 * 60)


@pytest.fixture
def sc_breaks(sc) -> Scenario:
    return replace(sc, settings=replace(sc.settings, **SHORT_BREAKS))


def test_a_break_in_the_window_passes(sc_breaks):
    plan = build_plan(
        sc_breaks, [(VAN, "09:00", ["O1", "O2"], (1, 300)), (BIKE, "09:00", ["O3", "O4"], (1, 300))]
    )
    report = check_plan(sc_breaks, plan)
    assert report.ok, [str(v) for v in report.violations]


def test_a_long_day_without_a_break_is_caught(sc_breaks):
    plan = build_plan(
        sc_breaks, [(VAN, "09:00", ["O1", "O2"]), (BIKE, "09:00", ["O3", "O4"], (1, 300))]
    )
    (violation,) = only(check_plan(sc_breaks, plan), "break_missing")
    assert violation.vehicle_id == VAN and "without a 5 min break" in violation.message


def test_a_short_break_is_caught(sc_breaks):
    plan = build_plan(
        sc_breaks, [(VAN, "09:00", ["O1", "O2"], (1, 120)), (BIKE, "09:00", ["O3", "O4"], (1, 300))]
    )
    assert codes(check_plan(sc_breaks, plan)) == {"break_too_short", "break_missing"}


def test_a_break_after_too_much_work_is_caught(sc_breaks):
    sc = replace(sc_breaks, settings=replace(sc_breaks.settings, max_work_before_break_s=60))
    plan = build_plan(
        sc, [(VAN, "09:00", ["O1", "O2"], (1, 300)), (BIKE, "09:00", ["O3", "O4"], (1, 300))]
    )
    violations = only(check_plan(sc, plan), "work_without_break")
    assert "over the 1 min allowed" in violations[0].message


def test_a_break_over_the_service_is_caught(sc_breaks):
    plan = build_plan(
        sc_breaks, [(VAN, "09:00", ["O1", "O2"], (1, 300)), (BIKE, "09:00", ["O3", "O4"], (1, 300))]
    )
    rest = plan["routes"][0]["breaks"][0]
    for key in ("start", "end"):  # one minute earlier: during the service at O1
        rest[key] = (datetime.fromisoformat(rest[key]) - timedelta(seconds=60)).isoformat()
    (violation,) = only(check_plan(sc_breaks, plan), "break_overlap")
    assert "starts before the vehicle is free" in violation.message


def test_a_break_at_a_stop_the_tour_does_not_have_is_malformed(sc_breaks):
    plan = build_plan(
        sc_breaks, [(VAN, "09:00", ["O1", "O2"], (1, 300)), (BIKE, "09:00", ["O3", "O4"], (1, 300))]
    )
    plan["routes"][0]["breaks"][0]["after_stop"] = 7
    assert "malformed" in codes(check_plan(sc_breaks, plan))


def test_inbound_in_time_counts_each_parcel_once_with_its_own_lines():
    """A node short on hand but covered by an inbound delivery in time: a parcel that
    carries none of the SKU is not charged the order's quantity, and a failed attempt
    and its retry are one parcel taken once (at the first departure)."""
    from optimizer.check.records import _Context, _Plan, _Route, _Stop
    from optimizer.check.stock import _inbound_in_time
    from optimizer.model import Inbound
    from optimizer.travel import GreatCircle
    from tests import factory as f

    orders = [
        f.order("A", 48.85, 2.36, [("BOOK", 2), ("TV", 1)]),  # split: A/1 BOOK from HUB
        f.order("B", 48.85, 2.36, [("TV", 1)]),
    ]
    sc = f.scenario(orders, stock={("HUB", "TV"): 0, ("HUB", "BOOK"): 2})
    sc.inbound.append(Inbound("HUB", "TV", 1, 8 * 3600))

    def stop(order_id, parcel_id=None, lines=None, failed=False):
        return _Stop(order_id, None, None, None, None, None, None, parcel_id, lines,
                     locked=failed, failed_attempt=failed)  # fmt: skip

    def route(i, start_h, stops):
        return _Route(i, f"r{i}", f"v{i}", "van", "HUB", "van", start_h * 3600, None, None,
                      None, None, None, None, None, stops)  # fmt: skip

    ctx = _Context(sc, GreatCircle())
    # A/1 (books only) leaves at 07:00, before the TV is in; B's TV leaves at 09:00.
    plan = _Plan(routes=[route(0, 7, [stop("A", "A/1", (("BOOK", 2),))]),
                         route(1, 9, [stop("B")])])  # fmt: skip
    assert _inbound_in_time(ctx, plan, "HUB", "TV")
    # B failed at 09:00 and is retried at 14:00: one TV, taken at 09:00.
    plan.routes[1].stops = [stop("B", failed=True)]
    plan.routes.append(route(2, 14, [stop("B")]))
    assert _inbound_in_time(ctx, plan, "HUB", "TV")
    # B leaving at 07:00, before the TV is in: not covered.
    plan.routes[1].start_s = 7 * 3600
    assert not _inbound_in_time(ctx, plan, "HUB", "TV")
