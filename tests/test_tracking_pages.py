"""The customer's tracking page and the planner's live map, rendered by headless
Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the service running
in uvicorn on a free port: the DOM shows the status, the ETA window and the late stops.
Skipped when Chromium or Playwright is missing, except in CI (``CI`` set), where it fails.
"""

import os
import shutil
from datetime import datetime

import httpx
import pytest

from api.app import create_app
from optimizer.io import load_scenario
from tests.api_support import (
    CHECKOUT_KEY,
    PLANNER_KEY,
    database_url,
    keyed,
    served_by_uvicorn,
    service_settings,
)
from tests.api_support import quick_start as quick_start_settings
from tests.tracking_support import KM_NORTH_DEG, hand_plan, store_done_plan, with_pickup

DRIVER_KEY = "pages-driver-key-3f5a7c9e1b"
CHROMIUM = os.environ.get("LASTMILE_CHROMIUM", "/usr/bin/chromium")
# No sandbox (CI runs as root), no GPU, nothing fetched in the background.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need(condition: bool, why: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI must run the browser tests (see .ci/run)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    _need(shutil.which(CHROMIUM) is not None, f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service in uvicorn on a free port, with the hand-checked plan stored and a
    few events applied: bike 1 delivered A, picked up return R1 and is late for C, bike 2
    has not left."""
    tmp = tmp_path_factory.mktemp("pages")
    with database_url("sqlite", tmp) as url:
        values = quick_start_settings(tmp)
        node = next(iter(load_scenario(values["scenario"]).nodes))
        values["driver_keys"] = [f"{DRIVER_KEY}:{node}/ebike/1"]  # bike 1 of the hand plan
        app = create_app(service_settings(url, tmp, **values))
        with served_by_uvicorn(app) as port:
            base = f"http://127.0.0.1:{port}"
            scenario_dir = app.state.settings.scenario
            doc, facts = hand_plan(scenario_dir)
            plan_id = store_done_plan(app, scenario_dir, with_pickup(doc))
            at = facts["at"]
            mid = {"lat": facts["node"].lat + 2.5 * KM_NORTH_DEG, "lon": facts["node"].lon}
            events = [
                ("departed", "09:00", {}),
                ("delivered", "09:07", {"order_id": "A"}),
                ("picked_up", "09:14", {"order_id": "R1"}),
                ("delayed", "09:25", {"delay_s": 2400, **mid}),
                ("position", "10:35", mid),
            ]
            with httpx.Client(base_url=base, headers=keyed(PLANNER_KEY)) as client:
                for k, (kind, clock, fields) in enumerate(events):
                    body = {
                        "event_id": f"e{k}",
                        "kind": kind,
                        "plan_id": plan_id,
                        "vehicle_id": facts["bike"],
                        "occurred_at": at(clock),
                        **fields,
                    }
                    assert client.post("/v1/events", json=body).status_code == 201
                tracking = client.get("/v1/orders/C/tracking", headers=keyed(CHECKOUT_KEY))
                pickup = client.get("/v1/orders/R1/tracking", headers=keyed(CHECKOUT_KEY))
            yield {"app": app, "base": base, "plan_id": plan_id, "tracking": tracking.json(),
                   "pickup": pickup.json(), **facts}  # fmt: skip


def test_the_tracking_page_shows_the_status_the_eta_window_and_the_history(browser, server):
    page = browser.new_page()
    page.goto(server["base"] + server["tracking"]["tracking_url"])
    page.wait_for_selector("body[data-status]")
    assert page.inner_text("#status") == "Out for delivery"
    # ETA 10:37:30, next stop: 10:27-10:47 (Paris time, the day's time zone).
    assert page.inner_text("#eta") == "10:27–10:47"
    assert page.inner_text("#slot") == "10:00–10:30"
    assert page.inner_text("#mode") == "cargo bike"
    assert page.is_visible("#late")
    assert page.locator("#history li").all_inner_texts() == ["09:00 Left the depot",
                                                             "09:25 Delayed (40 min)"]  # fmt: skip
    page.close()


def test_the_tracking_page_of_a_return_says_picked_up(browser, server):
    page = browser.new_page()
    page.goto(server["base"] + server["pickup"]["tracking_url"])
    page.wait_for_selector("body[data-status]")
    assert page.inner_text("#status") == "Picked up"
    assert page.inner_text("#eta") == "09:14"
    assert page.inner_text("#mode-label") == "Picked up by"
    assert page.is_hidden("#late")
    assert page.locator("#history li").all_inner_texts() == ["09:00 Left the depot",
                                                             "09:14 Picked up"]  # fmt: skip
    page.close()


def test_the_tracking_page_keeps_a_failed_attempt_after_a_replan(browser, server):
    """Order H (bike 2) fails on a plan, which is then re-planned (a second version
    naming it in ``replan.replan_of``); H is delivered on the new version: the page shows
    the failed attempt and the delivery."""
    from api.models import PlanJob
    from api.services.plan_versions import replan_message

    app, at, other = server["app"], server["at"], server["other"]
    scenario_dir = app.state.settings.scenario
    doc, _ = hand_plan(scenario_dir)
    doc["routes"] = [dict(doc["routes"][1], stops=[dict(doc["routes"][1]["stops"][0],
                                                        order_id="H")])]  # fmt: skip
    doc["assignments"] = [{"order_id": "H", "status": "routed", "node_id": server["node"].node_id,
                           "vehicle_id": other}]  # fmt: skip
    first = store_done_plan(app, scenario_dir, doc)

    def send(client, plan_id, k, kind, clock, **fields):
        body = {"event_id": f"h{k}", "kind": kind, "plan_id": plan_id, "vehicle_id": other,
                "occurred_at": at(clock), **fields}  # fmt: skip
        assert client.post("/v1/events", json=body).status_code == 201

    with httpx.Client(base_url=server["base"], headers=keyed(PLANNER_KEY)) as client:
        send(client, first, 0, "departed", "09:00")
        send(client, first, 1, "failed", "09:06", order_id="H", reason="nobody_home")
        second = store_done_plan(app, scenario_dir, dict(doc, replan={"replan_of": first}))
        with app.state.db.transaction() as s:
            moment = datetime.fromisoformat(at("10:00"))
            s.get(PlanJob, second).message = replan_message(first, moment)
        send(client, second, 2, "departed", "10:30")
        send(client, second, 3, "delivered", "10:45", order_id="H")
        tracking = client.get("/v1/orders/H/tracking", headers=keyed(CHECKOUT_KEY)).json()
    page = browser.new_page()
    page.goto(server["base"] + tracking["tracking_url"])
    page.wait_for_selector("body[data-status]")
    assert page.inner_text("#status") == "Delivered"
    assert page.locator("#history li").all_inner_texts() == [
        "09:00 Left the depot",
        "09:06 Attempt failed (nobody was home)",
        "10:30 Left the depot",
        "10:45 Delivered",
    ]
    page.close()


def test_the_tracking_page_with_a_forged_token_says_the_link_is_not_valid(browser, server):
    page = browser.new_page()
    page.goto(server["base"] + "/track/C?token=forged")
    page.wait_for_selector("body[data-status=error]")
    assert page.inner_text("#error") == "This tracking link is not valid."
    assert page.is_hidden("#card")
    page.close()


def test_the_tracking_page_with_an_expired_token_says_it_expired(browser, server):
    from datetime import timedelta
    from types import SimpleNamespace

    from api.clock import ManualClock
    from api.services.tracking import TrackingService

    state = server["app"].state
    long_ago = SimpleNamespace(
        settings=state.settings,
        scenario=state.scenario,
        clock=ManualClock(state.clock.now() - timedelta(days=40)),
    )
    old = TrackingService(state.db, long_ago, state.server_secret).tracking_url("C")
    assert int(old.split("token=")[1].split(".")[0]) < state.clock.now().timestamp()
    page = browser.new_page()
    page.goto(server["base"] + old)
    page.wait_for_selector("body[data-status=error]")
    assert (
        page.inner_text("#error") == "This tracking link has expired; the shop can send a new one."
    )
    assert page.is_hidden("#card")
    page.close()


def test_the_live_map_draws_every_vehicle_its_progress_and_the_late_stop(browser, server):
    page = browser.new_page()
    page.goto(f"{server['base']}/live/{server['plan_id']}#key={PLANNER_KEY}")
    page.wait_for_selector("body[data-state=ready]")
    rows = page.locator("#vehicles tbody tr")
    assert rows.count() == 2
    bike = page.locator(f"#vehicles tr[data-vehicle='{server['bike']}'] td").all_inner_texts()
    assert bike[2:5] == ["en_route", "2/3", "1"]
    assert page.locator("#late-stops li").all_inner_texts() == [
        f"C ({server['bike']}): 10:37 for a slot ending 10:30, 8 min late"
    ]
    assert page.locator("circle.stop.late").count() == 1
    assert page.get_attribute("circle.stop.late", "data-order") == "C"
    assert page.locator("circle.stop.done").count() == 2
    assert page.locator(f"g.vehicle[data-vehicle='{server['bike']}']").count() == 1
    assert page.inner_text("#summary") == (
        "2 vehicles, 2/4 stops done, 1 late, 1/1 returns picked up"
    )
    pickup = page.locator("circle.stop.pickup")
    assert pickup.get_attribute("data-order") == "R1" and "done" in pickup.get_attribute("class")
    assert pickup.locator("title").text_content().startswith("return R1 picked up ")
    page.close()


def test_the_live_map_asks_for_a_key_and_refuses_a_checkout_key(browser, server):
    page = browser.new_page()
    page.goto(f"{server['base']}/live/{server['plan_id']}")
    page.wait_for_selector("#key-form:not([hidden])")
    page.fill("#key", CHECKOUT_KEY)
    page.click("#key-form button")
    page.wait_for_selector("body[data-state=error]")
    assert page.inner_text("#error") == (
        "This key cannot see this plan (a planner key, or a driver key of one of its vehicles)."
    )
    page.close()


def test_the_live_map_with_a_driver_key_shows_its_own_vehicle_only(browser, server):
    page = browser.new_page()
    page.goto(f"{server['base']}/live/{server['plan_id']}#key={DRIVER_KEY}")
    page.wait_for_selector("body[data-state=ready]")
    rows = page.locator("#vehicles tbody tr")
    assert rows.count() == 1 and rows.get_attribute("data-vehicle") == server["bike"]
    assert page.inner_text("#summary") == (
        "1 vehicle, 2/3 stops done, 1 late, 1/1 returns picked up"
    )
    page.close()
