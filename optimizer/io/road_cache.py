"""The street networks of an extract, cached on disk so the second plan of a day starts at
once.

One ``.npz`` per mode (the CSR arrays, node coordinates and edge shapes of a
:class:`~optimizer.travel.road.RoadNetwork`), named by the extract's sha256 and the digest
of the mode's rules (:meth:`~optimizer.travel.road_rules.RoadRules.digest`, which carries
``RULES_VERSION``): a new extract or a changed rule misses the cache and rebuilds. The cache
directory is the caller's, by default ``.lastmile-cache/`` next to the extract.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from optimizer.io.osm import read_streets
from optimizer.travel.road import RoadNetwork, RoadTravel, build_network
from optimizer.travel.road_rules import RULES

CACHE_DIR_NAME = ".lastmile-cache"
# /2: with the edges' shapes (routes drawn along the streets); a /1 file is rebuilt.
CACHE_FORMAT = "lastmile-road-network/2"
_ARRAYS = (
    "node_lat",
    "node_lon",
    "indptr",
    "head",
    "length_m",
    "speed_kmh",
    "shape_offsets",
    "shape_lat",
    "shape_lon",
)


def load_road_travel(osm_path: str | Path, cache_dir: str | Path | None = None) -> RoadTravel:
    """The road provider on the extract at ``osm_path`` (networks from the cache if there)."""
    return RoadTravel(load_road_networks(osm_path, cache_dir))


def load_road_networks(
    osm_path: str | Path, cache_dir: str | Path | None = None
) -> dict[str, RoadNetwork]:
    """Each mode's network of the extract: read from the cache, or built from the extract
    (parsed once for all the modes that missed) and written to the cache."""
    osm_path = Path(osm_path)
    if not osm_path.is_file():
        raise FileNotFoundError(f"{osm_path}: no such OpenStreetMap extract.")
    paths = cache_paths(osm_path, cache_dir)
    networks = {name: read_network(path) for name, path in paths.items()}
    missing = [name for name, network in networks.items() if network is None]
    if missing:
        streets = read_streets(osm_path)
        for name in missing:
            networks[name] = build_network(streets, RULES[name])
            try:
                write_network(paths[name], networks[name])
            except OSError as error:  # a read-only directory: plan on, uncached
                warnings.warn(
                    f"road network not cached in {paths[name].parent}: {error}", stacklevel=2
                )
    return networks


def cache_paths(osm_path: str | Path, cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Where each mode's network of the extract is cached."""
    osm_path = Path(osm_path)
    directory = Path(cache_dir) if cache_dir is not None else osm_path.parent / CACHE_DIR_NAME
    extract = file_sha256(osm_path)[:16]
    stem = osm_path.name.split(".")[0]
    return {
        name: directory / f"{stem}-{extract}-{name}-{rules.digest()}.npz"
        for name, rules in RULES.items()
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_network(path: Path) -> RoadNetwork | None:
    """The cached network, or None when absent or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != CACHE_FORMAT:
                return None
            return RoadNetwork(name=str(data["name"]), **{key: data[key] for key in _ARRAYS})
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def write_network(path: Path, network: RoadNetwork) -> None:
    """Writes atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                format=np.array(CACHE_FORMAT),
                name=np.array(network.name),
                **{key: getattr(network, key) for key in _ARRAYS},
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
