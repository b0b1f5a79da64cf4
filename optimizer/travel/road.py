"""The road travel provider: distance and duration over the street network, per mode.

From a :class:`~optimizer.travel.streets.Streets` (arrays read from an OpenStreetMap
extract by :mod:`optimizer.io.osm`) :func:`build_network` makes one directed network per
mode with the rules of :mod:`optimizer.travel.road_rules`: its nodes are the street
junctions, way ends and barriers (a way's inner points only shape its edges: their length,
and their drawing, kept per edge), kept to the largest strongly connected part so every
node reaches every other. :class:`RoadTravel` answers the
:class:`~optimizer.travel.provider.TravelProvider` protocol on them: each point is snapped
to its nearest node, times are the fastest paths (scipy's sparse Dijkstra, many-to-many)
and distances the lengths of those fastest paths; :meth:`RoadTravel.paths_lonlat` draws
those very paths along the streets (for the maps and ``routes.geojson``).

Speeds. Each edge has a free-flow speed from its highway class and ``maxspeed`` tag; the
vehicle type's ``speed_kmh`` (its average speed in town, what the planner states) caps
it: an edge is driven at ``min(edge speed, vehicle speed)``. So a street class never makes
a van faster than its stated average, but living streets, service roads and pushed
stretches make it slower.

Snap legs. A point is joined to its node by a straight leg. The nodes are junctions, so
the leg mostly stands for the stretch of street between the corner and the door, which
the vehicle drives: by default it is covered at the vehicle's own ``speed_kmh``; pass
``leg_speed_kmh`` to walk it instead (:data:`~optimizer.travel.road_rules.WALKING_KMH`,
where vehicles park at the corner). :meth:`RoadTravel.snap` gives each leg's length so
callers can warn above :data:`SNAP_WARNING_M`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from optimizer.model import Mode
from optimizer.travel.provider import Profile
from optimizer.travel.road_rules import RULES, RoadRules, node_passable, way_speeds_kmh
from optimizer.travel.streets import Streets

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean Earth radius (as optimizer.travel.great_circle)


# A snap leg longer than this means the address is off the network (in a park, across
# water, outside the extract): callers warn naming the order (issue 16).
SNAP_WARNING_M = 300.0

# Which network each mode uses: trikes ride where bikes ride.
NETWORK_OF_MODE = {Mode.VAN: "van", Mode.CARGO_BIKE: "bike", Mode.CARGO_TRIKE: "bike"}

# Sources per Dijkstra call: bounds memory at ~ chunk x nodes x 24 bytes.
_SOURCES_PER_CHUNK = 256
# Rows of fastest paths kept per network and speed (time and length to every node, 16
# bytes a node): 256 MiB holds ~3,300 sources on Copenhagen's 5,000-node networks, every
# address of a 2,000-order day; a country extract keeps fewer and recomputes the rest.
ROW_CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class RoadNetwork:
    """One mode's directed network in CSR order: the edges leaving node ``i`` are
    ``indptr[i]:indptr[i + 1]``, each with its head node, length and free-flow speed.
    Two edges may join the same pair of nodes (two ways, or a way and its twin).

    Each edge's shape (the points of its way between its tail and its head, in the
    edge's direction) is ``shape_lat``/``shape_lon[shape_offsets[e]:shape_offsets[e + 1]]``:
    one flat array for the whole network, so a drawn path costs no per-edge object.
    Without shapes every edge is drawn straight.
    """

    name: str  # "van" or "bike": the RoadRules it was built with
    node_lat: np.ndarray  # (n,) float64 degrees
    node_lon: np.ndarray  # (n,) float64 degrees
    indptr: np.ndarray  # (n + 1,) int64
    head: np.ndarray  # (m,) int64
    length_m: np.ndarray  # (m,) float64
    speed_kmh: np.ndarray  # (m,) float64, before the vehicle's cap
    shape_offsets: np.ndarray | None = None  # (m + 1,) int64; None: no inner point
    shape_lat: np.ndarray | None = None  # (shape_offsets[-1],) float64 degrees
    shape_lon: np.ndarray | None = None  # (shape_offsets[-1],) float64 degrees

    def __post_init__(self):
        n, m = len(self.node_lat), len(self.head)
        if len(self.node_lon) != n or len(self.indptr) != n + 1 or self.indptr[-1] != m:
            raise ValueError(f"network {self.name!r}: node and CSR arrays disagree.")
        if len(self.length_m) != m or len(self.speed_kmh) != m:
            raise ValueError(f"network {self.name!r}: edge arrays differ in length.")
        if m and (self.speed_kmh.min() <= 0 or self.length_m.min() < 0):
            raise ValueError(f"network {self.name!r}: an edge has no speed or a negative length.")
        if self.shape_offsets is None:
            object.__setattr__(self, "shape_offsets", np.zeros(m + 1, dtype=np.int64))
            object.__setattr__(self, "shape_lat", np.zeros(0))
            object.__setattr__(self, "shape_lon", np.zeros(0))
        k = self.shape_offsets[-1]
        if len(self.shape_offsets) != m + 1 or len(self.shape_lat) != k or len(self.shape_lon) != k:
            raise ValueError(f"network {self.name!r}: edge shapes and edges disagree.")

    @property
    def n_nodes(self) -> int:
        return len(self.node_lat)

    @property
    def n_edges(self) -> int:
        return len(self.head)

    def tail(self) -> np.ndarray:
        """The tail node of each edge."""
        return np.repeat(np.arange(self.n_nodes), np.diff(self.indptr))

    def path_points(self, start: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lat, lon)`` along a path: node ``start``, then each edge's shape and head
        (``edges`` a chain leaving ``start``, each one's head the next one's tail)."""
        inner = self.shape_offsets[edges + 1] - self.shape_offsets[edges]
        corner = np.ones(1 + int(inner.sum()) + len(edges), dtype=bool)  # a node, not a shape
        corner[1:] = False
        corner[np.cumsum(inner + 1)] = True
        shape = np.repeat(self.shape_offsets[edges] - np.cumsum(inner) + inner, inner)
        shape += np.arange(len(shape))
        nodes = np.concatenate([[start], self.head[edges]])
        lat, lon = np.empty(len(corner)), np.empty(len(corner))
        lat[corner], lat[~corner] = self.node_lat[nodes], self.shape_lat[shape]
        lon[corner], lon[~corner] = self.node_lon[nodes], self.shape_lon[shape]
        return lat, lon


def build_networks(streets: Streets) -> dict[str, RoadNetwork]:
    """One network per set of rules (``van``, ``bike``)."""
    return {name: build_network(streets, rules) for name, rules in RULES.items()}


def build_network(streets: Streets, rules: RoadRules) -> RoadNetwork:
    """The mode's network: the ways it may use cut at junctions, way ends and barriers,
    edges in the directions it may travel, kept to the largest strongly connected part."""
    ways, forward_kmh, backward_kmh = _open_ways(streets, rules)
    blocked = _blocked_nodes(streets, rules)
    points, a, b, length_m, way = _segments(streets, ways, blocked)
    keep = ~(blocked[points[a]] | blocked[points[b]]) & (points[a] != points[b])
    a, b, length_m, way = a[keep], b[keep], length_m[keep], way[keep]
    fwd, bwd = forward_kmh[way] > 0, backward_kmh[way] > 0
    # Each edge runs from position ``start`` to position ``end`` of ``points``.
    start, end = np.concatenate([a[fwd], b[bwd]]), np.concatenate([b[fwd], a[bwd]])
    length_m = np.concatenate([length_m[fwd], length_m[bwd]])
    speed_kmh = np.concatenate([forward_kmh[way][fwd], backward_kmh[way][bwd]])
    edges = _Drawn(points, start, end)
    return _largest_strong_part(streets, rules.name, edges, length_m, speed_kmh)


def _open_ways(streets: Streets, rules: RoadRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the ways the mode may use, and each way's speed along and against it
    (indexed by way; 0 where closed)."""
    forward = np.zeros(streets.n_ways)
    backward = np.zeros(streets.n_ways)
    for i in range(streets.n_ways):
        forward[i], backward[i] = way_speeds_kmh(streets.tags_of_way(i), rules)
    return np.flatnonzero((forward > 0) | (backward > 0)), forward, backward


def _blocked_nodes(streets: Streets, rules: RoadRules) -> np.ndarray:
    blocked = np.zeros(len(streets.node_id), dtype=bool)
    tagged = np.zeros(len(streets.node_id), dtype=bool)
    for values in streets.node_tags.values():
        tagged |= values != ""
    for i in np.flatnonzero(tagged):
        tags = {key: str(v[i]) for key, v in streets.node_tags.items() if v[i]}
        blocked[i] = not node_passable(tags, rules)
    return blocked


def _segments(
    streets: Streets, ways: np.ndarray, cut_nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pieces of ``ways`` between graph nodes: ``(points, a, b, length_m, way)``.
    ``points`` are the ways' nodes (indices into the street arrays), the ways one after
    the other in drawing order; piece ``i`` runs from ``points[a[i]]`` to ``points[b[i]]``
    through the points between. A graph node is a way end, a node two open ways (or one
    way twice) pass through, or a node of ``cut_nodes``."""
    starts, ends = streets.way_offsets[ways], streets.way_offsets[ways + 1]
    counts = ends - starts
    position = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    nodes = streets.way_nodes[position]
    way_of = np.repeat(ways, counts)
    first = np.zeros(len(nodes), dtype=bool)
    first[np.cumsum(counts) - counts] = True
    last = np.roll(first, -1)
    # The length walked from the start of the concatenation to each position; a pair
    # that spans two ways contributes nothing.
    step_m = haversine_m(
        streets.node_lat[nodes[:-1]],
        streets.node_lon[nodes[:-1]],
        streets.node_lat[nodes[1:]],
        streets.node_lon[nodes[1:]],
    )
    step_m[first[1:]] = 0.0
    along_m = np.concatenate([[0.0], np.cumsum(step_m)])
    shared = np.bincount(nodes, minlength=len(streets.node_id)) >= 2
    cut = np.flatnonzero(first | last | shared[nodes] | cut_nodes[nodes])
    same_way = ~first[cut[1:]]  # consecutive cuts inside one way bound a segment
    a, b = cut[:-1][same_way], cut[1:][same_way]
    return nodes, a, b, along_m[b] - along_m[a], way_of[a]


@dataclass(frozen=True)
class _Drawn:
    """Directed edges as runs of a way's points: edge ``i`` goes from ``points[start[i]]``
    to ``points[end[i]]`` through the points between (backwards where ``end < start``)."""

    points: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def tail(self) -> np.ndarray:
        return self.points[self.start]

    @property
    def head(self) -> np.ndarray:
        return self.points[self.end]

    def shapes(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(offsets, inner)``: the inner points of ``edges`` in their direction, one after
        the other (street node indices); edge ``k``'s are ``inner[offsets[k]:offsets[k + 1]]``."""
        start, end = self.start[edges], self.end[edges]
        count = np.abs(end - start) - 1
        offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
        step = np.arange(offsets[-1]) - np.repeat(offsets[:-1], count) + 1
        position = np.repeat(start, count) + np.repeat(np.sign(end - start), count) * step
        return offsets, self.points[position]


def _largest_strong_part(
    streets: Streets, name: str, edges: _Drawn, length_m: np.ndarray, speed_kmh: np.ndarray
) -> RoadNetwork:
    n = len(streets.node_id)
    tail, head = edges.tail, edges.head
    graph = csr_matrix((np.ones(len(tail)), (tail, head)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    used = np.zeros(n, dtype=bool)
    used[tail] = used[head] = True
    sizes = np.bincount(label[used], minlength=label.max() + 1)
    inside = label == int(np.argmax(sizes)) if len(tail) else np.zeros(n, dtype=bool)
    inside &= used
    new_index = np.cumsum(inside) - 1
    keep = inside[tail] & inside[head]
    tail, head = new_index[tail[keep]], new_index[head[keep]]
    order = np.lexsort((head, tail))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=int(inside.sum())))])
    shape_offsets, shape_nodes = edges.shapes(np.flatnonzero(keep)[order])
    return RoadNetwork(
        name=name,
        node_lat=streets.node_lat[inside],
        node_lon=streets.node_lon[inside],
        indptr=indptr.astype(np.int64),
        head=head[order].astype(np.int64),
        length_m=length_m[keep][order],
        speed_kmh=speed_kmh[keep][order],
        shape_offsets=shape_offsets,
        shape_lat=streets.node_lat[shape_nodes],
        shape_lon=streets.node_lon[shape_nodes],
    )


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres between arrays of points (degrees)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


class RoadTravel:
    """Distance and duration over the street networks (see the module's docstring).

    ``networks`` maps a network name (``van``, ``bike``) to its :class:`RoadNetwork`;
    :data:`NETWORK_OF_MODE` picks the one a profile uses.
    """

    def __init__(self, networks: Mapping[str, RoadNetwork], leg_speed_kmh: float | None = None):
        if leg_speed_kmh is not None and leg_speed_kmh <= 0:
            raise ValueError("leg_speed_kmh <= 0 not understood.")
        for name, network in networks.items():
            if network.n_nodes == 0:
                raise ValueError(f"network {name!r} has no street: nothing to route on.")
        self.networks = dict(networks)
        self.leg_speed_kmh = leg_speed_kmh
        self._snappers: dict[str, _Snapper] = {}
        self._routers: dict[tuple[str, float], _Router] = {}

    def __getstate__(self) -> dict:
        # Sent to a worker process with its scenario: the networks only; each process
        # builds its own snappers, routers and cached rows as it asks.
        return {"networks": self.networks, "leg_speed_kmh": self.leg_speed_kmh}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["networks"], state["leg_speed_kmh"])

    def network(self, mode: Mode) -> RoadNetwork:
        name = NETWORK_OF_MODE[mode]
        if name not in self.networks:
            raise ValueError(f"no {name!r} street network for mode {mode}.")
        return self.networks[name]

    def snap(self, lat: np.ndarray, lon: np.ndarray, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
        """``(node, snap_m)``: each point's nearest node of the mode's network and the
        straight distance to it (warn above :data:`SNAP_WARNING_M`)."""
        network = self.network(mode)
        if network.name not in self._snappers:
            self._snappers[network.name] = _Snapper(network)
        return self._snappers[network.name].snap(lat, lon)

    def matrices(
        self, lat: np.ndarray, lon: np.ndarray, profile: Profile
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.table(lat, lon, lat, lon, profile)

    def table(
        self,
        from_lat: np.ndarray,
        from_lon: np.ndarray,
        to_lat: np.ndarray,
        to_lon: np.ndarray,
        profile: Profile,
    ) -> tuple[np.ndarray, np.ndarray]:
        if profile.speed_kmh <= 0:
            raise ValueError("speed_kmh <= 0 not understood.")
        from_node, from_m = self.snap(from_lat, from_lon, profile.mode)
        to_node, to_m = self.snap(to_lat, to_lon, profile.mode)
        duration_s, distance_m = self._router(profile).fastest(from_node, to_node)
        # In place from here: a 2,000-point day holds a few 32 MB matrices at most.
        leg_m = from_m[:, None] + to_m[None, :]
        distance_m += leg_m
        leg_m *= 3.6 / (self.leg_speed_kmh or profile.speed_kmh)
        duration_s += leg_m
        del leg_m
        same_point = (np.asarray(from_lat, dtype=np.float64)[:, None] == to_lat) & (
            np.asarray(from_lon, dtype=np.float64)[:, None] == to_lon
        )
        distance_m[same_point] = 0.0
        duration_s[same_point] = 0.0
        distance_m = np.rint(distance_m, out=distance_m).astype(np.int64)
        duration_s -= 1e-9  # a whole second stays whole through float rounding
        return distance_m, np.ceil(duration_s, out=duration_s).astype(np.int64)

    def paths_lonlat(
        self,
        from_lat: np.ndarray,
        from_lon: np.ndarray,
        to_lat: np.ndarray,
        to_lon: np.ndarray,
        profile: Profile,
    ) -> list[np.ndarray]:
        """The way driven from each origin to its destination (pairs, not a matrix): the
        fastest path :meth:`table` measures, along the streets' shapes, with the straight
        snap legs at both ends. One ``(k, 2)`` array of ``[lon, lat]`` rows (GeoJSON's
        order) per pair, from the origin to the destination; the same point to itself
        is that point twice."""
        from_lat, from_lon, to_lat, to_lon = (
            np.asarray(a, dtype=np.float64) for a in (from_lat, from_lon, to_lat, to_lon)
        )
        from_node, _ = self.snap(from_lat, from_lon, profile.mode)
        to_node, _ = self.snap(to_lat, to_lon, profile.mode)
        network = self.network(profile.mode)
        lines = []
        for i, edges in enumerate(self._router(profile).paths(from_node, to_node)):
            same_point = from_lat[i] == to_lat[i] and from_lon[i] == to_lon[i]
            lat, lon = (
                (np.zeros(0), np.zeros(0))
                if same_point
                else network.path_points(int(from_node[i]), edges)
            )
            lines.append(
                np.column_stack(
                    [np.r_[from_lon[i], lon, to_lon[i]], np.r_[from_lat[i], lat, to_lat[i]]]
                )
            )
        return lines
        return lines

    def legs_lonlat(self, lat: np.ndarray, lon: np.ndarray, profile: Profile) -> list[np.ndarray]:
        """:meth:`paths_lonlat` of consecutive points: the legs of a route through them."""
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        return self.paths_lonlat(lat[:-1], lon[:-1], lat[1:], lon[1:], profile)

    def _router(self, profile: Profile) -> _Router:
        network = self.network(profile.mode)
        key = (network.name, float(profile.speed_kmh))
        if key not in self._routers:
            self._routers[key] = _Router(network, profile.speed_kmh)
        return self._routers[key]


class _Snapper:
    """Nearest node by a k-d tree on an equirectangular projection around the network's
    mean latitude (exact enough at a city's scale; the distance returned is haversine)."""

    def __init__(self, network: RoadNetwork):
        self.network = network
        self.cos_lat = float(np.cos(np.radians(network.node_lat.mean())))
        self.tree = cKDTree(self._xy(network.node_lat, network.node_lon))

    def _xy(self, lat, lon) -> np.ndarray:
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        return np.column_stack([np.radians(lon) * self.cos_lat, np.radians(lat)]) * EARTH_RADIUS_M

    def snap(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        _, node = self.tree.query(self._xy(lat, lon))
        node = np.asarray(node, dtype=np.int64)
        return node, haversine_m(lat, lon, self.network.node_lat[node], self.network.node_lon[node])


class _Router:
    """Fastest paths on one network for one vehicle speed: each edge takes its time at
    ``min(edge speed, vehicle speed)``; of parallel edges the quickest is kept.

    One Dijkstra gives both figures. An edge weighs ``time_ms * scale + length_dm``, with
    ``scale`` a power of two above the network's total length (so above the length of any
    path a tree holds): a path's weight orders paths by time, then by length, and splits
    back into the fastest time (the quotient) and that path's length (the remainder),
    exactly while weights stay below 2**53 (integers in float64). Where a network is too
    large for that, the lengths are summed along the predecessor trees instead.
    """

    def __init__(self, network: RoadNetwork, vehicle_kmh: float):
        self.n = n = network.n_nodes
        tail, head = network.tail(), network.head
        time_s = network.length_m * 3.6 / np.minimum(network.speed_kmh, vehicle_kmh)
        # Whole milliseconds and decimetres; at least 1 ms, as csgraph reads a stored 0
        # as "no edge".
        time_ms = np.maximum(np.rint(time_s * 1000.0), 1.0)
        length_dm = np.rint(network.length_m * 10.0)
        order = np.lexsort((length_dm, time_ms, head, tail))
        tail, head, time_ms, length_dm = tail[order], head[order], time_ms[order], length_dm[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        tail, head, time_ms, length_dm = tail[first], head[first], time_ms[first], length_dm[first]
        self.edge_id = order[first]  # the network's edge kept for each (tail, head)
        self.scale = 2.0 ** np.ceil(np.log2(length_dm.sum() + 1.0))
        self.packed = csr_matrix((time_ms * self.scale + length_dm, (tail, head)), shape=(n, n))
        self.timed = csr_matrix((time_ms, (tail, head)), shape=(n, n))
        self.edge_key = tail * n + head  # sorted: tail, then head
        self.edge_dm = length_dm
        self._rows: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def fastest(self, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(duration_s, distance_m)`` float matrices, sources x targets: the time of the
        fastest path and the length of that same path (not of the shortest one)."""
        unique_sources, source_row = np.unique(sources, return_inverse=True)
        unique_targets, target_col = np.unique(targets, return_inverse=True)
        time_ms = np.empty((len(unique_sources), len(unique_targets)))
        length_dm = np.empty_like(time_ms)
        cached = np.array([int(s) in self._rows for s in unique_sources], dtype=bool)
        for k in np.flatnonzero(cached):
            row_ms, row_dm = self._rows[int(unique_sources[k])]
            self._rows.move_to_end(int(unique_sources[k]))
            time_ms[k], length_dm[k] = row_ms[unique_targets], row_dm[unique_targets]
        missing = np.flatnonzero(~cached)
        for start in range(0, len(missing), _SOURCES_PER_CHUNK):
            rows = missing[start : start + _SOURCES_PER_CHUNK]
            all_ms, all_dm = self._packed(unique_sources[rows], None)
            time_ms[rows], length_dm[rows] = all_ms[:, unique_targets], all_dm[:, unique_targets]
            self._keep(unique_sources[rows], all_ms, all_dm)
        if not np.isfinite(time_ms).all():
            raise ValueError("a node does not reach another: the network is not strongly connected")
        pick = np.ix_(source_row, target_col)
        duration_s = time_ms[pick]
        del time_ms
        duration_s /= 1000.0
        distance_m = length_dm[pick]
        del length_dm
        distance_m /= 10.0
        return duration_s, distance_m

    def paths(self, sources: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """The fastest path from each source to its target (pairs, not a matrix), as the
        network's edge indices in order: the very paths :meth:`fastest` measures (same
        weights, same choice among parallel edges)."""
        unique_sources, row = np.unique(sources, return_inverse=True)
        unique_targets = np.unique(targets)
        paths: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(sources)
        for start in range(0, len(unique_sources), _SOURCES_PER_CHUNK):
            chunk = unique_sources[start : start + _SOURCES_PER_CHUNK]
            predecessor = self._predecessors(chunk, unique_targets)
            for i in np.flatnonzero((row >= start) & (row < start + len(chunk))):
                paths[i] = self._edges_to(predecessor[row[i] - start], int(targets[i]))
        return paths

    def _predecessors(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The fastest-path trees from ``sources``, on the weights :meth:`_packed` would
        use for these targets."""
        weight, predecessor = dijkstra(
            self.packed, directed=True, indices=sources, return_predecessors=True
        )
        weight = weight[:, targets]
        if np.nanmax(weight, initial=0.0, where=np.isfinite(weight)) >= 2.0**53:
            _, predecessor = dijkstra(
                self.timed, directed=True, indices=sources, return_predecessors=True
            )
        return predecessor

    def _edges_to(self, predecessor: np.ndarray, target: int) -> np.ndarray:
        nodes = [target]
        while predecessor[nodes[-1]] >= 0:
            nodes.append(int(predecessor[nodes[-1]]))
        nodes = np.array(nodes[::-1], dtype=np.int64)
        return self.edge_id[np.searchsorted(self.edge_key, nodes[:-1] * self.n + nodes[1:])]

    def _keep(self, sources: np.ndarray, time_ms: np.ndarray, length_dm: np.ndarray) -> None:
        """Remember each source's row (to every node) for the next call: a day asks
        for the same addresses again and again (sourcing's insertion costs, the
        promise, the re-plan), each a few sources at a time. Least recently used rows go
        first beyond :data:`ROW_CACHE_BYTES`."""
        limit = max(1, ROW_CACHE_BYTES // max(1, 2 * 8 * self.n))
        for k, source in enumerate(sources):
            self._rows[int(source)] = (time_ms[k].copy(), length_dm[k].copy())
        while len(self._rows) > limit:
            self._rows.popitem(last=False)

    def _packed(
        self, sources: np.ndarray, targets: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Time (ms) and length (dm) from each source to ``targets`` (None: every node)."""
        weight = dijkstra(self.packed, directed=True, indices=sources)
        if targets is not None:
            weight = weight[:, targets]
        if np.nanmax(weight, initial=0.0, where=np.isfinite(weight)) >= 2.0**53:
            return self._by_trees(sources, targets)
        time_ms = np.floor(weight / self.scale)
        return time_ms, weight - time_ms * self.scale

    def _by_trees(
        self, sources: np.ndarray, targets: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        time_ms, predecessor = dijkstra(
            self.timed, directed=True, indices=sources, return_predecessors=True
        )
        pick = slice(None) if targets is None else targets
        return time_ms[:, pick], self._tree_lengths_dm(predecessor)[:, pick]

    def _tree_lengths_dm(self, predecessor: np.ndarray) -> np.ndarray:
        """The length from each source to every node along its fastest-path tree, by
        pointer jumping: each round adds the length up to a node's ancestor and jumps to
        the ancestor's ancestor, so a path of h edges is summed in log2(h) rounds."""
        nodes = np.arange(self.n)
        parent = np.where(predecessor < 0, nodes, predecessor).astype(np.int64)
        has_parent = predecessor >= 0
        up_dm = np.zeros(parent.shape)
        child = np.nonzero(has_parent)[1]
        up_dm[has_parent] = self.edge_dm[
            np.searchsorted(self.edge_key, parent[has_parent] * self.n + child)
        ]
        while True:
            grand = np.take_along_axis(parent, parent, axis=1)
            if np.array_equal(grand, parent):
                return up_dm
            up_dm += np.take_along_axis(up_dm, parent, axis=1)
            parent = grand
