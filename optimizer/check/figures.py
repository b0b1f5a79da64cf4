"""Tolerances, and figures and times compared and worded as a planner reads them."""

from __future__ import annotations

import math
from typing import Any

TOLERANCE_S = 1  # per leg: travel providers round each leg's duration to whole seconds
TOLERANCE_M = 1  # per leg: and its distance to whole metres
EPSILON = 1e-6  # capacity and range: float sums of catalogue weights and volumes
REL_TOL = 1e-6  # reported figures (money, km, CO2, %) against the recomputed ones,
ABS_TOL = 0.01  # with room for a plan that rounds them to the cent


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: float) -> str:
    """A figure as a planner reads it: 12, 12.5, 12.35."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _close(said: float, actual: float) -> bool:
    return abs(said - actual) <= REL_TOL * abs(actual) + ABS_TOL


def _or_inf(seconds: int | None) -> float:
    return math.inf if seconds is None else seconds


def _clock(seconds: int) -> str:
    """Seconds since midnight as a wall-clock time: 10:07, or 10:07:30."""
    sign = "-" if seconds < 0 else ""
    h, rest = divmod(abs(int(seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def _span(seconds: int) -> str:
    """A duration for a planner: 40 s, 7 min, 7 min 10 s, 1 h 05 min."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    if m >= 60:
        return f"{m // 60} h {m % 60:02d} min"
    return f"{m} min" + (f" {s} s" if s else "")
