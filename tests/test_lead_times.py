"""Made-to-order lead times and a promise of weeks (issue 18, items 1 and 2): the
scenario files that say them, the promise that counts a service's days from the day the
goods are in, and the checker that refuses a tour leaving before them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from optimizer.check import check_plan
from optimizer.insertion import LiveRoutes
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import OrderLine, Service, ServiceSettings, Sku
from optimizer.planning import PlanParams, plan_day
from optimizer.promise import CollectOption, PromiseEngine, PromiseParams, SlotOption
from optimizer.travel import GreatCircle
from tests.factory import H, order, scenario
from tests.test_scenario_loading import minimal_files, problems_of, write_scenario

DAY_S = 24 * H
NEAR_HUB = (48.852, 2.372)
SOFA = [OrderLine("SOFA", 1)]
# The seed's furniture retailer: express from the day after the goods are in, eco from
# three days after, both until the three-week horizon.
FURNITURE_SERVICES = {
    Service.EXPRESS: ServiceSettings(29.0, 240, min_days=1, max_days=21),
    Service.ECO: ServiceSettings(9.0, 240, min_days=3, max_days=21),
    Service.GREEN: ServiceSettings(4.9, 120),
    Service.CLICK_COLLECT: ServiceSettings(0.0, 0),
}


def furniture_day(lead_days=4, horizon_days=21, lead_times=None, orders=()):
    """The factory's two-node day with a sofa made to order (``lead_days``, 0: stocked)
    and the furniture services over a ``horizon_days`` promise."""
    sc = scenario(list(orders))
    catalogue = dict(sc.catalogue)
    catalogue["SOFA"] = dataclasses.replace(catalogue["SOFA"], lead_time_days=lead_days)
    settings = dataclasses.replace(
        sc.settings, services=FURNITURE_SERVICES, promise_horizon_days=horizon_days
    )
    return dataclasses.replace(
        sc, settings=settings, catalogue=catalogue, lead_times=dict(lead_times or {})
    )


def ask(sc, lines=SOFA, now_s=6 * H):
    engine = PromiseEngine(sc, LiveRoutes(sc, GreatCircle(), now_s))
    return engine.promise(lines, *NEAR_HUB, now_s=now_s)


def days_of(result, service):
    return sorted({o.day for o in result.options if getattr(o, "service", None) is service})


# -- the promise -----------------------------------------------------------------------


def test_a_sofa_made_in_4_days_gets_express_from_day_5_and_eco_later_never_earlier():
    result = ask(furniture_day(lead_days=4))
    express, eco = days_of(result, Service.EXPRESS), days_of(result, Service.ECO)
    assert express[0] == 5 and eco[0] == 7
    assert express[-1] == 21 and eco[-1] == 21  # the horizon, not the default 2 days
    slots = [o for o in result.options if isinstance(o, SlotOption)]
    assert all(o.slot_start_s >= 5 * DAY_S for o in slots)
    assert all(o.slot_start_s >= o.day * DAY_S for o in slots)
    # each at its own price: the service's fee adjusted by the cost to serve, within
    # [0.5, 2] x the fee, less the steering discount on the cheapest slots
    for service in (Service.EXPRESS, Service.ECO):
        fee = FURNITURE_SERVICES[service].price_eur
        prices = [o.price_eur for o in slots if o.service is service]
        assert all(0.5 * fee - 1 <= p <= 2 * fee for p in prices), (service, prices)
    assert min(o.price_eur for o in slots if o.service is Service.EXPRESS) > max(
        o.price_eur for o in slots if o.service is Service.ECO
    )
    # made to order: the hub's two sofas in stock are neither needed nor offered today
    (line,) = result.lines
    assert line.lead_time_days == 4
    assert not result.unavailable


def test_the_same_sofa_in_stock_keeps_todays_promise():
    result = ask(furniture_day(lead_days=0))
    assert days_of(result, Service.EXPRESS)[0] == 1  # min_days 1 from today
    assert days_of(result, Service.ECO)[0] == 3


def test_a_node_lead_time_overrides_the_catalogue_and_collect_waits_for_the_goods():
    sc = furniture_day(lead_days=10, lead_times={("HUB", "SOFA"): 4, ("STORE", "SOFA"): 6})
    result = ask(sc)
    assert days_of(result, Service.EXPRESS)[0] == 5  # the hub's 4 days, not 10
    collect = [o for o in result.options if isinstance(o, CollectOption)]
    # collected at the store once its own goods are in (6 days) and picked
    assert collect and all(o.ready_by_s >= 6 * DAY_S for o in collect)
    assert all(o.allocation == () for o in collect)  # nothing taken from stock


def test_a_lead_time_beyond_the_horizon_is_answered_unavailable_with_its_reason():
    result = ask(furniture_day(lead_days=25, horizon_days=21))
    assert not [o for o in result.options if isinstance(o, SlotOption)]
    assert set(result.unavailable) >= {Service.EXPRESS, Service.ECO}
    why = result.unavailable[Service.EXPRESS]
    assert "SOFA made to order" in why and "day 26" in why and "horizon of 21 days" in why


def test_without_a_promise_block_the_horizon_stays_two_days():
    sc = scenario([])
    assert PromiseParams.for_scenario(sc) == PromiseParams()
    result = ask(sc, lines=[OrderLine("BOOK", 1)])
    assert days_of(result, Service.ECO) == [0, 1, 2]
    assert days_of(result, Service.EXPRESS) == [0]


def test_later_days_share_the_places_of_a_slot_across_services():
    sc = furniture_day(lead_days=4)
    engine = PromiseEngine(sc, LiveRoutes(sc, GreatCircle(), 6 * H))
    for start, _ in engine.future_slots():
        engine.set_places_left(12, "HUB", start, 0)
    result = engine.promise(SOFA, *NEAR_HUB, now_s=6 * H)
    assert 12 not in days_of(result, Service.EXPRESS) + days_of(result, Service.ECO)
    assert 11 in days_of(result, Service.EXPRESS) and 13 in days_of(result, Service.ECO)


# -- the scenario files ------------------------------------------------------------------


def furniture_files():
    files = minimal_files()
    files["scenario.yaml"]["promise"] = {"horizon_days": 21}
    files["scenario.yaml"]["services"]["express"] |= {"min_days": 1, "max_days": 5}
    files["scenario.yaml"]["services"]["eco"] |= {"min_days": 5, "max_days": 15}
    files["catalogue.csv"][0]["lead_time_days"] = 4
    files["lead_times.csv"] = [{"node_id": "HUB1", "sku": "SKU-C", "lead_time_days": 2}]
    files["orders.csv"][0]["ready_at"] = "2026-11-24T09:00:00+01:00"
    return files


def test_lead_times_horizon_and_service_days_load_from_the_folder(tmp_path):
    sc = load_scenario(write_scenario(tmp_path / "day", furniture_files()))
    assert sc.settings.promise_horizon_days == 21
    assert sc.settings.services[Service.EXPRESS].min_days == 1
    assert sc.settings.services[Service.ECO].max_days == 15
    assert sc.settings.services[Service.GREEN].max_days is None
    assert sc.lead_time_days("STORE1", "SKU-A") == 4  # the catalogue's
    assert sc.lead_time_days("HUB1", "SKU-C") == 2 and sc.lead_time_days("STORE1", "SKU-C") is None
    assert sc.lead_time_days("HUB1", "SKU-B") is None
    assert sc.orders_by_id["O1"].ready_s == 9 * H and sc.orders_by_id["O2"].ready_s is None


def test_malformed_lead_times_and_horizons_are_listed_with_file_row_and_field(tmp_path):
    files = furniture_files()
    files["catalogue.csv"][1]["lead_time_days"] = "two"
    files["lead_times.csv"] += [{"node_id": "NOWHERE", "sku": "SKU-A", "lead_time_days": -1}]
    files["scenario.yaml"]["promise"] = {"horizon_days": 500, "weeks": 3}
    files["scenario.yaml"]["services"]["eco"]["max_days"] = 2  # before min_days 5
    files["orders.csv"][1]["ready_at"] = "09:00"
    found = {(p.file, p.line, p.column) for p in problems_of(write_scenario(tmp_path / "d", files))}
    assert ("catalogue.csv", 3, "lead_time_days") in found
    assert ("lead_times.csv", 3, "node_id") in found
    assert ("lead_times.csv", 3, "lead_time_days") in found
    assert {f for file, _, f in found if file == "scenario.yaml"} >= {
        "promise.horizon_days", "promise.weeks", "services.eco.max_days"
    }  # fmt: skip
    assert ("orders.csv", 3, "ready_at") in found


# -- the checker -------------------------------------------------------------------------


def planned(sc):
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1))
    return json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))


def test_the_checker_flags_a_tour_leaving_before_the_goods_are_ready():
    sofa = order("S1", *NEAR_HUB, [("SOFA", 1)], service=Service.ECO, slot=(8, 12))
    sc = scenario([sofa])
    document = planned(sc)  # the engines know nothing of the ready time below
    assert check_plan(sc, document).ok
    late = dataclasses.replace(sofa, ready_s=12 * H)  # the supplier's van comes at noon
    report = check_plan(dataclasses.replace(sc, orders=[late]), document)
    (violation,) = [v for v in report.violations if v.code == "goods_not_ready"]
    assert "S1" in violation.message and "12:00" in violation.message
    early = dataclasses.replace(sofa, ready_s=-DAY_S)  # in since yesterday
    assert check_plan(dataclasses.replace(sc, orders=[early]), document).ok


def test_made_to_order_goods_take_no_stock_in_the_checker():
    sofa = order("S1", *NEAR_HUB, [("SOFA", 1)], service=Service.ECO, slot=(8, 12))
    sc = scenario([sofa])
    document = planned(sc)
    no_stock = {k: q for k, q in sc.stock.items() if k[1] != "SOFA"}
    codes = {
        v.code for v in check_plan(dataclasses.replace(sc, stock=no_stock), document).violations
    }
    assert "stock_exceeded" in codes
    made = dict(sc.catalogue, SOFA=Sku("SOFA", "Sofa", 45, 900, lead_time_days=4))
    report = check_plan(dataclasses.replace(sc, stock=no_stock, catalogue=made), document)
    assert report.ok, [str(v) for v in report.violations]


@pytest.mark.parametrize("lead_days", [1, 4])
def test_a_stop_of_a_made_to_order_basket_is_never_offered_before_its_day(lead_days):
    result = ask(furniture_day(lead_days=lead_days), lines=SOFA + [OrderLine("BOOK", 1)])
    slots = [o for o in result.options if isinstance(o, SlotOption)]
    assert slots and min(o.day for o in slots) == lead_days + 1


def test_a_made_to_order_sofa_with_no_stock_anywhere_is_planned_and_checker_clean():
    sofa = order("S1", *NEAR_HUB, [("SOFA", 1)], service=Service.ECO, slot=(8, 12))
    sc = furniture_day(lead_days=4, orders=[sofa])
    sc = dataclasses.replace(sc, stock={k: q for k, q in sc.stock.items() if k[1] != "SOFA"})
    document = planned(sc)
    routed = [s["order_id"] for r in document["routes"] for s in r["stops"]]
    assert routed == ["S1"]
    report = check_plan(sc, document)
    assert report.ok, [str(v) for v in report.violations]
