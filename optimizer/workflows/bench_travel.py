"""The road travel benchmark: per mode, the cold build, the cache-hit load, a many-to-many
matrix and their peak memory, on an OpenStreetMap extract (issue 16's target: a 2,000-point
matrix per mode in at most 2 s on Copenhagen).

``lastmile bench travel --osm FILE --points N --json`` prints :func:`bench_travel`'s dict.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.io.osm import read_streets
from optimizer.io.road_cache import (
    cache_paths,
    file_sha256,
    load_road_networks,
    read_network,
    write_network,
)
from optimizer.model import Mode
from optimizer.travel import Profile
from optimizer.travel.road import SNAP_WARNING_M, RoadTravel, build_network
from optimizer.travel.road_rules import RULES

# The vehicle each network is timed for: the Paris sample's electric van and cargo bike
# (data/paris/vehicle_types.csv: evan 18 km/h, ebike 15 km/h).
BENCH_PROFILES = {"van": Profile(Mode.VAN, 18.0), "bike": Profile(Mode.CARGO_BIKE, 15.0)}


def bench_travel(
    osm_path: str | Path, points: int = 2000, seed: int = 0, cache_dir: str | Path | None = None
) -> dict[str, Any]:
    """Times the road provider on the extract at ``osm_path``.

    ``points`` addresses are drawn uniformly inside the extract's bounding box (seeded by
    ``seed``) and snapped to each network. Per mode: ``build_s`` (the networks built from
    the parsed extract, cold; ``parse_s`` is shared by the modes), ``cached_load_s`` (the
    network read back from ``cache_dir``), ``matrix_s`` and ``matrix_cpu_s`` (the
    ``points`` x ``points`` matrices, wall and CPU seconds), and the peak memory the
    build and the matrix allocate (``*_peak_mb``, traced in a second, untimed run).
    ``cache_dir`` defaults to ``.lastmile-cache/`` next to the extract; its files for
    this extract are rewritten.
    """
    if points < 1:
        raise ValueError("points < 1 not understood.")
    osm_path = Path(osm_path)
    started = time.perf_counter()
    streets = read_streets(osm_path)
    parse_s = time.perf_counter() - started
    paths = cache_paths(osm_path, cache_dir)
    rng = np.random.default_rng(seed)
    min_lon, min_lat, max_lon, max_lat = streets.bounds
    lat = rng.uniform(min_lat, max_lat, points)
    lon = rng.uniform(min_lon, max_lon, points)
    modes: dict[str, dict[str, Any]] = {}
    networks = {}
    for name, rules in RULES.items():
        build_s, network = _timed(lambda r=rules: build_network(streets, r))
        build_peak_mb = _peak_mb(lambda r=rules: build_network(streets, r))
        write_network(paths[name], network)
        cached_load_s, _ = _timed(lambda p=paths[name]: read_network(p))
        networks[name] = network
        modes[name] = {
            "nodes": network.n_nodes,
            "edges": network.n_edges,
            "build_s": round(build_s, 3),
            "cold_s": round(parse_s + build_s, 3),
            "build_peak_mb": build_peak_mb,
            "cached_load_s": round(cached_load_s, 4),
        }
    travel = RoadTravel(networks)
    for name, profile in BENCH_PROFILES.items():
        modes[name].update(_matrix_figures(travel, profile, lat, lon))
    started = time.perf_counter()
    load_road_networks(osm_path, cache_dir)  # what a second plan of the day pays
    return {
        "osm": str(osm_path),
        "extract_sha256": file_sha256(osm_path),
        "points": points,
        "seed": seed,
        "cache_dir": str(paths["van"].parent),
        "parse_s": round(parse_s, 3),
        "cache_hit_all_modes_s": round(time.perf_counter() - started, 4),
        "modes": modes,
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _matrix_figures(
    travel: RoadTravel, profile: Profile, lat: np.ndarray, lon: np.ndarray
) -> dict[str, Any]:
    _, snap_m = travel.snap(lat, lon, profile.mode)
    travel.table(lat[:1], lon[:1], lat[:1], lon[:1], profile)  # the graph for this speed
    cpu = time.process_time()
    matrix_s, (distance_m, _) = _timed(lambda: travel.matrices(lat, lon, profile))
    matrix_cpu_s = time.process_time() - cpu
    matrix_peak_mb = _peak_mb(lambda: travel.matrices(lat, lon, profile))
    return {
        "speed_kmh": profile.speed_kmh,
        "matrix_s": round(matrix_s, 3),
        "matrix_cpu_s": round(matrix_cpu_s, 3),
        "matrix_peak_mb": matrix_peak_mb,
        "median_distance_m": int(np.median(distance_m)),
        "snap_median_m": round(float(np.median(snap_m)), 1),
        "snap_p95_m": round(float(np.percentile(snap_m, 95)), 1),
        "snaps_over_warning": int((snap_m > SNAP_WARNING_M).sum()),
    }


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _peak_mb(work: Callable[[], Any]) -> float:
    """The peak MB ``work`` allocates, traced by tracemalloc (which slows Python-heavy code:
    a rerun, never under the clock)."""
    tracemalloc.start()
    try:
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return round(peak / 2**20, 1)
