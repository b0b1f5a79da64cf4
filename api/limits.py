"""The gate every request passes before a router reads its body: key, then size.

A pure ASGI middleware (:class:`RequestGate`), outside FastAPI's body reading:

* **Authenticate first.** A request to ``/v1/...`` that carries a body (a
  ``Content-Length`` above 0, or a ``Transfer-Encoding``) without a key the service knows
  in ``X-API-Key`` gets 401 at once: its body is never read (a server would otherwise
  read 100 MB from anyone before saying no). Whether the key's role fits the endpoint is
  still the endpoint's business (403, :func:`api.auth.require_role`). Requests without a
  body (``GET``, ``DELETE``, the customer's ``?token=`` tracking reads) are checked by
  their endpoint as before.
* **Limit the body per endpoint** (:data:`BODY_LIMITS_BYTES`, one entry per endpoint
  that reads a body; :data:`DEFAULT_BODY_LIMIT_BYTES` for any other request): a
  declared ``Content-Length`` above the limit is refused with 413 before a byte is read;
  a streamed (chunked) body is counted as it arrives and refused with 413 as soon as it
  passes the limit.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from api.auth import key_problem
from api.errors import message

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
MIB = 1024 * KIB
# Every body the service reads is small (a basket, an option id, an event, a plan or
# re-plan request, a return) except a stock count and a batch of orders.
SMALL_BODY_LIMIT_BYTES = 64 * KIB
# (method, path pattern) -> limit, one entry for every endpoint that reads a body: a new
# endpoint with a body and no entry here fails tests/test_api_limits.py, which walks the
# app's routes. PUT /v1/stock takes up to 100,000 rows of about 60 bytes each (see
# api.schemas.checkout.StockUpdate).
BODY_LIMITS_BYTES: dict[tuple[str, str], int] = {
    ("POST", r"/v1/plans"): SMALL_BODY_LIMIT_BYTES,
    ("POST", r"/v1/plans/[^/]+/replan"): SMALL_BODY_LIMIT_BYTES,
    ("POST", r"/v1/promise"): SMALL_BODY_LIMIT_BYTES,
    ("POST", r"/v1/holds"): SMALL_BODY_LIMIT_BYTES,
    ("PUT", r"/v1/stock"): 16 * MIB,
    ("POST", r"/v1/events"): SMALL_BODY_LIMIT_BYTES,
    ("POST", r"/v1/webhooks"): SMALL_BODY_LIMIT_BYTES,
    ("POST", r"/v1/back-in-stock"): SMALL_BODY_LIMIT_BYTES,
    # A batch of up to 500 orders (api.schemas.orders.OrderBatch), each a few lines and an
    # address: well under 2 KiB an order.
    ("POST", r"/v1/orders"): 1 * MIB,
    ("POST", r"/v1/returns"): SMALL_BODY_LIMIT_BYTES,
}
# Any other request (an endpoint that reads no body, an unknown path) carrying a body.
DEFAULT_BODY_LIMIT_BYTES = SMALL_BODY_LIMIT_BYTES
_COMPILED = [(m, re.compile(p + r"\Z"), limit) for (m, p), limit in BODY_LIMITS_BYTES.items()]


def declared_body_limit_bytes(method: str, path: str) -> int | None:
    """The limit :data:`BODY_LIMITS_BYTES` declares for ``method path``, or None."""
    for m, pattern, limit in _COMPILED:
        if m == method and pattern.match(path):
            return limit
    return None


def body_limit_bytes(method: str, path: str) -> int:
    """The most bytes of body the service reads for ``method path``."""
    declared = declared_body_limit_bytes(method, path)
    return DEFAULT_BODY_LIMIT_BYTES if declared is None else declared


def _too_large_detail(method: str, path: str, limit_bytes: int) -> str:
    return (
        f"request body too large: {method} {path} accepts at most {limit_bytes} bytes "
        f"({limit_bytes / MIB:.3g} MiB)"
    )


class RequestGate:
    """ASGI middleware: 401 before any body is read from an unknown caller, 413 for a
    body over its endpoint's limit (see the module's docstring). ``keys`` returns the
    service's :class:`api.auth.KeyStore` (it exists once the service has started)."""

    def __init__(self, app: ASGIApp, keys: Callable[[], Any]):
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        has_body = (declared is not None and declared.strip() not in ("", "0")) or (
            "transfer-encoding" in headers
        )
        if has_body and path.startswith("/v1/"):
            problem = await run_in_threadpool(key_problem, self.keys(), headers.get("x-api-key"))
            if problem is not None:
                await _answer(send, 401, problem, {"www-authenticate": "ApiKey"})
                return
        limit = body_limit_bytes(method, path)
        if declared is not None:
            try:
                declared_bytes = int(declared)
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number")
                return
            if declared_bytes > limit:
                await _answer(send, 413, _too_large_detail(method, path, limit))
                return
        received_bytes = 0
        started = answered = False

        async def counted() -> Message:
            # Past the limit, the gate answers 413 itself and tells the app the client is
            # gone (an exception raised here would reach FastAPI wrapped by the task group
            # of a BaseHTTPMiddleware, and become a 400).
            nonlocal received_bytes, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received_bytes += len(message.get("body", b""))
                if received_bytes > limit:
                    if not started:
                        await _answer(send, 413, _too_large_detail(method, path, limit))
                        answered = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the app's answer to the "disconnect": the client has the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)


async def _answer(send: Send, status: int, detail: str, headers: dict | None = None) -> None:
    """A JSON ``{"detail": ...}`` answer (:func:`api.errors.message`) that closes the
    exchange (the body unread)."""
    # The unread body makes the connection unusable.
    response = message(status, detail, (headers or {}) | {"connection": "close"}).response()
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})
