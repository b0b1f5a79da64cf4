"""Orders and returns by API from any channel, one customer across channels (issue 17,
items 1 and 2), over HTTP on SQLite and PostgreSQL: a store order and an app order for
the same customer, idempotency by the caller's id, every problem at once with its field
path, a return, the customer's listing, and the next plan of the day having them all."""

from __future__ import annotations

import time

import pytest

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed, service_fixture

client = service_fixture(plan_time_limit_s=5.0)
AT = "2026-11-24T07:00:00+01:00"  # the morning of the shipped day (the service's clock)
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}
CHECKOUT, PLANNER = keyed(CHECKOUT_KEY), keyed(PLANNER_KEY)
LEO = "cust-leo-0042"


def promise(client, lines=(("SKU-1001", 1),)):
    body = {"lines": [{"sku": s, "qty": q} for s, q in lines], "address": NEAR_BERCY}
    return client.post("/v1/promise", json=body, headers=CHECKOUT)


@pytest.fixture(scope="module")
def ready(client):
    """Wait for the day's plan the service makes at first start."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        r = promise(client)
        if r.status_code == 200:
            return client
        assert r.status_code == 503, r.text
        time.sleep(0.5)
    pytest.fail("the checkout did not get ready in 180 s")


def slot_of(client, service: str, day: str = "2026-11-24") -> str:
    """A slot start of ``service`` the promise offers today for SKU-1001 near Bercy."""
    options = promise(client).json()["options"]
    starts = [o["slot_start"] for o in options
              if o["service"] == service and o["service_date"] == day]  # fmt: skip
    assert starts, options
    return starts[-1]


def store_order(client, order_id="STORE-1", **changes) -> dict:
    body = {"order_id": order_id, "channel": "store", "customer_id": LEO,
            "lines": [{"sku": "SKU-1001", "qty": 1}], "address": NEAR_BERCY,
            "service": "express", "slot": slot_of(client, "express")}  # fmt: skip
    return body | changes


def locs(response) -> set[tuple]:
    return {tuple(d["loc"]) for d in response.json()["detail"]}


@pytest.fixture(scope="module")
def orders(ready):
    """A store order (lines, address, slot) and an app order (from the app's own
    promise and hold) for the same customer."""
    body = store_order(ready)
    store = ready.post("/v1/orders", json=body, headers=CHECKOUT)
    assert store.status_code == 201, store.text
    option = next(o for o in promise(ready).json()["options"] if o["service"] == "eco")
    hold = ready.post("/v1/holds", json={"option_id": option["option_id"], "channel": "app",
                      "customer_id": LEO}, headers=CHECKOUT)  # fmt: skip
    assert hold.status_code == 201, hold.text
    app_body = {"order_id": "APP-1", "channel": "app", "customer_id": LEO,
                "from_hold": hold.json()["hold_id"]}  # fmt: skip
    app = ready.post("/v1/orders", json=app_body, headers=CHECKOUT)
    assert app.status_code == 201, app.text
    return {"store": (body, store.json()), "app": (app_body, app.json())}


def test_a_store_order_and_an_app_order_of_one_customer_are_confirmed_and_trackable(ready, orders):
    for name, channel in (("store", "store"), ("app", "app")):
        body, answer = orders[name]
        assert answer["order_id"] == body["order_id"] and answer["status"] == "confirmed"
        assert answer["channel"] == channel and answer["customer_id"] == LEO
        token = answer["tracking_token"]
        tracked = ready.get(f"/v1/orders/{body['order_id']}/tracking?token={token}")
        assert tracked.status_code == 200 and tracked.json()["status"] == "confirmed"
        assert (tracked.json()["channel"], tracked.json()["customer_id"]) == (None, None)
        keyed_view = ready.get(f"/v1/orders/{body['order_id']}/tracking", headers=CHECKOUT)
        assert (keyed_view.json()["channel"], keyed_view.json()["customer_id"]) == (channel, LEO)
        got = ready.get(f"/v1/orders/{body['order_id']}", headers=CHECKOUT).json()
        assert (got["channel"], got["customer_id"], got["status"]) == (channel, LEO, "confirmed")
    store = orders["store"][1]
    assert store["service"] == "express" and store["slot_start"] == orders["store"][0]["slot"]
    feed = ready.get("/v1/events?limit=1000", headers=PLANNER).json()["events"]
    confirmed = {e["data"]["order_id"]: e["data"] for e in feed if e["type"] == "order.confirmed"}
    assert confirmed["STORE-1"]["channel"] == "store"
    assert confirmed["APP-1"]["channel"] == "app" and confirmed["APP-1"]["customer_id"] == LEO


def test_the_same_order_id_gets_the_first_answer_or_a_409_with_another_body(ready, orders):
    body, first = orders["store"]
    again = ready.post("/v1/orders", json=body, headers=CHECKOUT)
    assert again.status_code == 200 and again.json() == first
    other = ready.post("/v1/orders", json=body | {"channel": "web"}, headers=CHECKOUT)
    assert other.status_code == 409 and locs(other) == {("body", "order_id")}
    app_again = ready.post("/v1/orders", json=orders["app"][0], headers=CHECKOUT)
    assert app_again.status_code == 200 and app_again.json() == orders["app"][1]


def test_a_malformed_batch_gets_every_problem_at_once_with_its_field_path(ready):
    good = store_order(ready, "BATCH-OK")
    bad = {"order_id": "BATCH-BAD", "channel": "fax", "customer_id": "leo@example.com",
           "lines": [{"sku": "SKU-1001", "qty": 0}], "address": NEAR_BERCY,
           "service": "express"}  # fmt: skip
    r = ready.post("/v1/orders", json={"orders": [good, bad]}, headers=CHECKOUT)
    assert r.status_code == 422, r.text
    found = locs(r)
    for where in (("channel",), ("customer_id",), ("lines", 0, "qty")):
        assert ("body", "orders", 1, *where) in found, found
    missing = [d["msg"] for d in r.json()["detail"] if d["loc"] == ["body", "orders", 1]]
    assert missing and "missing slot" in missing[0], r.text
    assert ready.get("/v1/orders/BATCH-OK", headers=CHECKOUT).status_code == 404  # none taken


def test_unknown_skus_and_slots_off_the_grid_or_over_are_refused_together(ready):
    lines = [{"sku": "SKU-1001", "qty": 1}, {"sku": "NOPE", "qty": 1}]
    body = store_order(ready, "CHECKED-1", slot="2026-11-23T06:07:00+01:00", lines=lines)
    r = ready.post("/v1/orders", json=body, headers=CHECKOUT)
    assert r.status_code == 422, r.text
    messages = {d["msg"] for d in r.json()["detail"]}
    assert locs(r) == {("body", "lines", 1, "sku"), ("body", "slot")}
    assert any("not a slot start" in m for m in messages)
    assert any("over" in m for m in messages), messages
    short = store_order(ready, "CHECKED-2", lines=[{"sku": "SKU-1001", "qty": 999}])
    r = ready.post("/v1/orders", json=short, headers=CHECKOUT)
    assert r.status_code == 409 and locs(r) == {("body", "lines", 0)}, r.text
    assert "SKU-1001" in r.json()["detail"][0]["msg"]


def test_a_return_by_api_is_booked_idempotently_and_listed_for_the_customer(ready, orders):
    body = {"return_id": "RET-1", "order_id": "STORE-1", "channel": "web",
            "lines": [{"sku": "SKU-1001", "qty": 1}], "slot": slot_of(ready, "eco")}  # fmt: skip
    r = ready.post("/v1/returns", json=body, headers=CHECKOUT)
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == LEO and r.json()["status"] == "booked"
    assert ready.post("/v1/returns", json=body, headers=CHECKOUT).json() == r.json()
    other = ready.post("/v1/returns", json=body | {"channel": "app"}, headers=CHECKOUT)
    assert other.status_code == 409
    bad = body | {
        "return_id": "RET-2",
        "order_id": "NOPE",
        "lines": [{"sku": "NOPE", "qty": 1}],
        "slot": "2026-11-24T06:07:00+01:00",
    }
    r = ready.post("/v1/returns", json=bad, headers=CHECKOUT)
    assert r.status_code == 422
    assert locs(r) == {("body", "order_id"), ("body", "lines", 0, "sku"), ("body", "slot")}
    listing = ready.get(f"/v1/customers/{LEO}/orders", headers=CHECKOUT)
    assert listing.status_code == 200, listing.text
    got = listing.json()
    assert {(o["order_id"], o["channel"]) for o in got["deliveries"]} == {
        ("STORE-1", "store"),
        ("APP-1", "app"),
    }
    assert [x["return_id"] for x in got["returns"]] == ["RET-1"]
    assert ready.get(f"/v1/customers/{LEO}/orders", headers=PLANNER).status_code == 403


def test_a_take_back_is_one_visit_with_its_delivery_and_one_per_order(ready, orders):
    app = orders["app"][1]
    body = {"return_id": "TB-1", "order_id": "APP-1", "channel": "app", "kind": "takeback",
            "lines": [{"sku": "SKU-1001", "qty": 1}], "slot": app["slot_start"]}  # fmt: skip
    r = ready.post("/v1/returns", json=body, headers=CHECKOUT)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["kind"] == "takeback" and got["customer_id"] == LEO
    # The delivery's own slot: the old item leaves in the visit that brings the new one.
    assert (got["slot_start"], got["slot_end"]) == (app["slot_start"], app["slot_end"])
    again = body | {"return_id": "EX-1", "kind": "exchange"}
    r = ready.post("/v1/returns", json=again, headers=CHECKOUT)
    assert r.status_code == 409 and locs(r) == {("body", "order_id")}, r.text
    assert "TB-1" in r.json()["detail"][0]["msg"]
    plain = again | {"return_id": "RET-TB", "kind": "return"}
    assert ready.post("/v1/returns", json=plain, headers=CHECKOUT).status_code == 201


def test_the_next_plan_of_the_day_has_the_orders_and_the_return(ready, orders):
    ready.post("/v1/returns", json={"return_id": "RET-PLAN", "order_id": "STORE-1",
               "channel": "store", "lines": [{"sku": "SKU-1001", "qty": 1}],
               "slot": slot_of(ready, "eco")}, headers=CHECKOUT)  # fmt: skip
    scenario = str(ready.app.state.settings.scenario)
    job = ready.post("/v1/plans", json={"scenario": scenario, "time_limit_s": 2},
                     headers=PLANNER)  # fmt: skip
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        result = ready.get(f"/v1/plans/{job.json()['id']}", headers=PLANNER).json()
        if result["status"] not in ("queued", "running", "publishing"):
            break
        time.sleep(0.5)
    assert result["status"] == "done", result.get("error")
    planned = {a["order_id"] for a in result["plan"]["assignments"]}
    assert {"STORE-1"} <= planned, planned
    returns = {r["return_id"] for r in result["plan"]["returns"]}
    assert "RET-PLAN" in returns
    tracked = ready.get("/v1/orders/STORE-1", headers=CHECKOUT).json()
    assert tracked["status"] in ("planned", "confirmed", "unassigned")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0009_keeps_the_holds_of_0008_and_matches_the_models(backend, tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect, text

    from api.db import Database, alembic_config, migrate
    from api.models import Base
    from tests.api_support import database_url

    new = ("api_orders", "day_returns")
    with database_url(backend, tmp_path) as url:
        database = Database(url)
        migrate(database.engine, "0008")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO holds (id, status, created_at, expires_at, option_json, node_id, "
                "lines_json, response_json) VALUES ('h1', 'held', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, '{}', 'HUB', '[]', '{}')"
            ))  # fmt: skip
        migrate(database.engine, "head")
        assert set(new) <= set(inspect(database.engine).get_table_names())
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, channel, customer_id FROM holds"))
            assert rows.all() == [("h1", None, None)]
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert [d for d in diff if any(n in str(d) for n in (*new, "channel",
                    "customer_id", "ix_holds"))] == []  # fmt: skip
        with database.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0008")
        assert not set(new) & set(inspect(database.engine).get_table_names())
        columns = {c["name"] for c in inspect(database.engine).get_columns("holds")}
        assert "customer_id" not in columns
        migrate(database.engine, "head")
        database.dispose()


def test_twin_requests_with_one_order_id_make_one_order(ready):
    from concurrent.futures import ThreadPoolExecutor

    body = store_order(ready, "TWIN-1")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: ready.post("/v1/orders", json=body,
                                                     headers=CHECKOUT), range(4)))  # fmt: skip
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    with ready.app.state.checkout.db.transaction(write=False) as s:
        from sqlalchemy import func, select

        from api.models.checkout import Hold

        held = s.scalar(select(func.count()).select_from(Hold).where(Hold.status == "held"))
    assert held == 0  # the twins' holds were given back
