"""Tolerances, and figures and times compared and worded as a planner reads them."""

from __future__ import annotations

import math
import reprlib
from typing import Any

TOLERANCE_S = 1  # per leg: travel providers round each leg's duration to whole seconds
TOLERANCE_M = 1  # per leg: and its distance to whole metres
EPSILON = 1e-6  # capacity and range: float sums of catalogue weights and volumes
REL_TOL = 1e-6  # reported figures (money, km, CO2, %) against the recomputed ones,
ABS_TOL = 0.01  # with room for a plan that rounds them to the cent


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


# No figure of a plan (metres, seconds, euros, grams, counts) comes near this: a larger
# number is an error, and would overflow the checker's float sums (2**63 and up would
# overflow numpy's integers).
MAX_PLAN_NUMBER = 10**15


def _is_number(value: Any) -> bool:
    """A JSON number the checker computes with: finite, at most :data:`MAX_PLAN_NUMBER`
    in size (an integer of any size is compared exactly, never converted first)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) <= MAX_PLAN_NUMBER  # False for NaN, and for infinities


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = 4
_SHORT.maxlong = 40


def _shown(value: Any) -> str:
    """A value from the plan quoted for a message, cut short whatever its size or depth."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length():,} bits"
    try:
        return _SHORT.repr(value)
    except (ValueError, RecursionError):  # an integer of over 4,300 digits inside, ...
        return f"a {type(value).__name__}"


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
