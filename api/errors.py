"""The service's error answers, built in one place.

Two shapes, each endpoint keeping the one it has always answered:

* **problems**, ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`` (with ``ctx``
  when a client has values to act on): what FastAPI answers for a malformed request,
  and what the service answers for a request it refuses on a field or a resource
  (:func:`problem`, :func:`problems`; :class:`Problem` is the exception that carries
  one, and :class:`api.services.checkout.CheckoutError` and
  :class:`api.services.tracking_state.TrackingError` are Problems);
* **a message**, ``{"detail": "..."}``: keys (401, 403), a plan job's 404 and 409, a body
  over its limit (413) (:func:`message`).

Raising either from a route or a dependency is enough: both are ``HTTPException``\\ s,
which FastAPI renders. :func:`problem_responses` documents them in a route's
``responses=``; :func:`validation_error_response` is the service's 422 for a malformed
request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

Loc = tuple | list

# A problem's ``type`` by status, unless the caller names one.
KINDS = {403: "forbidden", 404: "not_found", 409: "conflict", 410: "gone", 503: "not_ready"}


def kind_of(status: int) -> str:
    """The ``type`` of a problem answered with ``status`` (``value_error`` by default)."""
    return KINDS.get(status, "value_error")


def problem_item(msg: str, loc: Loc = (), kind: str = "value_error", ctx: dict | None = None):
    """One entry of a problems answer's ``detail``."""
    item: dict[str, Any] = {"loc": list(loc), "msg": msg, "type": kind}
    if ctx:
        item["ctx"] = ctx
    return item


class ApiError(HTTPException):
    """An error answer: ``status_code``, the JSON ``detail`` (a message or a list of
    problems) and ``headers``; FastAPI renders it as ``{"detail": detail}``."""

    def __str__(self) -> str:
        return self.detail if isinstance(self.detail, str) else f"{self.status_code}: {self.detail}"

    def response(self) -> JSONResponse:
        """The answer, for code that returns it rather than raising."""
        return JSONResponse({"detail": self.detail}, self.status_code, headers=self.headers)


class Problem(ApiError):
    """A refused request with one problem: HTTP ``status``, ``message``, the field path
    ``loc`` and ``ctx``, values a client acts on. ``kind`` is the problem's ``type``
    (default: by status, :func:`kind_of`)."""

    def __init__(
        self,
        status: int,
        message: str,
        loc: Loc = (),
        ctx: dict | None = None,
        *,
        kind: str | None = None,
    ):
        super().__init__(status, [problem_item(message, loc, kind or kind_of(status), ctx)])
        self.status, self.message, self.loc, self.ctx = status, message, tuple(loc), ctx

    def __str__(self) -> str:
        return self.message


def problem(
    status: int, msg: str, loc: Loc = (), kind: str | None = None, *, ctx: dict | None = None
) -> Problem:
    """The answer ``{"detail": [{"loc", "msg", "type"}]}`` with one problem, to raise."""
    return Problem(status, msg, loc, ctx, kind=kind)


def problems(status: int, found: Iterable[tuple[Loc, str]], kind: str | None = None) -> ApiError:
    """The answer listing every ``(loc, msg)`` problem found, to raise."""
    kind = kind or kind_of(status)
    return ApiError(status, [problem_item(msg, loc, kind) for loc, msg in found])


def message(status: int, msg: str, headers: Mapping[str, str] | None = None) -> ApiError:
    """The answer ``{"detail": msg}``, to raise."""
    return ApiError(status, msg, headers=dict(headers) if headers else None)


# -- OpenAPI -------------------------------------------------------------------------------

MESSAGE_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
PROBLEMS_SCHEMA = {
    "title": "Problems",
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                    "ctx": {
                        "type": "object",
                        "description": "Values to act on: `current_plan_id` for an event "
                        "sent to a superseded plan version.",
                    },
                },
                "required": ["loc", "msg", "type"],
            },
        }
    },
    "required": ["detail"],
}
EITHER_SCHEMA = {
    "title": "Forbidden",
    "type": "object",
    "properties": {
        "detail": {
            "anyOf": [
                MESSAGE_SCHEMA["properties"]["detail"],
                PROBLEMS_SCHEMA["properties"]["detail"],
            ]
        }
    },
    "required": ["detail"],
}
_SCHEMAS = {"problems": PROBLEMS_SCHEMA, "message": MESSAGE_SCHEMA, "either": EITHER_SCHEMA}


def problem_responses(
    descriptions: Mapping[int, str], form: Literal["problems", "message", "either"] = "problems"
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` entries: ``{status: description}``, each answered in
    ``form`` (a list of problems, a message, or either), in JSON. (FastAPI would document
    a ``model=`` response in the endpoint's own media type, HTML for a map.)"""
    content = {"application/json": {"schema": _SCHEMAS[form]}}
    return {status: {"description": d, "content": content} for status, d in descriptions.items()}


# For a route's ``responses=``: what every keyed endpoint and every body may answer.
AUTH_RESPONSES = problem_responses(
    {
        401: "No key, or a key the service does not know.",
        403: "A key of a role this endpoint does not admit.",
    },
    "message",
)
NOT_TEXT_RESPONSES = problem_responses(
    {400: "The body is not text (FastAPI cannot decode it)."}, "message"
)


# -- the 422 of a malformed request ---------------------------------------------------------


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float written as text (``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``), in dicts, lists and tuples: what a 422 echoes of the request."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def validation_error_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 (``detail``: every problem with its ``loc``), with what it echoes of
    the request made JSON-safe: FastAPI's own handler fails with a 500 on ``NaN``."""
    return ApiError(422, json_safe(jsonable_encoder(exc.errors()))).response()
