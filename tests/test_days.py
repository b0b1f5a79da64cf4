"""Days that roll: the service serves its clock's day, whatever the scenario's date, never
sells the past, moves to the next day at midnight carrying what was not delivered, and
sells on the current version of the day's plan (plan jobs and re-plans publish to it).

The clock is a :class:`api.clock.ManualClock` far from the shipped sample's date (the
sample is a template), so these tests mean the same on any machine date.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from api.clock import ManualClock, OffsetClock, SystemClock, clock_from_setting
from api.models.checkout import DayOrder, VehicleRoute
from api.services.plan_jobs import scenario_for_plan
from data.generator import generate, write
from optimizer.io import load_scenario
from optimizer.model import on_day
from tests.api_support import (
    CHECKOUT_KEY,
    PLANNER_KEY,
    keyed,
    started_service,
)

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2027, 3, 2)  # months after the template's 2026-11-24
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}


def at(day: date, hour: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PARIS) + timedelta(hours=hour)


def wait(predicate, timeout_s: float = 120, what: str = "the service"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} did not get ready in {timeout_s:.0f} s")


def promise(client, lines=(("SKU-1001", 1),), requested_at=None):
    body = {"lines": [{"sku": s, "qty": q} for s, q in lines], "address": NEAR_BERCY}
    if requested_at is not None:
        body["requested_at"] = requested_at.isoformat()
    return client.post("/v1/promise", json=body, headers=keyed(CHECKOUT_KEY))


def ready_on(client, day: date):
    state = client.app.state
    state.days.wake()
    wait(lambda: state.checkout.day == day and state.checkout.ready, what=f"day {day}")
    r = promise(client)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A small day (thin stock: some orders are out of stock, so some carry over)."""
    folder = tmp_path_factory.mktemp("template") / "day"
    write(generate(40, seed=5, stock_scale=0.15), folder)
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, template, tmp_path):
    clock = ManualClock(at(DAY, 7))
    with started_service(
        request.param, tmp_path, clock=clock, scenario=template, plan_time_limit_s=2.0
    ) as client:
        client.clock = clock
        yield client


def test_the_clock_setting_names_one_clock():
    assert isinstance(clock_from_setting("system"), SystemClock)
    assert isinstance(clock_from_setting("2027-03-02T07:00:00+01:00"), OffsetClock)
    frozen = clock_from_setting("2027-03-02T07:00:00+01:00 frozen")
    assert frozen.now() == at(DAY, 7)
    for bad in ("tomorrow", "2027-03-02T07:00:00", "2027-03-02T07:00:00+01:00 slowly"):
        with pytest.raises(ValueError):
            clock_from_setting(bad)
    frozen.set(at(DAY, 6))  # time never runs backwards
    assert frozen.now() == at(DAY, 7)


def test_a_template_dated_another_day_is_that_day_with_its_own_order_ids(template):
    sc = load_scenario(template)
    later = on_day(sc, DAY)
    assert later.settings.date == DAY and sc.settings.date != DAY
    assert [o.order_id for o in later.orders] == [f"{o.order_id}-20270302" for o in sc.orders]
    for r, r0 in zip(later.returns, sc.returns, strict=True):
        assert r.return_id == f"{r0.return_id}-20270302"
        assert r.order_id is None or r.order_id == f"{r0.order_id}-20270302"
    assert on_day(sc, sc.settings.date) is sc


def test_the_service_serves_its_clocks_day_and_never_offers_the_past(service):
    body = ready_on(service, DAY)
    assert service.app.state.scenario.settings.date == DAY
    now = service.clock.now()
    assert datetime.fromisoformat(body["quoted_at"]) == now
    assert datetime.fromisoformat(body["options_expire_at"]) == now + timedelta(minutes=15)
    for o in body["options"]:
        assert o["service_date"] >= DAY.isoformat()
        end = o.get("slot_end") or o["ready_by"]
        assert datetime.fromisoformat(end) > now, o
    # Asking as if it were the template's day, or last night, is asking now.
    for past in (at(date(2026, 11, 24), 7), at(DAY, -3)):
        old = promise(service, requested_at=past).json()
        assert datetime.fromisoformat(old["quoted_at"]) == now
        assert all(o["service_date"] >= DAY.isoformat() for o in old["options"])
    # Late in the day, today's slots are gone: only what can still be kept is offered.
    service.clock.set(at(DAY, 19))
    evening = promise(service).json()["options"]
    assert all(
        datetime.fromisoformat(o.get("slot_end") or o["ready_by"]) > at(DAY, 19) for o in evening
    )


def test_an_option_quoted_for_a_later_instant_still_expires(service):
    ready_on(service, DAY)
    later = promise(service, requested_at=at(DAY, 12)).json()
    option = next(o for o in later["options"] if o["service"] != "click_collect")
    assert datetime.fromisoformat(later["options_expire_at"]) == at(DAY, 7) + timedelta(minutes=15)
    service.clock.advance(16 * 60)
    r = service.post(
        "/v1/holds", json={"option_id": option["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    assert r.status_code == 410, r.text


def test_at_midnight_the_service_moves_on_and_carries_what_was_not_delivered(service):
    body = ready_on(service, DAY)
    state = service.app.state
    option = next(o for o in body["options"] if o["service"] == "express")
    hold = service.post(
        "/v1/holds", json={"option_id": option["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    assert hold.status_code == 201, hold.text
    done = service.post(f"/v1/holds/{hold.json()['hold_id']}/confirm", headers=keyed(CHECKOUT_KEY))
    assert done.status_code == 200 and done.json()["service_date"] == DAY.isoformat()
    sold = done.json()["order_id"]
    stale = next(o for o in promise(service).json()["options"] if o["service"] != "click_collect")
    unassigned = {
        u["order_id"]: u["code"]
        for u in json.loads(_day_plan(state))["unassigned"]
        if u["order_id"] in state.checkout.scenario.orders_by_id
    }
    assert unassigned, "the thin-stock day should leave some orders unassigned"

    nxt = DAY + timedelta(days=1)
    service.clock.set(at(nxt, 0) + timedelta(seconds=5))
    first = promise(service)
    assert first.status_code in (200, 503)  # 503 while the next day is planned
    body = ready_on(service, nxt)
    assert state.scenario.settings.date == nxt
    assert all(o["service_date"] >= nxt.isoformat() for o in body["options"])
    # An option of the day before is of no use today.
    r = service.post(
        "/v1/holds", json={"option_id": stale["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    assert r.status_code == 410, r.text
    # What the day did not deliver is an order of the next day, with its reason: the
    # unassigned orders, and the checkout's order no plan job routed after it was sold.
    with state.db.transaction(write=False) as s:
        carried = {
            r.order_id: r
            for r in s.scalars(select(DayOrder).where(DayOrder.carried_from == DAY.isoformat()))
        }
    assert set(unassigned) | {sold} <= set(carried)
    for order_id, code in unassigned.items():
        assert carried[order_id].service_date == nxt.isoformat()
        assert code in carried[order_id].carried_reason
    assert "confirmed after the day's last plan" in carried[sold].carried_reason
    next_day = state.checkout.day_scenario()
    assert set(carried) <= set(next_day.orders_by_id)
    assert any(o.order_id.endswith("-20270303") for o in next_day.orders)  # the template's


def test_plans_and_replans_publish_their_routes_to_the_checkout(service):
    ready_on(service, DAY)
    state = service.app.state
    planner = keyed(PLANNER_KEY)
    job = service.post("/v1/plans", json={"time_limit_s": 2}, headers=planner).json()
    plan = wait(lambda: _done(service, job["id"]), what="the plan job")
    assert plan["scenario"]["date"] == DAY.isoformat()
    expected = {v: [] for v in _checkout_routes(state)}
    for r in plan["routes"]:  # a vehicle's trips one after the other
        expected[r["vehicle_id"]] += [s.get("parcel_id") or s["order_id"] for s in r["stops"]]
    # Published as the job is marked done (right after: poll).
    wait(lambda: _checkout_routes(state) == expected, 10, "the plan's routes in the checkout")
    # A van breaks down: the re-plan's routes are what the checkout sells on, and the
    # broken vehicle sells nothing more.
    vid = max(plan["routes"], key=lambda r: len(r["stops"]))["vehicle_id"]
    service.clock.set(at(DAY, 8))
    out = service.post(
        f"/v1/plans/{job['id']}/replan",
        json={"broken_down": [vid], "time_limit_s": 1},
        headers=planner,
    )
    assert out.status_code == 201, out.text
    with state.db.transaction(write=False) as s:
        row = s.get(VehicleRoute, vid)
        assert row.available is False
    assert vid not in state.checkout._refresh().live.vehicles
    new_plan = service.get(f"/v1/plans/{out.json()['plan_id']}", headers=planner).json()["plan"]
    assert not any(r["vehicle_id"] == vid for r in new_plan["routes"])


def test_the_stock_counted_by_put_is_the_stock_plans_read(service):
    ready_on(service, DAY)
    state = service.app.state
    sc = state.scenario
    (node_id, sku), qty = max(sorted(sc.stock.items()), key=lambda kv: kv[1])
    r = service.put(
        "/v1/stock",
        json={"rows": [{"node_id": node_id, "sku": sku, "qty": qty + 7}]},
        headers=keyed(PLANNER_KEY),
    )
    assert r.status_code == 200, r.text
    planned = scenario_for_plan(state, state.settings.scenario)
    assert planned.stock[node_id, sku] == qty + 7
    assert planned.settings.date == DAY


def _day_plan(state) -> str:
    from api.models.checkout import DayState

    with state.db.transaction(write=False) as s:
        return s.get(DayState, 1).plan_json


def _done(client, job_id):
    body = client.get(f"/v1/plans/{job_id}", headers=keyed(PLANNER_KEY)).json()
    assert body["status"] in ("queued", "running", "publishing", "done"), body
    return body["plan"] if body["status"] == "done" else None


def _checkout_routes(state) -> dict[str, list[str]]:
    with state.db.transaction(write=False) as s:
        return {
            r.vehicle_id: [x["key"] for x in json.loads(r.stops_json)]
            for r in s.scalars(select(VehicleRoute))
        }


def test_simulated_days_roll_with_checkouts_confirmed_and_every_version_checked(template):
    from cli.simulation import SimParams, simulate

    figures = simulate(
        template,
        SimParams(
            seed=3,
            days=2,
            start=DAY,
            plan_time_limit_s=2,
            replan_time_limit_s=0.5,
            replan_at_h=(12.0,),
            new_orders=6,
            breakdown=False,
        ),
    )
    days = figures["days"]
    assert [d["date"] for d in days] == ["2027-03-02", "2027-03-03"]
    for d in days:
        assert d["checkouts_confirmed"] > 0, d["checkouts_refused"]
        assert d["past_dates_offered"] == 0
        assert d["checker_ok"] and d["replans_checker_ok"], d["violations"]
        assert d["orders_open"] == 0
    # The thin-stock day leaves orders unassigned: the next day plans them again.
    assert days[1]["orders_carried_in"] > 0
    assert figures["checker_ok"] and figures["checkouts_confirmed"] == sum(
        d["checkouts_confirmed"] for d in days
    )


def test_a_hold_left_open_at_midnight_gives_its_later_days_place_back(service):
    from api.models.checkout import SlotCapacity

    body = ready_on(service, DAY)
    state = service.app.state
    nxt, later = DAY + timedelta(days=1), DAY + timedelta(days=2)  # later: still ahead
    eco = next(
        o for o in body["options"] if o["service"] == "eco" and o["service_date"] == str(later)
    )
    start_s = datetime.fromisoformat(eco["slot_start"]).astimezone(PARIS)
    start_s = start_s.hour * 3600 + start_s.minute * 60

    def taken() -> int:
        with state.db.transaction(write=False) as s:
            row = s.get(SlotCapacity, (str(later), eco["node_id"], start_s))
            return row.taken

    r = service.post("/v1/holds", json={"option_id": eco["option_id"]}, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 201, r.text
    assert taken() == 1
    service.clock.set(at(nxt, 0) + timedelta(seconds=1))
    ready_on(service, nxt)
    assert taken() == 0


def test_an_order_failed_one_day_is_carried_with_its_history(service):
    ready_on(service, DAY)
    planner = keyed(PLANNER_KEY)
    job = service.post("/v1/plans", json={"time_limit_s": 2}, headers=planner).json()
    plan = wait(lambda: _done(service, job["id"]), what="the plan job")
    route = next(
        r for r in plan["routes"]
        if r["stops"] and r["stops"][0].get("kind", "delivery") == "delivery"
        and r["stops"][0]["parcel_id"] == r["stops"][0]["order_id"]
    )  # fmt: skip
    stop = route["stops"][0]
    order_id, vid = stop["order_id"], route["vehicle_id"]
    for event_id, kind, when, extra in (
        ("d1", "departed", route["start"], {}),
        ("f1", "failed", stop["departure"], {"order_id": order_id, "reason": "nobody_home"}),
    ):
        body = {"event_id": event_id, "kind": kind, "plan_id": job["id"], "vehicle_id": vid,
                "occurred_at": when, **extra}  # fmt: skip
        r = service.post("/v1/events", json=body, headers=planner)
        assert r.status_code == 201, r.text
    nxt = DAY + timedelta(days=1)
    service.clock.set(at(nxt, 6))
    ready_on(service, nxt)
    state = service.app.state
    with state.db.transaction(write=False) as s:
        row = s.get(DayOrder, order_id)
    assert row.carried_from == DAY.isoformat() and "failed" in row.carried_reason
    job2 = service.post("/v1/plans", json={"time_limit_s": 2}, headers=planner).json()
    plan2 = wait(lambda: _done(service, job2["id"]), what="the next day's plan job")
    assert plan2["scenario"]["date"] == nxt.isoformat()
    assert order_id in {a["order_id"] for a in plan2["assignments"]}
    tracking = service.get(f"/v1/orders/{order_id}/tracking", headers=keyed(CHECKOUT_KEY))
    assert tracking.status_code == 200, tracking.text
    body = tracking.json()
    assert body["plan_id"] == job2["id"]
    assert [h["kind"] for h in body["history"]][:2] == ["departed", "failed"], body["history"]


def test_a_promise_asked_for_later_offers_nothing_before_that_instant(service):
    ready_on(service, DAY)
    asked = at(DAY + timedelta(days=1), 13)
    body = promise(service, requested_at=asked).json()
    assert body["options"], body
    for o in body["options"]:
        end = datetime.fromisoformat(o.get("slot_end") or o["ready_by"])
        assert end > asked, o
    too_far = promise(service, requested_at=at(DAY + timedelta(days=30), 9))
    assert too_far.status_code == 422
    assert too_far.json()["detail"][0]["loc"] == ["body", "requested_at"]
