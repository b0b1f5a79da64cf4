"""What every request body shares: the strict base model, the bounded instant, and the
rendering of a 422 that never fails on the values it echoes.

Every request schema in ``api/`` derives from :class:`RequestModel`: an unknown field is
refused, and so is a number that is not finite (JSON has no ``NaN`` or ``Infinity``, but
Python's parser, which Starlette uses, reads the literals ``NaN``, ``Infinity`` and
``-Infinity``, and ``1e999`` as infinity). Every instant a request carries is an
:data:`Instant`: aware, and inside :data:`EARLIEST` .. :data:`LATEST`, so that no
conversion to a local day or to seconds can overflow.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

# The instants a request may name: far beyond any delivery day, far inside what
# ``datetime`` can shift by a day or a time zone (years 1 and 9999 overflow).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class RequestModel(BaseModel):
    """The base of every request body: unknown fields and non-finite numbers are refused
    (422 with the field's path)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _within_window(value: datetime) -> datetime:
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:  # an offset that carries the instant past year 1 or 9999
        inside = False
    if not inside:
        raise ValueError(
            f"must be an instant from {EARLIEST.date()} to {LATEST.date()} (UTC), "
            f"got {value.isoformat()}"
        )
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_within_window)]
"""An ISO 8601 datetime with a UTC offset, from :data:`EARLIEST` to :data:`LATEST`."""


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
    detail = json_safe(jsonable_encoder(exc.errors()))
    return JSONResponse(status_code=422, content={"detail": detail})
