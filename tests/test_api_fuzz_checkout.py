"""A fuzzer over the checkout endpoints: whatever it sends, no 5xx, and every answer is
one the OpenAPI spec documents (status, content type, schema)."""

import time

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed
from tests.fuzz_support import fuzz_schema_fixture, fuzz_settings


def _wait_for_the_checkout(app, client) -> None:
    """The checkout plans its day when the service starts: fuzz once it answers."""
    deadline = time.monotonic() + 60
    body = {"lines": [{"sku": "SKU-1001", "qty": 1}], "address": {"postcode": "75011"}}
    while client.post("/v1/promise", json=body, headers=keyed(CHECKOUT_KEY)).status_code == 503:
        assert time.monotonic() < deadline, "the checkout did not get ready"
        time.sleep(0.2)


fuzz_schema = fuzz_schema_fixture("fuzz-checkout", prepare=_wait_for_the_checkout)
fuzz = schemathesis.pytest.from_fixture("fuzz_schema")
SETTINGS = fuzz_settings(max_examples=25)


@fuzz.include(path_regex="^/v1/(promise|holds|back-in-stock)").parametrize()
@SETTINGS
def test_fuzzed_checkout_requests_get_no_5xx_and_documented_answers(case):
    # Schema-valid data may still be refused by meaning (an unknown SKU, a postcode the
    # scenario does not know, an address outside the service area): those are 4xx.
    case.call_and_validate(headers=keyed(CHECKOUT_KEY), excluded_checks=[positive_data_acceptance])


@fuzz.include(path_regex="^/v1/(stock|scenario)").parametrize()
@SETTINGS
def test_fuzzed_planner_requests_get_no_5xx_and_documented_answers(case):
    case.call_and_validate(headers=keyed(PLANNER_KEY), excluded_checks=[positive_data_acceptance])
