"""The service's one clock: every "now" of the service comes from here.

The core never reads the time: the edges pass it in. The service owns one clock
(``app.state.clock``), chosen by ``LASTMILE_CLOCK``:

* ``system`` (default): the machine's clock;
* an ISO 8601 instant with offset, e.g. ``2026-11-24T07:00:00+01:00``: the service
  starts at that instant and its clock then runs at the speed of the machine's (a replay
  of a day, a demo on a given date);
* the same followed by ``frozen`` (``2026-11-24T07:00:00+01:00 frozen``): the clock
  stays there unless moved (tests, simulations).

Tests and simulations pass a :class:`ManualClock` to ``create_app`` and move it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the service reads the time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, simulations, frozen replays)."""

    def __init__(self, start: datetime):
        _aware(start)
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        """Move the clock to ``moment`` (never backwards: time only moves on)."""
        _aware(moment)
        with self._lock:
            self._now = max(self._now, moment.astimezone(UTC))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


class OffsetClock:
    """The machine's clock shifted to start at ``start``: it runs at real speed."""

    def __init__(self, start: datetime):
        _aware(start)
        self._start = start.astimezone(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


def clock_from_setting(text: str) -> Clock:
    """The clock ``LASTMILE_CLOCK`` names (see the module docstring); ValueError with a
    one-line reason otherwise."""
    text = text.strip()
    if text in ("", "system"):
        return SystemClock()
    instant, _, mode = text.partition(" ")
    if mode.strip() not in ("", "frozen"):
        raise ValueError(f"expected 'system', an ISO 8601 instant, or one and 'frozen': {text!r}")
    try:
        start = datetime.fromisoformat(instant)
    except ValueError:
        raise ValueError(f"not an ISO 8601 instant: {instant!r}") from None
    if start.tzinfo is None:
        raise ValueError(f"give the instant's offset (e.g. +01:00 or Z): {instant!r}")
    return ManualClock(start) if mode.strip() == "frozen" else OffsetClock(start)


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a clock needs an aware datetime, got {moment!r}")
