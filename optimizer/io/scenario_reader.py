"""Read and validate a scenario folder (the contract is ``docs/scenario-format.md``).

:func:`load_scenario` reads every file and collects every problem it finds, each with its
file, line (a CSV header is line 1) and column, then raises one :class:`ScenarioError`
listing them all; it returns a :class:`Scenario` only when there are none.

Files are read in dependency order (nodes before the fleet that refers to them). A
reference is checked only when the file it points into could be read completely, so one
broken file is reported once rather than as a cascade of unknown ids in the others.
"""

from __future__ import annotations

import bisect
import csv
import difflib
import io
import json
import json.decoder
import json.scanner
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import yaml
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from optimizer.io.file_limits import FileTooLargeError, read_text_within
from optimizer.io.problems import Problem, ScenarioError
from optimizer.model.scenario import (
    SAME_ADDRESS_DEG,
    FleetEntry,
    Inbound,
    Mode,
    Node,
    NodeKind,
    Order,
    OrderLine,
    Place,
    Return,
    ReturnKind,
    Scenario,
    Service,
    ServiceSettings,
    Settings,
    Sku,
    TransferSettings,
    VehicleType,
    Zone,
    ZoneRule,
)
from optimizer.travel.zones import nearest_postcodes

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

SETTINGS_FILE = "scenario.yaml"
ZONES_FILE = "zones.geojson"
INBOUND_FILE = "inbound.csv"
POSTCODES_FILE = "postcodes.csv"
SERVICE_TIMES_FILE = "service_times.csv"
RETURNS_FILE = "returns.csv"
RETURN_LINES_FILE = "return_lines.csv"
# A zone's service-time factor outside (0, 10] is a typo, not a measurement.
MAX_SERVICE_TIME_FACTOR = 10.0
# What ``lastmile report otif --service-times`` writes besides postcode and factor (read
# by people, not by the planner).
SERVICE_TIMES_EXTRA = ("samples", "planned_median_s", "actual_median_s")
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

# The planner's documented size (docs/scenario-format.md), checked before a file is
# parsed: beyond it a plan would exhaust the machine's memory, not finish later. The
# scale-out bench plans 50,000 orders (orders.csv about 4.5 MB, order_lines.csv 86,000
# rows); the limits leave twice that.
MAX_FILE_BYTES = 32 * 1024 * 1024  # any file of the folder
MAX_ORDERS = 100_000  # rows of orders.csv, and of returns.csv
MAX_TABLE_ROWS = 500_000  # rows of every other CSV file
MAX_ROWS_BY_FILE = {"orders.csv": MAX_ORDERS, RETURNS_FILE: MAX_ORDERS}

# When scenario.yaml is broken the other files are still checked, their times read on
# this day; the scenario is refused anyway.
_FALLBACK_DATE = date(2000, 1, 1)
_FALLBACK_TIMEZONE = "UTC"

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_EXAMPLE = "2026-11-24T08:00:00+01:00"
_DAY_S = 86_400


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario folder ``path``.

    Raises
    ------
    ScenarioError
        Listing every problem found in every file; nothing else is raised for bad data.
    """
    folder = Path(path)
    try:
        is_dir, exists = folder.is_dir(), folder.exists()
    except OSError as error:  # e.g. a name too long for the file system
        message = f"cannot be read: {error.strerror or error}"
        raise ScenarioError(path, [Problem(str(path), None, None, message)]) from None
    if not is_dir:
        message = "is not a folder" if exists else "scenario folder not found"
        raise ScenarioError(path, [Problem(str(path), None, None, message)])
    return _ScenarioReader(folder).read(path)


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

    def __init__(
        self, reader: _ScenarioReader, file: str, columns: tuple[str, ...], optional: tuple
    ):
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


# --- scenario.yaml -------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """A safe loader that leaves dates as text (they are parsed and checked here)."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _key_lines(node: yaml.Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[path + (str(key.value),)] = key.start_mark.line + 1
            _key_lines(value, path + (str(key.value),), lines)


def _text_value(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"expected a text, got {_show(value)}")
    return value.strip()


def _date_value(value: object) -> date:
    try:
        if isinstance(value, str) and _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise _Invalid(f"expected a date YYYY-MM-DD, got {_show(value)}")


def _timezone_value(value: object) -> str:
    try:
        if isinstance(value, str):
            ZoneInfo(value)
            return value
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    raise _Invalid(f"unknown time zone {_show(value)} (expected an IANA name, e.g. Europe/Paris)")


def _number_value(
    low: float, strict: bool = False, integer: bool = False
) -> Callable[[object], Any]:
    kinds = int if integer else (int, float)
    expected = f"{'an integer' if integer else 'a number'} {_bounds(low, None, strict)}"

    def parse(value: object) -> Any:
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
            raise _Invalid(f"expected {expected}, got {_show(value)}")
        return _capped(_in_range(value, str(value), low, None, strict), str(value))

    return parse


def _clocks_value(value: object) -> tuple[int, ...]:
    """A list of ``HH:MM`` times of day -> sorted seconds since midnight."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"expected a list of times of day HH:MM, got {_show(value)}")
    out = []
    for raw in value:
        seconds = _clock(raw.strip())
        if seconds is None or seconds >= _DAY_S:
            raise _Invalid(f"not a time of day HH:MM: {_show(raw)}")
        out.append(seconds)
    return tuple(sorted(set(out)))


def _mapping_value(value: object) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(f"expected a mapping of keys, got {_show(value)}")
    return value


class _Yaml:
    """``scenario.yaml`` parsed, with the line of every key (for problems)."""

    def __init__(self, reader: _ScenarioReader, data: dict, lines: dict[tuple[str, ...], int]):
        self.reader = reader
        self.data = data
        self.lines = lines

    def problem(self, path: tuple[str, ...], message: str) -> None:
        # A missing key is reported at the line of its parent, if there is one.
        known = [self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines]
        line = known[0] if known else None
        self.reader.problems.append(Problem(SETTINGS_FILE, line, ".".join(path), message))

    def parse(self, path: tuple[str, ...], value: object, parse: Callable[[object], T]) -> T | None:
        try:
            return parse(value)
        except _Invalid as error:
            self.problem(path, str(error))
            return None

    def get(
        self, path: tuple[str, ...], parse: Callable[[object], T], default: T | None = None
    ) -> T | None:
        """The value at ``path`` (whose parents are mappings); missing and no default:
        a problem."""
        parent = self.data
        for key in path[:-1]:
            parent = parent[key]
        if path[-1] not in parent:
            if default is None:
                self.problem(path, "missing key")
            return default
        return self.parse(path, parent[path[-1]], parse)


# --- zones.geojson -------------------------------------------------------------------


def _json_with_lines(text: str) -> tuple[Any, Callable[[object], int | None]]:
    """Parse JSON and return it with ``line_of(obj)``: the line where a JSON object
    (a dict of the result) starts. Uses the pure-Python scanner, which lets us see
    where each object begins."""
    starts: dict[int, int] = {}

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[dict, int]:
        obj, end = json.decoder.JSONObject(s_and_end, *args)
        starts[id(obj)] = s_and_end[1] - 1
        return obj, end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    data = decoder.decode(text)
    newlines = [match.start() for match in re.finditer("\n", text)]

    def line_of(obj: object) -> int | None:
        start = starts.get(id(obj))
        return None if start is None else bisect.bisect_left(newlines, start) + 1

    return data, line_of


def _modes(value: object) -> frozenset[Mode] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _Invalid(
            f"expected a non-empty list of modes (or no allowed_modes), got {_show(value)}"
        )
    return frozenset(_enum(mode, Mode, "mode") for mode in value)


def _position(position: object, where: str) -> None:
    if (
        not isinstance(position, list)
        or len(position) not in (2, 3)
        or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in position
        )
    ):
        raise _Invalid(f"{where}: expected a position [lon, lat], got {_show(position)}")
    lon, lat = position[:2]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _Invalid(
            f"{where}: position {_show(position)} is not [lon, lat] within -180..180, -90..90"
        )


def _rings(polygon: object, where: str) -> None:
    if not isinstance(polygon, list) or not polygon:
        raise _Invalid(f"{where}: expected a list of linear rings, got {_show(polygon)}")
    for r, ring in enumerate(polygon, 1):
        here = f"{where}ring {r}"
        if not isinstance(ring, list) or len(ring) < 4:
            raise _Invalid(f"{here}: a linear ring needs at least 4 positions, got {_show(ring)}")
        for position in ring:
            _position(position, here)
        if ring[0] != ring[-1]:
            raise _Invalid(
                f"{here}: ring is not closed (first position {ring[0]} differs from"
                f" last {ring[-1]})"
            )


def _polygon(geometry: object) -> BaseGeometry:
    """A valid GeoJSON Polygon or MultiPolygon -> shapely geometry."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise _Invalid(f"expected a Polygon or MultiPolygon geometry, got {_show(kind)}")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        _rings(coordinates, "")
    elif not isinstance(coordinates, list) or not coordinates:
        raise _Invalid(f"expected a list of polygons, got {_show(coordinates)}")
    else:
        for p, polygon in enumerate(coordinates, 1):
            _rings(polygon, f"polygon {p}, ")
    result = shape(geometry)
    if not result.is_valid:
        raise _Invalid(f"invalid polygon: {explain_validity(result)}")
    return result


# --- the scenario --------------------------------------------------------------------


def _too_big(size_bytes: int | None) -> str:
    size = "more" if size_bytes is None else f"{size_bytes / 2**20:.1f} MiB"
    return (
        f"the file is {size}, beyond the planner's limit of "
        f"{MAX_FILE_BYTES // 2**20} MiB per file (see docs/scenario-format.md, Size limits): "
        "split the day into smaller scenarios"
    )


def _too_many(lines: int, limit: int) -> str:
    return (
        f"{lines:,} rows, beyond the planner's limit of {limit:,} for this file (see "
        "docs/scenario-format.md, Size limits): split the day into smaller scenarios"
    )


class _ScenarioReader:
    """Reads one scenario folder file by file, collecting problems in ``problems``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.problems: list[Problem] = []
        # Times are converted with the scenario's day and zone (a fallback if broken).
        self.clock = Settings(name="", date=_FALLBACK_DATE, timezone=_FALLBACK_TIMEZONE)
        self.node_ids = _Index("node", "nodes.csv")
        self.vehicle_type_ids = _Index("vehicle type", "vehicle_types.csv")
        self.skus = _Index("SKU", "catalogue.csv")
        self.order_ids = _Index("order", "orders.csv")
        self.return_ids = _Index("return", RETURNS_FILE)

    def read(self, path: str | Path) -> Scenario:
        settings = self.settings()
        nodes = self.nodes()
        vehicle_types = self.vehicle_types()
        catalogue = self.catalogue()
        zones = self.zones()
        fleet = self.fleet(nodes, vehicle_types, zones)
        stock = self.stock()
        orders = self.orders()
        inbound = self.inbound()
        places = self.places()
        orders = self.service_times(orders, places)
        returns = self.returns(orders)
        if self.problems:
            raise ScenarioError(path, self.problems)
        return Scenario(
            settings,
            nodes,
            vehicle_types,
            fleet,
            catalogue,
            stock,
            orders,
            zones,
            inbound,
            places,
            returns,
        )

    def read_text(self, file: str) -> str | None:
        """The file's text; None (with a problem) when it is missing, unreadable, not
        UTF-8, or beyond the planner's size (:data:`MAX_FILE_BYTES`, and for a CSV file
        its rows: :data:`MAX_ROWS_BY_FILE`, :data:`MAX_TABLE_ROWS`), checked before it
        is parsed (its bytes before it is read)."""
        path = self.folder / file
        try:
            text = read_text_within(path, MAX_FILE_BYTES, "a scenario file", "utf-8-sig")
            if file.endswith(".csv"):
                limit = MAX_ROWS_BY_FILE.get(file, MAX_TABLE_ROWS)
                # Lines after the header: at least the rows (a quoted cell may span lines).
                lines = text.count("\n") - 1 + (not text.endswith("\n"))
                if lines > limit:
                    self.problems.append(Problem(file, None, None, _too_many(lines, limit)))
                    return None
            return text
        except FileTooLargeError as error:
            self.problems.append(Problem(file, None, None, _too_big(error.size_bytes)))
            return None
        except FileNotFoundError:
            message = "the file is missing"
        except UnicodeDecodeError as error:
            line = error.object.count(b"\n", 0, error.start) + 1
            byte = error.object[error.start]
            self.problems.append(Problem(file, line, None, f"not UTF-8 text (byte 0x{byte:02x})"))
            return None
        except OSError as error:
            message = f"cannot be read: {error.strerror or error}"
        self.problems.append(Problem(file, None, None, message))
        return None

    def table(
        self, file: str, columns: tuple[str, ...], optional: tuple = (), ids: _Index | None = None
    ) -> _Table:
        table = _Table(self, file, columns, optional)
        if ids is not None:
            ids.complete = table.complete
        return table

    # scenario.yaml

    def settings(self) -> Settings | None:
        start = len(self.problems)
        doc = self._yaml()
        if doc is None:
            return None
        name = doc.get(("name",), _text_value)
        day = doc.get(("date",), _date_value)
        timezone = doc.get(("timezone",), _timezone_value)
        self.clock = Settings(
            name="", date=day or _FALLBACK_DATE, timezone=timezone or _FALLBACK_TIMEZONE
        )
        positive = _number_value(0, strict=True)
        settings = Settings(
            name=name,
            date=day,
            timezone=timezone,
            currency=doc.get(("currency",), _text_value),
            services=self._services(doc),
            # 1000 when absent, as the contract says.
            unserved_penalty_eur=doc.get(("unserved_penalty_eur",), positive, default=1000.0),
            max_split=doc.get(
                ("max_split",), _number_value(1, integer=True), default=Settings.max_split
            ),
            split_penalty_eur=doc.get(
                ("split_penalty_eur",), _number_value(0), default=Settings.split_penalty_eur
            ),
            transfer=self._transfers(doc),
            **self._breaks(doc),
        )
        return settings if len(self.problems) == start else None

    def _breaks(self, doc: _Yaml) -> dict[str, int]:
        """The break rule, in minutes in the file; absent keys keep the model's defaults
        (French labour law: 20 min once the working day reaches 6 h)."""
        minutes = _number_value(0, integer=True)
        defaults = Settings(name="", date=_FALLBACK_DATE, timezone=_FALLBACK_TIMEZONE)
        out = {}
        for key, field_s in (
            ("break_duration_min", "break_duration_s"),
            ("max_work_before_break_min", "max_work_before_break_s"),
            ("break_over_min", "break_over_s"),
        ):
            value = doc.get((key,), minutes, default=getattr(defaults, field_s) // 60)
            if value is not None:
                out[field_s] = 60 * value
        return out

    def _yaml(self) -> _Yaml | None:
        text = self.read_text(SETTINGS_FILE)
        if text is None:
            return None
        try:
            loader = _YamlLoader(text)
            try:
                node = loader.get_single_node()
                data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
        except yaml.MarkedYAMLError as error:
            line = error.problem_mark.line + 1 if error.problem_mark else None
            message = f"not valid YAML: {error.problem or error.context}"
            self.problems.append(Problem(SETTINGS_FILE, line, None, message))
            return None
        except yaml.reader.ReaderError as error:
            line = text.count("\n", 0, error.position) + 1
            message = f"not valid YAML: character #x{error.character:04x} is not allowed"
            self.problems.append(Problem(SETTINGS_FILE, line, None, message))
            return None
        if not isinstance(data, dict):
            message = "expected a mapping of keys (name, date, timezone, currency, services)"
            self.problems.append(Problem(SETTINGS_FILE, None, None, message))
            return None
        lines: dict[tuple[str, ...], int] = {}
        _key_lines(node, (), lines)
        return _Yaml(self, data, lines)

    def _services(self, doc: _Yaml) -> dict[Service, ServiceSettings]:
        services: dict[Service, ServiceSettings] = {}
        raw = doc.get(("services",), _mapping_value)
        if raw is None:
            return services
        for key, value in raw.items():
            path = ("services", str(key))
            service = doc.parse(path, key, lambda k: _enum(k, Service, "service"))
            if service is None or doc.parse(path, value, _mapping_value) is None:
                continue
            price = doc.get(path + ("price_eur",), _number_value(0))
            slot_length = doc.get(path + ("slot_length_min",), _number_value(0, integer=True))
            if price is not None and slot_length is not None:
                services[service] = ServiceSettings(price, slot_length)
        for service in Service:
            if service.value not in raw:
                doc.problem(("services", service.value), "missing key")
        return services

    def _transfers(self, doc: _Yaml) -> TransferSettings:
        """The optional ``transfers`` block (the store shuttle); defaults where absent."""
        default = TransferSettings()
        raw = doc.get(("transfers",), _mapping_value, default={})
        if not raw:
            return default
        path = ("transfers",)
        departures = doc.get(path + ("departures",), _clocks_value, default=default.departures_s)
        minutes = _number_value(0)

        def duration_s(key: str, fallback_s: int) -> int | None:
            value = doc.get(path + (key,), minutes, default=fallback_s / 60)
            return None if value is None else int(round(value * 60))

        for key in raw:
            if key not in ("departures", "lead_min", "prepare_min", "pick_before_min", "cost_eur"):
                doc.problem(path + (str(key),), "unknown key (departures, lead_min, "
                            "prepare_min, pick_before_min, cost_eur)")  # fmt: skip
        values = {
            "departures_s": departures,
            "lead_s": duration_s("lead_min", default.lead_s),
            "prepare_s": duration_s("prepare_min", default.prepare_s),
            "pick_before_s": duration_s("pick_before_min", default.pick_before_s),
            "cost_eur": doc.get(path + ("cost_eur",), minutes, default=default.cost_eur),
        }
        if any(v is None for v in values.values()):
            return default  # the problems are recorded
        return TransferSettings(**values)

    # CSV files

    def nodes(self) -> dict[str, Node]:
        non_negative = ("pick_capacity_per_hour", "handling_cost_eur")
        columns = ("node_id", "name", "kind", "lat", "lon", "opens", "closes", *non_negative)
        nodes: dict[str, Node] = {}
        for row in self.table("nodes.csv", columns, ids=self.node_ids):
            opens_s, closes_s = row.span("opens", "closes", row.time, "node", ("opens", "closes"))
            lat, lon = row.coordinates()
            node = row.build(
                Node,
                node_id=row.unique("node_id", self.node_ids),
                name=row.optional_text("name"),
                kind=row.enum("kind", NodeKind),
                lat=lat,
                lon=lon,
                opens_s=opens_s,
                closes_s=closes_s,
                **{c: row.number(c, min=0) for c in non_negative},
            )
            if node is not None:
                nodes[node.node_id] = node
        return nodes

    def vehicle_types(self) -> dict[str, VehicleType]:
        positive = ("capacity_kg", "capacity_l", "range_km", "speed_kmh")
        non_negative = ("fixed_cost_eur", "cost_per_km_eur", "cost_per_hour_eur", "co2_g_per_km")
        columns = ("vehicle_type_id", "mode", *positive, *non_negative)
        optional = ("zero_emission", "max_trips", "reload_s", "max_stops")
        table = self.table("vehicle_types.csv", columns, optional, self.vehicle_type_ids)
        types: dict[str, VehicleType] = {}
        for row in table:
            vehicle_type = row.build(
                VehicleType,
                vehicle_type_id=row.unique("vehicle_type_id", self.vehicle_type_ids),
                mode=row.enum("mode", Mode),
                **{c: row.number(c, min=0, strict=True) for c in positive},
                **{c: row.number(c, min=0) for c in non_negative},
                # An empty (or absent) cell means true, as the contract says.
                zero_emission=row.boolean("zero_emission", default=True),
                # Empty (or absent): the mode's default (see VehicleType).
                max_trips=row.integer("max_trips", min=1) if row.cells.get("max_trips") else None,
                reload_s=row.integer("reload_s", min=0) if row.cells.get("reload_s") else None,
                # Empty (or absent): no limit on the stops of a tour.
                max_stops=row.integer("max_stops", min=1) if row.cells.get("max_stops") else None,
            )
            if vehicle_type is not None:
                types[vehicle_type.vehicle_type_id] = vehicle_type
        return types

    def catalogue(self) -> dict[str, Sku]:
        catalogue: dict[str, Sku] = {}
        columns = ("sku", "name", "weight_kg", "volume_l")
        for row in self.table("catalogue.csv", columns, ids=self.skus):
            sku = row.build(
                Sku,
                sku=row.unique("sku", self.skus),
                name=row.optional_text("name"),
                **{c: row.number(c, min=0, strict=True) for c in columns[2:]},
            )
            if sku is not None:
                catalogue[sku.sku] = sku
        return catalogue

    def fleet(
        self, nodes: dict[str, Node], vehicle_types: dict[str, VehicleType], zones: list[Zone]
    ) -> list[FleetEntry]:
        fleet: list[FleetEntry] = []
        columns = ("node_id", "vehicle_type_id", "count", "shift_start", "shift_end")
        for row in self.table("fleet.csv", columns):
            shift = row.span("shift_start", "shift_end", row.time, "shift")
            entry = row.build(
                FleetEntry,
                node_id=row.ref("node_id", self.node_ids),
                vehicle_type_id=row.ref("vehicle_type_id", self.vehicle_type_ids),
                count=row.integer("count", min=0),
                shift_start_s=shift[0],
                shift_end_s=shift[1],
            )
            if entry is not None:
                self._check_base(row, entry, nodes, vehicle_types, zones)
                fleet.append(entry)
        return fleet

    @staticmethod
    def _check_base(
        row: _Row,
        entry: FleetEntry,
        nodes: dict[str, Node],
        vehicle_types: dict[str, VehicleType],
        zones: list[Zone],
    ) -> None:
        """Vehicles may not be based inside a zone that does not admit them (they could
        not leave their depot). A row with count 0 bases no vehicle there."""
        node = nodes.get(entry.node_id)
        vehicle_type = vehicle_types.get(entry.vehicle_type_id)
        if node is None or vehicle_type is None or entry.count == 0:
            return
        for zone in zones:
            if zone.admits(vehicle_type) or not zone.contains(node.lat, node.lon):
                continue
            if zone.rule is ZoneRule.LOW_EMISSION:
                why = "which admits only zero-emission vehicles"
            else:
                why = f"which does not admit mode {vehicle_type.mode}"
            row.problem(
                "node_id",
                f"vehicle type {vehicle_type.vehicle_type_id!r} ({vehicle_type.mode}) is based"
                f" at node {node.node_id!r}, inside {zone.rule} zone {zone.zone_id!r} {why}",
            )

    def stock(self) -> dict[tuple[str, str], int]:
        stock: dict[tuple[str, str], int] = {}
        first_lines: dict[tuple[str, str], int] = {}
        for row in self.table("stock.csv", ("node_id", "sku", "qty")):
            key = (row.ref("node_id", self.node_ids), row.ref("sku", self.skus))
            qty = row.integer("qty", min=0)
            if None not in key:
                first = first_lines.setdefault(key, row.line)
                if first != row.line:
                    row.problem(
                        "sku",
                        f"duplicate stock row for node {key[0]!r} and SKU {key[1]!r}"
                        f" (first on line {first})",
                    )
            if row.ok:
                stock[key] = qty
        return stock

    def inbound(self) -> list[Inbound]:
        """Optional ``inbound.csv``: stock on its way to the nodes."""
        if not (self.folder / INBOUND_FILE).exists():
            return []
        inbound = []
        for row in self.table(INBOUND_FILE, ("node_id", "sku", "qty", "arrives_at")):
            node_id = row.ref("node_id", self.node_ids)
            sku = row.ref("sku", self.skus)
            qty = row.integer("qty", min=0, strict=True)
            arrives_at_s = row.datetime("arrives_at")
            if row.ok:
                inbound.append(Inbound(node_id, sku, qty, arrives_at_s))
        return inbound

    def places(self) -> dict[str, Place]:
        """Optional ``postcodes.csv``: a reference point per postcode."""
        if not (self.folder / POSTCODES_FILE).exists():
            return {}
        places: dict[str, Place] = {}
        postcodes = _Index("postcode", POSTCODES_FILE)
        for row in self.table(POSTCODES_FILE, ("postcode", "name", "lat", "lon")):
            lat, lon = row.coordinates()
            place = row.build(
                Place,
                postcode=row.unique("postcode", postcodes),
                name=row.optional_text("name"),
                lat=lat,
                lon=lon,
            )
            if place is not None:
                places[place.postcode] = place
        return places

    def service_times(self, orders: list[Order], places: dict[str, Place]) -> list[Order]:
        """Optional ``service_times.csv`` (``postcode``, ``factor``; written by ``lastmile
        report otif --service-times``): the service time of every delivery whose address
        is nearest to that postcode is multiplied by ``factor``."""
        if not (self.folder / SERVICE_TIMES_FILE).exists():
            return orders
        factors: dict[str, float] = {}
        seen = _Index("postcode", SERVICE_TIMES_FILE)
        for row in self.table(SERVICE_TIMES_FILE, ("postcode", "factor"), SERVICE_TIMES_EXTRA):
            postcode = row.unique("postcode", seen)
            factor = row.number("factor", min=0, max=MAX_SERVICE_TIME_FACTOR, strict=True)
            if postcode is not None and postcode not in places:
                known = f"{POSTCODES_FILE} has no such postcode" if places else (
                    f"needs {POSTCODES_FILE}, which is missing"
                )  # fmt: skip
                row.problem("postcode", f"{postcode!r}: {known}")
            if row.ok:
                factors[postcode] = factor
        if not factors:
            return orders
        zones = nearest_postcodes(
            np.array([o.lat for o in orders]), np.array([o.lon for o in orders]), places
        )
        return [
            replace(o, service_time_s=round(o.service_time_s * factors[zone]))
            if zone in factors and o.service is not Service.CLICK_COLLECT
            else o
            for o, zone in zip(orders, zones, strict=True)
        ]

    def orders(self) -> list[Order]:
        columns = (
            "order_id",
            "lat",
            "lon",
            "service",
            "slot_start",
            "slot_end",
            "service_time_s",
        )
        optional = ("collect_node_id", "ship_from_node_id", "transfer_departs")
        table = self.table("orders.csv", columns, optional, self.order_ids)
        pending: list[dict[str, Any]] = []  # an order's fields, waiting for its lines
        for row in table:
            service = row.enum("service", Service)
            slot = row.span("slot_start", "slot_end", row.datetime, "slot")
            collect_node_id = self._collect_node(row, service)
            ship_from_node_id = self._ship_from_node(row)
            lat, lon = row.coordinates()
            order = row.build(
                dict,
                order_id=row.unique("order_id", self.order_ids),
                lat=lat,
                lon=lon,
                service=service,
                slot_start_s=slot[0],
                slot_end_s=slot[1],
                collect_node_id=collect_node_id,
                service_time_s=row.integer("service_time_s", min=0),
                ship_from_node_id=ship_from_node_id,
                transfer_departs_s=self._transfer_departs(row, collect_node_id, ship_from_node_id),
            )
            if order is not None:
                pending.append(order)
        lines = self._order_lines()
        return [Order(**order, lines=tuple(lines[order["order_id"]])) for order in pending]

    def _collect_node(self, row: _Row, service: Service | None) -> str | None:
        if service is Service.CLICK_COLLECT:
            expected = "the node where a click_collect order is collected"
            return row.ref("collect_node_id", self.node_ids, expected)
        if service is not None and row.optional_text("collect_node_id"):
            message = f"must be empty unless the order is click_collect (it is {service})"
            row.problem("collect_node_id", message)
        return None

    def _ship_from_node(self, row: _Row) -> str | None:
        if not row.optional_text("ship_from_node_id"):
            return None
        expected = "the node a promised order ships from"
        return row.ref("ship_from_node_id", self.node_ids, expected)

    def _transfer_departs(
        self, row: _Row, collect_node_id: str | None, ship_from_node_id: str | None
    ) -> int | None:
        """The store shuttle's departure for a click & collect from another node's stock."""
        transfer = ship_from_node_id not in (None, collect_node_id) and collect_node_id
        if not row.optional_text("transfer_departs"):
            if transfer:
                why = "required when a click_collect order ships from another node than its "
                row.problem("transfer_departs", why + "collect_node_id (the store shuttle)")
            return None
        if not transfer:
            row.problem("transfer_departs", "must be empty unless a click_collect order "
                        "ships from another node than its collect_node_id")  # fmt: skip
            return None
        return row.datetime("transfer_departs")

    def _order_lines(self) -> dict[str, list[OrderLine]]:
        return self._lines_of("order_lines.csv", "order_id", self.order_ids, "orders.csv", "order")

    def _lines_of(
        self, file: str, key: str, ids, owner_file: str, owner: str
    ) -> dict[str, list[OrderLine]]:
        """The lines of ``file`` (``key``, sku, qty) by their owner's id (an order, a
        return); an owner in ``ids`` with no line is a problem of its own row in
        ``owner_file``."""
        lines: dict[str, list[OrderLine]] = defaultdict(list)
        table = self.table(file, (key, "sku", "qty"))
        for row in table:
            owner_id = row.ref(key, ids)
            line = row.build(
                OrderLine, sku=row.ref("sku", self.skus), qty=row.integer("qty", min=0, strict=True)
            )
            if owner_id is not None:
                mentioned = lines[owner_id]  # an owner whose lines are all bad has lines
                if line is not None:
                    mentioned.append(line)
        if table.complete:
            for owner_id, at in ids.lines.items():
                if owner_id not in lines:
                    message = f"{owner} {owner_id!r} has no lines in {file}"
                    self.problems.append(Problem(owner_file, at, key, message))
        return lines

    # returns.csv, return_lines.csv

    def returns(self, orders: list[Order]) -> list[Return]:
        """Optional ``returns.csv`` (with ``return_lines.csv``): pickups at customers'
        addresses. An exchange names its delivery order, whose slot it shares."""
        if not (self.folder / RETURNS_FILE).exists():
            return []
        columns = ("return_id", "lat", "lon", "slot_start", "slot_end", "service_time_s")
        optional = ("kind", "order_id", "shipped_from_node_id")
        by_id = {o.order_id: o for o in orders}
        table = self.table(RETURNS_FILE, columns, optional, self.return_ids)
        pending: list[dict[str, Any]] = []
        for row in table:
            return_id = row.unique("return_id", self.return_ids)
            if return_id is not None and return_id in self.order_ids.lines:
                row.problem("return_id", f"{return_id!r} is also an order_id in orders.csv; "
                            "return and order ids must differ")  # fmt: skip
            kind = ReturnKind.RETURN
            if row.optional_text("kind"):
                kind = row.enum("kind", ReturnKind)
            slot = row.span("slot_start", "slot_end", row.datetime, "slot")
            lat, lon = row.coordinates()
            order_id = row.optional_text("order_id") or None
            if kind is ReturnKind.EXCHANGE:
                order_id = row.ref("order_id", self.order_ids, "the delivery order of the exchange")
                order = by_id.get(order_id) if order_id else None
                if order is not None and order.service is Service.CLICK_COLLECT:
                    row.problem("order_id", f"an exchange goes with a delivery; order "
                                f"{order_id!r} is click_collect")  # fmt: skip
                elif (
                    order is not None
                    and None not in slot
                    and ((order.slot_start_s, order.slot_end_s) != slot)
                ):
                    window = f"{_hhmm(order.slot_start_s)}-{_hhmm(order.slot_end_s)}"
                    row.problem("slot_start", f"an exchange shares its order's slot ({window})")
                if (
                    order is not None
                    and None not in (lat, lon)
                    and max(abs(lat - order.lat), abs(lon - order.lon)) > SAME_ADDRESS_DEG
                ):
                    row.problem("lat", "an exchange is picked up where its order is delivered "
                                f"({order.lat}, {order.lon}): one visit")  # fmt: skip
            shipped = None
            if row.optional_text("shipped_from_node_id"):
                shipped = row.ref("shipped_from_node_id", self.node_ids, "a node id")
            item = row.build(
                dict,
                return_id=return_id,
                lat=lat,
                lon=lon,
                slot_start_s=slot[0],
                slot_end_s=slot[1],
                service_time_s=row.integer("service_time_s", min=0),
                kind=kind,
                order_id=order_id,
                shipped_from_node_id=shipped,
            )
            if item is not None:
                pending.append(item)
        lines = self._return_lines()
        return [Return(**item, lines=tuple(lines[item["return_id"]])) for item in pending]

    def _return_lines(self) -> dict[str, list[OrderLine]]:
        return self._lines_of(
            RETURN_LINES_FILE, "return_id", self.return_ids, RETURNS_FILE, "return"
        )

    # zones.geojson

    def zones(self) -> list[Zone]:
        if not (self.folder / ZONES_FILE).exists():
            return []
        text = self.read_text(ZONES_FILE)
        if text is None:
            return []
        try:
            data, line_of = _json_with_lines(text)
        except json.JSONDecodeError as error:
            message = f"not valid JSON: {error.msg} (column {error.colno})"
            self.problems.append(Problem(ZONES_FILE, error.lineno, None, message))
            return []
        except RecursionError:
            self.problems.append(Problem(ZONES_FILE, None, None, "not valid JSON: nested too deep"))
            return []
        features = data.get("features") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("type") != "FeatureCollection"
            or not isinstance(features, list)
        ):
            message = "expected a GeoJSON FeatureCollection with a list of features"
            self.problems.append(Problem(ZONES_FILE, line_of(data), None, message))
            return []
        first: dict[str, tuple[int, int | None]] = {}
        zones = [self._zone(i, f, line_of(f), first) for i, f in enumerate(features)]
        return [zone for zone in zones if zone is not None]

    def _zone(
        self, i: int, feature: object, line: int | None, first: dict[str, tuple[int, int | None]]
    ) -> Zone | None:
        """Feature ``i`` of the collection (starting on ``line``) as a :class:`Zone`;
        ``first`` maps the zone ids seen so far to their feature and line."""
        start = len(self.problems)

        def report(member: str, message: str) -> None:
            self.problems.append(Problem(ZONES_FILE, line, f"features[{i}]{member}", message))

        def check(member: str, parse: Callable[[object], T], value: object) -> T | None:
            try:
                return parse(value)
            except _Invalid as error:
                report(member, str(error))
                return None

        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            report("", f"expected a GeoJSON Feature, got {_show(feature)}")
            return None
        properties = check(".properties", _mapping_value, feature.get("properties"))
        if properties is None:
            return None
        zone_id = check(".properties.zone_id", _text_value, properties.get("zone_id"))
        if zone_id is not None and (problem := id_problem(zone_id, "zone")) is not None:
            report(".properties.zone_id", problem)
        if zone_id is not None and first.setdefault(zone_id, (i, line))[0] != i:
            j, first_line = first[zone_id]
            report(
                ".properties.zone_id",
                f"duplicate zone_id {zone_id!r} (first in features[{j}], line {first_line})",
            )
        rule = check(
            ".properties.rule", lambda v: _enum(v, ZoneRule, "rule"), properties.get("rule")
        )
        modes = check(".properties.allowed_modes", _modes, properties.get("allowed_modes"))
        if modes is not None and rule is ZoneRule.LOW_EMISSION:
            report(".properties.allowed_modes", "only limited_traffic zones have allowed_modes")
        geometry = check(".geometry", _polygon, feature.get("geometry"))
        if len(self.problems) > start:
            return None
        name = properties.get("name")
        return Zone(zone_id, name if isinstance(name, str) else zone_id, rule, geometry, modes)
