"""Later days' capacity over HTTP, on SQLite and PostgreSQL (issue 18, item 4): a sofa
takes a place and its two-person crew's time in a slot weeks ahead, the crews' time is
sold once, and a plan job for a later day (``POST /v1/plans`` with ``date``) sets what
the checkout may still sell on that day from what its plan leaves free."""

import json
import time
from datetime import date

import pytest
from sqlalchemy import select

from api.models.checkout import DayState, Hold, SlotCapacity, SlotCrewCapacity
from api.services.plan_jobs import scenario_for_plan
from data.furniture_generator import generate, write
from optimizer.io.plan_files import plan_from_dict
from optimizer.promise.capacity import slot_rooms
from tests.api_support import BACKENDS, CHECKOUT_KEY, PLANNER_KEY, keyed, started_service
from tests.test_api_plans import submit, wait_for

AT = "2026-11-24T07:00:00+01:00"  # the morning of the generated day
DAY = date(2026, 11, 24)
ADDRESS = {"lat": 48.8600, "lon": 2.3400}
SOFA = "SOFA-CUSTOM"  # made to order in 4 days: express on days 4 to 9
MORNING_S = 8 * 3600


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"later-{request.param}")
    write(generate(40, 1, seed=1), tmp / "furniture")
    with started_service(
        request.param, tmp, scenario=tmp / "furniture", plan_time_limit_s=1.0
    ) as client:
        deadline = time.monotonic() + 120  # the day's plan, made at first start
        while not client.app.state.checkout.ready:
            assert time.monotonic() < deadline, "the checkout did not get ready in 120 s"
            time.sleep(0.2)
        yield client


def promise(client, sku):
    body = {"lines": [{"sku": sku, "qty": 1}], "address": ADDRESS, "requested_at": AT}
    r = client.post("/v1/promise", json=body, headers=keyed(CHECKOUT_KEY))
    assert r.status_code == 200, r.text
    return r.json()["options"]


def at_wh(options, day, start_s=MORNING_S):
    """The delivery options at the warehouse in the slot from ``start_s`` of ``day``."""
    return [
        o for o in options
        if o["service"] != "click_collect" and o["node_id"] == "WH"
        and (date.fromisoformat(o["service_date"]) - DAY).days == day
        and int(o["slot_start"][11:13]) * 3600 == start_s
    ]  # fmt: skip


def crew_rows(client, day, start_s=MORNING_S):
    when = date.fromordinal(DAY.toordinal() + day).isoformat()
    with client.app.state.db.transaction(write=False) as s:
        rows = s.scalars(select(SlotCrewCapacity).where(
            SlotCrewCapacity.service_date == when, SlotCrewCapacity.node_id == "WH",
            SlotCrewCapacity.slot_start_s == start_s,
        )).all()  # fmt: skip
        return {r.need: (r.capacity_s, r.taken_s) for r in rows}


def places(client, day, start_s=MORNING_S):
    when = date.fromordinal(DAY.toordinal() + day).isoformat()
    with client.app.state.db.transaction(write=False) as s:
        row = s.get(SlotCapacity, (when, "WH", start_s))
        return row.capacity, row.taken


def hold(client, option):
    return client.post(
        "/v1/holds", json={"option_id": option["option_id"]}, headers=keyed(CHECKOUT_KEY)
    )


def claims_of(client, hold_id):
    checkout = client.app.state.checkout
    with client.app.state.db.transaction(write=False) as s:
        return dict(checkout._claims(json.loads(s.get(Hold, hold_id).option_json)))


def test_every_later_day_has_its_crews_time_per_slot(client):
    """Three two-person vans with a tail lift, 08:00-19:00, half sold ahead: 6 h of
    each pool in the morning slot of every later day, none taken yet."""
    for day in (1, 10, 21):
        assert crew_rows(client, day) == {
            "crew:2": (6 * 3600, 0), "equipment:tail_lift": (6 * 3600, 0)
        }  # fmt: skip
    assert crew_rows(client, 22) == {}  # beyond the 21-day horizon


def test_a_sofa_hold_takes_a_place_and_its_crews_time_and_a_release_gives_them_back(client):
    (option,) = at_wh(promise(client, SOFA), day=5)[:1]
    before = places(client, 5)
    held = hold(client, option)
    assert held.status_code == 201, held.text
    claims = claims_of(client, held.json()["hold_id"])
    assert set(claims) == {"crew:2", "equipment:tail_lift"} and min(claims.values()) > 1200
    assert places(client, 5) == (before[0], before[1] + 1)
    assert crew_rows(client, 5) == {need: (6 * 3600, s) for need, s in claims.items()}
    gone = client.delete(f"/v1/holds/{held.json()['hold_id']}", headers=keyed(CHECKOUT_KEY))
    assert gone.status_code == 204
    assert places(client, 5) == before
    assert crew_rows(client, 5) == {"crew:2": (6 * 3600, 0), "equipment:tail_lift": (6 * 3600, 0)}


def _sell_crews(client, day, left_s):
    """Leave ``left_s`` of the two-person crews in the warehouse's morning slot of
    ``day``, as if sold, for every process (the day's version bumped)."""
    when = date.fromordinal(DAY.toordinal() + day).isoformat()
    with client.app.state.db.transaction() as s:
        state = s.get(DayState, 1)
        state.version += 1
        row = s.get(SlotCrewCapacity, (when, "WH", MORNING_S, "crew:2"))
        row.taken_s, row.changed_at = row.capacity_s - left_s, state.version


def test_a_crew_s_time_is_sold_once_and_then_no_longer_offered(client):
    """Less crew time left than a sofa takes: the sofa's earlier option is refused (409,
    naming the crew) and no longer offered in that slot; a mattress (one person) is,
    and the sofa is on another day."""
    (option,) = at_wh(promise(client, SOFA), day=6)[:1]
    held = hold(client, option)
    busy = claims_of(client, held.json()["hold_id"])["crew:2"]
    client.delete(f"/v1/holds/{held.json()['hold_id']}", headers=keyed(CHECKOUT_KEY))
    _sell_crews(client, 6, busy - 1)
    refused = hold(client, option)
    assert refused.status_code == 409 and "crew of 2" in refused.text, refused.text
    assert places(client, 6)[1] == 0  # the place it tried to take is not kept
    assert at_wh(promise(client, SOFA), day=6) == []
    assert at_wh(promise(client, "MATTRESS"), day=6)
    assert at_wh(promise(client, SOFA), day=7)
    _sell_crews(client, 6, busy)
    assert at_wh(promise(client, SOFA), day=6)  # exactly enough is enough


def _planned(client, when):
    job = submit(client, date=when, time_limit_s=2)
    assert job["date"] == when
    result = wait_for(client, job["id"], timeout_s=180)
    assert result["status"] == "done" and result["checker_ok"], result
    return result


def test_a_later_day_s_plan_sets_what_the_checkout_may_still_sell_on_it(client):
    """Day 8 planned (the template's 40 orders of that day and one sofa confirmed for
    it): each slot keeps what is sold and gets what the plan leaves free, less the open
    hold; the promise sells on that."""
    state = client.app.state
    confirmed = at_wh(promise(client, SOFA), day=8)[0]
    held = hold(client, confirmed)
    done = client.post(f"/v1/holds/{held.json()['hold_id']}/confirm", headers=keyed(CHECKOUT_KEY))
    assert done.status_code == 200, done.text
    (open_hold,) = at_wh(promise(client, SOFA), day=8, start_s=12 * 3600)[:1]
    assert hold(client, open_hold).status_code == 201
    before = {s: places(client, 8, s) for s in (MORNING_S, 12 * 3600, 16 * 3600)}
    result = _planned(client, "2026-12-02")
    assert result["date"] == "2026-12-02"
    assert done.json()["order_id"] in {a["order_id"] for a in result["plan"]["assignments"]}
    sc = scenario_for_plan(state, state.settings.scenario, date(2026, 12, 2))
    p = state.checkout.params
    rooms = slot_rooms(
        sc, [(s, s + 4 * 3600) for s in before], p.future_capacity_share,
        p.future_drops_per_vehicle_hour, plan_from_dict(sc, result["plan"]),
    )  # fmt: skip
    shrunk = 0
    for room in (r for r in rooms if r.node_id == "WH"):
        capacity, taken = places(client, 8, room.slot_start_s)
        assert taken == before[room.slot_start_s][1]  # what is sold stays sold
        held_here = 1 if room.slot_start_s == 12 * 3600 else 0
        assert capacity - taken == room.places - held_here
        crews = crew_rows(client, 8, room.slot_start_s)
        for need, free_s in room.crew_s.items():
            assert crews[need][0] - crews[need][1] == free_s - (
                claims_of_open(client, need) if held_here else 0
            )
        shrunk += capacity < before[room.slot_start_s][0]
    assert shrunk  # the plan's 40 orders keep the vans busy: less to sell than estimated
    promise(client, SOFA)  # the promise reads the new rows
    engine = state.checkout._engine
    for start in before:
        capacity, taken = places(client, 8, start)
        assert engine.places_left(8, "WH", start) == capacity - taken
        capacity_s, taken_s = crew_rows(client, 8, start)["crew:2"]
        assert engine.crew_left(8, "WH", start, "crew:2") == capacity_s - taken_s


def claims_of_open(client, need):
    """What the open holds of day 8 took of crew pool ``need``."""
    with client.app.state.db.transaction(write=False) as s:
        held = s.scalars(select(Hold).where(Hold.status == "held")).all()
        options = [json.loads(h.option_json) for h in held]
    checkout = client.app.state.checkout
    return sum(dict(checkout._claims(o)).get(need, 0) for o in options if o.get("d") == 8)


@pytest.mark.parametrize(
    "when, why",
    [
        ("2026-11-23", "from 2026-11-24 (the day served)"),
        ("2026-12-16", "to 2026-12-15 (the promise's horizon of 21 days)"),
    ],
)
def test_a_date_the_service_cannot_plan_is_refused_with_its_field(client, when, why):
    r = client.post("/v1/plans", json={"date": when}, headers=keyed(PLANNER_KEY))
    assert r.status_code == 422, r.text
    (problem,) = r.json()["detail"]
    assert problem["loc"] == ["body", "date"] and problem["input"] == when
    assert why in problem["msg"]


def test_a_date_with_another_scenario_folder_is_refused(client, tmp_path):
    write(generate(5, 1, seed=2), tmp_path / "other")
    body = {"date": "2026-11-30", "scenario": str(tmp_path / "other")}
    r = client.post("/v1/plans", json=body, headers=keyed(PLANNER_KEY))
    assert r.status_code == 422, r.text
    (problem,) = r.json()["detail"]
    assert problem["loc"] == ["body", "date"] and "leave out scenario" in problem["msg"]


def test_a_malformed_date_is_refused_with_its_field(client):
    r = client.post("/v1/plans", json={"date": "next tuesday"}, headers=keyed(PLANNER_KEY))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "date"], r.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0011_keeps_the_plan_jobs_of_0010_and_matches_the_models(backend, tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect, text

    from api.db import Database, alembic_config, migrate
    from api.models import Base
    from tests.api_support import database_url

    with database_url(backend, tmp_path) as url:
        database = Database(url)
        migrate(database.engine, "0010")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO plan_jobs (id, status, progress, scenario_dir, time_limit_s, "
                "created_at) VALUES ('job-1', 'done', 1.0, '/x', 5.0, CURRENT_TIMESTAMP)"
            ))  # fmt: skip
        migrate(database.engine, "head")
        assert "slot_crew_capacity" in inspect(database.engine).get_table_names()
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, service_date FROM plan_jobs")).all()
            assert rows == [("job-1", None)]
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert [d for d in diff if any(n in str(d) for n in ("slot_crew_capacity",
                    "plan_jobs"))] == []  # fmt: skip
        with database.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0010")
        assert "slot_crew_capacity" not in inspect(database.engine).get_table_names()
        columns = {c["name"] for c in inspect(database.engine).get_columns("plan_jobs")}
        assert "service_date" not in columns


def test_orders_confirmed_while_a_later_day_is_planned_stay_sold(client):
    """The plan job read the day before a sofa was confirmed for it: that sale is in
    neither the plan nor the open holds, and still takes its place and crews' time."""
    from optimizer.model import Plan

    state = client.app.state
    sc = scenario_for_plan(state, state.settings.scenario, date(2026, 12, 3))  # day 9
    option = at_wh(promise(client, SOFA), day=9)[0]
    held = hold(client, option)
    busy = claims_of(client, held.json()["hold_id"])
    done = client.post(f"/v1/holds/{held.json()['hold_id']}/confirm", headers=keyed(CHECKOUT_KEY))
    assert done.status_code == 200, done.text
    empty = Plan(scenario_name=sc.settings.name, sources={})  # every vehicle free
    assert state.checkout.plan_later_day(sc, empty)
    capacity, taken = places(client, 9)
    assert (capacity - taken, taken) == (32 - 1, 1)
    for need, (capacity_s, taken_s) in crew_rows(client, 9).items():
        assert capacity_s - taken_s == 6 * 3600 - busy[need]


def test_a_release_gives_back_what_the_hold_took_even_after_the_catalogue_changed(
    client, monkeypatch
):
    import dataclasses

    option = at_wh(promise(client, SOFA), day=11)[0]
    held = hold(client, option)
    assert held.status_code == 201, held.text
    checkout = client.app.state.checkout
    catalogue = dict(checkout.scenario.catalogue)
    catalogue[SOFA] = dataclasses.replace(catalogue[SOFA], equipment=frozenset(), crew=3)
    monkeypatch.setattr(checkout, "scenario", dataclasses.replace(checkout.scenario,
                                                                 catalogue=catalogue))  # fmt: skip
    gone = client.delete(f"/v1/holds/{held.json()['hold_id']}", headers=keyed(CHECKOUT_KEY))
    assert gone.status_code == 204
    assert crew_rows(client, 11) == {"crew:2": (6 * 3600, 0), "equipment:tail_lift": (6 * 3600, 0)}


def test_a_crew_pool_without_its_row_is_made_when_first_taken(client):
    """A day stored before 0011 (or a pool a reload added) has no row: the first hold
    makes it, with an empty day's room, and takes its share."""
    from sqlalchemy import delete

    when = date.fromordinal(DAY.toordinal() + 12).isoformat()
    with client.app.state.db.transaction() as s:
        s.execute(delete(SlotCrewCapacity).where(SlotCrewCapacity.service_date == when))
    assert crew_rows(client, 12) == {}
    option = at_wh(promise(client, SOFA), day=12)[0]
    held = hold(client, option)
    assert held.status_code == 201, held.text
    busy = claims_of(client, held.json()["hold_id"])
    assert crew_rows(client, 12) == {need: (6 * 3600, s) for need, s in busy.items()}


def test_a_job_publishing_its_plan_can_no_longer_be_cancelled(client):
    from datetime import datetime

    from api.models import PlanJob

    submitted = datetime.fromisoformat(AT)  # the test's own clock, not the wall's
    with client.app.state.db.transaction() as s:
        s.add(PlanJob(id="00000000-0000-4000-8000-000000000001", status="publishing",
                      progress=0.9, message="publishing", scenario_dir="/x", time_limit_s=1,
                      created_at=submitted))  # fmt: skip
    r = client.post("/v1/plans/00000000-0000-4000-8000-000000000001/cancel",
                    headers=keyed(PLANNER_KEY))  # fmt: skip
    assert r.status_code == 409 and "publishing" in r.text, r.text
    got = client.get("/v1/plans/00000000-0000-4000-8000-000000000001", headers=keyed(PLANNER_KEY))
    assert got.status_code == 200 and got.json()["status"] == "publishing"
