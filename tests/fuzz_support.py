"""What the API fuzzers share: a service of their own, its OpenAPI schema for schemathesis,
and hypothesis settings that make a run repeatable.

A fuzz module says what its service needs before fuzzing and how many examples to try::

    fuzz_schema = fuzz_schema_fixture("fuzz-checkout", prepare=wait_for_the_checkout)
    fuzz = schemathesis.pytest.from_fixture("fuzz_schema")
    SETTINGS = fuzz_settings(max_examples=25)

    @fuzz.include(path_regex="^/v1/promise").parametrize()
    @SETTINGS
    def test_...(case): ...

The service runs on SQLite with a one-order day (``quick_start``) and the keys
CHECKOUT_KEY and PLANNER_KEY; it is started once per module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api_support import quick_start, service_settings


def fuzz_schema_fixture(
    name: str,
    prepare: Callable[[FastAPI, TestClient], None],
    configure: Callable[[dict], None] | None = None,
):
    """A module fixture (assign it to ``fuzz_schema``) yielding the OpenAPI schema of a
    service of its own, started in a temporary folder named ``name``; ``configure(values)``
    may add to the service's settings first (e.g. driver keys); ``prepare(app, client)``
    runs once the service is up, before the first fuzzed request."""

    @pytest.fixture(scope="module")
    def fuzz_schema(tmp_path_factory) -> Iterator[schemathesis.BaseSchema]:
        tmp = tmp_path_factory.mktemp(name)
        values = quick_start(tmp)
        if configure is not None:
            configure(values)
        app = create_app(service_settings(f"sqlite:///{tmp / 'lastmile.db'}", tmp, **values))
        with TestClient(app) as client:
            prepare(app, client)
            yield schemathesis.openapi.from_asgi("/openapi.json", app)

    return fuzz_schema


def fuzz_settings(max_examples: int) -> hypothesis.settings:
    """The same examples on every run (``derandomize``), no time limit per example (the
    service plans and answers at its own pace), and no health check: schemathesis's
    strategies are large by nature and a fixture serves every example."""
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
