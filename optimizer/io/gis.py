"""GIS layers in: a GeoPackage, Shapefile or GeoJSON file as GeoJSON features in WGS 84.

Zones (:mod:`optimizer.io.scenario_zones`) and candidate sites
(:mod:`optimizer.io.candidates`) may come from the files a planner's GIS exports. This
module reads such a file with pyogrio (GDAL) and hands back its features as GeoJSON
``Feature`` mappings (``properties`` with plain Python values, ``geometry`` with
longitude/latitude positions as lists), so the readers validate them with the same checks,
and the same messages, as a GeoJSON file. The core only ever sees WGS 84 lon/lat.

The CRS: a layer in another CRS (Lambert-93, EPSG:2154; UTM 32N, EPSG:25832; ...) is
reprojected to EPSG:4326, which is normal and not worth a warning. A layer with no CRS
(a Shapefile without its ``.prj``) is taken as lon/lat when its coordinates are degrees,
and refused with :class:`LayerError` when they are plainly not (|x| > 180 or |y| > 90).
GeoJSON is WGS 84 (RFC 7946); the legacy ``crs`` member older exports write is honoured
(:func:`geojson_crs`, :func:`reproject_positions`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import shapely

from optimizer.io.file_limits import FileTooLargeError

# pyogrio (with pandas) and pyproj are imported where a GIS file is read: together they
# take about 0.3 s to import, which every scenario without one (and the service) is spared.

GEOPACKAGE = ".gpkg"
SHAPEFILE = ".shp"
# A Shapefile is read with its attribute table and index; its .prj (the CRS) is optional.
SHAPEFILE_COMPANIONS = (".dbf", ".shx")
SHAPEFILE_FIELD_CHARS = 10  # the dBase limit: GIS tools truncate longer field names to it
WGS84 = "EPSG:4326"
_CRS_FIX = {
    SHAPEFILE: "give its .prj file (the CRS it was drawn in)",
    GEOPACKAGE: "set the layer's CRS",
}


class LayerError(ValueError):
    """A GIS file that cannot be read as a layer of features; the message says why, for the
    person who exports it (the file's name is not in it)."""


def read_layer(
    path: Path, layer: str, properties: Sequence[str], limit_bytes: int
) -> list[dict[str, Any]]:
    """The features of the GIS file ``path`` as GeoJSON ``Feature`` mappings in WGS 84.

    Parameters
    ----------
    path
        A ``.gpkg``, ``.shp`` (with its ``.dbf`` and ``.shx``) or GeoJSON file.
    layer
        The layer read from a GeoPackage holding several (``zones``, ``candidates``).
    properties
        The property names the reader knows: a Shapefile's field cut to 10 characters
        (``allowed_mo``) is read under the name it was cut from (``allowed_modes``).
    limit_bytes
        The reader's size limit, checked on every file of the layer before it is read.

    Raises
    ------
    LayerError
        The file is not a readable layer (or not a regular file: the size limit could not
        hold for a pipe or a device), or its coordinates are not lon/lat and it has no CRS
        to reproject them from (or says WGS 84).
    FileTooLargeError
        A file of the layer is beyond ``limit_bytes``.
    """
    import pyogrio

    files = _layer_files(path)
    for file in files:
        size_bytes = os.stat(file).st_size
        if size_bytes > limit_bytes:
            raise FileTooLargeError(file, size_bytes, limit_bytes, "a GIS layer")
    try:
        frame = pyogrio.read_dataframe(path, layer=_layer_name(path, layer))
        if not hasattr(frame, "geometry"):  # a GeoPackage's attribute table
            raise LayerError("the layer has no geometry (a table without points or polygons)")
        frame = _lon_lat(frame, path.suffix.lower())
    except _read_errors() as error:
        raise LayerError(_unreadable(error)) from None
    names = _field_names(list(frame.columns), properties, path.suffix.lower() == SHAPEFILE)
    geometry = frame.geometry.name
    return [
        {
            "type": "Feature",
            "properties": {names[c]: _plain(value) for c, value in row.items() if c != geometry},
            "geometry": None if row[geometry] is None else _geojson(row[geometry]),
        }
        for row in frame.to_dict("records")
    ]


def _layer_files(path: Path) -> list[Path]:
    """The files that make the layer (a Shapefile's companions), all present."""
    if not path.exists():
        raise LayerError("the file is missing")
    files = [path]
    if path.suffix.lower() == SHAPEFILE:
        files += [path.with_suffix(s) for s in SHAPEFILE_COMPANIONS]
    missing = [f.name for f in files if not f.exists()]
    if not missing and not all(f.is_file() for f in files):
        raise LayerError("not a regular file (a GIS layer is read from files)")
    if missing:
        raise LayerError(
            f"a Shapefile comes with its {' and '.join(SHAPEFILE_COMPANIONS)} files beside"
            f" it; {' and '.join(missing)} missing"
        )
    return files


def _read_errors() -> tuple[type[Exception], ...]:
    """What GDAL (through pyogrio) and PROJ raise for a file they cannot read or a CRS
    they cannot reproject from."""
    import pyogrio.errors
    import pyproj.exceptions

    return (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FeatureError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        pyproj.exceptions.CRSError,
        pyproj.exceptions.ProjError,
    )


def _unreadable(error: Exception) -> str:
    # GDAL's advice after the ';' (prefix the path with a driver) is for programmers.
    return f"cannot be read as a GIS layer: {str(error).split('; ')[0]}"


def _layer_name(path: Path, wanted: str) -> str | None:
    """The layer to read: the only one, else the one named ``wanted``."""
    import pyogrio

    try:
        layers = [str(name) for name, _kind in pyogrio.list_layers(path)]
    except _read_errors() as error:
        raise LayerError(_unreadable(error)) from None
    if len(layers) <= 1:
        return None
    if wanted in layers:
        return wanted
    raise LayerError(
        f"holds {len(layers)} layers ({', '.join(layers)}): name the one to read"
        f" {wanted!r}, or keep only it"
    )


def _lon_lat(frame: Any, suffix: str) -> Any:
    """``frame`` (a GeoDataFrame) in WGS 84, or :class:`LayerError` when it has no CRS
    (or says WGS 84) and its coordinates are not degrees."""
    crs = frame.crs
    if crs is not None and not crs.equals(WGS84, ignore_axis_order=True):
        return frame.to_crs(WGS84)
    minx, miny, maxx, maxy = frame.total_bounds
    if all(math.isnan(v) for v in (minx, maxx)) or (
        -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90
    ):
        return frame
    extent = f"x from {minx:,.0f} to {maxx:,.0f}, y from {miny:,.0f} to {maxy:,.0f}: metres?"
    if crs is None:
        fix = _CRS_FIX.get(suffix, "give it a CRS")
        raise LayerError(
            f"has no CRS and its coordinates are not longitude/latitude ({extent}):"
            f" {fix}, or reproject it to EPSG:4326 (WGS 84)"
        )
    raise LayerError(
        f"its CRS is WGS 84 but its coordinates are not longitude/latitude ({extent}):"
        " export it in EPSG:4326, or as a GeoPackage in the CRS it is in"
    )


def _field_names(columns: list[str], properties: Sequence[str], shapefile: bool) -> dict:
    """Each column's property name: a Shapefile's truncated field under its full name."""
    full = {p[:SHAPEFILE_FIELD_CHARS]: p for p in properties} if shapefile else {}
    return {c: full.get(c, c) if c not in properties else c for c in columns}


def _plain(value: object) -> object:
    """A cell as a plain Python value: None when missing, numpy scalars unwrapped."""
    from pandas import isna
    from pandas.api.types import is_scalar

    if is_scalar(value) and isna(value):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) and is_scalar(value) else value


def _geojson(geometry: shapely.Geometry) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON geometry mapping (positions as lists)."""
    return json.loads(shapely.to_geojson(geometry))


# --- GeoJSON's legacy crs member -----------------------------------------------------


def geojson_crs(data: dict[str, Any]) -> Any:
    """The CRS (a ``pyproj.CRS``) a GeoJSON object's legacy ``crs`` member names, when it
    is not WGS 84.

    RFC 7946 dropped the member (GeoJSON is WGS 84 lon/lat), but GDAL and older QGIS
    still write it for a layer exported in its own CRS
    (``{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}``). Such a
    file is honoured: its positions are reprojected (:func:`reproject_positions`).

    Raises
    ------
    LayerError
        The member is not a named CRS pyproj knows.
    """
    member = data.get("crs")
    if member is None:
        return None
    import pyproj

    properties = member.get("properties") if isinstance(member, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    try:
        if not isinstance(name, str) or member.get("type") != "name":
            raise pyproj.exceptions.CRSError("not a named CRS")
        crs = pyproj.CRS.from_user_input(name)
    except pyproj.exceptions.CRSError:
        raise LayerError(
            f"the crs member {json.dumps(member)[:80]} names no CRS lastmile knows"
            ' (expected {"type": "name", "properties": {"name": "EPSG:..."}}): GeoJSON is'
            " WGS 84 longitude/latitude (RFC 7946); export it so and drop the crs member"
        ) from None
    lon_lat = pyproj.CRS.from_user_input("OGC:CRS84")
    return None if crs.equals(WGS84) or crs.equals(lon_lat) else crs


def reproject_positions(crs: Any) -> Callable[[object], object]:
    """A function taking GeoJSON ``coordinates`` in ``crs`` to WGS 84 lon/lat: each
    position (a list of 2 or 3 finite numbers) is reprojected, anything else is left as
    it is for the geometry checks to report."""
    import pyproj

    transformer = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)

    def reproject(coordinates: object) -> object:
        if not isinstance(coordinates, list):
            return coordinates
        if len(coordinates) in (2, 3) and all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in coordinates
        ):
            lon, lat = transformer.transform(coordinates[0], coordinates[1])
            return [lon, lat, *coordinates[2:]]
        return [reproject(c) for c in coordinates]

    return reproject
