"""A street extract as plain arrays: what :mod:`optimizer.io.osm` reads from an OpenStreetMap
file and :mod:`optimizer.travel.road` builds the per-mode networks from.

Nothing here reads a file: the arrays come in, so the road provider stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The way tags a routing profile reads (optimizer.travel.road_rules); every other tag is
# dropped when the extract is read.
WAY_TAG_KEYS = (
    "highway",
    "oneway",
    "oneway:bicycle",
    "junction",
    "access",
    "vehicle",
    "motor_vehicle",
    "motorcar",
    "bicycle",
    "foot",
    "cycleway",
    "cycleway:left",
    "cycleway:right",
    "cycleway:both",
    "maxspeed",
    "motorroad",
    "service",
    "area",
)

# The tags of a node that may close a street to a mode (a bollard, a gate).
NODE_TAG_KEYS = ("barrier", "access", "vehicle", "motor_vehicle", "motorcar", "bicycle")


@dataclass(frozen=True)
class Streets:
    """The highways of an extract.

    Nodes are the points the ways pass through (only those with a location in the
    extract). Way ``i`` is ``way_nodes[way_offsets[i]:way_offsets[i + 1]]`` (indices into
    the node arrays), in the way's drawing order; a way cut by the extract's edge is split
    into its pieces inside the extract, each piece with the way's tags.
    """

    node_id: np.ndarray  # (n,) int64 OpenStreetMap node ids
    node_lat: np.ndarray  # (n,) float64 degrees, WGS 84
    node_lon: np.ndarray  # (n,) float64 degrees, WGS 84
    way_id: np.ndarray  # (w,) int64 OpenStreetMap way ids
    way_offsets: np.ndarray  # (w + 1,) int64
    way_nodes: np.ndarray  # (way_offsets[-1],) int64 node indices
    way_tags: dict[str, np.ndarray]  # key -> (w,) object array of str, "" if absent
    node_tags: dict[str, np.ndarray]  # key -> (n,) object array of str, "" if absent
    bounds: tuple[float, float, float, float]  # (min_lon, min_lat, max_lon, max_lat)

    def __post_init__(self):
        n, w = len(self.node_id), len(self.way_id)
        if len(self.node_lat) != n or len(self.node_lon) != n:
            raise ValueError("node_id, node_lat and node_lon differ in length.")
        if len(self.way_offsets) != w + 1 or self.way_offsets[-1] != len(self.way_nodes):
            raise ValueError("way_offsets do not delimit way_nodes for every way.")
        if len(self.way_nodes) and not 0 <= self.way_nodes.min() <= self.way_nodes.max() < n:
            raise ValueError("way_nodes name a node that is not in the node arrays.")
        for key, values in self.way_tags.items():
            if len(values) != w:
                raise ValueError(f"way tag {key!r} has {len(values)} values for {w} ways.")
        for key, values in self.node_tags.items():
            if len(values) != n:
                raise ValueError(f"node tag {key!r} has {len(values)} values for {n} nodes.")

    @property
    def n_ways(self) -> int:
        return len(self.way_id)

    def tags_of_way(self, i: int) -> dict[str, str]:
        """The tags of way ``i`` that it has (the empty ones left out)."""
        return {key: str(v[i]) for key, v in self.way_tags.items() if v[i]}
