"""Reading an OpenStreetMap extract (``.osm.pbf``, ``.osm``) into plain arrays.

One pass with pyosmium: every way tagged ``highway`` with the tags a routing profile reads
(:data:`optimizer.travel.streets.WAY_TAG_KEYS`) and the locations of its nodes, and the
nodes tagged ``barrier`` (bollards, gates). The result is a
:class:`~optimizer.travel.streets.Streets`; the networks per mode are built from it by
:mod:`optimizer.travel.road`, which never opens a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium

from optimizer.travel.streets import NODE_TAG_KEYS, WAY_TAG_KEYS, Streets


class _Collector:
    """Accumulates nodes (in order of first use) and way pieces while the file streams."""

    def __init__(self):
        self.index: dict[int, int] = {}
        self.node_id: list[int] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.way_id: list[int] = []
        self.way_nodes: list[int] = []
        self.offsets: list[int] = [0]
        self.way_tags: dict[str, list[str]] = {key: [] for key in WAY_TAG_KEYS}
        self.barrier_tags: dict[int, dict[str, str]] = {}

    def node_index(self, ref: int, lat: float, lon: float) -> int:
        i = self.index.get(ref)
        if i is None:
            i = self.index[ref] = len(self.node_id)
            self.node_id.append(ref)
            self.lat.append(lat)
            self.lon.append(lon)
        return i

    def add_way(self, way: osmium.osm.Way) -> None:
        """Adds each run of the way's nodes that lie inside the extract as one piece (a
        way crossing the extract's edge names nodes the file does not hold)."""
        tags = [way.tags.get(key, "") for key in WAY_TAG_KEYS]
        piece: list[int] = []
        for ref in way.nodes:
            location = ref.location
            if location.valid():
                piece.append(self.node_index(ref.ref, location.lat, location.lon))
                continue
            self._close_piece(way.id, piece, tags)
            piece = []
        self._close_piece(way.id, piece, tags)

    def _close_piece(self, way_id: int, piece: list[int], tags: list[str]) -> None:
        if len(piece) < 2:
            return
        self.way_id.append(way_id)
        self.way_nodes.extend(piece)
        self.offsets.append(len(self.way_nodes))
        for key, value in zip(WAY_TAG_KEYS, tags, strict=True):
            self.way_tags[key].append(value)

    def add_barrier(self, node: osmium.osm.Node) -> None:
        self.barrier_tags[node.id] = {key: node.tags.get(key, "") for key in NODE_TAG_KEYS}

    def streets(self, bounds: tuple[float, float, float, float] | None) -> Streets:
        n = len(self.node_id)
        node_tags = {key: np.full(n, "", dtype=object) for key in NODE_TAG_KEYS}
        for osm_id, tags in self.barrier_tags.items():
            i = self.index.get(osm_id)
            if i is not None:  # a barrier on no highway closes nothing
                for key, value in tags.items():
                    node_tags[key][i] = value
        lat = np.asarray(self.lat, dtype=np.float64)
        lon = np.asarray(self.lon, dtype=np.float64)
        if bounds is None:
            bounds = (
                (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
                if n
                else (0.0, 0.0, 0.0, 0.0)
            )
        return Streets(
            node_id=np.asarray(self.node_id, dtype=np.int64),
            node_lat=lat,
            node_lon=lon,
            way_id=np.asarray(self.way_id, dtype=np.int64),
            way_offsets=np.asarray(self.offsets, dtype=np.int64),
            way_nodes=np.asarray(self.way_nodes, dtype=np.int64),
            way_tags={k: np.asarray(v, dtype=object) for k, v in self.way_tags.items()},
            node_tags=node_tags,
            bounds=bounds,
        )


def read_streets(path: str | Path) -> Streets:
    """The highways of the OpenStreetMap extract at ``path`` as arrays.

    ``bounds`` is the bounding box the file's header declares, or else the extent of the
    nodes read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such OpenStreetMap extract.")
    collector = _Collector()
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway", "barrier"))
    )
    for obj in processor:
        if obj.is_way() and "highway" in obj.tags:
            collector.add_way(obj)
        elif obj.is_node() and "barrier" in obj.tags:
            collector.add_barrier(obj)
    return collector.streets(_header_bounds(processor))


def _header_bounds(processor: osmium.FileProcessor) -> tuple[float, float, float, float] | None:
    box = processor.header.box()
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)
