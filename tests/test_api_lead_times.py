"""Made-to-order goods and a three-week promise over HTTP, on SQLite and PostgreSQL:
options from the day after the goods are in, a hold and a confirmation on a day weeks
ahead, and a lead time beyond the horizon answered with its reason."""

import csv
import json
import time
from datetime import date

import pytest
import yaml
from sqlalchemy import select

from api.models.checkout import DayOrder, SlotCapacity
from data.generator import generate, write
from tests.api_support import BACKENDS, CHECKOUT_KEY, keyed, started_service

AT = "2026-11-24T07:00:00+01:00"  # the morning of the generated day
DAY = date(2026, 11, 24)
NEAR_BERCY = {"lat": 48.835, "lon": 2.389}
SOFA, BIG_SOFA = "SKU-4003", "SKU-4004"  # made to order in 4 and 25 days below


def furniture_day(folder):
    """A generated one-order day whose sofas are made to order, with the seed's services:
    express from the day after the goods are in, eco from three days after, a 21-day
    promise."""
    write(generate(1, 1), folder)
    settings = yaml.safe_load((folder / "scenario.yaml").read_text())
    settings["promise"] = {"horizon_days": 21}
    settings["services"]["express"] |= {"min_days": 1, "max_days": 21}
    settings["services"]["eco"] |= {"min_days": 3, "max_days": 21}
    (folder / "scenario.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    with (folder / "catalogue.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["lead_time_days"] = {SOFA: "4", BIG_SOFA: "25"}.get(row["sku"], "")
    with (folder / "catalogue.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with (folder / "nodes.csv").open() as f:
        nodes = [row["node_id"] for row in csv.DictReader(f)]
    with (folder / "lead_times.csv").open("w", newline="") as f:  # velvet takes 9 days
        f.write("node_id,sku,lead_time_days,variant\n")
        f.writelines(f"{n},{SOFA},9,fabric=velvet\n" for n in nodes)
    return folder


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"lead-{request.param}")
    day = furniture_day(tmp / "furniture-day")
    with started_service(request.param, tmp, scenario=day, plan_time_limit_s=1.0) as client:
        deadline = time.monotonic() + 120  # the day's plan, made at first start
        while not client.app.state.checkout.ready:
            assert time.monotonic() < deadline, "the checkout did not get ready in 120 s"
            time.sleep(0.2)
        yield client


def promise(client, sku, at=AT, variant=None):
    line = {"sku": sku, "qty": 1} | ({"variant": variant} if variant else {})
    body = {"lines": [line], "address": NEAR_BERCY, "requested_at": at}
    r = client.post("/v1/promise", json=body, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 200, r.text
    return r.json()


def days_ahead(option):
    return (date.fromisoformat(option["service_date"]) - DAY).days


def test_a_sofa_made_in_4_days_is_offered_express_from_day_5_and_eco_later(client):
    body = promise(client, SOFA)
    by_service = {}
    for o in body["options"]:
        by_service.setdefault(o["service"], []).append(o)
    express, eco = by_service["express"], by_service["eco"]
    assert min(days_ahead(o) for o in express) == 5
    assert min(days_ahead(o) for o in eco) == 7
    assert max(days_ahead(o) for o in express + eco) == 21
    for o in express + eco:  # every slot on its own service date, none before it
        assert date.fromisoformat(o["slot_start"][:10]) == date.fromisoformat(o["service_date"])
    assert min(o["price_eur"] for o in express) > max(o["price_eur"] for o in eco)
    assert body["unavailable"] == []


def test_a_lead_time_beyond_the_horizon_is_unavailable_with_its_reason(client):
    body = promise(client, BIG_SOFA)
    assert not [o for o in body["options"] if o["service"] != "click_collect"]
    reasons = {u["service"]: u["reason"] for u in body["unavailable"]}
    assert {"express", "eco"} <= set(reasons)
    assert "horizon of 21 days" in reasons["express"] and BIG_SOFA in reasons["express"]


def test_a_hold_and_confirm_on_day_12_lands_in_day_orders_with_that_date(client):
    eco = next(
        o for o in promise(client, SOFA)["options"] if o["service"] == "eco" and days_ahead(o) == 12
    )
    when = eco["service_date"]
    assert when == "2026-12-06"
    state = client.app.state

    def taken():
        with state.db.transaction(write=False) as s:
            rows = s.scalars(select(SlotCapacity).where(SlotCapacity.service_date == when))
            return sum(r.taken for r in rows)

    before = taken()
    held = client.post(
        "/v1/holds", json={"option_id": eco["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    assert held.status_code == 201, held.text
    assert taken() == before + 1  # a place of that day's slot
    done = client.post(f"/v1/holds/{held.json()['hold_id']}/confirm", headers=keyed(CHECKOUT_KEY))
    assert done.status_code == 200, done.text
    assert done.json()["service_date"] == when
    with state.db.transaction(write=False) as s:
        row = s.get(DayOrder, done.json()["order_id"])
        assert row.service_date == when
        order = json.loads(row.order_json)
    # the goods are in from day 4's midnight: 8 days before the delivery day's
    assert order["ready_s"] == (4 - 12) * 24 * 3600
    assert order["lines"] == [[SOFA, 1]]
    # the order is in that day's plan scenario; its sofa takes no stock
    planned = state.checkout.scenario_of_day(date(2026, 12, 6))
    assert planned.orders_by_id[done.json()["order_id"]].ready_s == order["ready_s"]


def test_every_later_day_of_the_horizon_has_slot_places(client):
    with client.app.state.db.transaction(write=False) as s:
        dates = {r.service_date for r in s.scalars(select(SlotCapacity))}
    assert min(dates) == "2026-11-25" and max(dates) == "2026-12-15"  # 21 days ahead
    assert len(dates) == 21


def test_the_last_place_of_a_slot_weeks_ahead_is_sold_once(client):
    options = [
        o
        for o in promise(client, SOFA)["options"]
        if o["service"] != "click_collect" and days_ahead(o) == 15  # fmt: skip
    ]
    first = next(o for o in options if o["service"] == "express")
    same = next(
        o
        for o in options
        if o["service"] == "eco"
        and o["slot_start"] == first["slot_start"]
        and o["node_id"] == first["node_id"]  # fmt: skip
    )
    state = client.app.state
    start_s = int(first["slot_start"][11:13]) * 3600
    with state.db.transaction() as s:
        (row,) = s.scalars(
            select(SlotCapacity).where(
                SlotCapacity.service_date == first["service_date"],
                SlotCapacity.node_id == first["node_id"],
                SlotCapacity.slot_start_s == start_s,
            )
        ).all()
        row.taken = row.capacity - 1  # one place left, shared by express and eco
    won = client.post(
        "/v1/holds", json={"option_id": first["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    lost = client.post(
        "/v1/holds", json={"option_id": same["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    assert won.status_code == 201, won.text
    assert lost.status_code == 409, lost.text
    gone = client.delete(f"/v1/holds/{won.json()['hold_id']}", headers=keyed(CHECKOUT_KEY))
    assert gone.status_code == 204
    again = client.post(
        "/v1/holds", json={"option_id": same["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )
    assert again.status_code == 201, again.text  # the released place is sold again


def test_an_order_by_api_for_a_sofa_made_to_order_is_taken_on_its_day(client):
    """A store's till sells the made-to-order sofa by ``POST /v1/orders`` for an express
    slot of day 6: taken like the checkout's, on that day; a day before the goods can be
    there is refused (no such option), as is an unknown SKU."""
    express = [o for o in promise(client, SOFA)["options"] if o["service"] == "express"]
    slot = next(o for o in express if days_ahead(o) == 6)
    body = {"order_id": "TILL-SOFA-1", "channel": "store", "customer_id": "cust-sofa-1",
            "lines": [{"sku": SOFA, "qty": 1}], "address": NEAR_BERCY, "service": "express",
            "slot": slot["slot_start"]}  # fmt: skip
    r = client.post("/v1/orders", json=body, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 201, r.text
    assert r.json()["service_date"] == slot["service_date"] and r.json()["node_id"]
    early = body | {"order_id": "TILL-SOFA-2", "slot": slot["slot_start"].replace(
        slot["service_date"], "2026-11-26")}  # fmt: skip
    r = client.post("/v1/orders", json=early, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "slot"], r.text


def test_a_velvet_sofa_is_promised_from_its_variant_s_lead_time_and_ordered_as_configured(
    client,
):
    """The same made-to-order sofa: linen in 4 days (express from day 5), velvet in 9
    (from day 10); the velvet order keeps its configuration through hold, confirmation,
    the order as answered and the plan of its day, with its goods ready on day 9."""
    velvet = "fabric=velvet; arms=slim"
    first = {
        v: min(days_ahead(o) for o in promise(client, SOFA, variant=v)["options"]
               if o["service"] == "express")
        for v in ("fabric=linen", velvet)
    }  # fmt: skip
    assert first == {"fabric=linen": 5, velvet: 10}
    (line,) = promise(client, SOFA, variant=velvet)["lines"]
    assert line["lead_time_days"] == 9
    option = next(o for o in promise(client, SOFA, variant=velvet)["options"]
                  if o["service"] == "express" and days_ahead(o) == 10)  # fmt: skip
    held = client.post("/v1/holds", json={"option_id": option["option_id"]},
                       headers=keyed(CHECKOUT_KEY))  # fmt: skip
    assert held.status_code == 201, held.text
    done = client.post(f"/v1/holds/{held.json()['hold_id']}/confirm", headers=keyed(CHECKOUT_KEY))
    assert done.status_code == 200, done.text
    order_id = done.json()["order_id"]
    got = client.get(f"/v1/orders/{order_id}", headers=keyed(CHECKOUT_KEY))
    assert got.status_code == 200, got.text
    assert got.json()["lines"] == [{"sku": SOFA, "qty": 1, "variant": velvet}]
    planned = client.app.state.checkout.scenario_of_day(date(2026, 12, 4))
    order = planned.orders_by_id[order_id]
    assert order.lines[0].variant == velvet and order.ready_s == (9 - 10) * 24 * 3600


@pytest.mark.parametrize("variant", ["fabric=velvet\u0007", "x" * 201, ";"])
def test_a_bad_variant_is_refused_with_its_field(client, variant):
    body = {"lines": [{"sku": SOFA, "qty": 1, "variant": variant}], "address": NEAR_BERCY,
            "requested_at": AT}  # fmt: skip
    r = client.post("/v1/promise", json=body, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "lines", 0, "variant"], r.text
