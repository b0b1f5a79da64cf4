"""The checkout over HTTP, on SQLite and PostgreSQL: promise, holds, roles, 4xx paths."""

import time
from datetime import datetime, timedelta

import pytest

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed, service_fixture

client = service_fixture()
AT = "2026-11-24T07:00:00+01:00"  # the morning of the shipped day
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}


def promise(client, lines=(("SKU-1001", 1),), address=None, key=CHECKOUT_KEY, at=AT):
    body = {"lines": [{"sku": s, "qty": q} for s, q in lines], "address": address or NEAR_BERCY}
    if at:
        body["requested_at"] = at
    return client.post("/v1/promise", json=body, headers=keyed(key))


@pytest.fixture(scope="module")
def ready(client):
    """Wait for the day's plan the service makes at first start."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = promise(client)
        if r.status_code == 200:
            return client
        assert r.status_code == 503, r.text
        time.sleep(0.5)
    pytest.fail("the checkout did not get ready in 120 s")


def loc_of(response):
    return [tuple(d["loc"]) for d in response.json()["detail"]]


def test_promise_offers_slots_and_collection_with_prices_etas_and_co2(ready):
    body = promise(ready).json()
    services = {o["service"] for o in body["options"]}
    assert {"express", "eco", "green"} <= services
    for o in body["options"]:
        assert o["option_id"] and o["price_eur"] >= 0
        if o["service"] != "click_collect":
            assert o["slot_start"] <= o["eta_start"] <= o["eta_end"] <= o["slot_end"]
            assert o["co2_g"] >= 0 and o["mode"] in {"van", "cargo_bike", "cargo_trike"}
            datetime.fromisoformat(o["slot_start"]).utcoffset()  # ISO 8601 with offset
    assert body["lines"] == [
        {"sku": "SKU-1001", "qty": 1, "variant": None, "in_stock": True,
         "earliest_promise": None, "lead_time_days": None}
    ]  # fmt: skip


def test_promise_resolves_postcodes_and_arrondissements(ready):
    by_postcode = promise(ready, address={"postcode": "75012"})
    by_number = promise(ready, address={"arrondissement": 12})
    assert by_postcode.status_code == by_number.status_code == 200
    assert by_postcode.json()["address"] == by_number.json()["address"]
    assert by_postcode.json()["address"]["postcode"] == "75012"


@pytest.mark.parametrize(
    "lines, address, where",
    [
        ([("NOPE", 1)], None, ("body", "lines", 0, "sku")),
        ([("SKU-1001", 0)], None, ("body", "lines", 0, "qty")),
        ([("SKU-1001", -2)], None, ("body", "lines", 0, "qty")),
        ([], None, ("body", "lines")),
        ([("SKU-1001", 1)], {"lat": 45.76, "lon": 4.83}, ("body", "address")),  # Lyon
        ([("SKU-1001", 1)], {"postcode": "13001"}, ("body", "address", "postcode")),
        ([("SKU-1001", 1)], {"arrondissement": 21}, ("body", "address", "arrondissement")),
        ([("SKU-1001", 1)], {"lat": 48.85}, ("body", "address")),
        ([("SKU-1001", 1)], {"lat": 95.0, "lon": 2.3}, ("body", "address", "lat")),
    ],
)
def test_bad_requests_get_422_with_the_field_path(ready, lines, address, where):
    r = promise(ready, lines=lines, address=address)
    assert r.status_code == 422, r.text
    assert any(loc[: len(where)] == where for loc in loc_of(r)), loc_of(r)


def test_out_of_stock_everywhere_says_when_it_can_be_promised(ready):
    body = promise(ready, lines=[("SKU-2015", 1)]).json()
    assert body["options"] == []
    (line,) = body["lines"]
    assert line["in_stock"] is False
    assert line["earliest_promise"].startswith("2026-11-25T07:00")  # arrives 06:00 + 1 h pick


def test_hold_confirm_release_and_idempotency(ready):
    options = promise(ready).json()["options"]
    slot = next(o for o in options if o["service"] == "express")
    headers = keyed(CHECKOUT_KEY) | {"Idempotency-Key": "cart-42-hold"}
    first = ready.post("/v1/holds", json={"option_id": slot["option_id"]}, headers=headers)
    again = ready.post("/v1/holds", json={"option_id": slot["option_id"]}, headers=headers)
    assert first.status_code == 201 and again.json() == first.json()
    hold_id = first.json()["hold_id"]
    expires = datetime.fromisoformat(first.json()["expires_at"])
    assert abs(expires - ready.app.state.clock.now() - timedelta(minutes=10)) < timedelta(minutes=1)
    confirm_headers = keyed(CHECKOUT_KEY) | {"Idempotency-Key": "cart-42-confirm"}
    done = ready.post(f"/v1/holds/{hold_id}/confirm", headers=confirm_headers)
    assert done.status_code == 200 and done.json()["order_id"].startswith("W")
    assert ready.post(f"/v1/holds/{hold_id}/confirm", headers=confirm_headers).json() == done.json()
    assert ready.delete(f"/v1/holds/{hold_id}", headers=keyed(CHECKOUT_KEY)).status_code == 409

    # A fresh promise: the express order may have taken the last unit a node had.
    other = next(o for o in promise(ready).json()["options"] if o["service"] == "eco")
    held = ready.post(
        "/v1/holds", json={"option_id": other["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    assert held.status_code == 201, (other, held.text)
    gone = ready.delete(f"/v1/holds/{held.json()['hold_id']}", headers=keyed(CHECKOUT_KEY))
    assert gone.status_code == 204
    status = ready.get(f"/v1/holds/{held.json()['hold_id']}", headers=keyed(CHECKOUT_KEY))
    assert status.json()["status"] == "released"


def test_a_tampered_or_unknown_option_or_hold_is_a_4xx_with_its_path(ready):
    r = ready.post("/v1/holds", json={"option_id": "abc.def"}, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 422 and loc_of(r) == [("body", "option_id")]
    r = ready.post("/v1/holds/nope/confirm", headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 404 and loc_of(r) == [("path", "hold_id")]


def test_roles_guard_the_checkout_and_the_stock(ready):
    assert promise(ready, key=PLANNER_KEY).status_code == 403
    assert promise(ready, key="not-a-key").status_code == 401
    assert ready.post("/v1/promise", json={}).status_code == 401
    rows = {"rows": [{"node_id": "HUB-BERCY", "sku": "SKU-1001", "qty": 50}]}
    assert ready.put("/v1/stock", json=rows, headers=keyed(CHECKOUT_KEY)).status_code == 403
    assert ready.put("/v1/stock", json=rows, headers=keyed(PLANNER_KEY)).status_code == 200
    bad = {"rows": [{"node_id": "NOWHERE", "sku": "SKU-1001", "qty": 1}]}
    r = ready.put("/v1/stock", json=bad, headers=keyed(PLANNER_KEY))
    assert r.status_code == 422 and loc_of(r) == [("body", "rows", 0, "node_id")]


def test_a_replayed_day_of_checkouts_keeps_its_promises_in_the_next_plan(ready):
    """Baskets through the API in time order, each confirmed; the day's plan then
    delivers at least 98 % of them in their promised slot, and the checker passes."""
    from api.settings import SHIPPED_SCENARIO
    from cli.checkout_stream import replay_day
    from optimizer.io import load_scenario

    result = replay_day(
        ready, load_scenario(SHIPPED_SCENARIO), keyed(CHECKOUT_KEY), keyed(PLANNER_KEY),
        n=25, seed=5, plan_time_limit_s=8,
    )  # fmt: skip
    assert result.plan_status == "done" and result.checker_ok
    assert result.confirmed >= 20
    assert result.promise_kept_pct >= 98.0, result.broken


def test_the_planner_reloads_the_scenario_while_the_service_runs(ready):
    assert ready.post("/v1/scenario/reload", headers=keyed(CHECKOUT_KEY)).status_code == 403
    r = ready.post("/v1/scenario/reload", headers=keyed(PLANNER_KEY))
    assert r.status_code == 200, r.text
    assert r.json()["vehicles_added"] == 0 and r.json()["vehicles_removed"] == 0
    assert promise(ready).status_code == 200


def later_day(tmp_path, day: str):
    """The shipped network on ``day`` with no orders of its own (a later day's export)."""
    import shutil

    from api.settings import SHIPPED_SCENARIO

    folder = tmp_path / day
    shutil.copytree(SHIPPED_SCENARIO, folder)
    for path in folder.iterdir():  # the same shifts, opening hours and inbound, on ``day``
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("2026-11-24", day), encoding="utf-8")
    for name in ("orders.csv", "order_lines.csv"):
        header = (folder / name).read_text(encoding="utf-8").splitlines()[0]
        (folder / name).write_text(header + "\n", encoding="utf-8")
    for name in ("returns.csv", "return_lines.csv"):  # nor returns (an exchange names an order)
        (folder / name).unlink(missing_ok=True)
    return folder


def test_eco_of_tomorrow_goes_into_tomorrows_plan_not_todays(ready, tmp_path):
    from datetime import date

    from api.services.plan_jobs import scenario_for_plan

    body = promise(ready).json()
    later = [o for o in body["options"] if o["service_date"] == "2026-11-25"]
    assert later and {o["service"] for o in later} == {"eco"}
    option = later[0]
    start = datetime.fromisoformat(option["slot_start"])
    assert start.date() == date(2026, 11, 25) and start.utcoffset() == timedelta(hours=1)
    hold = ready.post("/v1/holds", json={"option_id": option["option_id"]},
                      headers=keyed(CHECKOUT_KEY))  # fmt: skip
    assert hold.status_code == 201, hold.text
    done = ready.post(f"/v1/holds/{hold.json()['hold_id']}/confirm", headers=keyed(CHECKOUT_KEY))
    assert done.status_code == 200 and done.json()["service_date"] == "2026-11-25"
    order_id = done.json()["order_id"]
    state = ready.app.state
    assert order_id not in scenario_for_plan(state, state.settings.scenario).orders_by_id
    tomorrow = later_day(tmp_path, "2026-11-25")
    order = scenario_for_plan(state, tomorrow).orders_by_id[order_id]
    assert order.slot_start_s == start.hour * 3600 and order.ship_from_node_id == option["node_id"]
    job = ready.post("/v1/plans", json={"scenario": str(tomorrow), "time_limit_s": 2},
                     headers=keyed(PLANNER_KEY))  # fmt: skip
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        result = ready.get(f"/v1/plans/{job.json()['id']}", headers=keyed(PLANNER_KEY)).json()
        if result["status"] not in ("queued", "running", "publishing"):
            break
        time.sleep(0.3)
    assert result["status"] == "done" and result["checker_ok"], result.get("error")
    # tomorrow's plan is the orders confirmed for tomorrow (this one, and the replay's)
    stops = {s["order_id"]: s for r in result["plan"]["routes"] for s in r["stops"]}
    planned = {a["order_id"] for a in result["plan"]["assignments"]}
    assert planned == set(scenario_for_plan(state, tomorrow).orders_by_id)
    stop = stops[order_id]
    assert option["slot_start"] <= stop["service_start"] <= option["slot_end"]
