"""Bulky deliveries: SKUs that take a crew of two, an installation time or a tail lift
(``catalogue.csv``'s ``crew``, ``install_min``, ``equipment``), vehicle types with a crew
and equipment (``vehicle_types.csv``), the old item taken back in the same visit
(``returns.csv`` kind ``takeback``), honoured by sourcing, both engines and the checker."""

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest

from optimizer.check import check_plan
from optimizer.insertion import LiveRoutes
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import ItemNeeds, OrderLine, ReturnKind, UnassignedCode
from optimizer.planning import PlanParams, plan_day
from optimizer.promise import PromiseEngine, SlotOption
from optimizer.promise.engine import door_time_s
from optimizer.travel import GreatCircle
from tests.test_scenario_loading import (
    at,
    box,
    feature,
    fleet,
    minimal_files,
    node,
    order,
    problems_of,
    vehicle_type,
    write_scenario,
)

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "paris"
DOOR = (48.8400, 2.3750)  # 1 km from the hub, outside the bike-only zone
IN_ZONE = (48.8650, 2.3500)  # inside the bike-only limited-traffic zone
HANDOVER_S = 120  # orders.csv's service_time_s of the sofa order
INSTALL_MIN = 30  # the sofa's install_min
TAKEBACK_S = 300  # returns.csv's service_time_s of the old sofa

SOFA = {"sku": "SOFA", "name": "Sofa", "weight_kg": 45, "volume_l": 900, "crew": 2,
        "install_min": INSTALL_MIN, "equipment": "tail_lift"}  # fmt: skip
OLD_SOFA = {"sku": "OLD-SOFA", "name": "Sofa taken back", "weight_kg": 40, "volume_l": 900,
            "crew": 2, "install_min": "", "equipment": ""}  # fmt: skip
BOOK = {"sku": "BOOK", "name": "Book", "weight_kg": 0.5, "volume_l": 1, "crew": "",
        "install_min": "", "equipment": ""}  # fmt: skip


def bulky_files(vans=("SOLO", "DUO"), sofa=SOFA, at_door=DOOR):
    """A hub with a one-person van (SOLO, the cheaper), a two-person van with a tail lift
    (DUO) and a bike; a sofa to deliver and install at ``at_door``, the old one taken
    back, and a book nearby."""
    files = minimal_files()
    types = {
        "SOLO": vehicle_type("SOLO", "van", 800, 6000, 150, 20, 180, fixed_cost_eur=20),
        "DUO": vehicle_type(
            "DUO",
            "van",
            800,
            6000,
            150,
            20,
            180,
            fixed_cost_eur=60,
            crew=2,
            equipment="tail_lift,trolley",
        ),  # fmt: skip
        "BIKE": vehicle_type("BIKE", "cargo_bike", 120, 300, 50, 14, 8, fixed_cost_eur=8),
    }
    sofa_at = {"lat": at_door[0], "lon": at_door[1]}
    files |= {
        "nodes.csv": [node("HUB1", "urban_hub", 48.8330, 2.3870, "06:30", "22:00")],
        "vehicle_types.csv": [types[t] for t in (*vans, "BIKE")],
        "fleet.csv": [fleet("HUB1", t, 1, "07:00", "19:00") for t in (*vans, "BIKE")],
        "catalogue.csv": [sofa, OLD_SOFA, BOOK],
        "stock.csv": [
            {"node_id": "HUB1", "sku": "SOFA", "qty": 5},
            {"node_id": "HUB1", "sku": "BOOK", "qty": 50},
        ],
        "orders.csv": [
            order(
                "S1", "express", at("10:00"), at("12:00"), service_time_s=HANDOVER_S, **sofa_at
            ),  # fmt: skip
            order("B1", "express", at("10:00"), at("12:00"), lat=48.8420, lon=2.3790),
        ],
        "order_lines.csv": [
            {"order_id": "S1", "sku": "SOFA", "qty": 1},
            {"order_id": "B1", "sku": "BOOK", "qty": 2},
        ],
        "returns.csv": [
            {
                "return_id": "T1",
                **sofa_at,
                "slot_start": at("10:00"),
                "slot_end": at("12:00"),
                "service_time_s": TAKEBACK_S,
                "kind": "takeback",
                "order_id": "S1",
            },
        ],  # fmt: skip
        "return_lines.csv": [{"return_id": "T1", "sku": "OLD-SOFA", "qty": 1}],
        "zones.geojson": {
            "type": "FeatureCollection",
            "features": [feature("ZTL", "limited_traffic", box(2.33, 48.85, 2.36, 48.87))],
        },
    }
    return files


def load(tmp_path, files, name="day"):
    return load_scenario(write_scenario(tmp_path / name, files))


def planned(sc, engine="pyvrp"):
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1, engine=engine))
    document = json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))
    return plan, document


def stop_of(document, kind, key):
    """(route, stop index, stop) of the stop of ``kind`` (delivery, pickup) for ``key``."""
    for route in document["routes"]:
        for k, stop in enumerate(route["stops"]):
            if (stop.get("kind", "delivery"), stop["order_id"]) == (kind, key):
                return route, k, stop
    return None


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def unassigned(document, order_id):
    return next(u for u in document["unassigned"] if u["order_id"] == order_id)


# -- the columns -----------------------------------------------------------------------


def test_the_columns_read_crew_install_and_equipment_and_fold_install_into_service(tmp_path):
    sc = load(tmp_path, bulky_files())
    sofa, book = sc.catalogue["SOFA"], sc.catalogue["BOOK"]
    assert (sofa.crew, sofa.install_s, sofa.equipment) == (2, 1800, {"tail_lift"})
    assert (book.crew, book.install_s, book.equipment) == (1, 0, frozenset())
    duo, solo = sc.vehicle_types["DUO"], sc.vehicle_types["SOLO"]
    assert (duo.crew, duo.equipment) == (2, {"tail_lift", "trolley"})
    assert (solo.crew, solo.equipment) == (1, frozenset())
    # The stop lasts the handover plus carrying in and installing (per unit).
    assert sc.orders_by_id["S1"].service_time_s == HANDOVER_S + INSTALL_MIN * 60
    assert sc.orders_by_id["B1"].service_time_s == 60
    assert sc.item_needs(sc.orders_by_id["S1"].lines) == ItemNeeds(None, 2, {"tail_lift"})
    assert sc.item_needs(sc.orders_by_id["B1"].lines) is None
    (takeback,) = sc.returns
    assert takeback.kind is ReturnKind.TAKEBACK and sc.exchange_order(takeback).order_id == "S1"
    assert sc.pickup_needs(takeback) == ItemNeeds(None, 2, frozenset())


def test_install_time_counts_per_unit(tmp_path):
    files = bulky_files()
    files["order_lines.csv"][0]["qty"] = 2
    files["stock.csv"][0]["qty"] = 5
    sc = load(tmp_path, files)
    assert sc.orders_by_id["S1"].service_time_s == HANDOVER_S + 2 * INSTALL_MIN * 60


def test_the_shipped_sample_has_no_bulky_item_and_one_person_vehicles():
    sc = load_scenario(SAMPLE)
    assert all(s.crew == 1 and not s.install_s and not s.equipment for s in sc.catalogue.values())
    assert all(vt.crew == 1 and not vt.equipment for vt in sc.vehicle_types.values())
    assert all(sc.item_needs(o.lines) is None for o in sc.orders)


def test_bad_bulky_cells_are_reported_with_file_line_and_column(tmp_path):
    files = bulky_files()
    files["catalogue.csv"] = [
        {**SOFA, "crew": "0"},
        {**OLD_SOFA, "install_min": "-5"},
        {**BOOK, "equipment": "tail lift"},
    ]
    files["vehicle_types.csv"][0]["crew"] = "two"
    found = {(p.file, p.line, p.column): p.message for p in problems_of(
        write_scenario(tmp_path / "day", files))}  # fmt: skip
    assert set(found) == {
        ("catalogue.csv", 2, "crew"),
        ("catalogue.csv", 3, "install_min"),
        ("catalogue.csv", 4, "equipment"),
        ("vehicle_types.csv", 2, "crew"),
    }
    assert "'tail lift' is not an equipment name" in found["catalogue.csv", 4, "equipment"]


def test_a_takeback_is_picked_up_where_its_order_is_delivered(tmp_path):
    files = bulky_files()
    files["returns.csv"][0]["lat"] = 48.8500
    found = {(p.file, p.column): p.message for p in problems_of(
        write_scenario(tmp_path / "day", files))}  # fmt: skip
    assert "a take-back is picked up where its order is delivered" in found["returns.csv", "lat"]


# -- the engines -----------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_a_two_person_van_delivers_installs_and_takes_the_old_sofa_back(tmp_path, engine):
    sc = load(tmp_path, bulky_files())
    plan, document = planned(sc, engine)
    assert check_plan(sc, document).ok, check_plan(sc, document).violations
    route, k, delivery = stop_of(document, "delivery", "S1")
    assert route["vehicle_id"] == "HUB1/DUO/1"
    served_s = seconds(delivery["departure"]) - seconds(delivery["service_start"])
    assert served_s == HANDOVER_S + INSTALL_MIN * 60
    # The old sofa boards in the same visit: the next stop of the same tour, no leg.
    route2, k2, pickup = stop_of(document, "pickup", "T1")
    assert (route2["vehicle_id"], route2.get("trip"), k2) == (
        route["vehicle_id"], route.get("trip"), k + 1
    )  # fmt: skip
    assert pickup["distance_from_prev_m"] == 0
    assert seconds(pickup["departure"]) - seconds(pickup["service_start"]) == TAKEBACK_S
    assert pickup["load_after_kg"] == pytest.approx(pickup["load_kg"] + 40)
    (row,) = document["returns"]
    assert (row["status"], row["vehicle_id"]) == ("routed", "HUB1/DUO/1")
    assert row["reason"].startswith("a take-back: picked up in the same visit as the delivery")


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_without_the_columns_the_cheaper_one_person_van_takes_the_sofa(tmp_path, engine):
    # The crew and equipment alone keep the sofa off SOLO.
    plain = {**SOFA, "crew": "", "equipment": "", "install_min": ""}
    sc = load(tmp_path, bulky_files(sofa=plain) | {"returns.csv": None,
              "return_lines.csv": None})  # fmt: skip
    _, document = planned(sc, engine)
    assert stop_of(document, "delivery", "S1")[0]["vehicle_id"] == "HUB1/SOLO/1"


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_a_one_person_van_never_gets_the_sofa(tmp_path, engine):
    files = bulky_files(vans=("SOLO",))
    files["returns.csv"][0]["shipped_from_node_id"] = "HUB1"  # a node to take it back to
    sc = load(tmp_path, files)
    plan, document = planned(sc, engine)
    assert check_plan(sc, document).ok, check_plan(sc, document).violations
    assert stop_of(document, "delivery", "S1") is None
    row = unassigned(document, "S1")
    assert row["code"] == UnassignedCode.NO_VEHICLE_FOR_ITEM.value
    assert "SOFA needs a crew of 2" in row["reason"]
    assert "no vehicle of the fleet has a crew of 2 (at most 1)" in row["reason"]
    assert "no vehicle of the fleet has tail_lift" in row["reason"]
    # Nor the old sofa: it takes two people too.
    (ret,) = document["returns"]
    assert ret["status"] == "unassigned" and "a crew of 2" in ret["reason"]
    assert stop_of(document, "delivery", "B1") is not None


# -- bad input -------------------------------------------------------------------------


def test_a_crew_larger_than_any_vehicle_leaves_the_order_unassigned_naming_it(tmp_path):
    # Not refused by the reader: the catalogue lists what is sold, not what is ordered
    # today, so the day is planned and the order lists why (docs/scenario-format.md).
    sc = load(tmp_path, bulky_files(sofa={**SOFA, "crew": 3}))
    _, document = planned(sc)
    assert check_plan(sc, document).ok
    row = unassigned(document, "S1")
    assert row["code"] == UnassignedCode.NO_VEHICLE_FOR_ITEM.value
    assert "SOFA needs a crew of 3" in row["reason"]
    assert "no vehicle of the fleet has a crew of 3 (at most 2)" in row["reason"]


def test_a_bulky_item_in_a_bike_only_zone_is_unassigned_naming_the_zone(tmp_path):
    files = bulky_files(at_door=IN_ZONE)
    sc = load(tmp_path, files)
    _, document = planned(sc)
    assert check_plan(sc, document).ok
    row = unassigned(document, "S1")
    assert row["code"] == UnassignedCode.NO_VEHICLE_FOR_ITEM.value
    assert "SOFA needs a crew of 2" in row["reason"] and "SOFA needs tail_lift" in row["reason"]
    assert "inside Ztl (limited_traffic)" in row["reason"]


# -- the checker -----------------------------------------------------------------------


def test_the_checker_flags_a_sofa_on_a_one_person_van_without_its_installation(tmp_path):
    # A plan made by a planner that ignored the columns (the sofa on the cheaper SOLO,
    # no time to install), checked against the day that has them.
    plain = {**SOFA, "crew": "", "equipment": "", "install_min": ""}
    careless = load(tmp_path, bulky_files(sofa=plain) | {"catalogue.csv": [
        plain, {**OLD_SOFA, "crew": ""}, BOOK]}, name="careless")  # fmt: skip
    _, document = planned(careless)
    assert stop_of(document, "delivery", "S1")[0]["vehicle_id"] == "HUB1/SOLO/1"
    report = check_plan(load(tmp_path, bulky_files()), document)
    codes = {v.code for v in report.violations}
    assert {"crew_short", "equipment_missing", "install_too_short"} <= codes
    # and what the short stop entails: the next stop and the return come too early
    assert codes - {"crew_short", "equipment_missing", "install_too_short"} <= {
        "teleport", "back_after_route_end", "late_stop", "route_figure_mismatch", "kpi_mismatch"
    }  # fmt: skip
    by_code = {}
    for v in report.violations:
        by_code.setdefault(v.code, []).append(v)
    assert {v.order_id for v in by_code["crew_short"]} == {"S1", "T1"}  # delivery and pickup
    assert all(v.vehicle_id == "HUB1/SOLO/1" for v in report.violations if v.vehicle_id)
    assert "S1 on" in by_code["crew_short"][0].message
    assert "SOFA, which takes a crew of 2; SOLO has 1" in " ".join(
        v.message for v in by_code["crew_short"]
    )
    assert "needs tail_lift; SOLO has no equipment" in by_code["equipment_missing"][0].message
    assert "30 min of it carrying in and installing SOFA x1" in (
        by_code["install_too_short"][0].message
    )


def test_the_checker_flags_a_hand_shortened_installation(tmp_path):
    sc = load(tmp_path, bulky_files())
    _, document = planned(sc)
    assert check_plan(sc, document).ok
    edited = copy.deepcopy(document)
    _, _, delivery = stop_of(edited, "delivery", "S1")
    delivery["departure"] = delivery["service_start"]  # handed over, nothing installed
    codes = [v.code for v in check_plan(sc, edited).violations]
    assert "install_too_short" in codes


def test_the_promise_offers_a_sofa_only_where_a_crew_can_carry_and_install_it(tmp_path):
    """The checkout's promise honours the items' crew and equipment (no delivery option
    when only a one-person van is there) and times the stop with the installation."""
    sofa = [OrderLine("SOFA", 1)]
    now_s = 7 * 3600

    def promised(vans):
        sc = load(tmp_path, bulky_files(vans=vans), name="-".join(vans))
        engine = PromiseEngine(sc, LiveRoutes(sc, GreatCircle(), now_s))
        return engine.promise(sofa, *DOOR, now_s=now_s)

    solo = promised(("SOLO",))
    assert not [o for o in solo.options if isinstance(o, SlotOption)]
    duo = promised(("SOLO", "DUO"))
    delivered = [o for o in duo.options if isinstance(o, SlotOption)]
    assert delivered and {o.mode for o in delivered} == {"van"}
    assert duo.service_time_s == door_time_s(45, 900, 1) + INSTALL_MIN * 60
