"""A fuzzer over the tracking endpoints: whatever it sends, no 5xx, and every answer is
one the OpenAPI spec documents (status, content type, schema)."""

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from optimizer.io import load_scenario
from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed, quick_start, service_settings
from tests.tracking_support import hand_plan, store_done_plan

DRIVER_KEY = "fuzz-driver-key-4a6c8e0b2d"


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    """A service of its own on a one-order day, with the hand-checked plan stored."""
    tmp = tmp_path_factory.mktemp("fuzz-tracking")
    values = quick_start(tmp)
    node = next(iter(load_scenario(values["scenario"]).nodes))
    values["driver_keys"] = [f"{DRIVER_KEY}:{node}/ebike/1"]  # bike 1 of the hand plan
    app = create_app(service_settings(f"sqlite:///{tmp / 'lastmile.db'}", tmp, **values))
    with TestClient(app):
        scenario_dir = app.state.settings.scenario
        store_done_plan(app, scenario_dir, hand_plan(scenario_dir)[0])
        yield app


@pytest.fixture
def fuzz_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


fuzz = schemathesis.pytest.from_fixture("fuzz_schema")
SETTINGS = hypothesis.settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@fuzz.include(path_regex="^/v1/events").parametrize()
@SETTINGS
def test_fuzzed_events_get_no_5xx_and_documented_answers(case):
    # Schema-valid events may name a plan, vehicle or order that does not exist: 4xx.
    case.call_and_validate(headers=keyed(PLANNER_KEY), excluded_checks=[positive_data_acceptance])


@fuzz.include(path_regex="^/v1/orders/").parametrize()
@SETTINGS
def test_fuzzed_tracking_requests_get_no_5xx_and_documented_answers(case):
    case.call_and_validate(headers=keyed(CHECKOUT_KEY), excluded_checks=[positive_data_acceptance])


@fuzz.include(path_regex="^/v1/(events|plans/[^/]+/live)").parametrize()
@SETTINGS
def test_fuzzed_driver_requests_get_no_5xx_and_documented_answers(case):
    # A driver key: its own vehicle's events and live state, 403 for the others.
    case.call_and_validate(headers=keyed(DRIVER_KEY), excluded_checks=[positive_data_acceptance])
