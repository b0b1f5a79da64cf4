"""Holds on a real database (SQLite file and PostgreSQL): no oversold stock or slot,
expiry, idempotency, confirmation into orders of the day."""

import os
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from api.db import Database
from api.models.checkout import SlotCapacity
from api.services.checkout import CheckoutError, CheckoutService
from optimizer.check import check_plan
from optimizer.io.plan_files import plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.model import FleetEntry, Inbound, OrderLine, Plan
from optimizer.planning import PlanParams, plan_day
from tests.api_support import database_url
from tests.factory import H, scenario

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 07:00 in Paris, the day planned
NEAR_HUB = (48.852, 2.372)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        database = Database(url)
        database.migrate()
        yield database
        database.dispose()


def service(db, stock, fleet=None, ttl_s=600, inbound=()):
    sc = scenario([], stock=stock, fleet=fleet or [FleetEntry("HUB", "bike", 1, 8 * H, 16 * H)])
    sc.inbound.extend(inbound)
    svc = CheckoutService(db, sc, os.urandom(32), hold_ttl_s=ttl_s)
    svc.start(lambda: Plan(scenario_name=sc.settings.name, sources={}))
    return svc


def delivery_options(svc, lines, point=NEAR_HUB, day="2026-11-24"):
    """The delivery options of ``day`` (the day planned, by default)."""
    quote = svc.promise(lines, *point, NOW)
    return [o for o in quote.options
            if o["service"] != "click_collect" and o["service_date"] == day]  # fmt: skip


def race(n, attempt):
    """Run ``attempt(k)`` in ``n`` threads at once; return what each returned or raised."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(k):
        barrier.wait()
        try:
            results[k] = attempt(k)
        except CheckoutError as exc:
            results[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_hold_confirm_makes_an_order_of_the_day_shipping_from_the_promised_node(db):
    svc = service(db, {("HUB", "BOOK"): 3})
    option = delivery_options(svc, [OrderLine("BOOK", 2)])[0]
    hold = svc.hold(option["option_id"], NOW)
    assert hold["status"] == "held"
    done = svc.confirm(hold["hold_id"], NOW)
    (order,) = svc.confirmed_orders()
    assert order.order_id == done["order_id"] and order.ship_from_node_id == "HUB"
    assert order.slot_start_s == option["slot_start"].hour * 3600  # in the day's time zone
    # 1 book left: a basket of 2 is no longer promised
    assert delivery_options(svc, [OrderLine("BOOK", 2)]) == []


def test_many_customers_racing_for_the_last_unit_get_it_once(db):
    svc = service(db, {("HUB", "BOOK"): 1})
    options = delivery_options(svc, [OrderLine("BOOK", 1)])
    results = race(12, lambda k: svc.hold(options[k % len(options)]["option_id"], NOW))
    won = [r for r in results if isinstance(r, dict)]
    assert len(won) == 1
    assert all(r.status == 409 for r in results if isinstance(r, CheckoutError))


def test_many_customers_racing_for_the_last_place_on_a_route_get_it_once(db):
    # One bike, 125 kg: a 70 kg basket fits once.
    from dataclasses import replace

    svc = service(db, {("HUB", "BOOK"): 100})
    svc.scenario.catalogue["BOOK"] = replace(svc.scenario.catalogue["BOOK"], weight_kg=70)
    options = delivery_options(svc, [OrderLine("BOOK", 1)])
    assert options
    results = race(12, lambda k: svc.hold(options[k % len(options)]["option_id"], NOW))
    assert sum(isinstance(r, dict) for r in results) == 1


def test_an_expired_hold_gives_its_stock_and_place_back(db):
    svc = service(db, {("HUB", "BOOK"): 1}, ttl_s=60)
    option = delivery_options(svc, [OrderLine("BOOK", 1)])[0]
    hold = svc.hold(option["option_id"], NOW)
    assert delivery_options(svc, [OrderLine("BOOK", 1)]) == []
    assert svc.expire_due(NOW + timedelta(seconds=61)) == 1
    assert svc.hold_status(hold["hold_id"])["status"] == "expired"
    assert delivery_options(svc, [OrderLine("BOOK", 1)])
    with pytest.raises(CheckoutError) as gone:
        svc.confirm(hold["hold_id"], NOW + timedelta(seconds=62))
    assert gone.value.status == 410


def test_a_released_hold_gives_its_stock_back_and_release_is_idempotent(db):
    svc = service(db, {("HUB", "BOOK"): 1})
    option = delivery_options(svc, [OrderLine("BOOK", 1)])[0]
    hold = svc.hold(option["option_id"], NOW)
    svc.release(hold["hold_id"], NOW)
    svc.release(hold["hold_id"], NOW)
    assert svc.hold_status(hold["hold_id"])["status"] == "released"
    assert delivery_options(svc, [OrderLine("BOOK", 1)])


def test_an_idempotency_key_makes_a_retried_hold_and_confirm_count_once(db):
    svc = service(db, {("HUB", "BOOK"): 2})
    option = delivery_options(svc, [OrderLine("BOOK", 1)])[0]
    first = svc.hold(option["option_id"], NOW, "key-1")
    assert svc.hold(option["option_id"], NOW, "key-1") == first
    assert svc.confirm(first["hold_id"], NOW, "c-1") == svc.confirm(first["hold_id"], NOW, "c-1")
    assert len(svc.confirmed_orders()) == 1
    # one unit left: a second hold without the key still works, a third does not
    other = delivery_options(svc, [OrderLine("BOOK", 1)])[0]
    svc.hold(other["option_id"], NOW)
    with pytest.raises(CheckoutError):
        svc.hold(other["option_id"], NOW)
    with pytest.raises(CheckoutError) as reused:
        svc.hold(other["option_id"], NOW, "key-1")
    assert reused.value.status == 422 and reused.value.loc == ("header", "Idempotency-Key")


def test_a_tampered_option_id_is_refused(db):
    svc = service(db, {("HUB", "BOOK"): 2})
    option = delivery_options(svc, [OrderLine("BOOK", 1)])[0]["option_id"]
    body, signature = option.rsplit(".", 1)
    with pytest.raises(CheckoutError) as bad:
        svc.hold(body[:-2] + "AA." + signature, NOW)
    assert bad.value.status == 422 and bad.value.loc == ("body", "option_id")


def test_a_stock_count_changes_what_can_be_promised(db):
    svc = service(db, {("HUB", "BOOK"): 0})
    assert delivery_options(svc, [OrderLine("BOOK", 1)]) == []
    svc.set_stock([("HUB", "BOOK", 4)], NOW)
    assert delivery_options(svc, [OrderLine("BOOK", 1)])


def test_a_reloaded_fleet_gets_new_vehicles_and_keeps_the_holds(db):
    from dataclasses import replace

    svc = service(db, {("HUB", "BOOK"): 3})
    option = delivery_options(svc, [OrderLine("BOOK", 1)])[0]
    hold = svc.hold(option["option_id"], NOW)
    bigger = replace(
        svc.scenario,
        fleet=svc.scenario.fleet + [FleetEntry("STORE", "bike", 2, 9 * H, 17 * H)],
        stock={("HUB", "BOOK"): 5, ("STORE", "BOOK"): 2},
    )
    answer = svc.reload(bigger, NOW)
    assert answer["vehicles_added"] == 2
    assert svc.hold_status(hold["hold_id"])["status"] == "held"
    # 5 on hand, 1 held: 4 free at HUB; the new STORE bikes can now deliver too
    nodes = {o["node_id"] for o in delivery_options(svc, [OrderLine("BOOK", 4)])}
    assert "HUB" in nodes
    smaller = replace(bigger, fleet=[FleetEntry("STORE", "bike", 2, 9 * H, 17 * H)])
    with pytest.raises(CheckoutError) as busy:
        svc.reload(smaller, NOW)  # the HUB bike carries the hold
    assert busy.value.status == 409 and "HUB/bike/1" in busy.value.message


# -- click & collect by shuttle or from inbound stock; eco on later days ------------------

AT_STORE = (48.869, 2.331)
TOMORROW = "2026-11-25"
PARIS = ZoneInfo("Europe/Paris")


def collect_options(svc, lines):
    return [o for o in svc.promise(lines, *AT_STORE, NOW).options
            if o["service"] == "click_collect"]  # fmt: skip


def test_a_collect_by_shuttle_holds_the_source_stock_and_plans_as_a_checked_transfer(db):
    svc = service(db, {("HUB", "BOOK"): 1})
    (option,) = collect_options(svc, [OrderLine("BOOK", 1)])
    assert option["node_id"] == "STORE" and option["transfer_from_node_id"] == "HUB"
    # 07:00 in Paris: the hub picks by 08:00, the 13:00 run is in at 15:00, shelved by 15:30
    assert option["ready_by"] == datetime(2026, 11, 24, 15, 30, tzinfo=PARIS)
    assert option["service_date"] == "2026-11-24"
    hold = svc.hold(option["option_id"], NOW)
    # the only unit is at HUB, and held: nothing more can be promised anywhere
    assert collect_options(svc, [OrderLine("BOOK", 1)]) == []
    assert delivery_options(svc, [OrderLine("BOOK", 1)]) == []
    svc.confirm(hold["hold_id"], NOW)
    (order,) = svc.confirmed_orders()
    assert (order.collect_node_id, order.ship_from_node_id) == ("STORE", "HUB")
    assert (order.slot_start_s, order.transfer_departs_s) == (15 * H + 1800, 13 * H)
    day = svc.day_scenario()
    plan = plan_day(day, PlanParams(time_limit_s=1))
    (collection,) = plan.collections
    assert (collection.node_id, collection.transfer_from_node_id) == ("STORE", "HUB")
    assert plan.sources[order.order_id] == "HUB"
    document = plan_to_dict(day, plan, plan_kpis(day, plan))
    assert check_plan(day, document).ok


def test_inbound_stock_at_the_store_is_promised_once(db):
    svc = service(db, {}, inbound=[Inbound("STORE", "TV", 1, 15 * H)])
    (option,) = collect_options(svc, [OrderLine("TV", 1)])
    assert option["transfer_from_node_id"] is None
    assert option["stock_arrives_at"] == datetime(2026, 11, 24, 15, 0, tzinfo=PARIS)
    assert option["ready_by"] == datetime(2026, 11, 24, 16, 0, tzinfo=PARIS)
    results = race(8, lambda k: svc.hold(option["option_id"], NOW))
    won = [r for r in results if isinstance(r, dict)]
    assert len(won) == 1 and all(r.status == 409 for r in results if r not in won)
    assert collect_options(svc, [OrderLine("TV", 1)]) == []
    svc.release(won[0]["hold_id"], NOW)
    assert collect_options(svc, [OrderLine("TV", 1)])


def test_eco_of_tomorrow_is_offered_with_its_date_and_two_customers_cannot_hold_its_last_place(db):
    svc = service(db, {("HUB", "BOOK"): 100})
    with db.transaction() as s:  # one place left in tomorrow's 08:00-12:00 at HUB
        s.execute(
            update(SlotCapacity)
            .where(SlotCapacity.service_date == TOMORROW, SlotCapacity.node_id == "HUB",
                   SlotCapacity.slot_start_s == 8 * H)
            .values(capacity=1)
        )  # fmt: skip
    later = delivery_options(svc, [OrderLine("BOOK", 1)], day=TOMORROW)
    assert {o["service"] for o in later} == {"eco"}
    morning = next(o for o in later if o["slot_start"].hour == 8)
    assert morning["slot_start"] == datetime(2026, 11, 25, 8, 0, tzinfo=PARIS)
    assert morning["slot_end"] == datetime(2026, 11, 25, 12, 0, tzinfo=PARIS)
    results = race(12, lambda k: svc.hold(morning["option_id"], NOW))
    won = [r for r in results if isinstance(r, dict)]
    assert len(won) == 1 and all(r.status == 409 for r in results if r not in won)
    hours = {
        o["slot_start"].hour for o in delivery_options(svc, [OrderLine("BOOK", 1)], day=TOMORROW)
    }
    assert hours == {12}  # the full slot is no longer offered, the next one is
    svc.release(won[0]["hold_id"], NOW)
    hours = {
        o["slot_start"].hour for o in delivery_options(svc, [OrderLine("BOOK", 1)], day=TOMORROW)
    }
    assert hours == {8, 12}


def test_a_confirmed_order_of_tomorrow_is_kept_for_tomorrows_plan_only(db):
    svc = service(db, {("HUB", "BOOK"): 3})
    option = delivery_options(svc, [OrderLine("BOOK", 1)], day=TOMORROW)[0]
    done = svc.confirm(svc.hold(option["option_id"], NOW)["hold_id"], NOW)
    assert done["service_date"] == TOMORROW
    assert svc.confirmed_orders() == []
    (order,) = svc.confirmed_orders(date(2026, 11, 25))
    assert order.order_id == done["order_id"] and order.ship_from_node_id == "HUB"
    assert (order.slot_start_s, order.slot_end_s) == (8 * H, 12 * H)  # tomorrow's clock
    # its unit stays taken: 2 of 3 left
    assert delivery_options(svc, [OrderLine("BOOK", 2)])
    assert delivery_options(svc, [OrderLine("BOOK", 3)]) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0003_keeps_the_orders_of_0002_and_downgrades(backend, tmp_path):
    from alembic import command
    from sqlalchemy import inspect, text

    from api.db import alembic_config, migrate

    with database_url(backend, tmp_path) as url:
        database = Database(url)
        migrate(database.engine, "0002")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO day_orders (order_id, hold_id, order_json, created_at) "
                "VALUES ('W1', 'h1', '{}', CURRENT_TIMESTAMP)"
            ))  # fmt: skip
        migrate(database.engine, "head")
        tables = set(inspect(database.engine).get_table_names())
        assert {"slot_capacity", "inbound_stock"} <= tables
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT order_id, service_date FROM day_orders"))
            assert rows.all() == [("W1", None)]  # the service's day, as before
        with database.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
        assert "slot_capacity" not in set(inspect(database.engine).get_table_names())
        migrate(database.engine, "head")
        database.dispose()


def test_the_next_day_starts_with_the_orders_confirmed_for_it(db):
    from dataclasses import replace

    svc = service(db, {("HUB", "BOOK"): 3})
    option = delivery_options(svc, [OrderLine("BOOK", 1)], day=TOMORROW)[0]
    order_id = svc.confirm(svc.hold(option["option_id"], NOW)["hold_id"], NOW)["order_id"]
    settings = replace(svc.scenario.settings, name="test-day-2", date=date(2026, 11, 25))
    nxt = CheckoutService(db, replace(svc.scenario, settings=settings), os.urandom(32))
    day = nxt.day_scenario()
    assert [o.order_id for o in day.orders] == [order_id]
    plan = plan_day(day, PlanParams(time_limit_s=1))
    assert plan.sources == {order_id: "HUB"}
    nxt.start(lambda: plan, day)
    assert [o.order_id for o in nxt.confirmed_orders()] == [order_id]  # for the day's plans
    quote = nxt.promise([OrderLine("BOOK", 3)], *NEAR_HUB, NOW + timedelta(days=1))
    assert quote.options == []  # its unit is taken from the day's stock: 2 of 3 left
    assert nxt.promise([OrderLine("BOOK", 2)], *NEAR_HUB, NOW + timedelta(days=1)).options
