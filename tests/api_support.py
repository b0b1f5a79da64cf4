"""Helpers for the API tests: the service over SQLite or PostgreSQL, with known keys.

``service_fixture(...)`` makes a pytest fixture yielding a started service (a
``TestClient``) per backend; assign it to a name in a test module::

    client = service_fixture()                 # SQLite and PostgreSQL, one per module
    sqlite_client = service_fixture(backends=("sqlite",), quick_start=True)

``quick_start`` serves a one-order day with a 1 s plan budget: a service on an empty
database plans its day when it starts (for the checkout), which takes seconds on Paris;
tests about keys or plan jobs do not need that day.

PostgreSQL is ``LASTMILE_TEST_PG_URL`` (default: the role and database ``.ci/run``
creates). Each service gets a schema of its own, dropped afterwards. When PostgreSQL is
unreachable its tests are skipped, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.settings import SHIPPED_SCENARIO, Settings
from data.generator import generate, write

BACKENDS = ("sqlite", "postgresql")
SAMPLE_MORNING = "2026-11-24T07:00:00+01:00"  # the shipped day's (and generated days') 07:00
CHECKOUT_KEY = "test-checkout-key-7f3a9c1e5b"
PLANNER_KEY = "test-planner-key-2d8e4b6a0c"
PG_URL = os.environ.get(
    "LASTMILE_TEST_PG_URL", "postgresql+psycopg://lastmile:lastmile@127.0.0.1:5432/lastmile_test"
)


def keyed(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


@cache
def _postgres_unreachable() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to reach it: wrong password, no server, ...
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def require_postgres() -> None:
    """Skip when PostgreSQL is unreachable; in CI, fail instead."""
    why = _postgres_unreachable()
    if why is None:
        return
    message = f"PostgreSQL at {make_url(PG_URL).render_as_string()} unreachable ({why})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the PostgreSQL tests (see .ci/run)")
    pytest.skip(message)


@contextmanager
def database_url(backend: str, tmp_dir: Path) -> Iterator[str]:
    """An empty database: a SQLite file in ``tmp_dir``, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'lastmile.db'}"
        return
    require_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def service_settings(url: str, tmp_dir: Path, *, keys: bool = True, **overrides) -> Settings:
    """Settings for a test service; every field given, so no LASTMILE_* variable leaks in."""
    values = dict(
        database_url=url,
        state_dir=tmp_dir,
        scenario=SHIPPED_SCENARIO,
        api_keys_file=None,
        checkout_keys=[CHECKOUT_KEY] if keys else [],
        planner_keys=[PLANNER_KEY] if keys else [],
        driver_keys=[],
        hold_ttl_s=600,
        plan_time_limit_s=30.0,
        secret=None,
        tracking_token_days=30,
        # The tests' webhook receivers listen on 127.0.0.1 (test_webhooks.py checks the
        # refusal with this off).
        webhook_allow_private=True,
        # The service's clock starts on the shipped day's morning and runs: no test
        # depends on the machine's date (tests of other days set their own).
        clock=SAMPLE_MORNING,
    )
    return Settings(**(values | overrides))


def quick_start(tmp_dir: Path) -> dict:
    """Settings overrides for a service that is ready at once: a one-order day (written
    into ``tmp_dir``) and a 1 s plan budget."""
    day = tmp_dir / "one-order-day"
    if not day.exists():
        write(generate(1, 1), day)
    return {"scenario": day, "plan_time_limit_s": 1.0}


@contextmanager
def running_service(
    settings: Settings, extend: Callable[[FastAPI], None] | None = None, clock=None
) -> Iterator[TestClient]:
    """The service started (lifespan run) and stopped around the block; ``clock`` (an
    :class:`api.clock.ManualClock`, say) replaces ``settings.clock``."""
    app = create_app(settings, clock=clock)
    if extend is not None:
        extend(app)
    with TestClient(app) as client:
        yield client


@contextmanager
def served_by_uvicorn(app: FastAPI, log_level: str = "warning") -> Iterator[int]:
    """``app`` served by a real uvicorn on a free port of 127.0.0.1 (in a thread) for
    the block: its port."""
    import threading
    import time

    import uvicorn

    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level=log_level))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield uv.servers[0].sockets[0].getsockname()[1]
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


@contextmanager
def started_service(
    backend: str,
    tmp_dir: Path,
    extend: Callable[[FastAPI], None] | None = None,
    clock=None,
    **overrides,
) -> Iterator[TestClient]:
    """A service started on an empty database of ``backend`` in ``tmp_dir``, with the
    test settings and ``overrides`` (:func:`service_settings`), for the block."""
    with (
        database_url(backend, tmp_dir) as url,
        running_service(service_settings(url, tmp_dir, **overrides), extend, clock) as client,
    ):
        yield client


def service_fixture(
    backends: tuple[str, ...] = BACKENDS,
    scope: str = "module",
    extend: Callable[[FastAPI], None] | None = None,
    quick_start: bool = False,
    **overrides,
):
    """A fixture yielding a started service per backend, with keys CHECKOUT_KEY and
    PLANNER_KEY; ``extend(app)`` may add routes before it starts."""

    @pytest.fixture(scope=scope, params=list(backends))
    def service(request, tmp_path_factory) -> Iterator[TestClient]:
        tmp = tmp_path_factory.mktemp(f"api-{request.param}")
        values = (_quick_start(tmp) if quick_start else {}) | overrides
        with started_service(request.param, tmp, extend, **values) as client:
            yield client

    return service


_quick_start = quick_start  # service_fixture's parameter of the same name hides it
