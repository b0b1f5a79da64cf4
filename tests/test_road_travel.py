"""The road travel provider (issue 16): profile rules on hand-made OpenStreetMap files, the
fastest path's length, pruning to the strongly connected part, snapping, the disk cache,
and the Copenhagen extract shipped in data/osm/."""

import time
from pathlib import Path

import numpy as np
import pytest

from optimizer.io.osm import read_streets
from optimizer.io.road_cache import cache_paths, load_road_networks
from optimizer.model import Mode
from optimizer.travel import Profile
from optimizer.travel.road import (
    RoadTravel,
    _Router,
    build_network,
    build_networks,
    haversine_m,
)
from optimizer.travel.road_rules import BIKE, VAN, parse_maxspeed_kmh, way_speeds_kmh

ROOT = Path(__file__).resolve().parent.parent
KBH = ROOT / "data" / "osm" / "kbh.osm.pbf"
VAN_18 = Profile(Mode.VAN, 18.0)
BIKE_15 = Profile(Mode.CARGO_BIKE, 15.0)

# A square of four junctions, 0.001 degree of latitude (111 m) by 0.0016 of longitude
# (102 m at 55 N): the side A-B is the street under test, B-C-D-A the way round (324 m).
SQUARE = {"A": (55.0, 12.0), "B": (55.0, 12.0016), "C": (55.001, 12.0016), "D": (55.001, 12.0)}
RESIDENTIAL = {"highway": "residential"}
ROUND = [([a, b], RESIDENTIAL) for a, b in (("B", "C"), ("C", "D"), ("D", "A"))]


def write_osm(path: Path, nodes: dict, ways: list, node_tags: dict | None = None) -> Path:
    """An .osm XML file: ``nodes`` name -> (lat, lon); ``ways`` (names, tags)."""
    ids = {name: i + 1 for i, name in enumerate(nodes)}
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6' generator='test'>"]
    for name, (lat, lon) in nodes.items():
        tags = (node_tags or {}).get(name, {})
        body = "".join(f"<tag k='{k}' v='{v}'/>" for k, v in tags.items())
        lines.append(f"<node id='{ids[name]}' version='1' lat='{lat}' lon='{lon}'>{body}</node>")
    for i, (names, tags) in enumerate(ways):
        refs = "".join(f"<nd ref='{ids[n]}'/>" for n in names)
        body = "".join(f"<tag k='{k}' v='{v}'/>" for k, v in tags.items())
        lines.append(f"<way id='{100 + i}' version='1'>{refs}{body}</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def square(tmp_path: Path, side_ab: dict, node_tags: dict | None = None) -> RoadTravel:
    """The square with A-B tagged ``side_ab`` and the way round two-way residential."""
    ways = [(["A", "B"], side_ab), *ROUND]
    path = write_osm(tmp_path / "square.osm", SQUARE, ways, node_tags)
    return RoadTravel(build_networks(read_streets(path)))


def a_and_b(travel: RoadTravel, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([SQUARE["A"][0], SQUARE["B"][0]])
    lon = np.array([SQUARE["A"][1], SQUARE["B"][1]])
    return travel.matrices(lat, lon, profile)


SIDE_M = haversine_m(*SQUARE["A"], *SQUARE["B"])
ROUND_M = SIDE_M + 2 * haversine_m(*SQUARE["B"], *SQUARE["C"])


def test_the_square_measures_what_the_tests_assume():
    assert SIDE_M == pytest.approx(102, abs=1) and ROUND_M == pytest.approx(325, abs=1)


def test_a_van_drives_a_one_way_street_one_way_only(tmp_path):
    travel = square(tmp_path, {"highway": "residential", "oneway": "yes"})
    distance_m, duration_s = a_and_b(travel, VAN_18)
    assert distance_m[0, 1] == pytest.approx(SIDE_M, abs=1)
    assert distance_m[1, 0] == pytest.approx(ROUND_M, abs=1)
    assert duration_s[1, 0] > duration_s[0, 1]
    reverse, _ = a_and_b(square(tmp_path, {"highway": "residential", "oneway": "-1"}), VAN_18)
    assert reverse[1, 0] == pytest.approx(SIDE_M, abs=1)
    assert reverse[0, 1] == pytest.approx(ROUND_M, abs=1)


def test_a_roundabout_is_one_way_without_a_oneway_tag(tmp_path):
    travel = square(tmp_path, {"highway": "residential", "junction": "roundabout"})
    distance_m, _ = a_and_b(travel, VAN_18)
    assert distance_m[1, 0] == pytest.approx(ROUND_M, abs=1)


@pytest.mark.parametrize(
    "contraflow",
    [
        {"oneway:bicycle": "no"},
        {"cycleway": "opposite"},
        {"cycleway": "opposite_lane"},
        {"cycleway:left": "opposite_track"},
    ],
)
def test_a_cargo_bike_rides_against_a_one_way_street_where_contraflow_is_tagged(
    tmp_path, contraflow
):
    travel = square(tmp_path, {"highway": "residential", "oneway": "yes", **contraflow})
    bike_m, _ = a_and_b(travel, BIKE_15)
    van_m, _ = a_and_b(travel, VAN_18)
    assert bike_m[1, 0] == pytest.approx(SIDE_M, abs=1)
    assert van_m[1, 0] == pytest.approx(ROUND_M, abs=1)


def test_a_cargo_trike_rides_the_bike_network_at_its_own_speed(tmp_path):
    travel = square(tmp_path, {"highway": "cycleway"})
    trike_m, trike_s = a_and_b(travel, Profile(Mode.CARGO_TRIKE, 12.0))
    assert trike_m[0, 1] == pytest.approx(SIDE_M, abs=1)
    assert trike_s[0, 1] == pytest.approx(SIDE_M * 3.6 / 12, abs=1)


def test_a_cargo_bike_keeps_to_a_one_way_street_without_contraflow(tmp_path):
    travel = square(tmp_path, {"highway": "residential", "oneway": "yes", "cycleway": "track"})
    bike_m, _ = a_and_b(travel, BIKE_15)
    assert bike_m[1, 0] == pytest.approx(ROUND_M, abs=1)


@pytest.mark.parametrize(
    "side",
    [
        {"highway": "pedestrian"},
        {"highway": "pedestrian", "motor_vehicle": "delivery"},  # a zone, even so
        {"highway": "footway"},
        {"highway": "cycleway"},
        {"highway": "steps"},
        {"highway": "residential", "motor_vehicle": "no"},
        {"highway": "residential", "access": "private"},
        {"highway": "service", "service": "emergency_access"},
        {"highway": "pedestrian", "area": "yes"},
    ],
)
def test_a_van_never_enters_what_is_closed_to_it(tmp_path, side):
    van_m, _ = a_and_b(square(tmp_path, side), VAN_18)
    assert van_m[0, 1] == pytest.approx(ROUND_M, abs=1)
    assert van_m[1, 0] == pytest.approx(ROUND_M, abs=1)


@pytest.mark.parametrize(
    "side", [{"highway": "residential", "access": "delivery"}, {"highway": "living_street"}]
)
def test_a_delivery_van_may_use_delivery_streets_and_living_streets(tmp_path, side):
    van_m, _ = a_and_b(square(tmp_path, side), VAN_18)
    assert van_m[0, 1] == pytest.approx(SIDE_M, abs=1)


def test_a_cargo_bike_rides_a_cycleway_a_van_may_not(tmp_path):
    travel = square(tmp_path, {"highway": "cycleway"})
    bike_m, bike_s = a_and_b(travel, BIKE_15)
    assert bike_m[0, 1] == pytest.approx(SIDE_M, abs=1)
    assert bike_s[0, 1] == pytest.approx(SIDE_M * 3.6 / 15, abs=1)


@pytest.mark.parametrize(
    "side",
    [
        {"highway": "motorway", "oneway": "no"},
        {"highway": "motorway", "oneway": "no", "bicycle": "yes"},  # still a motorway
        {"highway": "trunk", "motorroad": "yes"},
        {"highway": "trunk", "bicycle": "no"},
        {"highway": "residential", "bicycle": "use_sidepath"},
    ],
)
def test_a_cargo_bike_never_rides_where_bikes_are_banned(tmp_path, side):
    travel = square(tmp_path, side)
    bike_m, _ = a_and_b(travel, BIKE_15)
    assert bike_m[0, 1] == pytest.approx(ROUND_M, abs=1)
    van_m, _ = a_and_b(travel, VAN_18)
    assert van_m[0, 1] == pytest.approx(SIDE_M, abs=1)


def test_a_cargo_bike_rides_a_trunk_road_that_does_not_ban_it(tmp_path):
    bike_m, _ = a_and_b(square(tmp_path, {"highway": "trunk"}), BIKE_15)
    assert bike_m[0, 1] == pytest.approx(SIDE_M, abs=1)


def test_a_cargo_bike_is_pushed_through_a_pedestrian_street_and_ridden_where_signed(tmp_path):
    _, pushed_s = a_and_b(square(tmp_path, {"highway": "pedestrian"}), BIKE_15)
    assert pushed_s[0, 1] == pytest.approx(SIDE_M * 3.6 / 5.0, abs=1)  # walking speed
    signed = {"highway": "footway", "bicycle": "designated"}
    ridden_m, ridden_s = a_and_b(square(tmp_path, signed), BIKE_15)
    assert ridden_m[0, 1] == pytest.approx(SIDE_M, abs=1)
    assert ridden_s[0, 1] == pytest.approx(SIDE_M * 3.6 / 15, abs=1)
    unsigned_m, _ = a_and_b(square(tmp_path, {"highway": "footway"}), BIKE_15)
    assert unsigned_m[0, 1] == pytest.approx(ROUND_M, abs=1)


def test_a_bollard_stops_a_van_not_a_bike(tmp_path):
    nodes = {**SQUARE, "M": (55.0, 12.0008)}  # halfway along A-B
    ways = [(["A", "M", "B"], RESIDENTIAL), *ROUND]
    path = write_osm(tmp_path / "bollard.osm", nodes, ways, {"M": {"barrier": "bollard"}})
    travel = RoadTravel(build_networks(read_streets(path)))
    van_m, _ = a_and_b(travel, VAN_18)
    bike_m, _ = a_and_b(travel, BIKE_15)
    assert van_m[0, 1] == pytest.approx(ROUND_M, abs=1)
    assert bike_m[0, 1] == pytest.approx(SIDE_M, abs=1)


def test_the_distance_is_the_length_of_the_fastest_path_not_of_the_shortest(tmp_path):
    # A-B is short but slow (5 km/h: 73 s); the way round is 3x longer but quicker
    # (325 m at the van's 18 km/h: 65 s). The van takes the way round, and its distance
    # is the way round's, not A-B's.
    travel = square(tmp_path, {"highway": "residential", "maxspeed": "5"})
    distance_m, duration_s = a_and_b(travel, VAN_18)
    assert duration_s[0, 1] == pytest.approx(ROUND_M * 3.6 / 18, abs=1)
    assert distance_m[0, 1] == pytest.approx(ROUND_M, abs=1)
    # A bike at 15 km/h: the way round takes 78 s, A-B 73 s: it takes A-B.
    bike_m, bike_s = a_and_b(travel, BIKE_15)
    assert bike_m[0, 1] == pytest.approx(SIDE_M, abs=1)
    assert bike_s[0, 1] == pytest.approx(SIDE_M * 3.6 / 5, abs=1)


def test_the_vehicle_speed_caps_each_street_and_slow_streets_stay_slow(tmp_path):
    travel = square(tmp_path, {"highway": "living_street"})  # 10 km/h (OSRM car.lua)
    _, slow_van_s = a_and_b(travel, Profile(Mode.VAN, 8.0))
    _, van_s = a_and_b(travel, VAN_18)
    assert slow_van_s[0, 1] == pytest.approx(SIDE_M * 3.6 / 8, abs=1)  # the van's 8 km/h
    assert van_s[0, 1] == pytest.approx(SIDE_M * 3.6 / 10, abs=1)  # the street's 10 km/h


def test_a_one_way_dead_end_is_pruned_from_the_strongly_connected_network(tmp_path):
    nodes = {**SQUARE, "E": (55.002, 12.0016)}  # 111 m north of C
    ways = [
        (["A", "B"], RESIDENTIAL),
        *ROUND,
        (["C", "E"], {"highway": "residential", "oneway": "yes"}),
    ]
    streets = read_streets(write_osm(tmp_path / "spur.osm", nodes, ways))
    van = build_network(streets, VAN)
    assert van.n_nodes == 4  # E is reached but never left: pruned
    travel = RoadTravel({"van": van})
    node, snap_m = travel.snap(np.array([55.002]), np.array([12.0016]), Mode.VAN)
    assert snap_m[0] == pytest.approx(111, abs=1)
    assert (van.node_lat[node[0]], van.node_lon[node[0]]) == SQUARE["C"]
    assert build_network(streets, BIKE).n_nodes == 4


def test_a_point_off_the_network_is_snapped_and_walked_to_its_node(tmp_path):
    travel = square(tmp_path, RESIDENTIAL)
    lat, lon = np.array([55.0018, SQUARE["B"][0]]), np.array([12.0, SQUARE["B"][1]])
    node, snap_m = travel.snap(lat, lon, Mode.VAN)  # 89 m north of D
    assert snap_m[0] == pytest.approx(89, abs=1) and snap_m[1] == pytest.approx(0, abs=0.01)
    distance_m, duration_s = travel.matrices(lat, lon, VAN_18)
    road_m = 2 * SIDE_M  # D -> A -> B or D -> C -> B, about the same
    assert distance_m[0, 1] == pytest.approx(snap_m[0] + road_m, abs=12)
    assert duration_s[0, 1] == pytest.approx((snap_m[0] + road_m) * 3.6 / 18, abs=3)
    _, walked_s = RoadTravel(travel.networks, leg_speed_kmh=5.0).matrices(lat, lon, VAN_18)
    assert walked_s[0, 1] == pytest.approx(snap_m[0] * 3.6 / 5.0 + road_m * 3.6 / 18, abs=3)


def test_matrices_are_int64_with_zero_diagonal_and_the_table_agrees(tmp_path):
    travel = square(tmp_path, {"highway": "residential", "oneway": "yes"})
    rng = np.random.default_rng(2)
    lat, lon = 55.0 + rng.uniform(0, 0.001, 12), 12.0 + rng.uniform(0, 0.0016, 12)
    distance_m, duration_s = travel.matrices(lat, lon, VAN_18)
    assert distance_m.dtype == np.int64 and duration_s.dtype == np.int64
    assert np.all(np.diag(distance_m) == 0) and np.all(np.diag(duration_s) == 0)
    part_m, part_s = travel.table(lat[:3], lon[:3], lat[5:], lon[5:], VAN_18)
    assert np.array_equal(part_m, distance_m[:3, 5:])
    assert np.array_equal(part_s, duration_s[:3, 5:])


def test_profiles_refuse_nonsense_and_parse_speed_limits():
    assert parse_maxspeed_kmh("40") == 40 and parse_maxspeed_kmh("DK:urban") == 50
    assert parse_maxspeed_kmh("30 mph") == pytest.approx(48.3, abs=0.1)
    assert parse_maxspeed_kmh("signals") == 0
    assert way_speeds_kmh({"highway": "residential", "oneway": "reversible"}, VAN) == (0, 0)
    assert VAN.digest() != BIKE.digest()
    with pytest.raises(ValueError, match="speed_kmh"):
        RoadTravel({}).table(
            np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), Profile(Mode.VAN, 0)
        )


# Copenhagen, the extract shipped in data/osm/ (© OpenStreetMap contributors, ODbL 1.0).


@pytest.fixture(scope="module")
def kbh(tmp_path_factory):
    return load_road_networks(KBH, tmp_path_factory.mktemp("road-cache"))


def random_points(networks, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    van = networks["van"]
    rng = np.random.default_rng(seed)
    lat = rng.uniform(van.node_lat.min(), van.node_lat.max(), n)
    lon = rng.uniform(van.node_lon.min(), van.node_lon.max(), n)
    return lat, lon


def test_copenhagen_networks_are_close_to_the_measured_sizes(kbh):
    # Measured (../shared/osm/README.md): van 3,958 nodes, bike 4,831 after keeping the
    # largest strongly connected part. Ours keep a node where two ways meet end to end
    # (a street that changes name or tags) and the measured graph merged those: within
    # 15 % (van 4,512; bike 5,460 as built here; 4,066 and 4,850 once such nodes merge).
    assert kbh["van"].n_nodes == pytest.approx(3958, rel=0.15)
    assert kbh["bike"].n_nodes == pytest.approx(4831, rel=0.15)
    assert kbh["bike"].n_nodes > kbh["van"].n_nodes  # cycleways, contraflow


def test_copenhagen_the_fastest_path_lengths_agree_with_the_predecessor_trees(kbh):
    router = _Router(kbh["van"], 18.0)
    rng = np.random.default_rng(7)
    sources = rng.choice(kbh["van"].n_nodes, 40, replace=False)
    targets = rng.choice(kbh["van"].n_nodes, 300, replace=False)
    packed_ms, packed_dm = router._packed(sources, targets)
    trees_ms, trees_dm = router._by_trees(sources, targets)
    assert np.array_equal(packed_ms, trees_ms)
    # Among equally fast paths the packed weight takes the shortest; the trees any one.
    assert np.all(packed_dm <= trees_dm + 1e-9)
    assert np.mean(packed_dm == trees_dm) > 0.99


def test_copenhagen_van_trips_differ_by_direction_and_bikes_ride_shorter(kbh):
    travel = RoadTravel(kbh)
    lat, lon = random_points(kbh, 200, seed=3)
    van_m, van_s = travel.matrices(lat, lon, VAN_18)
    bike_m, _ = travel.matrices(lat, lon, BIKE_15)
    off_diagonal = ~np.eye(200, dtype=bool)
    assert np.mean(van_s != van_s.T) > 0.5  # one-way streets (measured: ~90 %)
    assert np.median(bike_m[off_diagonal]) < np.median(van_m[off_diagonal])
    straight = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert np.all(van_m[off_diagonal] >= 0.99 * straight[off_diagonal])


def test_copenhagen_the_second_load_comes_from_the_cache(tmp_path):
    started = time.perf_counter()
    built = load_road_networks(KBH, tmp_path)
    cold_s = time.perf_counter() - started
    assert all(p.is_file() for p in cache_paths(KBH, tmp_path).values())
    started = time.perf_counter()
    cached = load_road_networks(KBH, tmp_path)
    cached_s = time.perf_counter() - started
    print(f"Copenhagen networks: cold {cold_s:.3f} s, cached {cached_s:.3f} s")
    for name in built:
        assert np.array_equal(built[name].head, cached[name].head)
        assert np.array_equal(built[name].length_m, cached[name].length_m)
    assert cached_s < cold_s


def test_a_corrupt_cache_file_is_rebuilt(tmp_path):
    paths = cache_paths(KBH, tmp_path)
    tmp_path.joinpath(paths["van"].name).write_bytes(b"not a zip")
    networks = load_road_networks(KBH, tmp_path)
    assert networks["van"].n_nodes > 1000


@pytest.mark.parametrize("profile", [VAN_18, BIKE_15], ids=["van", "bike"])
def test_copenhagen_a_2000_point_matrix_runs(kbh, profile):
    travel = RoadTravel(kbh)
    lat, lon = random_points(kbh, 2000, seed=5)
    started, cpu = time.perf_counter(), time.process_time()
    distance_m, duration_s = travel.matrices(lat, lon, profile)
    print(
        f"{profile.mode}: 2000 x 2000 in {time.perf_counter() - started:.2f} s"
        f" ({time.process_time() - cpu:.2f} CPU s)"
    )
    assert distance_m.shape == duration_s.shape == (2000, 2000)
    assert np.all(np.diag(distance_m) == 0) and np.all(distance_m[~np.eye(2000, dtype=bool)] > 0)


def test_bench_travel_reports_build_cache_and_matrix_figures_per_mode(tmp_path):
    from optimizer.workflows.bench_travel import bench_travel

    andorra = ROOT / "data" / "osm" / "andorra.osm.pbf"
    report = bench_travel(andorra, points=50, seed=1, cache_dir=tmp_path)
    assert report["points"] == 50 and report["cache_dir"] == str(tmp_path)
    for name in ("van", "bike"):
        figures = report["modes"][name]
        assert figures["nodes"] > 1000 and figures["cold_s"] >= figures["build_s"] > 0
        assert figures["matrix_s"] > 0 and figures["matrix_peak_mb"] > 0
        assert 0 <= figures["snaps_over_warning"] <= 50
    assert report["modes"]["van"]["speed_kmh"] == 18.0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in cache_paths(andorra, tmp_path).values()
    )


def test_a_cache_that_cannot_be_written_warns_and_the_networks_still_load(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.warns(UserWarning, match="not cached"):
        networks = load_road_networks(KBH, not_a_directory)
    assert set(networks) == {"van", "bike"}
