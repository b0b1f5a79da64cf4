"""The service's state is its owner's only: the state folder 0700, the SQLite database
(and its -wal/-shm) 0600, and the server secret in a 0600 file apart from the data (or
``LASTMILE_SECRET``); a database of an earlier version keeps its secret; rotation."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from api.db import Database
from api.models import KV
from api.secret import SecretError, rotate_secret, secret_path, server_secret
from api.settings import Settings
from tests.api_support import database_url, require_postgres

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """The usual umask (022), which made the database 0644 before."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def sqlite(tmp_path, **overrides) -> tuple[Database, Settings]:
    state = tmp_path / "state"
    settings = Settings(
        state_dir=state, database_url=f"sqlite:///{state / 'lastmile.db'}", **overrides
    )
    db = Database(settings.database_url)
    db.migrate()
    return db, settings


def test_the_state_folder_the_database_and_the_secret_are_private(tmp_path, loose_umask):
    db, settings = sqlite(tmp_path)
    try:
        secret = server_secret(db, settings)
        with db.transaction() as s:  # a write: the WAL exists
            s.merge(KV(key="probe", value="x"))
        state = settings.state_dir
        assert mode(state) == 0o700
        for name in ("lastmile.db", "lastmile.db-wal", "lastmile.db-shm", "secret"):
            assert mode(state / name) == 0o600, name
        assert secret_path(settings).read_text().strip() == secret.hex()
        with db.transaction() as s:  # the secret is not in the data
            assert s.get(KV, "server_secret") is None
        assert server_secret(db, settings) == secret  # the same at every start
    finally:
        db.dispose()


def test_a_database_of_an_earlier_version_keeps_its_secret_and_is_made_private(
    tmp_path, loose_umask
):
    state = tmp_path / "state"
    state.mkdir()
    path = state / "lastmile.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    with db.transaction() as s:  # as an earlier version left it
        s.add(KV(key="server_secret", value="ab" * 32))
    db.dispose()
    path.chmod(0o644)
    db, settings = sqlite(tmp_path)
    try:
        assert mode(path) == 0o600
        assert server_secret(db, settings) == bytes.fromhex("ab" * 32)
        assert secret_path(settings).read_text().strip() == "ab" * 32
        with db.transaction() as s:
            assert s.get(KV, "server_secret") is None  # moved out of the data
    finally:
        db.dispose()


def test_lastmile_secret_wins_and_is_not_stored(tmp_path):
    db, settings = sqlite(tmp_path, secret="s" * 40)
    try:
        assert server_secret(db, settings) == b"s" * 40
        assert not secret_path(settings).exists()
        with pytest.raises(SecretError, match="LASTMILE_SECRET"):
            rotate_secret(db, settings)
    finally:
        db.dispose()


def test_rotating_the_secret_replaces_it_privately(tmp_path, loose_umask):
    db, settings = sqlite(tmp_path)
    try:
        before = server_secret(db, settings)
        where = rotate_secret(db, settings)
        assert where == str(secret_path(settings))
        after = server_secret(db, settings)
        assert after != before and len(after) == 32
        assert mode(secret_path(settings)) == 0o600
        assert not [p for p in settings.state_dir.iterdir() if p.name.endswith(".tmp")]
    finally:
        db.dispose()


def test_a_secret_file_that_is_not_a_secret_is_a_clear_error(tmp_path):
    db, settings = sqlite(tmp_path)
    try:
        secret_path(settings).write_text("not hex\n")
        with pytest.raises(SecretError, match="cannot read the server secret"):
            server_secret(db, settings)
    finally:
        db.dispose()


def test_on_postgresql_the_secret_is_shared_in_the_database(tmp_path):
    require_postgres()
    with database_url("postgresql", tmp_path) as url:
        settings = Settings(state_dir=tmp_path / "state", database_url=url)
        db = Database(url)
        try:
            db.migrate()
            first = server_secret(db, settings)
            assert server_secret(db, settings) == first  # another instance: the same
            assert not secret_path(settings).exists()
            rotate_secret(db, settings)
            assert server_secret(db, settings) != first
            with db.transaction() as s:
                assert s.execute(text("SELECT count(*) FROM kv")).scalar() == 1
        finally:
            db.dispose()
