"""End to end: plan the shipped Paris day within a short time limit; the checker passes."""

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import Mode, Service, UnassignedCode
from optimizer.planning import PlanParams, plan_day

PARIS = Path(__file__).resolve().parent.parent / "data" / "paris"


@pytest.fixture(scope="module")
def paris():
    return load_scenario(PARIS)


@pytest.fixture(scope="module")
def planned(paris):
    plan = plan_day(paris, PlanParams(time_limit_s=20, workers=2))
    document = json.loads(to_json(plan_to_dict(paris, plan, plan_kpis(paris, plan))))
    return plan, document


def codes(report):
    return {v.code for v in report.violations}


def test_paris_plan_passes_the_checker(paris, planned):
    _, document = planned
    report = check_plan(paris, document)
    assert report.ok, [v.message for v in report.violations[:10]]


def test_every_order_is_routed_collected_or_unassigned_with_a_reason(paris, planned):
    plan, _ = planned
    parcels = [
        (s.order_id, s.parcel_id or s.order_id)
        for r in plan.routes
        for s in r.stops
        if not s.is_pickup
    ]
    assert len(set(parcels)) == len(parcels)  # each parcel once (a split order has several)
    seen = sorted({order_id for order_id, _ in parcels})
    seen += [c.order_id for c in plan.collections] + [u.order_id for u in plan.unassigned]
    assert sorted(seen) == sorted(o.order_id for o in paris.orders)
    assert all(u.reason for u in plan.unassigned)
    # And every return of the sample: picked up once, or listed with a reason.
    picked = [s.return_id for r in plan.routes for s in r.stops if s.is_pickup]
    assert len(set(picked)) == len(picked)
    rows = {a.return_id: a for a in plan.returns}
    assert sorted(rows) == sorted(r.return_id for r in paris.returns) and paris.returns
    assert all((a.status == "routed") == (a.return_id in picked) for a in rows.values())
    assert all(a.reason for a in rows.values() if a.status == "unassigned")


def test_paris_serves_at_least_98_pct_of_deliverable_orders_on_time(paris, planned):
    plan, _ = planned
    kpis = plan_kpis(paris, plan)
    assert kpis["served_deliverable_pct"] >= 98.0, kpis
    assert kpis["on_time_pct"] == 100.0


def test_kpis_reported_equal_the_checkers_recomputation(paris, planned):
    _, document = planned
    report = check_plan(paris, document)
    for key in ("orders_routed", "orders_collected", "orders_unassigned", "vehicles_used"):
        assert report.kpis[key] == document["kpis"][key]
    assert report.kpis["cost_eur"] == pytest.approx(document["kpis"]["cost_eur"], abs=0.05)


def test_green_orders_ride_bikes_and_no_van_stops_in_the_limited_traffic_zone(paris, planned):
    plan, _ = planned
    centre = [z for z in paris.zones if z.rule == "limited_traffic"]
    for route in plan.routes:
        for stop in route.stops:
            order = paris.stops_by_id[stop.order_id]  # a pickup: its return
            if order.service is Service.GREEN:
                assert Mode(route.mode).is_bike
            if route.mode == Mode.VAN:
                assert not any(z.contains(stop.lat, stop.lon) for z in centre)


def test_sample_has_orders_that_cannot_ship_from_anywhere_and_says_why(planned):
    plan, _ = planned
    assert any(u.code is UnassignedCode.OUT_OF_STOCK for u in plan.unassigned)


# Planted violations on the real plan: the checker must catch each one.


def _first_route(document, mode):
    return next(r for r in document["routes"] if r["mode"] == mode and r["stops"])


def _with_order(sc, order_id, **changes):
    orders = [replace(o, **changes) if o.order_id == order_id else o for o in sc.orders]
    return replace(sc, orders=orders)


def test_checker_catches_a_late_stop(paris, planned):
    document = planned[1]
    stop = _first_route(document, "van")["stops"][-1]
    order = paris.orders_by_id[stop["order_id"]]
    # The same plan against a slot that closed an hour earlier.
    earlier = _with_order(
        paris,
        order.order_id,
        slot_start_s=order.slot_start_s - 7200,
        slot_end_s=order.slot_start_s - 3600,
    )
    assert any("late" in c for c in codes(check_plan(earlier, document)))


def test_checker_catches_an_overloaded_van(paris, planned):
    document = planned[1]
    vt_id = _first_route(document, "van")["vehicle_type_id"]
    types = dict(paris.vehicle_types)
    types[vt_id] = replace(types[vt_id], capacity_kg=0.1)
    assert "overloaded" in codes(check_plan(replace(paris, vehicle_types=types), document))


def test_checker_catches_a_missing_order(paris, planned):
    document = copy.deepcopy(planned[1])
    # A whole order's stop: a split order's parcel missing is a parcel_lines_mismatch.
    route, whole = next(
        (r, s)
        for r in document["routes"]
        if r["mode"] == "cargo_bike"
        for s in r["stops"]
        if s["parcel_id"] == s["order_id"]
    )
    route["stops"].remove(whole)
    assert any("missing" in c for c in codes(check_plan(paris, document)))


def test_checker_catches_a_missing_parcel(paris, planned):
    document = copy.deepcopy(planned[1])
    stops = [s for r in document["routes"] for s in r["stops"]]
    parcel = next((s for s in stops if s["parcel_id"] != s["order_id"]), None)
    if parcel is None:
        pytest.skip("no split order in this plan")
    route = next(r for r in document["routes"] if parcel in r["stops"])
    route["stops"].remove(parcel)
    assert "parcel_lines_mismatch" in codes(check_plan(paris, document))


def test_checker_catches_a_van_in_the_limited_traffic_zone(paris, planned):
    document = copy.deepcopy(planned[1])
    centre = next(z for z in paris.zones if z.rule == "limited_traffic")
    point = centre.geometry.representative_point()
    stop = _first_route(document, "van")["stops"][0]
    stop["lat"], stop["lon"] = point.y, point.x
    moved = _with_order(paris, stop["order_id"], lat=point.y, lon=point.x)
    assert any("zone" in c for c in codes(check_plan(moved, document)))
