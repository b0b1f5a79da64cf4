"""``lastmile keys``: list, add, revoke and rotate API keys on the service's database
(a new key printed once, alone on stdout), and rotate the server secret."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.auth import KeyStore, configure_keys
from api.db import Database
from api.secret import secret_path, server_secret
from api.settings import Settings
from cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """The service's settings as the command sees them: a SQLite database in tmp_path."""
    for name in ("CHECKOUT_KEYS", "PLANNER_KEYS", "DRIVER_KEYS", "API_KEYS_FILE", "SECRET"):
        monkeypatch.delenv(f"LASTMILE_{name}", raising=False)
    monkeypatch.setenv("LASTMILE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LASTMILE_DATABASE_URL", f"sqlite:///{tmp_path / 'state' / 'lm.db'}")
    return tmp_path


def started(settings: Settings | None = None) -> tuple[Database, dict[str, str]]:
    """The database as the service leaves it at a start: migrated, keys configured."""
    settings = settings or Settings()
    db = Database(settings.database_url)
    db.migrate()
    return db, configure_keys(db, settings)


def keys(*args: str) -> list[dict]:
    result = runner.invoke(app, ["keys", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rotate_makes_a_key_the_service_accepts_and_a_restart_keeps(env):
    db, generated = started()
    try:
        listed = keys()
        assert sorted((k["role"], k["source"]) for k in listed) == [
            ("checkout", "generated"),
            ("planner", "generated"),
        ]
        result = runner.invoke(app, ["keys", "rotate", "--role", "checkout"])
        assert result.exit_code == 0, result.output
        new = result.stdout.strip()
        assert len(new) >= 32 and "\n" not in new  # the key alone on stdout
        assert "shown once" in result.stderr and "revoked checkout key" in result.stderr
        store = KeyStore(db)
        assert store.grant_of(new)[0] == "checkout"
        assert store.grant_of(generated["checkout"]) is None  # the lost key no longer works
        assert store.grant_of(generated["planner"])[0] == "planner"
        # A restart keeps the rotated key and generates nothing.
        assert configure_keys(db, Settings()) == {}
        store.reload()
        assert store.grant_of(new)[0] == "checkout"
        assert new not in json.dumps(keys())  # never shown again, only its first characters
    finally:
        db.dispose()


def test_add_and_revoke_a_driver_key(env):
    db, _ = started()
    try:
        result = runner.invoke(app, ["keys", "add", "--role", "driver", "--vehicle", "V1",
                                     "--vehicle", "V2"])  # fmt: skip
        assert result.exit_code == 0, result.output
        key = result.stdout.strip()
        store = KeyStore(db, ttl_s=0)
        assert store.grant_of(key) == ("driver", frozenset({"V1", "V2"}))
        driver = next(k for k in keys() if k["role"] == "driver")
        assert driver["vehicle_ids"] == ["V1", "V2"] and driver["source"] == "cli"
        assert configure_keys(db, Settings()) == {}  # kept across starts
        result = runner.invoke(app, ["keys", "revoke", str(driver["key_id"])])
        assert result.exit_code == 0, result.output
        assert store.grant_of(key) is None
        result = runner.invoke(app, ["keys", "revoke", str(driver["key_id"])])
        assert result.exit_code == 2 and "no key" in result.output
    finally:
        db.dispose()


def test_revoking_the_last_generated_key_says_a_start_makes_a_new_one(env):
    db, _ = started()
    try:
        planner = next(k for k in keys() if k["role"] == "planner")
        result = runner.invoke(app, ["keys", "revoke", str(planner["key_id"])])
        assert result.exit_code == 0 and "makes a new one at its next start" in result.stderr
        assert set(configure_keys(db, Settings())) == {"planner"}
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "--role", "admin"], "role 'admin' not understood"),
        (["add", "--role", "driver"], "a driver key needs at least one vehicle id"),
        (["add", "--role", "planner", "--vehicle", "V1"], "only a driver key names vehicles"),
        (["rotate", "--role", "checkout"], "the checkout keys are configured"),
        (["revoke", "1"], "is configured in the environment"),
    ],
)
def test_what_the_next_start_would_undo_is_refused(env, monkeypatch, args, message):
    monkeypatch.setenv("LASTMILE_CHECKOUT_KEYS", "configured-checkout-key-0001")
    db, _ = started()
    db.dispose()
    result = runner.invoke(app, ["keys", *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


def test_rotate_secret_replaces_the_secret(env):
    db, _ = started()
    settings = Settings()
    try:
        before = server_secret(db, settings)
        result = runner.invoke(app, ["keys", "rotate-secret"])
        assert result.exit_code == 0, result.output
        text = " ".join(result.stderr.split())
        assert str(secret_path(settings)) in text and "Restart the service" in text
        assert "no longer work" in text
        assert server_secret(db, settings) != before
    finally:
        db.dispose()


def test_a_database_it_cannot_open_is_a_clear_error(env, monkeypatch):
    monkeypatch.setenv("LASTMILE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = runner.invoke(app, ["keys", "list"])
    assert result.exit_code == 2 and "cannot open the service's database" in result.output
