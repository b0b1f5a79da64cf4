"""A fuzzer over the tracking endpoints: whatever it sends, no 5xx, and every answer is
one the OpenAPI spec documents (status, content type, schema)."""

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from optimizer.io import load_scenario
from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed
from tests.fuzz_support import fuzz_schema_fixture, fuzz_settings
from tests.tracking_support import hand_plan, store_done_plan

DRIVER_KEY = "fuzz-driver-key-4a6c8e0b2d"


def _a_driver_for_bike_1(values: dict) -> None:
    """A driver key for bike 1 of the hand plan."""
    node = next(iter(load_scenario(values["scenario"]).nodes))
    values["driver_keys"] = [f"{DRIVER_KEY}:{node}/ebike/1"]


def _store_the_hand_checked_plan(app, client) -> None:
    """Tracking answers about a stored plan: the hand-checked one."""
    scenario_dir = app.state.settings.scenario
    store_done_plan(app, scenario_dir, hand_plan(scenario_dir)[0])


fuzz_schema = fuzz_schema_fixture(
    "fuzz-tracking", prepare=_store_the_hand_checked_plan, configure=_a_driver_for_bike_1
)
fuzz = schemathesis.pytest.from_fixture("fuzz_schema")
SETTINGS = fuzz_settings(max_examples=40)


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
