"""Candidate sites from a CSV file, validated: every problem at once, with line and column.

Columns: ``site_id``, ``name``, ``kind`` (``dark_store`` | ``urban_hub`` | ``micro_hub``),
``lat``, ``lon`` and, optional (empty: the kind's default, see
``optimizer.network.sites.KIND_PROFILES``), ``cost_per_day_eur`` and
``capacity_orders_per_day``.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from optimizer.io.file_limits import MAX_CANDIDATES_BYTES, FileTooLargeError, read_text_within
from optimizer.io.problems import Problem, ScenarioError
from optimizer.io.tables import (
    MAX_NUMBER,
    MISSING_COORDINATES,
    coordinates_look_missing,
    header_problems,
    header_readable,
)
from optimizer.network.sites import KIND_PROFILES, Site, candidate

COLUMNS = ("site_id", "name", "kind", "lat", "lon")
OPTIONAL = ("cost_per_day_eur", "capacity_orders_per_day")


class CandidatesError(ScenarioError):
    """A candidate file that cannot be read, with every problem found in it."""

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"candidate file {self.path} has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])


def load_candidates(path: str | Path) -> list[Site]:
    """Read and validate a candidate file; raises :class:`CandidatesError` (also for a
    file beyond :data:`optimizer.io.file_limits.MAX_CANDIDATES_BYTES`, before reading it)."""
    path = Path(path)
    name = path.name
    rows = list(csv.reader(io.StringIO(_candidates_text(path))))
    if not rows:
        raise CandidatesError(path, [Problem(name, None, None, "empty; expected a header")])
    header = [c.strip() for c in rows[0]]
    problems = header_problems(name, header, COLUMNS, OPTIONAL)
    if not header_readable(problems):
        raise CandidatesError(path, problems)
    sites: list[Site] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(rows[1:], start=2):
        cells = dict(zip(header, (c.strip() for c in raw), strict=False))
        if not any(cells.values()):
            continue
        site = _site(name, line, cells, seen, problems)
        if site is not None:
            sites.append(site)
    if not sites and not problems:
        problems.append(Problem(name, None, None, "no candidate site"))
    if problems:
        raise CandidatesError(path, problems)
    return sites


def _candidates_text(path: Path) -> str:
    """The file's text, or :class:`CandidatesError` when it cannot be read."""
    name = path.name
    try:
        return read_text_within(path, MAX_CANDIDATES_BYTES, "a candidate-site file", "utf-8-sig")
    except FileTooLargeError as exc:
        message = f"{exc} (see docs/scenario-format.md, Size limits)"
        raise CandidatesError(path, [Problem(name, None, None, message)]) from None
    except FileNotFoundError:
        raise CandidatesError(path, [Problem(name, None, None, "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CandidatesError(path, [Problem(name, None, None, f"cannot read: {exc}")]) from None


def _site(
    name: str, line: int, cells: dict[str, str], seen: dict[str, int], problems: list[Problem]
) -> Site | None:
    """The site of one line, or None with its problems added to ``problems``; ``seen``:
    the site ids of the lines before, with their line."""
    found = len(problems)

    def bad(column: str | None, message: str) -> None:
        problems.append(Problem(name, line, column, message))

    site_id = cells.get("site_id", "")
    if not site_id:
        bad("site_id", "empty")
    elif site_id in seen:
        bad("site_id", f"{site_id} is already on line {seen[site_id]}")
    else:
        seen[site_id] = line
    kind = cells.get("kind", "")
    if kind not in KIND_PROFILES:
        kinds = ", ".join(map(str, KIND_PROFILES))
        bad("kind", f"{kind!r} is not a kind a network opens; one of {kinds}")
    numbers = {}
    for column, low, high in (("lat", -90, 90), ("lon", -180, 180)):
        numbers[column] = _number(cells.get(column, ""), low, high, column, bad)
    if None not in (numbers["lat"], numbers["lon"]) and coordinates_look_missing(
        numbers["lat"], numbers["lon"]
    ):
        bad("lat", MISSING_COORDINATES)
    for column in OPTIONAL:
        raw_value = cells.get(column, "")
        numbers[column] = _number(raw_value, 0, MAX_NUMBER, column, bad) if raw_value else None
    if len(problems) > found:
        return None
    capacity = numbers["capacity_orders_per_day"]
    return candidate(
        site_id,
        kind,
        numbers["lat"],
        numbers["lon"],
        name=cells.get("name") or None,
        cost_per_day_eur=numbers["cost_per_day_eur"],
        capacity_orders_per_day=None if capacity is None else int(capacity),
    )


def _number(raw: str, low: float | None, high: float | None, column: str, bad) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        bad(column, f"{raw!r} is not a number")
        return None
    if (
        not math.isfinite(value)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        bad(column, f"{raw} is outside {low}..{'' if high is None else high}")
        return None
    return value
