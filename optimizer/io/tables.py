"""The machinery every CSV file of a scenario folder is read with: cell values, rows, ids.

A value is parsed from its text or refused with an :class:`_Invalid` whose message tells
the user what was expected; a :class:`_Row` records every refusal as a problem with its
file, line and column (so one bad line reports all its cells), and a :class:`_Table`
reports a missing file, bad encoding or bad header once. The scenario's own files are
read with it in :mod:`optimizer.io.scenario_reader` and its concern modules.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from optimizer.io.problems import Problem
from optimizer.model.scenario import Settings, variant_problem

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

# No quantity, count, duration, cost or capacity of a delivery day comes near this: a
# larger number is a unit or export error, and would overflow the solvers' 64-bit sums.
MAX_NUMBER = 1_000_000_000
# Parcels of a split order are ORDER/1, ORDER/2 (tracked as such, also in URLs): an order
# or return id with this character would be mistaken for a parcel and cannot be tracked.
# Vehicle ids are NODE/TYPE/k (optimizer.model.Scenario.vehicles): a node or vehicle-type
# id with it would make them ambiguous. SKUs, postcodes and zone ids may contain it (and
# '<', '&', '?', '#'): they form no other id and no URL path, and every HTML output
# escapes them (optimizer.io.html_text). No id may contain a control or invisible
# character (see docs/scenario-format.md, Ids).
PARCEL_SEPARATOR = "/"
_WHY_NO_SEPARATOR = {
    "order": "which names the parcels of a split order (order id/1, ...)",
    "return": "which names the parcels of a split order (return id/1, ...)",
    "node": "which joins vehicle ids (NODE/TYPE/1, ...)",
    "vehicle type": "which joins vehicle ids (NODE/TYPE/1, ...)",
}

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_EXAMPLE = "2026-11-24T08:00:00+01:00"
_DAY_S = 86_400


# --- values: text -> value, or _Invalid with a message for the user ------------------


class _Invalid(ValueError):
    """A value that breaks the contract; its message says how."""


def _show(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _bounds(low: float | None, high: float | None, strict: bool) -> str:
    if low is None:
        return ""
    if high is not None:
        return f"between {low:g} and {high:g}"
    return f"{'>' if strict else '>='} {low:g}"


def _in_range(value: T, shown: str, low: float | None, high: float | None, strict: bool) -> T:
    too_low = low is not None and (value <= low if strict else value < low)
    if too_low or (high is not None and value > high):
        raise _Invalid(f"must be {_bounds(low, high, strict)}, got {shown}")
    return value


def _number(raw: str) -> float:
    if not _NUMBER.fullmatch(raw):
        hint = " (the decimal separator is '.')" if "," in raw else ""
        raise _Invalid(f"expected a number, got {_show(raw)}{hint}")
    value = float(raw)
    if not math.isfinite(value):
        raise _Invalid(f"number out of range: {_show(raw)}")
    return value


def _integer(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise _Invalid(f"expected an integer, got {_show(raw)}")
    try:
        return int(raw)
    except ValueError:  # more digits than Python converts
        raise _Invalid(f"integer out of range: {_show(raw)}") from None


def _capped(value: T, shown: str) -> T:
    """``value`` if at most :data:`MAX_NUMBER` in size."""
    if abs(value) > MAX_NUMBER:
        raise _Invalid(f"too large: {shown} (at most {MAX_NUMBER:,} in size)")
    return value


def coordinates_look_missing(lat: float, lon: float) -> bool:
    """0,0 (in the Gulf of Guinea) is where an export puts an address it has no
    coordinates for, not a delivery address."""
    return lat == 0 and lon == 0


MISSING_COORDINATES = (
    "coordinates 0,0 look missing (an export writes 0,0 for an address it could not"
    " locate): give the address's lat and lon"
)


def _enum(raw: object, kind: type[E], what: str) -> E:
    if isinstance(raw, str):
        try:
            return kind(raw)
        except ValueError:
            pass
    raise _Invalid(f"unknown {what} {_show(raw)} (allowed: {', '.join(kind)})")


def _clock(raw: str) -> int | None:
    """``HH:MM`` or ``HH:MM:SS`` -> seconds since midnight (``24:00`` is the day's end);
    None if ``raw`` is not written as a time of day."""
    match = _CLOCK.fullmatch(raw)
    if match is None:
        return None
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    if minutes > 59 or seconds > 59 or hours > 24 or (hours == 24 and minutes + seconds):
        raise _Invalid(f"not a time of day: {_show(raw)}")
    return hours * 3600 + minutes * 60 + seconds


def _moment(raw: str, clock: Settings, expected: str) -> int:
    """An ISO 8601 datetime with a UTC offset -> seconds since the day's local midnight
    (wall clock; another day gives < 0 or >= 86400)."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _Invalid(f"expected {expected}, got {_show(raw)}") from None
    if moment.utcoffset() is None:
        raise _Invalid(
            f"datetime without a UTC offset: {_show(raw)} (write e.g. {_DATETIME_EXAMPLE})"
        )
    try:
        return clock.to_seconds(moment)
    except OverflowError:
        raise _Invalid(f"datetime out of range: {_show(raw)}") from None


def _hhmm(seconds: int) -> str:
    """Seconds since midnight as a wall-clock time for messages (``08:00``, ``09:30 +1d``)."""
    day, rest = divmod(seconds, _DAY_S)
    text = f"{rest // 3600:02d}:{rest // 60 % 60:02d}" + (f":{rest % 60:02d}" if rest % 60 else "")
    return f"{text} {day:+d}d" if day else text


# --- the reader a table belongs to ---------------------------------------------------


class _Files:
    """What the readers of one folder's files share: the problems found so far and the
    clock times are read with. :class:`optimizer.io.scenario_reader._ScenarioReader`
    mixes the concern modules' readers over it and says how a file's text is read."""

    folder: Path
    problems: list[Problem]
    # Times are converted with the scenario's day and zone (a fallback if broken).
    clock: Settings

    def read_text(self, file: str) -> str | None:
        """The file's text; None (with a problem) when it cannot be read."""
        raise NotImplementedError

    def layer(self, file: str, name: str, properties: tuple[str, ...]) -> list[dict] | None:
        """The GIS file's features as GeoJSON in WGS 84; None (with a problem) when it
        cannot be read (:mod:`optimizer.io.gis`)."""
        raise NotImplementedError

    def table(
        self, file: str, columns: tuple[str, ...], optional: tuple = (), ids: _Index | None = None
    ) -> _Table:
        table = _Table(self, file, columns, optional)
        if ids is not None:
            ids.complete = table.complete
        return table


# --- CSV files -----------------------------------------------------------------------


@dataclass
class _Index:
    """The ids one file declares, each with the line of its first declaration."""

    noun: str
    file: str
    lines: dict[str, int] = field(default_factory=dict)
    # References into the file are checked only if every line of it could be read.
    complete: bool = False


def id_problem(value: str, noun: str) -> str | None:
    """What is wrong with ``value`` as an id of a ``noun`` (``"order"``, ``"SKU"``...):
    a control or invisible character (any id), or :data:`PARCEL_SEPARATOR` (the ids of
    :data:`_WHY_NO_SEPARATOR`); None when nothing is."""
    hidden = next((c for c in value if not c.isprintable()), None)
    if hidden is not None:
        return (
            f"{value!r} contains a control or invisible character (U+{ord(hidden):04X}); "
            "an id is visible text"
        )
    why = _WHY_NO_SEPARATOR.get(noun)
    if why is not None and PARCEL_SEPARATOR in value:
        return f"{value!r} contains {PARCEL_SEPARATOR!r}, {why}; use another character"
    return None


def header_problems(
    file: str, header: list[str], columns: tuple[str, ...], optional: tuple = ()
) -> list[Problem]:
    """Every problem of a CSV header (line 1): missing, repeated (which cell counts would
    be unclear) and unknown columns (a misspelt optional column would be silently
    ignored), with a close known name as a hint. A header with missing or repeated
    columns cannot be read; unknown columns alone leave its lines readable."""
    expected = columns + optional
    problems = []
    missing = [name for name in columns if name not in header]
    if missing:
        problems.append(Problem(
            file, 1, None,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            f" (the header has: {', '.join(header)}; expected: {', '.join(expected)})",
        ))  # fmt: skip
    repeated = sorted({name for name in header if header.count(name) > 1}, key=header.index)
    for name in repeated:
        places = [str(i + 1) for i, other in enumerate(header) if other == name]
        message = (
            f"column {name!r} appears {len(places)} times (columns {', '.join(places)}):"
            " which one counts is unclear"
        )
        problems.append(Problem(file, 1, name, message))
    for i, name in enumerate(header):
        if name in expected:
            continue
        if not name:
            message = f"column {i + 1} has no name (a trailing comma?)"
        else:
            close = difflib.get_close_matches(name, expected, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"unknown column {name!r}{hint} (expected: {', '.join(expected)})"
        problems.append(Problem(file, 1, name or None, message))
    return problems


def header_readable(problems: list[Problem]) -> bool:
    """Whether a header with these :func:`header_problems` leaves its lines readable."""
    return not any(p.message.startswith(("missing column", "column '")) for p in problems)


class _Table:
    """One CSV file: reports a missing file, bad encoding or bad header once, then
    iterates over its non-blank lines as :class:`_Row` (cells stripped)."""

    def __init__(self, reader: _Files, file: str, columns: tuple[str, ...], optional: tuple):
        self.reader = reader
        self.file = file
        self.rows: list[_Row] = []
        self.complete = False
        text = reader.read_text(file)
        if text is not None:
            self._parse(text, columns, optional)

    def __iter__(self) -> Iterator[_Row]:
        return iter(self.rows)

    def problem(self, line: int | None, column: str | None, message: str) -> None:
        self.reader.problems.append(Problem(self.file, line, column, message))

    def _parse(self, text: str, columns: tuple[str, ...], optional: tuple) -> None:
        records = csv.reader(io.StringIO(text))
        lines: list[tuple[int, list[str]]] = []  # (first line of the record, cells)
        end = 0
        try:
            for cells in records:
                lines.append((end + 1, cells))
                end = records.line_num
        except csv.Error as error:
            self.problem(records.line_num, None, f"not valid CSV: {error}")
            return
        if not lines:
            self.problem(None, None, f"the file is empty; expected a header: {', '.join(columns)}")
            return
        header = [name.strip() for name in lines[0][1]]
        if not self._header_ok(header, columns, optional):
            return
        self.complete = True
        for line, raw in lines[1:]:
            cells = [cell.strip() for cell in raw]
            if not any(cells):
                continue
            if len(cells) < len(header) or any(cells[len(header) :]):
                self.problem(line, None, f"{len(cells)} cells, the header has {len(header)}")
                self.complete = False
                continue
            self.rows.append(_Row(self, line, dict(zip(header, cells, strict=False))))

    def _header_ok(self, header: list[str], columns: tuple[str, ...], optional: tuple) -> bool:
        """Record every problem of the header; True when its lines can be read."""
        problems = header_problems(self.file, header, columns, optional)
        self.reader.problems.extend(problems)
        return header_readable(problems)


class _Row:
    """One line of a CSV file. Each getter returns the parsed cell, or records a problem
    (file, line, column) and returns None; ``ok`` says whether the line has none."""

    def __init__(self, table: _Table, line: int, cells: dict[str, str]):
        self.table = table
        self.line = line
        self.cells = cells
        self.ok = True

    def problem(self, column: str | None, message: str) -> None:
        self.ok = False
        self.table.problem(self.line, column, message)

    def get(self, column: str, expected: str, parse: Callable[[str], T]) -> T | None:
        raw = self.cells.get(column, "")
        if not raw:
            self.problem(column, f"empty, expected {expected}")
            return None
        try:
            return parse(raw)
        except _Invalid as error:
            self.problem(column, str(error))
            return None

    def build(self, factory: Callable[..., T], **fields: Any) -> T | None:
        """``factory(**fields)`` if the line had no problem (so no field is None)."""
        return factory(**fields) if self.ok else None

    def text(self, column: str, expected: str = "a value") -> str | None:
        return self.get(column, expected, str)

    def optional_text(self, column: str) -> str:
        return self.cells.get(column, "")

    def variant(self, column: str = "variant") -> str | None:
        """An optional configured variant (``fabric=velvet;arms=slim``, see
        :class:`optimizer.model.OrderLine`): "" when blank or the column is absent."""
        raw = self.cells.get(column, "").strip()
        problem = variant_problem(raw)
        if problem is not None:
            self.problem(column, f"expected {problem}")
            return None
        return raw

    def number(
        self, column: str, min: float | None = None, max: float | None = None, strict: bool = False
    ) -> float | None:
        """A decimal number; ``strict``: strictly above ``min``."""
        return self.get(
            column,
            f"a number {_bounds(min, max, strict)}".rstrip(),
            lambda raw: _capped(_in_range(_number(raw), raw, min, max, strict), raw),
        )

    def integer(self, column: str, min: int = 0, strict: bool = False) -> int | None:
        return self.get(
            column,
            f"an integer {_bounds(min, None, strict)}",
            lambda raw: _capped(_in_range(_integer(raw), raw, min, None, strict), raw),
        )

    def enum(self, column: str, kind: type[E]) -> E | None:
        return self.get(column, f"one of {', '.join(kind)}", lambda raw: _enum(raw, kind, column))

    def boolean(self, column: str, default: bool) -> bool | None:
        """``true`` or ``false`` (any case); an empty cell is ``default``."""
        raw = self.cells.get(column, "")
        if not raw:
            return default
        if raw.lower() not in ("true", "false"):
            self.problem(column, f"expected true or false, got {_show(raw)}")
            return None
        return raw.lower() == "true"

    def time(self, column: str) -> int | None:
        """Seconds since local midnight from ``HH:MM[:SS]`` or a datetime with offset."""
        expected = f"a time HH:MM or a datetime with offset such as {_DATETIME_EXAMPLE}"
        clock = self.table.reader.clock

        def parse(raw: str) -> int:
            seconds = _clock(raw)
            return _moment(raw, clock, expected) if seconds is None else seconds

        return self.get(column, expected, parse)

    def datetime(self, column: str) -> int | None:
        """Seconds since local midnight from a datetime with offset (nothing else)."""
        expected = f"a datetime with a UTC offset such as {_DATETIME_EXAMPLE}"
        clock = self.table.reader.clock

        def parse(raw: str) -> int:
            if _CLOCK.fullmatch(raw):
                raise _Invalid(f"expected {expected}, got only a time of day {_show(raw)}")
            return _moment(raw, clock, expected)

        return self.get(column, expected, parse)

    def span(
        self,
        start: str,
        end: str,
        parse: Callable[[str], int | None],
        what: str,
        verbs: tuple[str, str] = ("starts", "ends"),
    ) -> tuple[int | None, int | None]:
        """Two times that must follow each other (a slot, a shift, opening hours)."""
        start_s, end_s = parse(start), parse(end)
        if start_s is not None and end_s is not None and end_s <= start_s:
            when = f"({_hhmm(end_s)}) before" if end_s < start_s else "when"
            self.problem(end, f"{what} {verbs[1]} {when} it {verbs[0]} ({_hhmm(start_s)})")
        return start_s, end_s

    def unique(self, column: str, index: _Index) -> str | None:
        """An id this file declares (see :func:`id_problem`); a repeat names the line of
        the first one."""
        value = self.text(column)
        if value is not None:
            problem = id_problem(value, index.noun)
            if problem is not None:
                self.problem(column, problem)
            first = index.lines.setdefault(value, self.line)
            if first != self.line:
                self.problem(column, f"duplicate {column} {value!r} (first on line {first})")
        return value

    def ref(self, column: str, index: _Index, expected: str | None = None) -> str | None:
        """An id declared in another file; an unknown one says why it cannot be one when
        it breaks :func:`id_problem`'s rules (a declared one was refused there)."""
        value = self.text(column, expected or f"a {index.noun} id")
        if value is not None and index.complete and value not in index.lines:
            problem = id_problem(value, index.noun)
            self.problem(column, problem or f"unknown {index.noun} {value!r} (not in {index.file})")
        return value

    def coordinates(self) -> tuple[float | None, float | None]:
        """``lat`` and ``lon``, in range; 0,0 is refused as probably missing."""
        lat, lon = self.number("lat", min=-90, max=90), self.number("lon", min=-180, max=180)
        if lat is not None and lon is not None and coordinates_look_missing(lat, lon):
            self.problem("lat", MISSING_COORDINATES)
        return lat, lon
