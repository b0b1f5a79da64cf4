"""What every request body shares: the strict base model and the bounded instant (the
422 of a malformed request is :func:`api.errors.validation_error_response`).

Every request schema in ``api/`` derives from :class:`RequestModel`: an unknown field is
refused, and so is a number that is not finite (JSON has no ``NaN`` or ``Infinity``, but
Python's parser, which Starlette uses, reads the literals ``NaN``, ``Infinity`` and
``-Infinity``, and ``1e999`` as infinity). Every instant a request carries is an
:data:`Instant`: aware, and inside :data:`EARLIEST` .. :data:`LATEST`, so that no
conversion to a local day or to seconds can overflow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

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
