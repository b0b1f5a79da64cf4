"""Reading ``scenario.yaml``'s ``travel: time_of_day:``, the hours' duration factors.

``none`` (the default when absent: free flow all day), ``default`` (the shipped profile,
:data:`optimizer.travel.time_of_day.DEFAULT`, its sources in its comments), or per mode
a mapping of hour ranges to factors: ``{van: {"07-09": 1.35, "16-19": 1.3}}`` (x1.35
from 07:00 to 09:00; hours not named are x1). Each problem names its key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from optimizer.io.tables import _enum, _Invalid, _show
from optimizer.model import Mode
from optimizer.travel.time_of_day import DEFAULT, HOURS

if TYPE_CHECKING:
    from optimizer.io.scenario_settings import _Yaml

_HOURS = re.compile(r"(\d{1,2})-(\d{1,2})")
_MOST = 3.0  # three times the free-flow duration is gridlock, not a profile


def time_of_day(doc: _Yaml, path: tuple[str, ...]) -> dict[Mode, tuple[float, ...]] | None:
    """Per mode, 24 hourly factors (empty: none); None after a problem."""
    parent = doc.data
    for key in path[:-1]:
        parent = parent[key]
    raw = parent.get(path[-1], "none")
    if isinstance(raw, str) and raw.strip() in ("none", "default"):
        if raw.strip() == "none":
            return {}
        return {m: DEFAULT.of(m).factors for m in DEFAULT.by_mode}
    if not isinstance(raw, dict):
        doc.problem(path, f"expected none, default or a mapping of modes, got {_show(raw)}")
        return None
    out: dict[Mode, tuple[float, ...]] = {}
    for key, hours in raw.items():
        at = path + (str(key),)
        mode = doc.parse(at, key, lambda k: _enum(k, Mode, "mode"))
        factors = doc.parse(at, hours, _hour_factors)
        if mode is None or factors is None:
            return None
        out[mode] = factors
    return out


def _hour_factors(raw: object) -> tuple[float, ...]:
    if not isinstance(raw, dict):
        raise _Invalid(f'expected a mapping of hours to factors ("07-09": 1.35), got {_show(raw)}')
    factors = [1.0] * HOURS
    named: set[int] = set()
    for span, factor in raw.items():
        start, end = _span(span)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            raise _Invalid(f"{span}: expected a number >= 1, got {_show(factor)}")
        if not 1.0 <= factor <= _MOST:
            raise _Invalid(
                f"{span}: factor {factor} not understood (a duration factor is between 1, "
                f"free flow, and {_MOST:g})"
            )
        hours = set(range(start, end))
        if hours & named:
            raise _Invalid(f"{span}: overlaps another range (hour {min(hours & named):02d})")
        named |= hours
        for h in hours:
            factors[h] = float(factor)
    return tuple(factors)


def _span(raw: object) -> tuple[int, int]:
    match = _HOURS.fullmatch(raw.strip()) if isinstance(raw, str) else None
    start, end = (int(match[1]), int(match[2])) if match else (-1, -1)
    if not 0 <= start < end <= HOURS:
        raise _Invalid(
            f"hour range {_show(raw)} not understood: expected HH-HH with "
            "00 <= start < end <= 24, e.g. 07-09 for 07:00 to 09:00"
        )
    return start, end
