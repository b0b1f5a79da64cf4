"""Driver keys (SQLite and PostgreSQL): a key scoped to vehicles reports their events and
reads their live state, and nothing else; its configuration is checked at start."""

import json
import re

import pytest
from sqlalchemy import select

from api.auth import KeyConfigError, KeyGrant, configured_keys, unknown_vehicles
from api.models import ApiKey
from optimizer.io import load_scenario
from tests.api_support import (
    BACKENDS,
    PLANNER_KEY,
    database_url,
    keyed,
    quick_start,
    running_service,
    service_settings,
    started_service,
)
from tests.tracking_support import hand_plan, store_done_plan

DRIVER_KEY = "test-driver-key-9b1c3d5e7f"
PLANNER = keyed(PLANNER_KEY)
DRIVER = keyed(DRIVER_KEY)


@pytest.fixture(scope="module", params=BACKENDS)
def service(request, tmp_path_factory):
    """The service with a driver key for bike 1 of the hand plan (not bike 2)."""
    tmp = tmp_path_factory.mktemp(f"driver-{request.param}")
    values = quick_start(tmp)
    node = next(iter(load_scenario(values["scenario"]).nodes))
    values["driver_keys"] = [f"{DRIVER_KEY}:{node}/ebike/1"]
    with started_service(request.param, tmp, **values) as client:
        yield client


@pytest.fixture
def day(service):
    scenario_dir = service.app.state.settings.scenario
    doc, facts = hand_plan(scenario_dir)
    return facts | {"plan_id": store_done_plan(service.app, scenario_dir, doc)}


def event(day, name, kind, clock, **fields):
    return {"event_id": f"{day['plan_id'][:8]}-{name}", "kind": kind, "plan_id": day["plan_id"],
            "occurred_at": day["at"](clock), **fields}  # fmt: skip


def test_a_driver_key_reports_its_own_vehicles_events(service, day):
    bike = day["bike"]
    r = service.post("/v1/events", json=event(day, "dep", "departed", "09:00", vehicle_id=bike),
                     headers=DRIVER)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["vehicle"]["vehicle_id"] == bike
    body = event(day, "del-a", "delivered", "09:07", vehicle_id=bike, order_id="A")
    assert service.post("/v1/events", json=body, headers=DRIVER).status_code == 201
    assert service.post("/v1/events", json=body, headers=DRIVER).status_code == 200  # repeat
    # Past the key check, the event is checked as a planner's would be.
    wrong = event(day, "del-d", "delivered", "09:07", vehicle_id=bike, order_id="D")
    r = service.post("/v1/events", json=wrong, headers=DRIVER)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "order_id"]


def test_a_driver_key_is_403_for_another_vehicle_with_the_field_path(service, day):
    body = event(day, "dep2", "departed", "09:00", vehicle_id=day["other"])
    r = service.post("/v1/events", json=body, headers=DRIVER)
    assert r.status_code == 403
    (problem,) = r.json()["detail"]
    assert problem["loc"] == ["body", "vehicle_id"]
    assert problem["msg"] == (
        f"this driver key reports for {day['bike']} only, not {day['other']!r}"
    )
    # Nothing was stored: a planner key may send the same event id afterwards.
    assert service.post("/v1/events", json=body, headers=PLANNER).status_code == 201
    # A store's collected event has no vehicle: a planner's.
    r = service.post("/v1/events", json=event(day, "col", "collected", "10:00", order_id="K"),
                     headers=DRIVER)  # fmt: skip
    assert r.status_code == 403 and r.json()["detail"][0]["loc"] == ["body", "kind"]


def test_a_driver_key_sees_only_its_vehicles_on_the_live_state(service, day):
    live = service.get(f"/v1/plans/{day['plan_id']}/live", headers=DRIVER)
    assert live.status_code == 200, live.text
    assert [v["vehicle_id"] for v in live.json()["vehicles"]] == [day["bike"]]
    full = service.get(f"/v1/plans/{day['plan_id']}/live", headers=PLANNER).json()
    assert len(full["vehicles"]) == 2
    # A plan none of its vehicles is on: 403 on the path's plan id.
    doc, _ = hand_plan(service.app.state.settings.scenario)
    doc["routes"] = doc["routes"][1:]  # bike 2 only
    other_plan = store_done_plan(service.app, service.app.state.settings.scenario, doc)
    r = service.get(f"/v1/plans/{other_plan}/live", headers=DRIVER)
    assert r.status_code == 403 and r.json()["detail"][0]["loc"] == ["path", "plan_id"]
    assert service.get("/v1/plans/nope/live", headers=DRIVER).status_code == 404


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/v1/plans/00000000-0000-0000-0000-000000000000/replan"),
        ("post", "/v1/plans"),
        ("get", "/v1/plans/00000000-0000-0000-0000-000000000000"),
        ("put", "/v1/stock"),
        ("post", "/v1/promise"),
        ("get", "/v1/orders/A/tracking"),
    ],
)
def test_a_driver_key_is_403_everywhere_else(service, method, path):
    r = service.request(method, path, headers=DRIVER, json={})
    assert r.status_code == 403, (path, r.text)
    assert r.json()["detail"].startswith("this is a driver key; this endpoint needs a ")


def test_the_driver_key_is_stored_hashed_with_its_vehicles(service, day):
    with service.app.state.db.transaction(write=False) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.role == "driver")).one()
    assert (row.source, json.loads(row.vehicle_ids)) == ("env", [day["bike"]])
    assert DRIVER_KEY not in (row.key_hash, row.key_prefix)


def test_driver_keys_from_a_file_and_a_changed_scope_at_the_next_start(tmp_path):
    keys = tmp_path / "keys.yaml"
    keys.write_text("driver:\n  file-driver-key-00001: [HUB-N/ebike/1, HUB-N/van/1]\n")
    url = f"sqlite:///{tmp_path / 'lastmile.db'}"
    settings = service_settings(url, tmp_path, api_keys_file=keys, **quick_start(tmp_path))
    assert configured_keys(settings)["file-driver-key-00001"].vehicle_ids == (
        "HUB-N/ebike/1", "HUB-N/van/1",
    )  # fmt: skip
    with running_service(settings) as client:
        grant = client.app.state.keys.grant_of("file-driver-key-00001")
        assert grant == ("driver", frozenset({"HUB-N/ebike/1", "HUB-N/van/1"}))
    keys.write_text("driver:\n  file-driver-key-00001: [HUB-S/bike/2]\n")
    with running_service(settings) as client:
        grant = client.app.state.keys.grant_of("file-driver-key-00001")
        assert grant == ("driver", frozenset({"HUB-S/bike/2"}))
        # No driver key is ever generated; the other roles keep theirs.
        with client.app.state.db.transaction(write=False) as session:
            roles = sorted(session.scalars(select(ApiKey.role)))
        assert roles == ["checkout", "driver", "planner"]


def test_driver_keys_from_the_environment_are_split_on_semicolons(monkeypatch):
    from api.settings import Settings

    monkeypatch.setenv(
        "LASTMILE_DRIVER_KEYS", "env-driver-key-00001:V1,V2 ; env-driver-key-00002:V3;"
    )
    settings = Settings()
    assert settings.driver_keys == ["env-driver-key-00001:V1,V2", "env-driver-key-00002:V3"]
    found = configured_keys(settings.model_copy(update={"checkout_keys": [], "planner_keys": [],
                                                         "api_keys_file": None}))  # fmt: skip
    assert found["env-driver-key-00001"].vehicle_ids == ("V1", "V2")
    assert found["env-driver-key-00002"].vehicle_ids == ("V3",)


@pytest.mark.parametrize(
    "entries, complaint",
    [
        (["no-vehicles-given-here"], "LASTMILE_DRIVER_KEYS[0]: expected KEY:VEHICLE[,VEHICLE...]"),
        ([f"{DRIVER_KEY}:"], "LASTMILE_DRIVER_KEYS[0]: a driver key needs at least one vehicle id"),
        ([f"{DRIVER_KEY}: , "], "needs at least one vehicle id"),
        (["short:V1"], "LASTMILE_DRIVER_KEYS[0]: an API key is 16-256 visible ASCII"),
        ([f"{PLANNER_KEY}:V1"], "LASTMILE_DRIVER_KEYS[0]: the same key is also a planner key"),
        (
            [f"{DRIVER_KEY}:V1", f"{DRIVER_KEY}:V2"],
            "LASTMILE_DRIVER_KEYS[1]: the same driver key is configured before with other vehicles",
        ),
        ([f"{DRIVER_KEY}:{'V' * 129}"], "is not 1-128 visible characters"),
    ],
)
def test_driver_keys_the_service_refuses_to_start_with(tmp_path, entries, complaint):
    settings = service_settings("sqlite://", tmp_path, driver_keys=entries)
    with pytest.raises(KeyConfigError, match=re.escape(complaint)):
        configured_keys(settings)


def test_every_problem_of_the_key_configuration_is_listed_at_once(tmp_path):
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        "driver:\n  file-driver-key-00001: HUB-N/ebike/1\n  file-driver-key-00002: []\n"
    )
    settings = service_settings("sqlite://", tmp_path, api_keys_file=keys,
                                checkout_keys=["short"], driver_keys=["oops"])  # fmt: skip
    with pytest.raises(KeyConfigError) as caught:
        configured_keys(settings)
    message = str(caught.value)
    assert "LASTMILE_CHECKOUT_KEYS[0]: an API key is" in message
    assert "LASTMILE_DRIVER_KEYS[0]: expected KEY:VEHICLE" in message
    assert "driver[0] (file-d...): expected a list of vehicle ids" in message
    assert "driver[1] (file-d...): a driver key needs at least one vehicle id" in message
    assert "file-driver-key-0000" not in message  # keys are secrets: never whole in a message


def test_a_keys_file_whose_driver_entry_is_not_a_mapping_is_refused(tmp_path):
    keys = tmp_path / "keys.yaml"
    keys.write_text("driver: [file-driver-key-00001]\n")
    settings = service_settings("sqlite://", tmp_path, api_keys_file=keys)
    with pytest.raises(
        KeyConfigError, match=re.escape("driver: expected a mapping {key: [vehicle ids]}")
    ):
        configured_keys(settings)


def test_serve_refuses_a_bad_driver_key_with_a_message_and_no_traceback(monkeypatch):
    from typer.testing import CliRunner

    from cli import app

    monkeypatch.setenv("LASTMILE_DRIVER_KEYS", "a-driver-key-without-vehicles")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code != 0
    assert "LASTMILE_DRIVER_KEYS[0]: expected KEY:VEHICLE" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0005_adds_the_driver_scope_and_downgrades(backend, tmp_path):
    from alembic import command
    from sqlalchemy import inspect, text

    from api.db import Database, alembic_config, migrate

    with database_url(backend, tmp_path) as url:
        database = Database(url)
        migrate(database.engine, "0004")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO api_keys (role, key_hash, key_prefix, created_at, source) "
                "VALUES ('planner', 'h1', 'abcdef', CURRENT_TIMESTAMP, 'env')"
            ))  # fmt: skip
        migrate(database.engine, "head")
        columns = {c["name"] for c in inspect(database.engine).get_columns("api_keys")}
        assert "vehicle_ids" in columns
        with database.engine.begin() as connection:
            rows = connection.execute(text("SELECT role, vehicle_ids FROM api_keys")).all()
            assert rows == [("planner", None)]  # kept, no scope
            connection.execute(text(
                "INSERT INTO api_keys (role, key_hash, key_prefix, created_at, source, "
                "vehicle_ids) VALUES ('driver', 'h2', 'ghijkl', CURRENT_TIMESTAMP, 'env', "
                "'[\"V1\"]')"
            ))  # fmt: skip
        with database.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0004")
        columns = {c["name"] for c in inspect(database.engine).get_columns("api_keys")}
        assert "vehicle_ids" not in columns
        with database.engine.connect() as connection:
            roles = connection.execute(text("SELECT role FROM api_keys")).scalars().all()
            assert roles == ["planner"]  # the driver key went with its scope
        migrate(database.engine, "head")
        database.dispose()


def test_vehicles_the_served_fleet_does_not_have_are_warned_about_not_refused():
    configured = {
        DRIVER_KEY: KeyGrant("driver", "env", ("HUB-N/ebike/1", "HUB-N/ebike/9")),
        PLANNER_KEY: KeyGrant("planner", "env"),
    }
    assert unknown_vehicles(configured, {"HUB-N/ebike/1"}) == [
        "driver key test-d... names vehicles not in the served scenario's fleet: HUB-N/ebike/9"
    ]
    assert unknown_vehicles(configured, {"HUB-N/ebike/1", "HUB-N/ebike/9"}) == []
