"""Item-vehicle compatibility: ``catalogue.csv``'s ``modes`` (a sofa by van only) is
honoured by sourcing, both engines, the promise and the checker."""

import dataclasses
import json
from pathlib import Path

import pytest

from optimizer.check import check_plan
from optimizer.insertion import LiveRoutes
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import FleetEntry, Mode, OrderLine, Service, UnassignedCode
from optimizer.planning import PlanParams, plan_day
from optimizer.promise import PromiseEngine
from optimizer.sourcing import GreedySourcing, SourcingParams
from optimizer.travel import GreatCircle
from tests.factory import H, order, scenario
from tests.test_scenario_loading import minimal_files, problems_of, write_scenario

NEAR_HUB = (48.852, 2.372)
NEAR_STORE = (48.868, 2.328)
IN_CENTRE = (48.860, 2.350)  # inside the bike-only limited-traffic zone
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "paris"


def van_only(sc, modes=frozenset({Mode.VAN})):
    """``sc`` with a flat-packed sofa (20 kg, 100 L: a cargo bike's size) that only vans
    may carry, so the mode is the one thing keeping it off a bike."""
    sofa = dataclasses.replace(sc.catalogue["SOFA"], weight_kg=20, volume_l=100, modes=modes)
    return dataclasses.replace(sc, catalogue={**sc.catalogue, "SOFA": sofa})


def hub_day(modes=frozenset({Mode.VAN})):
    """A sofa near the hub, which has a van and a (cheaper) bike."""
    fleet = [
        FleetEntry("HUB", "van", 1, 7 * H, 15 * H),
        FleetEntry("HUB", "bike", 1, 8 * H, 16 * H),
    ]
    sc = scenario([order("S", *NEAR_HUB, [("SOFA", 1)])], fleet=fleet, zones=False)
    return van_only(sc, modes)


def planned(sc, engine="pyvrp"):
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1, engine=engine))
    document = json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))
    return plan, document


def vehicle_of(plan, order_id):
    return next(r.vehicle_id for r in plan.routes for s in r.stops if s.order_id == order_id)


# -- the column ------------------------------------------------------------------------


def test_the_modes_column_reads_one_mode_several_or_none(tmp_path):
    files = minimal_files()
    for row, modes in zip(files["catalogue.csv"], ("van", "van, cargo_bike", ""), strict=True):
        row["modes"] = modes
    catalogue = load_scenario(write_scenario(tmp_path / "day", files)).catalogue
    assert catalogue["SKU-A"].modes == {Mode.VAN}
    assert catalogue["SKU-B"].modes == {Mode.VAN, Mode.CARGO_BIKE}
    assert catalogue["SKU-C"].modes is None


def test_an_unknown_mode_is_reported_with_file_line_and_column(tmp_path):
    files = minimal_files()
    for row in files["catalogue.csv"]:
        row["modes"] = ""
    files["catalogue.csv"][1]["modes"] = "van,truck"
    (problem,) = problems_of(write_scenario(tmp_path / "day", files))
    assert (problem.file, problem.line, problem.column) == ("catalogue.csv", 3, "modes")
    assert "unknown mode 'truck'" in problem.message and "cargo_bike" in problem.message


def test_the_shipped_sample_has_no_column_so_no_item_restricts_a_vehicle():
    sc = load_scenario(SAMPLE)
    assert all(sku.modes is None for sku in sc.catalogue.values())
    assert all(sc.item_modes(o.lines) is None for o in sc.orders)


# -- the engines -----------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_a_van_only_sofa_never_lands_on_a_bike(engine):
    # Without the rule the cheaper bike takes it: the mode alone decides.
    plan, _ = planned(hub_day(modes=None), engine)
    assert vehicle_of(plan, "S") == "HUB/bike/1"
    plan, document = planned(hub_day(), engine)
    assert vehicle_of(plan, "S") == "HUB/van/1"
    assert check_plan(hub_day(), document).ok


def test_a_split_order_binds_each_parcel_by_its_own_lines():
    # The sofa is only at the hub, the books only at the store (bikes only): the sofa's
    # parcel goes by van, the books' parcel by the store's bike.
    sc = van_only(
        scenario(
            [order("A", *NEAR_STORE, [("BOOK", 2), ("SOFA", 1)])],
            stock={("HUB", "SOFA"): 1, ("STORE", "BOOK"): 5},
            zones=False,
        )
    )
    plan, document = planned(sc)
    vehicles = sorted(r.vehicle_id for r in plan.routes for s in r.stops if s.order_id == "A")
    assert vehicles == ["HUB/van/1", "STORE/bike/1"]
    assert check_plan(sc, document).ok


# -- the checker -----------------------------------------------------------------------


def test_the_checker_flags_a_plan_that_puts_the_sofa_on_a_bike():
    # A plan made without the rule (the sofa on the bike), checked against the catalogue
    # that has it.
    _, on_bike = planned(hub_day(modes=None))
    report = check_plan(hub_day(), on_bike)
    assert [v.code for v in report.violations] == ["item_mode"]
    (v,) = report.violations
    assert (v.order_id, v.vehicle_id) == ("S", "HUB/bike/1")
    assert "SOFA goes only by van, not by cargo_bike" in v.message


def test_the_checker_reads_a_parcels_own_lines():
    sc = van_only(
        scenario(
            [order("A", *NEAR_STORE, [("BOOK", 2), ("SOFA", 1)])],
            stock={("HUB", "SOFA"): 1, ("STORE", "BOOK"): 5},
            zones=False,
        )
    )
    _, document = planned(sc)
    # The books' parcel on the store's bike is fine; only a bike carrying the sofa is not.
    assert check_plan(sc, document).ok


# -- the promise -----------------------------------------------------------------------


def test_the_promise_offers_no_bike_only_service_for_a_van_only_item():
    sc = hub_day()
    promise = PromiseEngine(sc, LiveRoutes(sc, GreatCircle(), 6 * H))
    result = promise.promise([OrderLine("SOFA", 1)], *NEAR_HUB, now_s=6 * H)
    delivered = [o for o in result.options if hasattr(o, "vehicle_id")]
    assert delivered and all(o.vehicle_id.startswith("HUB/van/") for o in delivered)
    assert not [o for o in delivered if o.service is Service.GREEN]
    # A book at the same door may go green.
    books = PromiseEngine(sc, LiveRoutes(sc, GreatCircle(), 6 * H))
    result = books.promise([OrderLine("BOOK", 1)], *NEAR_HUB, now_s=6 * H)
    assert [o for o in result.options if getattr(o, "service", None) is Service.GREEN]


# -- sourcing --------------------------------------------------------------------------


def test_a_van_only_item_in_a_bike_only_zone_is_unassigned_naming_the_sku_and_modes():
    sc = van_only(scenario([order("A", *IN_CENTRE, [("BOOK", 1), ("SOFA", 1)])]))
    sourcing = GreedySourcing(sc, GreatCircle(), SourcingParams())
    result = sourcing.assign(["A"])
    assert not result.decisions
    (u,) = result.unassigned
    assert u.code is UnassignedCode.NO_VEHICLE_FOR_ITEM
    assert "SOFA only by van" in u.reason and "Centre" in u.reason
    plan, document = planned(sc)
    assert [(x.order_id, x.code) for x in plan.unassigned] == [
        ("A", UnassignedCode.NO_VEHICLE_FOR_ITEM)
    ]
    assert check_plan(sc, document).ok
