"""Customers' tracking tokens expire (signed with their expiry) and never reach a log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest

from api.app import create_app
from api.clock import ManualClock
from api.log_redaction import RedactTokens, redact
from api.services.tracking import TrackingService
from tests.api_support import (
    CHECKOUT_KEY,
    SAMPLE_MORNING,
    database_url,
    keyed,
    quick_start,
    served_by_uvicorn,
    service_settings,
    started_service,
)
from tests.tracking_support import hand_plan, store_done_plan

MORNING = datetime.fromisoformat(SAMPLE_MORNING)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tokens")
    with started_service("sqlite", tmp, **quick_start(tmp)) as client:
        scenario_dir = client.app.state.settings.scenario
        store_done_plan(client.app, scenario_dir, hand_plan(scenario_dir)[0])
        yield client


def issued_at(client, moment: datetime, order_id: str, days: int = 30) -> str:
    """The token the service would have issued at ``moment``."""
    state = client.app.state
    then = SimpleNamespace(
        settings=SimpleNamespace(tracking_token_days=days),
        scenario=state.scenario,
        clock=ManualClock(moment),
    )
    return TrackingService(state.db, then, state.server_secret).token(order_id)


def order_of(client) -> str:
    return "A"  # of the hand plan


def test_a_token_carries_its_signed_expiry_the_end_of_the_30th_day(service):
    order_id = order_of(service)
    answer = service.get(f"/v1/orders/{order_id}/tracking", headers=keyed(CHECKOUT_KEY)).json()
    token = answer["tracking_url"].split("token=")[1]
    expires, _, _ = token.partition(".")
    tz = service.app.state.scenario.settings.tz
    end = datetime.fromtimestamp(int(expires), tz)
    assert end == datetime(2026, 12, 25, tzinfo=tz)  # 24 Nov + 30 days, at its end
    ok = service.get(f"/v1/orders/{order_id}/tracking", params={"token": token})
    assert ok.status_code == 200 and ok.json()["order_id"] == order_id


def test_an_expired_token_is_401_saying_so(service):
    order_id = order_of(service)
    old = issued_at(service, MORNING - timedelta(days=31), order_id)
    answer = service.get(f"/v1/orders/{order_id}/tracking", params={"token": old})
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("this tracking link expired at the end of 2026-11-23")
    # Issued 30 days ago: still good today.
    fresh = issued_at(service, MORNING - timedelta(days=30), order_id)
    assert service.get(f"/v1/orders/{order_id}/tracking", params={"token": fresh}).is_success


def test_a_token_with_its_expiry_moved_or_of_the_old_kind_is_refused(service):
    order_id = order_of(service)
    token = issued_at(service, MORNING, order_id)
    expires, _, mac = token.partition(".")
    later = f"{int(expires) + 365 * 86_400}.{mac}"
    secret = service.app.state.server_secret
    digest = hmac.new(secret, b"track:" + order_id.encode(), hashlib.sha256).digest()
    unexpiring = base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")  # before expiry
    for bad in (later, unexpiring, f"{expires}.", f"x{token}", "."):
        answer = service.get(f"/v1/orders/{order_id}/tracking", params={"token": bad})
        assert answer.status_code == 401, bad
        assert answer.json()["detail"] == "this tracking link is not valid for this order"


@pytest.mark.parametrize(
    "line, shown",
    [
        ("/track/O1?token=123.abc-_", "/track/O1?token=[redacted]"),
        ("/v1/o?x=1&token=123.abc&y=2", "/v1/o?x=1&token=[redacted]&y=2"),
        ("/v1/orders/O1/tracking?TOKEN=abc", "/v1/orders/O1/tracking?TOKEN=[redacted]"),
        ("/v1/orders/O1/tracking?order_token=abc", "/v1/orders/O1/tracking?order_token=abc"),
        ("/healthz", "/healthz"),
    ],
)  # fmt: skip
def test_redact_replaces_every_token_value(line, shown):
    assert redact(line) == shown


def test_the_filter_redacts_an_access_log_record():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/track/O1?token=1.secret", "1.1", 200), None,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    assert "secret" not in record.getMessage() and "token=[redacted]" in record.getMessage()


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_uvicorns_access_log_never_shows_a_token(tmp_path):
    """The service in uvicorn with its own logging configuration, as ``lastmile serve``
    runs it: the access log has each request, its token redacted."""
    with database_url("sqlite", tmp_path) as url:
        app = create_app(service_settings(url, tmp_path, **quick_start(tmp_path)))
        capture = Capture()
        with served_by_uvicorn(app, log_level="info") as port:
            logging.getLogger("uvicorn.access").addHandler(capture)
            try:
                base = f"http://127.0.0.1:{port}"
                scenario_dir = app.state.settings.scenario
                store_done_plan(app, scenario_dir, hand_plan(scenario_dir)[0])
                order_id = "A"
                with httpx.Client(base_url=base) as client:
                    answer = client.get(
                        f"/v1/orders/{order_id}/tracking", headers=keyed(CHECKOUT_KEY)
                    ).json()
                    token = answer["tracking_url"].split("token=")[1]
                    assert client.get(answer["tracking_url"]).status_code == 200  # the page
                    assert client.get(
                        f"/v1/orders/{order_id}/tracking", params={"token": token}
                    ).is_success
                deadline = time.monotonic() + 10
                while len(capture.lines) < 3 and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                logging.getLogger("uvicorn.access").removeHandler(capture)
    logged = "\n".join(capture.lines)
    assert logged.count("token=[redacted]") == 2, logged
    assert token not in logged and token.partition(".")[2] not in logged
