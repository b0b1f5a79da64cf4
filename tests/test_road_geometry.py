"""Routes drawn along the streets (issue 16, item 3): each edge keeps its way's shape, the
fastest paths the matrices measure are drawn through it, and ``routes.geojson`` and the
map follow them (credited to OpenStreetMap) on road travel, straight lines otherwise."""

import json

import numpy as np
import pytest

from optimizer.io.osm import read_streets
from optimizer.io.plan_files import plan_to_dict, routes_geojson, to_json
from optimizer.io.plan_map import plan_map
from optimizer.io.road_cache import (
    CACHE_FORMAT,
    cache_paths,
    load_road_networks,
    read_network,
    write_network,
)
from optimizer.kpis import plan_kpis
from optimizer.model import Mode
from optimizer.planning import PlanParams, plan_day
from optimizer.travel import Profile
from optimizer.travel.road import (
    SNAP_WARNING_M,
    RoadNetwork,
    RoadTravel,
    build_networks,
    haversine_m,
)
from optimizer.travel.route_lines import OSM_CREDIT
from tests import factory as f
from tests.test_road_scenario import _kbh_day
from tests.test_road_travel import KBH, random_points, write_osm

VAN_18 = Profile(Mode.VAN, 18.0)
PARAMS = PlanParams(time_limit_s=2, workers=1, joint=False)

# A street that bends twice between A and B, and a longer way round by C: the graph has
# the nodes A and B only (X1, X2 and C only shape the two streets).
BENT = {"A": (55.0, 12.0), "X1": (55.0003, 12.0005), "X2": (55.0003, 12.0011),
        "B": (55.0, 12.0016), "C": (55.001, 12.0008)}  # fmt: skip
RESIDENTIAL = {"highway": "residential"}


def _line_m(line) -> float:
    line = np.asarray(line, dtype=np.float64)
    return float(haversine_m(line[:-1, 1], line[:-1, 0], line[1:, 1], line[1:, 0]).sum())


@pytest.fixture(scope="module")
def kbh_travel(tmp_path_factory) -> RoadTravel:
    return RoadTravel(load_road_networks(KBH, tmp_path_factory.mktemp("road-cache")))


@pytest.fixture(scope="module")
def kbh_plan(kbh_travel):
    day = _kbh_day(kbh_travel, n=12)
    plan = plan_day(day, PARAMS)
    assert plan.routes and not plan.unassigned
    return day, plan


def test_an_edge_keeps_its_bends_in_its_own_direction(tmp_path):
    ways = [(["A", "X1", "X2", "B"], RESIDENTIAL), (["B", "C", "A"], RESIDENTIAL)]
    network = build_networks(read_streets(write_osm(tmp_path / "bent.osm", BENT, ways)))["van"]
    assert network.n_nodes == 2 and network.n_edges == 4
    travel = RoadTravel({"van": network})
    a, b = BENT["A"], BENT["B"]
    lat, lon = np.array([a[0], b[0]]), np.array([a[1], b[1]])
    there, back = travel.paths_lonlat(lat, lon, lat[::-1], lon[::-1], VAN_18)
    bends = [[BENT[x][1], BENT[x][0]] for x in ("A", "X1", "X2", "B")]
    # From the address to its node (the same point here), through the bends, to the other.
    assert there.tolist() == [bends[0], *bends, bends[-1]]
    assert back.tolist() == [bends[-1], *bends[::-1], bends[0]]
    distance_m, _ = travel.matrices(lat, lon, VAN_18)
    assert _line_m(there) == pytest.approx(distance_m[0, 1], abs=0.5)


def test_copenhagen_each_edge_shape_measures_the_edge_length(kbh_travel):
    for network in kbh_travel.networks.values():
        assert network.shape_offsets[-1] > network.n_edges / 2  # streets bend
        tail = network.tail()
        for e in range(0, network.n_edges, 7):
            lat, lon = network.path_points(int(tail[e]), np.array([e]))
            assert lat[-1] == network.node_lat[network.head[e]]
            length_m = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum()
            assert length_m == pytest.approx(network.length_m[e], abs=1e-6)


@pytest.mark.parametrize("profile", [VAN_18, Profile(Mode.CARGO_BIKE, 15.0)])
def test_copenhagen_a_drawn_leg_is_as_long_as_the_matrix_says(kbh_travel, profile):
    lat, lon = random_points(kbh_travel.networks, 41, seed=3)
    legs = kbh_travel.legs_lonlat(lat, lon, profile)
    distance_m, _ = kbh_travel.matrices(lat, lon, profile)
    assert len(legs) == 40
    for k, leg in enumerate(legs):
        assert leg[0].tolist() == [lon[k], lat[k]] and leg[-1].tolist() == [lon[k + 1], lat[k + 1]]
        # Lengths summed in decimetres per edge and rounded to the metre: within a metre.
        assert _line_m(leg) == pytest.approx(distance_m[k, k + 1], abs=1.5)


def test_the_same_point_twice_is_a_leg_of_that_point(kbh_travel):
    lat, lon = random_points(kbh_travel.networks, 1, seed=4)
    (leg,) = kbh_travel.paths_lonlat(lat, lon, lat, lon, VAN_18)
    assert leg.tolist() == [[lon[0], lat[0]]] * 2


def test_routes_geojson_draws_each_road_route_along_the_streets(kbh_plan):
    day, plan = kbh_plan
    document = json.loads(to_json(plan_to_dict(day, plan, plan_kpis(day, plan))))
    geojson = json.loads(to_json(routes_geojson(day, plan)))
    assert geojson["attribution"] == OSM_CREDIT
    lines = [g for g in geojson["features"] if g["properties"]["kind"] == "route"]
    assert len(lines) == len(plan.routes) == len(document["routes"])
    for feature, route, written in zip(lines, plan.routes, document["routes"], strict=True):
        line = feature["geometry"]["coordinates"]
        node = day.nodes[route.node_id]
        assert line[0] == line[-1] == [node.lon, node.lat]
        _passes_every_stop_in_order(line, route.stops)
        # Each leg rounded to the metre: within a metre a leg.
        assert _line_m(line) == pytest.approx(written["distance_m"], abs=len(route.stops) + 1)
        assert len(line) > 3 * (len(route.stops) + 2)


def _passes_every_stop_in_order(line, stops) -> None:
    line = np.asarray(line, dtype=np.float64)
    at = 0
    for stop in stops:
        gap_m = haversine_m(line[at:, 1], line[at:, 0], stop.lat, stop.lon)
        assert gap_m.min() <= SNAP_WARNING_M, f"{stop.order_id} is not on its route's line"
        at += int(np.argmin(gap_m))


def test_the_map_draws_road_routes_along_the_streets_and_credits_openstreetmap(kbh_plan):
    day, plan = kbh_plan
    page = plan_map(day, plan).get_root().render()
    assert f'addAttribution("{OSM_CREDIT}")' in page
    route = plan.routes[0]
    node = day.nodes[route.node_id]
    drawn = [p for p in _polylines(page) if p[0] == [node.lat, node.lon]]
    assert any(len(p) > 3 * (len(route.stops) + 2) for p in drawn)


def _polylines(page: str) -> list[list[list[float]]]:
    """The point lists of the page's ``L.polyline(...)`` calls."""
    found = []
    for chunk in page.split("L.polyline(")[1:]:
        found.append(json.loads(chunk[: chunk.index("]],") + 2]))
    return found


def test_great_circle_routes_stay_straight_lines_without_a_credit():
    orders = [f.order(f"O{i}", 48.85 + 0.003 * i, 2.35, [("BOOK", 1)]) for i in range(6)]
    scenario = f.scenario(orders)
    plan = plan_day(scenario, PARAMS)
    assert plan.routes
    geojson = routes_geojson(scenario, plan)
    assert "attribution" not in geojson
    features = geojson["features"]
    lines = [g["geometry"]["coordinates"] for g in features if g["properties"]["kind"] == "route"]
    # What routes.geojson wrote before routes followed streets, to the byte.
    straight = [
        [[n.lon, n.lat]] + [[s.lon, s.lat] for s in r.stops] + [[n.lon, n.lat]]
        for r in plan.routes
        for n in [scenario.nodes[r.node_id]]
    ]
    assert json.dumps(lines) == json.dumps(straight)
    assert "(ODbL)" not in plan_map(scenario, plan).get_root().render()


def test_the_cache_round_trips_the_edge_shapes(tmp_path):
    built = load_road_networks(KBH, tmp_path)
    cached = {name: read_network(path) for name, path in cache_paths(KBH, tmp_path).items()}
    for name, network in built.items():
        for key in ("shape_offsets", "shape_lat", "shape_lon"):
            assert np.array_equal(getattr(cached[name], key), getattr(network, key)), key


def test_a_cache_without_shapes_is_rebuilt(tmp_path):
    path = cache_paths(KBH, tmp_path)["van"]
    network = load_road_networks(KBH, tmp_path)["van"]
    with np.load(path) as data:
        old = {k: data[k] for k in data.files if not k.startswith("shape_")}
    np.savez(path, **{**old, "format": np.array("lastmile-road-network/1")})
    assert CACHE_FORMAT != "lastmile-road-network/1" and read_network(path) is None
    assert np.array_equal(load_road_networks(KBH, tmp_path)["van"].shape_lat, network.shape_lat)
    write_network(path, network)
    assert read_network(path) is not None


def test_a_network_built_without_shapes_draws_its_edges_straight():
    network = RoadNetwork(
        name="van",
        node_lat=np.array([55.0, 55.001]),
        node_lon=np.array([12.0, 12.0]),
        indptr=np.array([0, 1, 2]),
        head=np.array([1, 0]),
        length_m=np.array([111.2, 111.2]),
        speed_kmh=np.array([30.0, 30.0]),
    )
    lat, lon = network.path_points(0, np.array([0, 1]))
    assert lat.tolist() == [55.0, 55.001, 55.0] and lon.tolist() == [12.0] * 3
