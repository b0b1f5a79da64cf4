"""Reading the traffic zones of a scenario folder: ``zones.geojson``, ``zones.gpkg`` or
``zones.shp`` (one of them, or none). Each problem is reported with its file, line and
GeoJSON member (``features[2].properties.rule``); a GeoPackage or Shapefile's feature and
field are named the same way, without a line, with the same messages: its features are
read as GeoJSON in WGS 84 (:mod:`optimizer.io.gis`) and checked by the same code.

Mixed into :class:`optimizer.io.scenario_reader._ScenarioReader` as :class:`_ZoneFiles`;
the contract is ``docs/scenario-format.md``.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import math
import re
from collections.abc import Callable
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from optimizer.io.gis import LayerError, geojson_crs, reproject_positions
from optimizer.io.problems import Problem
from optimizer.io.scenario_settings import _mapping_value, _text_value
from optimizer.io.tables import T, _enum, _Files, _Invalid, _show, id_problem
from optimizer.model.scenario import Mode, Zone, ZoneRule

ZONES_FILE = "zones.geojson"
# A scenario's zones come in one of these (a Shapefile with its .dbf and .shx beside it).
ZONES_FILES = (ZONES_FILE, "zones.gpkg", "zones.shp")
ZONES_LAYER = "zones"  # the layer read from a GeoPackage holding several
ZONE_PROPERTIES = ("zone_id", "name", "rule", "allowed_modes")


# --- zones.geojson's geometry ----------------------------------------------------------------


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
            " (metres? zones.geojson is WGS 84 longitude/latitude, RFC 7946: export it"
            " in EPSG:4326, or give zones.gpkg or zones.shp with the CRS it is in)"
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


# --- the reader ----------------------------------------------------------------------


class _ZoneFiles(_Files):
    """Reads the folder's zones file (a GIS file through :meth:`_Files.layer`)."""

    def zones(self) -> list[Zone]:
        """The zones of the folder's one zones file (none: no zones)."""
        present = [file for file in ZONES_FILES if (self.folder / file).exists()]
        if len(present) > 1:
            message = (
                f"a scenario has one zones file, found {' and '.join(present)}: keep one"
                f" ({', '.join(ZONES_FILES)})"
            )
            self.problems.append(Problem(present[0], None, None, message))
            return []
        if not present:
            return []
        if present[0] == ZONES_FILE:
            return self._geojson_zones()
        return self._layer_zones(present[0])

    def _layer_zones(self, file: str) -> list[Zone]:
        """The zones of a GeoPackage or Shapefile, reprojected to WGS 84 lon/lat and
        checked as GeoJSON features (``allowed_modes``: text, modes separated by commas)."""
        features = self.layer(file, ZONES_LAYER, ZONE_PROPERTIES)
        if features is None:
            return []
        first: dict[str, tuple[int, int | None]] = {}
        zones = [self._zone(file, i, _listed_modes(f), None, first) for i, f in enumerate(features)]
        return [zone for zone in zones if zone is not None]

    def _geojson_zones(self) -> list[Zone]:
        """The zones of ``zones.geojson``, with the line of each problem (positions named
        in another CRS by a legacy ``crs`` member reprojected to WGS 84 first)."""
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
        try:
            crs = geojson_crs(data)
        except LayerError as error:
            self.problems.append(Problem(ZONES_FILE, line_of(data), "crs", str(error)))
            return []
        if crs is not None:
            _reproject_features(features, crs)
        first: dict[str, tuple[int, int | None]] = {}
        zones = [self._zone(ZONES_FILE, i, f, line_of(f), first) for i, f in enumerate(features)]
        return [zone for zone in zones if zone is not None]

    def _zone(
        self,
        file: str,
        i: int,
        feature: object,
        line: int | None,
        first: dict[str, tuple[int, int | None]],
    ) -> Zone | None:
        """Feature ``i`` of the zones ``file`` (starting on ``line``, if it has lines) as a
        :class:`Zone`; ``first`` maps the zone ids seen so far to their feature and line."""
        start = len(self.problems)

        def report(member: str, message: str) -> None:
            self.problems.append(Problem(file, line, f"features[{i}]{member}", message))

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
            there = f"features[{j}]" + ("" if first_line is None else f", line {first_line}")
            report(".properties.zone_id", f"duplicate zone_id {zone_id!r} (first in {there})")
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


def _reproject_features(features: list, crs: Any) -> None:
    """Reproject, in place, the positions of the features' geometries from ``crs`` (a
    GeoJSON file's legacy ``crs`` member) to WGS 84; malformed ones are left for the
    geometry checks."""
    reproject = reproject_positions(crs)
    for feature in features:
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if isinstance(geometry, dict) and "coordinates" in geometry:
            geometry["coordinates"] = reproject(geometry["coordinates"])


def _listed_modes(feature: dict[str, Any]) -> dict[str, Any]:
    """A GIS layer's feature with its ``allowed_modes`` text (``van,cargo_bike``; a
    GeoPackage or Shapefile field holds no list) as the list GeoJSON holds, and empty
    text fields (a Shapefile's missing value) as absent."""
    properties = {k: None if v == "" else v for k, v in feature["properties"].items()}
    modes = properties.get("allowed_modes")
    if isinstance(modes, str):
        properties["allowed_modes"] = [m.strip() for m in modes.split(",") if m.strip()]
    return {**feature, "properties": properties}
