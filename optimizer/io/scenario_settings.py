"""Reading ``scenario.yaml`` (the day, its zone, services, transfers, breaks, travel):
each problem is reported with its file, line and key.

Mixed into :class:`optimizer.io.scenario_reader._ScenarioReader` as
:class:`_SettingsFiles`; the contract is ``docs/scenario-format.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from optimizer.io.problems import Problem
from optimizer.io.scenario_time_of_day import time_of_day
from optimizer.io.tables import (
    _DATE,
    _DAY_S,
    T,
    _bounds,
    _capped,
    _clock,
    _enum,
    _Files,
    _in_range,
    _Invalid,
    _show,
)
from optimizer.model.scenario import Service, ServiceSettings, Settings, TransferSettings
from optimizer.model.travel import Mode, TravelKind, TravelSettings

SETTINGS_FILE = "scenario.yaml"


# When scenario.yaml is broken the other files are still checked, their times read on
# this day; the scenario is refused anyway.
_FALLBACK_DATE = date(2000, 1, 1)
_FALLBACK_TIMEZONE = "UTC"


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
    low: float, strict: bool = False, integer: bool = False, high: float | None = None
) -> Callable[[object], Any]:
    kinds = int if integer else (int, float)
    expected = f"{'an integer' if integer else 'a number'} {_bounds(low, high, strict)}"

    def parse(value: object) -> Any:
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
            raise _Invalid(f"expected {expected}, got {_show(value)}")
        return _capped(_in_range(value, str(value), low, high, strict), str(value))

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

    def __init__(self, reader: _Files, data: dict, lines: dict[tuple[str, ...], int]):
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


# --- the reader ----------------------------------------------------------------------


class _SettingsFiles(_Files):
    """Reads ``scenario.yaml``; :meth:`settings` also sets the
    clock every later file's times are read with."""

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
            travel=self._travel(doc),
            promise_horizon_days=self._promise_horizon(doc),
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
            days = _number_value(0, integer=True)
            min_days = doc.get(path + ("min_days",), days, default=0)
            max_days = doc.get(path + ("max_days",), days, default=-1)  # -1: absent
            if None not in (min_days, max_days) and 0 <= max_days < min_days:
                doc.problem(path + ("max_days",), f"{max_days} is before min_days ({min_days})")
            if None not in (price, slot_length, min_days, max_days):
                max_days = None if max_days == -1 else max_days
                services[service] = ServiceSettings(price, slot_length, min_days, max_days)
        for service in Service:
            if service.value not in raw:
                doc.problem(("services", service.value), "missing key")
        return services

    def _promise_horizon(self, doc: _Yaml) -> int | None:
        """The optional ``promise`` block: ``horizon_days``, the days after today the
        checkout offers (at most a year: beyond, no fleet or stock figure means much)."""
        raw = doc.get(("promise",), _mapping_value, default={})
        if not raw:
            return None
        for key in raw:
            if key != "horizon_days":
                doc.problem(("promise", str(key)), "unknown key (horizon_days)")
        return doc.get(("promise", "horizon_days"), _number_value(0, integer=True, high=366))

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

    def _travel(self, doc: _Yaml) -> TravelSettings:
        """The optional ``travel`` block: ``provider`` (great_circle, the default, or
        road), ``osm`` (road: the OpenStreetMap extract, relative to the folder),
        ``detour_factor`` (great_circle: per mode, each >= 1) and ``time_of_day`` (the
        hours' duration factors, :mod:`optimizer.io.scenario_time_of_day`). Defaults
        where absent."""
        raw = doc.get(("travel",), _mapping_value, default={})
        if not raw:
            return TravelSettings()
        path = ("travel",)
        for key in raw:
            if key not in ("provider", "osm", "detour_factor", "time_of_day"):
                doc.problem(
                    path + (str(key),), "unknown key (provider, osm, detour_factor, time_of_day)"
                )
        provider = doc.get(
            path + ("provider",),
            lambda v: _enum(v, TravelKind, "travel provider"),
            default=TravelKind.GREAT_CIRCLE,
        )
        osm = doc.get(path + ("osm",), _text_value, default="") or None
        factors = self._detour_factors(doc, path + ("detour_factor",))
        hours = time_of_day(doc, path + ("time_of_day",))
        if provider is TravelKind.ROAD and osm is None:
            doc.problem(path + ("osm",), "missing key: the road provider needs an extract")
            return TravelSettings()
        if provider is TravelKind.GREAT_CIRCLE and osm is not None:
            doc.problem(path + ("osm",), "only the road provider reads an extract")
        if provider is TravelKind.ROAD and factors:
            doc.problem(path + ("detour_factor",), "only the great_circle provider has "
                        "detour factors (the road network has real streets)")  # fmt: skip
        if provider is None or factors is None or hours is None:
            return TravelSettings()
        if provider is TravelKind.ROAD and osm is not None and not (self.folder / osm).is_file():
            doc.problem(path + ("osm",), f"file not found: {osm} (relative to the folder)")
            return TravelSettings()
        osm_file = osm if provider is TravelKind.ROAD else None
        return TravelSettings(provider, osm_file, factors if osm_file is None else {}, hours)

    def _detour_factors(self, doc: _Yaml, path: tuple[str, ...]) -> dict[Mode, float] | None:
        raw = doc.get(path, _mapping_value, default={})
        factors: dict[Mode, float] = {}
        for key in raw:
            mode = doc.parse(path + (str(key),), key, lambda k: _enum(k, Mode, "mode"))
            # Below 1 the way would be shorter than the straight line; above 3 it is
            # no longer a detour but a different trip (urban circuity is 1.2-1.4).
            factor = doc.get(path + (str(key),), _number_value(1, high=3))
            if mode is None or factor is None:
                return None
            factors[mode] = float(factor)
        return factors
