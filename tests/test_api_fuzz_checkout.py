"""A fuzzer over the checkout endpoints: whatever it sends, no 5xx, and every answer is
one the OpenAPI spec documents (status, content type, schema)."""

import time

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed, quick_start, service_settings


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    """A service of its own on a one-order day, its checkout ready before fuzzing."""
    tmp = tmp_path_factory.mktemp("fuzz-checkout")
    app = create_app(service_settings(f"sqlite:///{tmp / 'lastmile.db'}", tmp, **quick_start(tmp)))
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        body = {"lines": [{"sku": "SKU-1001", "qty": 1}], "address": {"postcode": "75011"}}
        while client.post("/v1/promise", json=body, headers=keyed(CHECKOUT_KEY)).status_code == 503:
            assert time.monotonic() < deadline, "the checkout did not get ready"
            time.sleep(0.2)
        yield app


@pytest.fixture
def fuzz_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


fuzz = schemathesis.pytest.from_fixture("fuzz_schema")
SETTINGS = hypothesis.settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@fuzz.include(path_regex="^/v1/(promise|holds)").parametrize()
@SETTINGS
def test_fuzzed_checkout_requests_get_no_5xx_and_documented_answers(case):
    # Schema-valid data may still be refused by meaning (an unknown SKU, a postcode the
    # scenario does not know, an address outside the service area): those are 4xx.
    case.call_and_validate(headers=keyed(CHECKOUT_KEY), excluded_checks=[positive_data_acceptance])


@fuzz.include(path_regex="^/v1/(stock|scenario)").parametrize()
@SETTINGS
def test_fuzzed_planner_requests_get_no_5xx_and_documented_answers(case):
    case.call_and_validate(headers=keyed(PLANNER_KEY), excluded_checks=[positive_data_acceptance])
