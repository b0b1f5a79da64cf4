"""Zones and candidate sites from a GeoPackage or Shapefile as well as GeoJSON (issue 16,
item 5): the same zones and sites whatever the format and CRS (reprojected to WGS 84), the
same messages for the same mistakes, and clear ones for what only GIS files can get wrong
(two zones files, no CRS for coordinates in metres, a legacy GeoJSON crs member)."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Polygon

from optimizer.io import ScenarioError, load_scenario
from optimizer.io.candidates import CandidatesError, load_candidates
from optimizer.io.scenario_reader import MAX_FILE_BYTES
from optimizer.model.scenario import Mode

ROOT = Path(__file__).resolve().parents[1]
PARIS = ROOT / "data" / "paris"
CANDIDATES = ROOT / "data" / "paris-candidates.csv"
LAMBERT_93 = 2154  # metres, France's official projection
TOLERANCE_DEG = 1e-7  # about 1 cm


def write(frame: gpd.GeoDataFrame, path: Path, **options: object) -> None:
    """Write a layer as a GIS tool would (a Shapefile's long field names cut to 10
    characters, with GDAL's warning about it silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", "Column names longer than 10", UserWarning)
        frame.to_file(path, **options)


def paris_zones() -> gpd.GeoDataFrame:
    return gpd.read_file(PARIS / "zones.geojson")


def paris_with(tmp_path: Path, zones: gpd.GeoDataFrame | None, file: str) -> Path:
    """A copy of the Paris sample with its zones as ``file`` instead of zones.geojson."""
    folder = tmp_path / "paris"
    shutil.copytree(PARIS, folder)
    (folder / "zones.geojson").unlink()
    if zones is not None:
        write(zones, folder / file)
    return folder


def problems_of(folder: Path) -> list[tuple[str, int | None, str | None, str]]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(folder)
    return [(p.file, p.line, p.column, p.message) for p in caught.value.problems]


@pytest.fixture(scope="module")
def paris():
    return load_scenario(PARIS)


@pytest.mark.parametrize("file", ["zones.gpkg", "zones.shp"])
@pytest.mark.parametrize("crs", [4326, LAMBERT_93])
def test_zones_from_geopackage_and_shapefile_in_any_crs_are_the_geojson_zones(
    tmp_path, paris, file, crs
):
    scenario = load_scenario(paris_with(tmp_path, paris_zones().to_crs(crs), file))
    assert [(z.zone_id, z.name, z.rule, z.allowed_modes) for z in scenario.zones] == [
        (z.zone_id, z.name, z.rule, z.allowed_modes) for z in paris.zones
    ]
    for got, expected in zip(scenario.zones, paris.zones, strict=True):
        assert got.geometry.hausdorff_distance(expected.geometry) < TOLERANCE_DEG
    # Sourcing sees the zones through may_deliver: the same answer for every order.
    assert [
        [scenario.may_deliver(t, o) for t in scenario.vehicle_types.values()]
        for o in scenario.orders
    ] == [[paris.may_deliver(t, o) for t in paris.vehicle_types.values()] for o in paris.orders]


@pytest.mark.parametrize("file", ["zones.gpkg", "zones.shp"])
def test_allowed_modes_of_a_gis_layer_are_text_separated_by_commas(tmp_path, file):
    zones = paris_zones()
    zones["allowed_modes"] = ["cargo_bike, cargo_trike,van", None]
    scenario = load_scenario(paris_with(tmp_path, zones, file))
    assert [z.allowed_modes for z in scenario.zones] == [
        frozenset({Mode.CARGO_BIKE, Mode.CARGO_TRIKE, Mode.VAN}),
        None,
    ]


def test_two_zones_files_are_refused_naming_both(tmp_path):
    folder = paris_with(tmp_path, paris_zones(), "zones.gpkg")
    shutil.copy(PARIS / "zones.geojson", folder)
    ((file, line, column, message),) = problems_of(folder)
    assert (file, line, column) == ("zones.geojson", None, None)
    assert "found zones.geojson and zones.gpkg: keep one" in message


def test_a_projected_shapefile_without_its_prj_is_refused_clearly(tmp_path):
    folder = paris_with(tmp_path, paris_zones().to_crs(LAMBERT_93), "zones.shp")
    (folder / "zones.prj").unlink()
    ((file, line, column, message),) = problems_of(folder)
    assert (file, line, column) == ("zones.shp", None, None)
    assert message.startswith(
        "has no CRS and its coordinates are not longitude/latitude (x from 640,544 to 661,845"
    )
    assert "give its .prj file" in message


def test_a_shapefile_in_degrees_without_its_prj_is_read_as_longitude_latitude(tmp_path, paris):
    folder = paris_with(tmp_path, paris_zones(), "zones.shp")
    (folder / "zones.prj").unlink()
    zones = load_scenario(folder).zones
    assert [z.zone_id for z in zones] == [z.zone_id for z in paris.zones]


def test_a_shapefile_without_its_dbf_is_refused_clearly(tmp_path):
    folder = paris_with(tmp_path, paris_zones(), "zones.shp")
    (folder / "zones.dbf").unlink()
    ((file, _, _, message),) = problems_of(folder)
    assert file == "zones.shp" and message.endswith("zones.dbf missing")


def geojson_problem(tmp_path: Path, zones: gpd.GeoDataFrame) -> tuple:
    folder = tmp_path / "geojson"
    shutil.copytree(PARIS, folder)
    write(zones, folder / "zones.geojson")
    ((file, line, column, message),) = problems_of(folder)
    assert file == "zones.geojson" and line is not None
    return column, message


@pytest.mark.parametrize("file", ["zones.gpkg", "zones.shp"])
@pytest.mark.parametrize(
    "change, column",
    [
        ({"rule": ["pedestrian", "low_emission"]}, "features[0].properties.rule"),
        ({"allowed_modes": ["scooter", None]}, "features[0].properties.allowed_modes"),
        ({"allowed_modes": [None, "van"]}, "features[1].properties.allowed_modes"),
        ({"zone_id": ["Z", "Z"]}, "features[1].properties.zone_id"),
        ({"zone_id": ["Z/\u200b", "OK"]}, "features[0].properties.zone_id"),
    ],
)
def test_a_broken_property_has_the_geojson_readers_message(tmp_path, file, change, column):
    zones = paris_zones()
    for key, values in change.items():
        zones[key] = values
    problems = problems_of(paris_with(tmp_path, zones, file))
    if "allowed_modes" in change:  # GeoJSON holds the list, a GIS field the text
        zones["allowed_modes"] = [None if v is None else [v] for v in change["allowed_modes"]]
    expected_column, expected_message = geojson_problem(tmp_path, zones)
    if "zone_id" in change and change["zone_id"][0] == "Z":  # GeoJSON also names the line
        expected_message = re.sub(r", line \d+\)$", ")", expected_message)
    assert problems == [(file, None, column, expected_message)]
    assert expected_column == column


@pytest.mark.parametrize("file", ["zones.gpkg", "zones.shp"])
def test_a_self_intersecting_zone_is_refused_as_in_geojson(tmp_path, file):
    zones = paris_zones()
    bowtie = Polygon([(2.33, 48.85), (2.36, 48.87), (2.36, 48.85), (2.33, 48.87)])
    zones.loc[0, "geometry"] = bowtie
    problems = problems_of(paris_with(tmp_path, zones.to_crs(LAMBERT_93), file))
    assert [(p[0], p[2]) for p in problems] == [(file, "features[0].geometry")]
    assert problems[0][3].startswith("invalid polygon: Self-intersection")
    _, geojson_message = geojson_problem(tmp_path, zones)
    assert geojson_message.startswith("invalid polygon: Self-intersection")


def test_a_geopackage_with_several_layers_is_read_at_its_zones_layer(tmp_path, paris):
    folder = paris_with(tmp_path, None, "zones.gpkg")
    zones = paris_zones()
    write(zones.iloc[:1], folder / "zones.gpkg", layer="other")
    write(zones.to_crs(LAMBERT_93), folder / "zones.gpkg", layer="zones")
    assert [z.zone_id for z in load_scenario(folder).zones] == [z.zone_id for z in paris.zones]
    folder = paris_with(tmp_path / "2", None, "zones.gpkg")
    write(zones, folder / "zones.gpkg", layer="a")
    write(zones, folder / "zones.gpkg", layer="b")
    ((file, _, _, message),) = problems_of(folder)
    assert file == "zones.gpkg" and message == (
        "holds 2 layers (a, b): name the one to read 'zones', or keep only it"
    )


def test_geojson_with_a_legacy_crs_member_is_reprojected(tmp_path, paris):
    folder = tmp_path / "paris"
    shutil.copytree(PARIS, folder)
    # GDAL writes the crs member for a GeoJSON layer exported in its own CRS.
    write(paris_zones().to_crs(LAMBERT_93), folder / "zones.geojson", driver="GeoJSON")
    crs = json.loads((folder / "zones.geojson").read_text())["crs"]
    assert crs["properties"]["name"] == "urn:ogc:def:crs:EPSG::2154"
    zones = load_scenario(folder).zones
    for got, expected in zip(zones, paris.zones, strict=True):
        assert got.geometry.hausdorff_distance(expected.geometry) < TOLERANCE_DEG


def test_geojson_naming_an_unknown_crs_or_in_metres_is_refused_clearly(tmp_path):
    folder = tmp_path / "paris"
    shutil.copytree(PARIS, folder)
    data = json.loads((PARIS / "zones.geojson").read_text())
    data["crs"] = {"type": "name", "properties": {"name": "EPSG:999999"}}
    (folder / "zones.geojson").write_text(json.dumps(data))
    ((_, line, column, message),) = problems_of(folder)
    assert (line, column) == (1, "crs") and "names no CRS lastmile knows" in message
    data.pop("crs")
    write(paris_zones().to_crs(LAMBERT_93), folder / "zones.geojson", driver="GeoJSON")
    text = json.loads((folder / "zones.geojson").read_text())
    text.pop("crs")
    (folder / "zones.geojson").write_text(json.dumps(text))
    problems = problems_of(folder)
    assert len(problems) == 2 and all("(metres? zones.geojson is WGS 84" in p[3] for p in problems)


# --- candidate sites -----------------------------------------------------------------


def candidates_layer() -> gpd.GeoDataFrame:
    table = pd.read_csv(CANDIDATES, dtype={"cost_per_day_eur": float})
    points = gpd.points_from_xy(table.pop("lon"), table.pop("lat"))
    return gpd.GeoDataFrame(table, geometry=points, crs=4326)


@pytest.mark.parametrize("file", ["sites.gpkg", "sites.shp", "sites.geojson"])
@pytest.mark.parametrize("crs", [4326, LAMBERT_93])
def test_candidates_from_any_gis_format_and_crs_are_the_csv_sites(tmp_path, file, crs):
    write(candidates_layer().to_crs(crs), tmp_path / file)
    got, expected = load_candidates(tmp_path / file), load_candidates(CANDIDATES)
    assert [(s.site_id, s.name, s.kind, s.cost_per_day_eur, s.capacity_orders_per_day)
            for s in got] == [
        (s.site_id, s.name, s.kind, s.cost_per_day_eur, s.capacity_orders_per_day)
        for s in expected
    ]  # fmt: skip
    for a, b in zip(got, expected, strict=True):
        assert abs(a.lat - b.lat) < TOLERANCE_DEG and abs(a.lon - b.lon) < TOLERANCE_DEG


@pytest.mark.parametrize("file", ["sites.gpkg", "sites.shp"])
def test_a_broken_candidate_has_the_csv_readers_message(tmp_path, file):
    layer = candidates_layer()
    layer.loc[1, "site_id"] = layer.loc[0, "site_id"]
    layer.loc[2, "kind"] = "store"
    layer.loc[3, "cost_per_day_eur"] = -3.0
    # A Shapefile holds one kind of geometry; a GeoPackage may mix them.
    layer.loc[4, "geometry"] = None if file.endswith(".shp") else layer.geometry[4].buffer(0.01)
    write(layer, tmp_path / file)
    with pytest.raises(CandidatesError) as caught:
        load_candidates(tmp_path / file)
    first = layer.site_id[0]
    assert [(p.file, p.line, p.column, p.message) for p in caught.value.problems] == [
        (file, None, "features[1].properties.site_id", f"{first} is already on features[0]"),
        (file, None, "features[2].properties.kind",
         "'store' is not a kind a network opens; one of dark_store, urban_hub, micro_hub"),
        (file, None, "features[3].properties.cost_per_day_eur", "-3.0 is outside 0..1000000000"),
        (file, None, "features[4].geometry",
         f"expected a Point geometry, got {'none' if file.endswith('.shp') else 'Polygon'}"),
    ]  # fmt: skip
    csv = tmp_path / "sites.csv"
    csv.write_text("site_id,name,kind,lat,lon\nA,a,store,48.85,2.35\n", encoding="utf-8")
    with pytest.raises(CandidatesError) as caught:
        load_candidates(csv)
    assert caught.value.problems[0].message == (
        "'store' is not a kind a network opens; one of dark_store, urban_hub, micro_hub"
    )


def test_projected_candidates_without_a_prj_are_refused_clearly(tmp_path):
    write(candidates_layer().to_crs(LAMBERT_93), tmp_path / "sites.shp")
    (tmp_path / "sites.prj").unlink()
    with pytest.raises(CandidatesError) as caught:
        load_candidates(tmp_path / "sites.shp")
    ((problem),) = caught.value.problems
    assert problem.file == "sites.shp" and problem.message.startswith(
        "has no CRS and its coordinates are not longitude/latitude"
    )
    with pytest.raises(CandidatesError) as caught:
        load_candidates(tmp_path / "none.gpkg")
    assert caught.value.problems[0].message == "no such file"


def test_an_unreadable_or_oversized_zones_layer_is_one_clear_problem(tmp_path):
    folder = paris_with(tmp_path, None, "zones.gpkg")
    (folder / "zones.gpkg").write_text("not a GeoPackage", encoding="utf-8")
    ((file, _, _, message),) = problems_of(folder)
    assert file == "zones.gpkg" and message == (
        "cannot be read as a GIS layer: "
        f"'{folder / 'zones.gpkg'}' not recognized as being in a supported file format."
    )
    with open(folder / "zones.gpkg", "wb") as fh:  # sparse: no 32 MiB written
        fh.truncate(MAX_FILE_BYTES + 1)
    ((file, _, _, message),) = problems_of(folder)
    assert file == "zones.gpkg" and "beyond the planner's limit of 32 MiB per file" in message


def test_a_geopackage_table_without_geometry_is_refused_clearly(tmp_path):
    pyogrio.write_dataframe(pd.DataFrame({"site_id": ["A"]}), tmp_path / "sites.gpkg")
    with pytest.raises(CandidatesError) as caught:
        load_candidates(tmp_path / "sites.gpkg")
    assert caught.value.problems[0].message == (
        "the layer has no geometry (a table without points or polygons)"
    )


def test_geojson_candidates_in_metres_without_a_crs_member_are_refused_clearly(tmp_path):
    write(candidates_layer().to_crs(LAMBERT_93), tmp_path / "sites.geojson")
    data = json.loads((tmp_path / "sites.geojson").read_text())
    data.pop("crs")
    (tmp_path / "sites.geojson").write_text(json.dumps(data))
    with pytest.raises(CandidatesError) as caught:
        load_candidates(tmp_path / "sites.geojson")
    ((problem),) = caught.value.problems
    assert problem.message.startswith(
        "its CRS is WGS 84 but its coordinates are not longitude/latitude (x from"
    )


def test_a_zones_layer_that_is_not_a_regular_file_is_refused(tmp_path):
    folder = paris_with(tmp_path, None, "zones.gpkg")
    (folder / "zones.gpkg").mkdir()
    assert problems_of(folder) == [
        ("zones.gpkg", None, None, "not a regular file (a GIS layer is read from files)")
    ]
