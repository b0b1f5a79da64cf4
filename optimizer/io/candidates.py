"""Candidate sites from a CSV or GIS file, validated: every problem at once, with line and
column (a GIS file: feature and property).

Columns: ``site_id``, ``name``, ``kind`` (``dark_store`` | ``urban_hub`` | ``micro_hub``),
``lat``, ``lon`` and, optional (empty: the kind's default, see
``optimizer.network.sites.KIND_PROFILES``), ``cost_per_day_eur`` and
``capacity_orders_per_day``. A GeoPackage, Shapefile or GeoJSON file (by its suffix,
:data:`GIS_SUFFIXES`) holds Point features with those properties, the point giving
``lat`` and ``lon`` (reprojected to WGS 84 from the layer's CRS, :mod:`optimizer.io.gis`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path

from optimizer.io.file_limits import MAX_CANDIDATES_BYTES, FileTooLargeError, read_text_within
from optimizer.io.gis import LayerError, read_layer
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
GIS_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json")  # any other file is read as CSV
CANDIDATES_LAYER = "candidates"  # the layer read from a GeoPackage holding several


class CandidatesError(ScenarioError):
    """A candidate file that cannot be read, with every problem found in it."""

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"candidate file {self.path} has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])


def load_candidates(path: str | Path) -> list[Site]:
    """Read and validate a candidate file; raises :class:`CandidatesError` (also for a
    file beyond :data:`optimizer.io.file_limits.MAX_CANDIDATES_BYTES`, before reading it).
    A file ending in one of :data:`GIS_SUFFIXES` is read as a GIS layer of points."""
    path = Path(path)
    if path.suffix.lower() in GIS_SUFFIXES:
        return _layer_candidates(path)
    name = path.name
    rows = list(csv.reader(io.StringIO(_candidates_text(path))))
    if not rows:
        raise CandidatesError(path, [Problem(name, None, None, "empty; expected a header")])
    header = [c.strip() for c in rows[0]]
    problems = header_problems(name, header, COLUMNS, OPTIONAL)
    if not header_readable(problems):
        raise CandidatesError(path, problems)
    sites: list[Site] = []
    seen: dict[str, str] = {}
    for line, raw in enumerate(rows[1:], start=2):
        cells = dict(zip(header, (c.strip() for c in raw), strict=False))
        if not any(cells.values()):
            continue

        def bad(column: str | None, message: str, line: int = line) -> None:
            problems.append(Problem(name, line, column, message))

        site = _site(f"line {line}", cells, seen, bad)
        if site is not None:
            sites.append(site)
    return _sites_or_error(path, sites, problems)


def _layer_candidates(path: Path) -> list[Site]:
    """The sites of a GIS file's point features, checked as a CSV file's rows (their
    problems at ``features[i].properties.column``, or ``.geometry`` for the point)."""
    name = path.name
    if not path.exists():
        raise CandidatesError(path, [Problem(name, None, None, "no such file")])
    try:
        features = read_layer(path, CANDIDATES_LAYER, COLUMNS + OPTIONAL, MAX_CANDIDATES_BYTES)
    except FileTooLargeError as exc:
        message = f"{exc} (see docs/scenario-format.md, Size limits)"
        raise CandidatesError(path, [Problem(name, None, None, message)]) from None
    except (LayerError, OSError) as exc:
        raise CandidatesError(path, [Problem(name, None, None, str(exc))]) from None
    problems: list[Problem] = []
    sites: list[Site] = []
    seen: dict[str, str] = {}
    for i, feature in enumerate(features):
        site = _feature_site(name, i, feature, seen, problems)
        if site is not None:
            sites.append(site)
    return _sites_or_error(path, sites, problems)


def _feature_site(
    name: str, i: int, feature: dict, seen: dict[str, str], problems: list[Problem]
) -> Site | None:
    """Feature ``i``'s site: its properties as a CSV row's cells, its point as lat, lon."""
    geometry = feature["geometry"] or {}
    point = geometry.get("coordinates") if geometry.get("type") == "Point" else None
    if not point:
        kind = geometry.get("type")
        message = f"expected a Point geometry, got {kind or 'none'}"
        problems.append(Problem(name, None, f"features[{i}].geometry", message))
    cells = {
        column: "" if value is None else str(value).strip()
        for column, value in feature["properties"].items()
    }
    lon, lat = point[:2] if point else ("", "")
    cells.update(lat=str(lat), lon=str(lon))

    def bad(column: str | None, message: str) -> None:
        if column in ("lat", "lon"):
            if point:  # else the geometry's problem is reported
                problems.append(Problem(name, None, f"features[{i}].geometry", message))
        else:
            problems.append(Problem(name, None, f"features[{i}].properties.{column}", message))

    return _site(f"features[{i}]", cells, seen, bad)


def _sites_or_error(path: Path, sites: list[Site], problems: list[Problem]) -> list[Site]:
    if not sites and not problems:
        problems.append(Problem(path.name, None, None, "no candidate site"))
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
    where: str, cells: dict[str, str], seen: dict[str, str], report: Callable[[str, str], None]
) -> Site | None:
    """The site of one line (or feature: ``where`` it is, ``line 3``), or None with its
    problems reported to ``report(column, message)``; ``seen``: the site ids of the lines
    before, with where they are."""
    found = False

    def bad(column: str, message: str) -> None:
        nonlocal found
        found = True
        report(column, message)

    site_id = cells.get("site_id", "")
    if not site_id:
        bad("site_id", "empty")
    elif site_id in seen:
        bad("site_id", f"{site_id} is already on {seen[site_id]}")
    else:
        seen[site_id] = where
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
    if found:
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
