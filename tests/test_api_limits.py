"""Request bodies: a caller without a known key gets 401 before its body is read, and a
body over its endpoint's limit gets 413 (issue 13, item 12). Through the TestClient for
the answers, and through a real uvicorn on 127.0.0.1 with raw sockets to show the body
is not read: the answer comes while most of the declared body was never sent."""

from __future__ import annotations

import json
import re
import select
import socket
import time

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.app import create_app
from api.limits import (
    BODY_LIMITS_BYTES,
    DEFAULT_BODY_LIMIT_BYTES,
    MIB,
    body_limit_bytes,
    declared_body_limit_bytes,
)
from tests.api_support import (
    CHECKOUT_KEY,
    PLANNER_KEY,
    database_url,
    keyed,
    served_by_uvicorn,
    service_fixture,
    service_settings,
)
from tests.api_support import quick_start as quick_start_settings

client = service_fixture(backends=("sqlite",), quick_start=True)

STOCK_LIMIT_BYTES = BODY_LIMITS_BYTES[("PUT", r"/v1/stock")]
# Every endpoint that reads a body, with the key it needs.
BODIED = [
    ("post", "/v1/promise", CHECKOUT_KEY),
    ("post", "/v1/holds", CHECKOUT_KEY),
    ("post", "/v1/holds/h-1/confirm", CHECKOUT_KEY),
    ("put", "/v1/stock", PLANNER_KEY),
    ("post", "/v1/events", PLANNER_KEY),
    ("post", "/v1/webhooks", PLANNER_KEY),
    ("post", "/v1/plans", PLANNER_KEY),
    ("post", "/v1/plans/00000000-0000-0000-0000-000000000000/replan", PLANNER_KEY),
    ("post", "/v1/scenario/reload", PLANNER_KEY),
]


def test_limits_per_endpoint():
    assert body_limit_bytes("PUT", "/v1/stock") == STOCK_LIMIT_BYTES >= 8 * MIB
    assert declared_body_limit_bytes("POST", "/v1/plans/abc/replan") is not None
    assert declared_body_limit_bytes("POST", "/v1/plans/a/b/replan") is None
    assert declared_body_limit_bytes("GET", "/v1/holds/h-1") is None
    assert body_limit_bytes("POST", "/v1/promise") == DEFAULT_BODY_LIMIT_BYTES
    assert body_limit_bytes("POST", "/v1/stock") == DEFAULT_BODY_LIMIT_BYTES
    assert body_limit_bytes("PUT", "/v1/stock/x") == DEFAULT_BODY_LIMIT_BYTES


@pytest.mark.parametrize("method, path, key", BODIED)
def test_a_body_without_a_known_key_is_401(client, method, path, key):
    for headers, why in (({}, "missing API key"), (keyed("not-a-known-key-123"), "unknown")):
        # Not JSON at all: before the gate, FastAPI read and parsed it first (400/422).
        response = client.request(method, path, content=b"{not json", headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "ApiKey"
        assert why in response.json()["detail"]


@pytest.mark.parametrize("method, path, key", BODIED)
def test_a_body_over_its_endpoint_limit_is_413(client, method, path, key):
    limit = body_limit_bytes(method.upper(), path)
    body = b" " * (limit + 1)
    response = client.request(method, path, content=body, headers=keyed(key))
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert path in detail and str(limit) in detail


# -- every route of the app, walked --------------------------------------------------


def app_routes(app: FastAPI) -> list[tuple[str, str, bool]]:
    """Every ``(method, path template, reads a body)`` the app serves (HEAD left out),
    routers included by the app walked too, the pages outside the OpenAPI schema too."""
    found: list[tuple[str, str, bool]] = []

    def walk(routes) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None) or getattr(route, "app", None)
            if isinstance(route, APIRoute):
                for method in sorted(route.methods - {"HEAD"}):
                    found.append((method, route.path, route.body_field is not None))
            elif hasattr(route, "methods") and hasattr(route, "path"):
                for method in sorted((route.methods or set()) - {"HEAD"}):
                    found.append((method, route.path, False))
            elif inner is not None and hasattr(inner, "routes"):
                walk(inner.routes)

    walk(app.routes)
    return found


def sample_path(template: str) -> str:
    """A concrete path for a route template: each ``{parameter}`` replaced by a value."""
    return re.sub(r"\{[^}]+\}", "sample-1", template)


def routes_without_a_limit(app: FastAPI) -> list[tuple[str, str]]:
    """The app's routes that read a body and have no entry in BODY_LIMITS_BYTES."""
    return [
        (method, path)
        for method, path, reads_body in app_routes(app)
        if reads_body and declared_body_limit_bytes(method, sample_path(path)) is None
    ]


def test_the_walk_finds_every_endpoint_with_a_body(client):
    bodied = {(m, sample_path(p)) for m, p, reads in app_routes(client.app) if reads}
    named = {
        (m.upper(), p.replace("00000000-0000-0000-0000-000000000000", "sample-1"))
        for m, p, _ in BODIED
        if not p.endswith(("/confirm", "/reload"))
    }
    assert named <= bodied
    assert len(app_routes(client.app)) >= 15


def test_every_route_with_a_body_has_its_own_limit(client):
    assert routes_without_a_limit(client.app) == []
    # ... and every declared limit is some route's (no stale entry hiding a typo).
    bodied = [(m, sample_path(p)) for m, p, reads in app_routes(client.app) if reads]
    for method, pattern in BODY_LIMITS_BYTES:
        assert any(m == method and re.fullmatch(pattern, p) for m, p in bodied), pattern


class Thing(BaseModel):
    """A body for a route the service does not have."""

    name: str


def test_a_new_route_with_a_body_and_no_limit_is_found(client):
    app = FastAPI()
    app.include_router(client.app.router)

    @app.post("/v1/things/{thing_id}")
    def add_thing(thing_id: str, body: Thing) -> None:  # pragma: no cover - never called
        """A route added without a limit."""

    assert routes_without_a_limit(app) == [("POST", "/v1/things/{thing_id}")]


def _over(limit_bytes: int, streamed: bool):
    """A body one byte over ``limit_bytes``: declared (bytes) or streamed (chunked)."""
    if not streamed:
        return b" " * (limit_bytes + 1)
    return iter([b" " * limit_bytes, b" "])


def _every_route(app: FastAPI) -> list[tuple[str, str, bool]]:
    return [(m, sample_path(p), reads) for m, p, reads in app_routes(app)]


def test_every_route_refuses_a_body_over_its_limit(client):
    """Every route, with a body or not: a declared body over its limit is 413 with a
    known key, 401 without one under /v1/ (never read, never a 500); a streamed one too
    on the routes that read a body (the others never read it: their usual answer)."""
    routes = _every_route(client.app)
    for method, path, reads_body in routes:
        limit = body_limit_bytes(method, path)
        if not reads_body:
            response = client.request(method, path, content=_over(limit, True))
            assert response.status_code < 500, (method, path, response.text)
        for streamed in (False, True) if reads_body else (False,):
            content = _over(limit, streamed)
            how = f"{method} {path} {'streamed' if streamed else 'declared'}"
            response = client.request(method, path, content=content, headers=keyed(PLANNER_KEY))
            assert response.status_code == 413, (how, response.text)
            assert str(limit) in response.json()["detail"], how
            response = client.request(method, path, content=_over(limit, streamed))
            expected = 401 if path.startswith("/v1/") else 413
            assert response.status_code == expected, (how, response.text)


def test_a_stock_count_of_100000_rows_fits_its_limit(client):
    scenario = client.app.state.scenario
    node = next(iter(scenario.nodes))
    sku = next(iter(scenario.catalogue))
    rows = [{"node_id": node, "sku": sku, "qty": 1_000_000 + i} for i in range(100_000)]
    assert len(json.dumps({"rows": rows}).encode()) < STOCK_LIMIT_BYTES


def test_the_wrong_role_with_a_body_is_still_403(client):
    response = client.put("/v1/stock", json={"rows": []}, headers=keyed(CHECKOUT_KEY))
    assert response.status_code == 403


def test_requests_without_a_body_are_unchanged(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/holds/nope").status_code == 401
    assert client.get("/v1/orders/x/tracking", params={"token": "bad"}).status_code == 401


# -- through a real server ------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service in uvicorn on a free port of 127.0.0.1: ``(host, port)``."""
    tmp = tmp_path_factory.mktemp("limits-uvicorn")
    with database_url("sqlite", tmp) as url:
        app = create_app(service_settings(url, tmp, **quick_start_settings(tmp)))
        with served_by_uvicorn(app) as port:
            yield ("127.0.0.1", port)


def _send_until_answered(
    address, head: bytes, chunks, timeout_s: float = 10.0
) -> tuple[int, int, bytes]:
    """Send ``head`` then ``chunks`` until the server answers: ``(status, body bytes
    sent, answer)``. The server may close its side before everything is sent."""
    sent = 0
    answer = b""
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(head)
        deadline = time.monotonic() + timeout_s
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            assert time.monotonic() < deadline, "the server read on without answering"
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except TimeoutError:
            pytest.fail(f"no answer within {timeout_s} s after {sent} body bytes")
    status = int(answer.split(b" ", 2)[1])
    return status, sent, answer


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_uvicorn_answers_401_without_reading_a_100_mb_body(server):
    declared = 100 * MIB
    head = _head("PUT", "/v1/stock", {"Content-Length": str(declared)})
    status, sent, answer = _send_until_answered(server, head, [b" " * 65536] * 64)
    assert status == 401, answer
    assert sent <= 4 * MIB  # a server reading the body would still be waiting for 100 MB


def test_uvicorn_refuses_a_declared_oversized_body_at_once(server):
    head = _head("PUT", "/v1/stock", {"Content-Length": str(100 * MIB), "X-API-Key": PLANNER_KEY})
    status, sent, answer = _send_until_answered(server, head, [b" " * 65536] * 64)
    assert status == 413, answer
    assert sent <= 4 * MIB


@pytest.mark.parametrize(
    "path, key, limit",
    [
        ("/v1/stock", PLANNER_KEY, STOCK_LIMIT_BYTES),
        ("/v1/promise", CHECKOUT_KEY, DEFAULT_BODY_LIMIT_BYTES),
    ],
)
def test_uvicorn_cuts_a_streamed_body_off_at_its_limit(server, path, key, limit):
    method = "PUT" if path == "/v1/stock" else "POST"
    head = _head(method, path, {"Transfer-Encoding": "chunked", "X-API-Key": key})
    piece = b" " * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    status, sent, answer = _send_until_answered(server, head, [chunk] * (200 * 16))
    assert status == 413, answer
    assert sent <= limit + 8 * MIB  # cut off near the limit, not after 200 MB
    unkeyed = _head(method, path, {"Transfer-Encoding": "chunked"})
    status, sent, answer = _send_until_answered(server, unkeyed, [chunk] * 64)
    assert status == 401, answer
