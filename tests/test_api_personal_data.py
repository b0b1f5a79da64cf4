"""A customer's personal data (issue 17, items 1 and 6), over HTTP on SQLite and
PostgreSQL: a contact given with an order, a hold or a return is stored in
``customer_contacts`` only (no other table, no log), answered to checkout keys and to the
driver of the stop, never to planner keys, the event feed or the customer's tracking
page; the delivery-status webhooks carry it with the tracking link and ETA window; and
``DELETE /v1/customers/{id}/personal-data`` erases it, coarsens the closed orders'
addresses, unlinks the customer id, keeps the open orders for delivery, and says so."""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import select

from api.models import Base
from api.models.checkout import DayOrder, Hold
from api.models.orders import ApiOrder, DayReturn
from api.models.tracking import TrackedOrder
from api.models.webhooks import OutboxEvent
from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed, service_fixture
from tests.tracking_support import hand_plan, store_done_plan

DRIVER_KEY = "test-driver-key-privacy-4c2e"
NODE = "WH-GARONOR"  # the shipped scenario's first node: the hand plan's bikes start there
client = service_fixture(plan_time_limit_s=5.0, driver_keys=[f"{DRIVER_KEY}:{NODE}/ebike/1"])
CHECKOUT, PLANNER, DRIVER = keyed(CHECKOUT_KEY), keyed(PLANNER_KEY), keyed(DRIVER_KEY)
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}
LEO, ANA = "cust-leo-0042", "cust-ana-0007"
LEO_CONTACT = {"name": "Léo Martin", "phone": "+33 6 12 34 56 78", "email": "leo@example.fr"}
LEO_PHONE = "+33612345678"  # as stored: E.164, separators dropped
LEO_APP_CONTACT = {"phone": "+33698765432"}
ANA_CONTACT = {"name": "Ana Silva", "phone": "+351912345678"}
LEO_DATA = ("Léo Martin", LEO_PHONE, "leo@example.fr", "+33698765432")
STATUS_EVENTS = ("order.confirmed", "order.out_for_delivery", "order.delivered")


def promise(client, lines=(("SKU-1001", 1),)):
    body = {"lines": [{"sku": s, "qty": q} for s, q in lines], "address": NEAR_BERCY}
    return client.post("/v1/promise", json=body, headers=CHECKOUT)


def slot_of(client, service: str) -> str:
    starts = [o["slot_start"] for o in promise(client).json()["options"]
              if o["service"] == service and o["service_date"] == "2026-11-24"]  # fmt: skip
    assert starts
    return starts[-1]


def order(client, order_id, customer_id, contact, service="express") -> dict:
    return {"order_id": order_id, "channel": "web", "customer_id": customer_id,
            "lines": [{"sku": "SKU-1001", "qty": 1}], "address": NEAR_BERCY,
            "service": service, "slot": slot_of(client, service), "contact": contact}  # fmt: skip


def database_text(app, skip=()) -> str:
    """Every row of every table of the service, as text (to look for personal data)."""
    with app.state.db.engine.connect() as connection:
        return "\n".join(
            repr(connection.execute(table.select()).all())
            for table in Base.metadata.sorted_tables
            if table.name not in skip
        )


def outbox(app, order_id: str) -> dict[str, dict]:
    """The outbox's events about ``order_id``, by type (its data)."""
    with app.state.db.transaction(write=False) as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        events = [json.loads(r.payload_json) for r in rows]
    return {e["type"]: e["data"] for e in events if e["data"].get("order_id") == order_id}


@pytest.fixture(scope="module")
def world(client):
    """Léo's store order (delivered on the hand plan's bike 1), his app order (from a
    hold with its contact; out for delivery), his return, his back-in-stock alert; Ana's
    order (bike 2, not out)."""
    deadline = time.monotonic() + 180
    while promise(client).status_code != 200:
        assert time.monotonic() < deadline, "the checkout did not get ready in 180 s"
        time.sleep(0.5)
    for body in (order(client, "LEO-STORE", LEO, LEO_CONTACT),
                 order(client, "ANA-1", ANA, ANA_CONTACT)):  # fmt: skip
        r = client.post("/v1/orders", json=body, headers=CHECKOUT)
        assert r.status_code == 201, r.text
    option = next(o for o in promise(client).json()["options"] if o["service"] == "eco")
    held = {"option_id": option["option_id"], "channel": "app", "customer_id": LEO,
            "contact": LEO_APP_CONTACT}  # fmt: skip
    hold = client.post("/v1/holds", json=held, headers=CHECKOUT)
    assert hold.status_code == 201, hold.text
    app_order = {"order_id": "LEO-APP", "channel": "app", "customer_id": LEO,
                 "from_hold": hold.json()["hold_id"]}  # fmt: skip
    assert client.post("/v1/orders", json=app_order, headers=CHECKOUT).status_code == 201
    ret = {"return_id": "RET-LEO", "order_id": "LEO-STORE", "channel": "web",
           "lines": [{"sku": "SKU-1001", "qty": 1}], "slot": slot_of(client, "eco")}  # fmt: skip
    r = client.post("/v1/returns", json=ret, headers=CHECKOUT)
    assert r.status_code == 201 and r.json()["contact"]["phone"] == LEO_PHONE, r.text
    zero = {"rows": [{"node_id": n, "sku": "SKU-1013", "qty": 0} for n in
                     client.app.state.scenario.nodes]}  # fmt: skip
    assert client.put("/v1/stock", json=zero, headers=PLANNER).status_code == 200
    alert = {"sku": "SKU-1013", "address": NEAR_BERCY, "channel": "sms", "contact": LEO_PHONE,
             "customer_id": LEO}  # fmt: skip
    r = client.post("/v1/back-in-stock", json=alert, headers=CHECKOUT)
    assert r.status_code == 201 and r.json()["customer_id"] == LEO, r.text
    # The hand plan, its stops renamed: bike 1 carries Léo's orders, bike 2 Ana's.
    scenario_dir = client.app.state.settings.scenario
    doc, day = hand_plan(scenario_dir)
    assert day["node"].node_id == NODE
    names = {"A": "LEO-STORE", "B": "LEO-APP", "D": "ANA-1"}
    for route in doc["routes"]:
        for stop in route["stops"]:
            stop["order_id"] = names.get(stop["order_id"], stop["order_id"])
    for a in doc["assignments"]:
        a["order_id"] = names.get(a["order_id"], a["order_id"])
    plan_id = store_done_plan(client.app, scenario_dir, doc)

    def event(name, kind, clock, **fields):
        body = {"event_id": f"{plan_id[:8]}-{name}", "kind": kind, "plan_id": plan_id,
                "occurred_at": day["at"](clock), "vehicle_id": day["bike"], **fields}  # fmt: skip
        r = client.post("/v1/events", json=body, headers=PLANNER)
        assert r.status_code == 201, r.text

    event("dep", "departed", "09:00")
    event("arr", "arrived", "09:05", order_id="LEO-STORE", lat=48.83512, lon=2.38934)
    event("del", "delivered", "09:06", order_id="LEO-STORE")
    return {"plan_id": plan_id, "day": day, "alert": r.json()["id"]}


def test_a_contact_is_answered_to_checkout_keys_only(client, world):
    got = client.get("/v1/orders/LEO-STORE", headers=CHECKOUT).json()
    assert got["contact"] == {"name": "Léo Martin", "phone": LEO_PHONE, "email": "leo@example.fr"}
    app_order = client.get("/v1/orders/LEO-APP", headers=CHECKOUT).json()
    assert app_order["contact"] == {"name": None, "phone": "+33698765432", "email": None}
    listing = client.get(f"/v1/customers/{LEO}/orders", headers=CHECKOUT).json()
    assert [o["contact"]["phone"] for o in listing["deliveries"]] == ["+33698765432"]
    assert listing["returns"][0]["contact"]["phone"] == LEO_PHONE  # the order's, by default
    for path in ("/v1/orders/LEO-STORE", f"/v1/customers/{LEO}/orders"):
        assert client.get(path, headers=PLANNER).status_code == 403
        assert client.get(path, headers=DRIVER).status_code == 403


def test_planner_views_the_feed_and_the_tracking_page_never_show_a_contact(client, world):
    live = client.get(f"/v1/plans/{world['plan_id']}/live", headers=PLANNER)
    assert live.status_code == 200, live.text
    stops = {s["order_id"]: s for v in live.json()["vehicles"] for s in v["stops"]}
    assert stops["LEO-APP"]["contact"] is None and stops["LEO-APP"]["lat"]  # the address stays
    plan = client.get(f"/v1/plans/{world['plan_id']}", headers=PLANNER).text
    feed = client.get("/v1/events?limit=1000", headers=PLANNER)
    alerts = client.get("/v1/back-in-stock", headers=PLANNER).text
    token = client.get("/v1/orders/LEO-APP", headers=CHECKOUT).json()["tracking_token"]
    tracking = client.get(f"/v1/orders/LEO-APP/tracking?token={token}")
    assert tracking.status_code == 200, tracking.text
    for text in (live.text, plan, feed.text, alerts, tracking.text):
        assert not any(x in text for x in (*LEO_DATA, "Ana Silva", "+351912345678"))
    out = [e for e in feed.json()["events"] if e["type"] == "order.out_for_delivery"
           and e["data"]["order_id"] == "LEO-APP"]  # fmt: skip
    assert out and out[0]["data"]["customer"] == {"customer_id": LEO}  # the opaque id stays


def test_a_driver_key_sees_the_name_and_phone_of_its_own_stops(client, world):
    live = client.get(f"/v1/plans/{world['plan_id']}/live", headers=DRIVER)
    assert live.status_code == 200, live.text
    stops = {s["order_id"]: s for v in live.json()["vehicles"] for s in v["stops"]}
    assert stops["LEO-APP"]["contact"] == {"name": None, "phone": "+33698765432"}
    assert stops["C"]["contact"] is None  # a scenario order: no contact known
    assert "ANA-1" not in stops and "Ana Silva" not in live.text  # bike 2 is not theirs
    assert "leo@example.fr" not in live.text  # a driver rings, it does not e-mail


def test_the_contact_is_stored_in_customer_contacts_only(client, world):
    kept = ("customer_contacts", "outbox_events", "back_in_stock_alerts", "webhook_deliveries")
    rest = database_text(client.app, skip=kept)
    assert not any(x in rest for x in (*LEO_DATA, "Ana Silva", "+351912345678"))
    assert "+33698765432" in database_text(client.app)  # it is somewhere: the test can fail


def test_delivery_status_events_carry_the_customer_link_and_eta_window(client, world):
    events = outbox(client.app, "LEO-STORE")
    assert set(STATUS_EVENTS) <= set(events), events.keys()
    leo = {"customer_id": LEO, "name": "Léo Martin", "phone": LEO_PHONE, "email": "leo@example.fr"}
    for kind in STATUS_EVENTS:
        assert events[kind]["customer"] == leo, kind
    out = events["order.out_for_delivery"]
    assert out["tracking_url"].startswith("/track/LEO-STORE?token=")
    assert out["eta_window"]["start"] < out["eta_window"]["end"]
    app_out = outbox(client.app, "LEO-APP")["order.out_for_delivery"]
    assert app_out["customer"] == {"customer_id": LEO, "name": None, "phone": "+33698765432",
                                   "email": None}  # fmt: skip
    assert "customer" not in outbox(client.app, "C")["order.out_for_delivery"]  # unknown


def test_a_returns_pickup_carries_its_customer_and_a_released_holds_contact_goes(client, world):
    from api.models.orders import CustomerContact
    from api.services.personal_data import customers_of

    with client.app.state.db.transaction(write=False) as s:
        pickup = customers_of(s, ["RET-LEO", "LEO-STORE/2"])  # a return; a parcel
    assert pickup["RET-LEO"] == {"customer_id": LEO, "name": "Léo Martin", "phone": LEO_PHONE,
                                 "email": "leo@example.fr"}  # fmt: skip
    assert pickup["LEO-STORE/2"]["phone"] == LEO_PHONE
    option = next(o for o in promise(client).json()["options"] if o["service"] == "eco")
    held = {"option_id": option["option_id"], "contact": {"phone": "+33677778888"}}
    hold_id = client.post("/v1/holds", json=held, headers=CHECKOUT).json()["hold_id"]
    with client.app.state.db.transaction(write=False) as s:
        assert s.get(CustomerContact, ("hold", hold_id)).phone == "+33677778888"
    assert client.delete(f"/v1/holds/{hold_id}", headers=CHECKOUT).status_code == 204
    with client.app.state.db.transaction(write=False) as s:
        assert s.get(CustomerContact, ("hold", hold_id)) is None
    assert "+33677778888" not in database_text(client.app)


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        ({"phone": "06 12 34 56 78"}, "phone"),  # no country code
        ({"phone": "+0612345678"}, "phone"),
        ({"email": "leo.example.fr"}, "email"),
        ({"name": "Léo", "fax": "+33100000000"}, "fax"),
        ({}, None),
    ],
)
def test_a_contact_is_checked_with_its_field_path(client, world, contact, field):
    body = {"order_id": "BAD-CONTACT", "channel": "web", "customer_id": LEO,
            "from_hold": "nope", "contact": contact}  # fmt: skip
    r = client.post("/v1/orders", json=body, headers=CHECKOUT)
    assert r.status_code == 422, r.text
    where = ["body", "contact", field] if field else ["body", "contact"]
    assert where in [d["loc"] for d in r.json()["detail"]], r.text


def test_a_contact_is_not_logged(client, world, caplog):
    caplog.set_level(logging.DEBUG)
    body = order(client, "LEO-LOGGED", None, {"phone": "+33655554444", "email": "x@y.fr"})
    assert client.post("/v1/orders", json=body, headers=CHECKOUT).status_code == 201
    assert caplog.records  # the service logged something: the test can fail
    assert not any("+33655554444" in r.getMessage() or "x@y.fr" in r.getMessage()
                   for r in caplog.records)  # fmt: skip


def test_erasure_is_checkout_only(client, world):
    for key in (PLANNER, DRIVER):
        assert client.delete(f"/v1/customers/{LEO}/personal-data", headers=key).status_code == 403


def test_erasing_a_customer_keeps_open_orders_for_delivery_and_the_anonymous_facts(client, world):
    token = client.get("/v1/orders/LEO-APP", headers=CHECKOUT).json()["tracking_token"]
    r = client.delete(f"/v1/customers/{LEO}/personal-data", headers=CHECKOUT)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["kept_for_delivery"] == ["LEO-APP", "RET-LEO"]
    erased = answer["erased"]
    assert erased["contacts"] == 3  # LEO-STORE, LEO-APP, RET-LEO
    assert (erased["orders"], erased["returns"], erased["back_in_stock_alerts"]) == (1, 0, 1)
    assert erased["tracking_events"] == 1  # the driver's fix at Léo's door
    assert erased["events"] >= 4  # confirmed x2, out for delivery x2, delivered
    # Nothing of Léo's contact is left anywhere; Ana's is untouched.
    everything = database_text(client.app)
    assert not any(x in everything for x in LEO_DATA), "Léo's contact is still stored"
    assert "+351912345678" in everything
    with client.app.state.db.transaction(write=False) as s:
        done = json.loads(s.get(DayOrder, "LEO-STORE").order_json)
        assert (done["lat"], done["lon"]) == (round(48.835, 2), round(2.389, 2))
        assert s.get(Hold, s.get(DayOrder, "LEO-STORE").hold_id).customer_id is None
        assert s.get(ApiOrder, "LEO-STORE").customer_id is None
        tracked = s.get(TrackedOrder, (world["plan_id"], "LEO-STORE"))
        assert tracked.lat == round(tracked.lat, 2) and tracked.status == "delivered"
        kept = json.loads(s.get(DayOrder, "LEO-APP").order_json)  # open: exact still
        assert (kept["lat"], kept["lon"]) == (NEAR_BERCY["lat"], NEAR_BERCY["lon"])
        assert s.get(Hold, s.get(DayOrder, "LEO-APP").hold_id).customer_id == LEO
        assert s.get(DayReturn, "RET-LEO").customer_id == LEO
    # The anonymous facts stay: the delivered order, its channel, service and status.
    store = client.get("/v1/orders/LEO-STORE", headers=CHECKOUT).json()
    assert (store["status"], store["channel"], store["service"]) == ("delivered", "web", "express")
    assert store["customer_id"] is None and store["contact"] is None
    delivered = outbox(client.app, "LEO-STORE")["order.delivered"]
    assert delivered["customer"] == {"customer_id": None, "name": None, "phone": None,
                                     "email": None}  # fmt: skip
    assert delivered["status"] == "delivered" and delivered["tracking_url"]
    assert client.get(f"/v1/orders/LEO-APP/tracking?token={token}").status_code == 200
    alerts = client.get("/v1/back-in-stock?status=erased", headers=CHECKOUT).json()
    [alert] = [a for a in alerts if a["id"] == world["alert"]]
    assert alert["contact"] is None and alert["customer_id"] is None
    assert alert["address"]["lat"] == round(NEAR_BERCY["lat"], 2)
    # The listing still has the open ones (their customer id kept until delivered).
    listing = client.get(f"/v1/customers/{LEO}/orders", headers=CHECKOUT).json()
    assert [o["order_id"] for o in listing["deliveries"]] == ["LEO-APP"]
    assert listing["deliveries"][0]["contact"] is None
    # Idempotent: nothing left to erase; an unknown customer gets the same zero answer.
    again = client.delete(f"/v1/customers/{LEO}/personal-data", headers=CHECKOUT)
    assert again.status_code == 200 and set(again.json()["erased"].values()) == {0}
    assert again.json()["kept_for_delivery"] == ["LEO-APP", "RET-LEO"]
    nobody = client.delete("/v1/customers/cust-nobody/personal-data", headers=CHECKOUT)
    assert nobody.status_code == 200 and set(nobody.json()["erased"].values()) == {0}
    assert nobody.json()["kept_for_delivery"] == []


def test_events_after_the_erasure_carry_no_erased_contact(client, world):
    """Léo's app order, delivered after the erasure: its event has his customer id (the
    open order kept it) but no contact."""
    body = {"event_id": f"{world['plan_id'][:8]}-del-app", "kind": "delivered",
            "plan_id": world["plan_id"], "occurred_at": world["day"]["at"]("09:13"),
            "vehicle_id": world["day"]["bike"], "order_id": "LEO-APP"}  # fmt: skip
    assert client.post("/v1/events", json=body, headers=PLANNER).status_code == 201
    delivered = outbox(client.app, "LEO-APP")["order.delivered"]
    assert delivered["customer"] == {"customer_id": LEO, "name": None, "phone": None,
                                     "email": None}  # fmt: skip
    r = client.delete(f"/v1/customers/{LEO}/personal-data", headers=CHECKOUT)
    assert r.json()["erased"]["orders"] == 1 and r.json()["kept_for_delivery"] == ["RET-LEO"]
    assert outbox(client.app, "LEO-APP")["order.delivered"]["customer"]["customer_id"] is None


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0010_keeps_the_alerts_of_0009_and_matches_the_models(backend, tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect, text

    from api.db import Database, alembic_config, migrate
    from tests.api_support import database_url

    with database_url(backend, tmp_path) as url:
        database = Database(url)
        migrate(database.engine, "0009")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO back_in_stock_alerts (id, sku, qty, lat, lon, channel, contact, "
                "status, created_at) VALUES ('bis_1', 'SKU-1', 1, 48.8, 2.3, 'sms', "
                "'+33612345678', 'waiting', CURRENT_TIMESTAMP)"
            ))  # fmt: skip
        migrate(database.engine, "head")
        assert "customer_contacts" in inspect(database.engine).get_table_names()
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, contact, customer_id FROM "
                                           "back_in_stock_alerts")).all()  # fmt: skip
            assert rows == [("bis_1", "+33612345678", None)]
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert [d for d in diff if any(n in str(d) for n in ("customer_contacts",
                    "back_in_stock_alerts"))] == []  # fmt: skip
        with database.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0009")
        assert "customer_contacts" not in inspect(database.engine).get_table_names()
        migrate(database.engine, "head")
        database.dispose()
