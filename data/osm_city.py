"""A city derived from an OpenStreetMap street network, for the day generator.

Where :mod:`data.paris_city` holds Paris's facts written by hand, :func:`derive_city`
reads them off any extract's streets (a :class:`~optimizer.travel.streets.Streets` and the
per-mode networks of :mod:`optimizer.travel.road`), so a plausible day can be made in any
city. Pure: arrays in, facts out; no random draw (the same extract gives the same city;
the day's seed only moves the orders).

How the city is read (every distance in metres on a local flat projection):

- **Streets people live on**: the pieces of residential, living, unclassified, tertiary,
  secondary, primary and pedestrian streets (:data:`HOME_STREET_WEIGHT`), kept where both
  ends lie within :data:`ADDRESS_MAX_SNAP_M` of a junction of BOTH the van and the bike
  networks (so every address reaches both). Their length, smoothed over
  :data:`DENSITY_SIGMA_M`, is the **street density**; an address is drawn on a piece
  with odds of its length x weight x density.
- **Centre**: the junction (of both networks) at the peak of the density smoothed over
  :data:`CENTRE_SIGMA_M`. ``r50``, ``r70``, ``r90``: the distances from it within which
  50, 70 and 90 % of the home-street length lies.
- **Zones**: a limited-traffic zone (bikes only) around the centre, radius
  :data:`LIMITED_TRAFFIC_SHARE_OF_R50` x ``r50`` within :data:`LIMITED_TRAFFIC_RADIUS_M`;
  a low-emission zone out to ``r70``, kept inside the warehouse.
- **Nodes**, each on a junction of both networks: a warehouse at the edge (beyond ``r90``,
  on an arterial, nearest to ``r90``); an urban hub near the centre but outside the
  limited-traffic zone, on an arterial, where the density peaks; 3-6 stores, the first at
  the centre (inside the limited-traffic zone, so it runs bikes only), the others at the
  densest junctions inside ``r70`` kept :data:`STORE_SPACING_M` apart.
- **Bike city**: cycle tracks and lanes (``highway=cycleway``, ``cycleway*=track|lane``)
  of at least :data:`BIKE_CITY_CYCLEWAY_SHARE` of the van streets' length.
- **Districts** (``postcodes.csv``): the home streets cut into
  :data:`DISTRICT_KM_OF_STREET`-km districts by weighted k-means, each named by its
  bearing and distance from the centre, its reference point a junction of both networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

from data.paris_city import PROFILES, NodeFacts, ZoneFacts
from optimizer.travel.road import EARTH_RADIUS_M, RoadNetwork
from optimizer.travel.streets import Streets

# Weight of a street class as a place where people live and order (our assumption:
# residential streets carry most homes; main roads fewer, with shops below and traffic).
HOME_STREET_WEIGHT = {
    "residential": 1.0,
    "living_street": 1.0,
    "unclassified": 0.7,
    "tertiary": 0.7,
    "pedestrian": 0.5,
    "secondary": 0.5,
    "primary": 0.4,
}
# An address is drawn only on street pieces whose both ends lie this near a junction of
# both networks (the road provider warns from 300 m: optimizer.travel.road.SNAP_WARNING_M).
ADDRESS_MAX_SNAP_M = 250.0
# Street density: home-street length in cells of GRID_M, smoothed over DENSITY_SIGMA_M
# (a few blocks) for the addresses and CENTRE_SIGMA_M (a district) for the centre.
GRID_M = 100.0
DENSITY_SIGMA_M = 300.0
CENTRE_SIGMA_M = 800.0
# Limited-traffic zone: about Paris Centre's share of Paris (radius ~1.4 km of ~5 km).
LIMITED_TRAFFIC_SHARE_OF_R50 = 0.3
LIMITED_TRAFFIC_RADIUS_M = (300.0, 1000.0)
ZONE_VERTICES = 24
# An arterial: a van edge with a free-flow speed of at least this (tertiary and above in
# optimizer.travel.road_rules.VAN), where a depot's vans join the main roads.
ARTERIAL_KMH = 40.0
# Stores sit at least this far from every other node (the spacing halves when the
# network is too small for it).
STORE_SPACING_M = 1000.0
# Stores per day: one per ORDERS_PER_STORE orders, within STORES.
ORDERS_PER_STORE = 100
STORES = (3, 6)
# Cycle tracks and lanes per km of van street above which the city is a bike city
# (central Copenhagen: ~0.5; Andorra: ~0.05).
BIKE_CITY_CYCLEWAY_SHARE = 0.2
CYCLEWAY_VALUES = frozenset({"track", "lane", "opposite_track", "opposite_lane", "separate"})
# Districts: about this much home street each, between DISTRICTS of them.
DISTRICT_KM_OF_STREET = 25.0
DISTRICTS = (4, 20)
COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")


@dataclass(frozen=True)
class HomeStreets:
    """The street pieces addresses are drawn on: ends ``(lat, lon)`` and each piece's odds
    (length x class weight x density, summing to 1)."""

    lat: np.ndarray  # (k, 2) degrees
    lon: np.ndarray  # (k, 2) degrees
    odds: np.ndarray  # (k,)


@dataclass(frozen=True)
class OsmCity:
    """What :func:`derive_city` reads off an extract (see the module's docstring)."""

    name: str
    centre: tuple[float, float]  # (lat, lon) of the centre junction
    radii_m: dict[str, float]  # r50, r70, r90, limited_traffic, low_emission
    nodes: tuple[NodeFacts, ...]
    zones: tuple[ZoneFacts, ...]
    postcodes: tuple[tuple[str, str, float, float], ...]
    home_streets: HomeStreets
    bike_city: bool
    cycleway_share: float  # cycle tracks and lanes per km of van street


class _Plane:
    """A local equirectangular projection (metres) around a latitude."""

    def __init__(self, lat0: float, lon0: float):
        self.lat0, self.lon0 = lat0, lon0
        self.cos = math.cos(math.radians(lat0))

    def xy(self, lat, lon) -> np.ndarray:
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        x = np.radians(lon - self.lon0) * self.cos * EARTH_RADIUS_M
        y = np.radians(lat - self.lat0) * EARTH_RADIUS_M
        return np.stack([x, y], axis=-1)

    def latlon(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        lat = self.lat0 + np.degrees(np.asarray(y) / EARTH_RADIUS_M)
        lon = self.lon0 + np.degrees(np.asarray(x) / (EARTH_RADIUS_M * self.cos))
        return lat, lon


def derive_city(
    name: str,
    streets: Streets,
    networks: dict[str, RoadNetwork],
    orders: int,
    bike_city: bool | None = None,
) -> OsmCity:
    """The city of an extract, for a day of ``orders`` (which sets the number of stores).

    ``bike_city`` None: measured (:data:`BIKE_CITY_CYCLEWAY_SHARE`). Raises ``ValueError``
    when the extract has too few streets for a day.
    """
    plane = _Plane(float(np.mean(streets.node_lat)), float(np.mean(streets.node_lon)))
    junction_xy, arterial = _shared_junctions(plane, networks)
    if len(junction_xy) < 20:
        raise ValueError(
            f"{name}: the van and bike networks share {len(junction_xy)} junctions; "
            "too few streets for a day (give a bigger extract)."
        )
    pieces_xy, piece_m = _home_pieces(plane, streets, cKDTree(junction_xy))
    grid = _Grid(pieces_xy.mean(axis=1), piece_m)
    centre = int(np.argmax(grid.density(junction_xy, CENTRE_SIGMA_M)))
    centre_xy = junction_xy[centre]
    radii = _radii(pieces_xy.mean(axis=1), piece_m, centre_xy)
    density = grid.density(junction_xy, DENSITY_SIGMA_M)
    nodes_at = _place_nodes(junction_xy, arterial, density, centre, radii, orders)
    share = _cycleway_share(streets)
    odds = piece_m * grid.density(pieces_xy.mean(axis=1), DENSITY_SIGMA_M)
    piece_lat, piece_lon = plane.latlon(pieces_xy[..., 0], pieces_xy[..., 1])
    return OsmCity(
        name=name,
        centre=tuple(float(v) for v in plane.latlon(*centre_xy)),
        radii_m=radii,
        nodes=_node_facts(plane, junction_xy, centre_xy, nodes_at, name),
        zones=_zones(plane, centre_xy, radii, name),
        postcodes=_districts(plane, pieces_xy.mean(axis=1), odds, junction_xy, centre_xy, name),
        home_streets=HomeStreets(piece_lat, piece_lon, odds / odds.sum()),
        bike_city=share >= BIKE_CITY_CYCLEWAY_SHARE if bike_city is None else bike_city,
        cycleway_share=share,
    )


def _shared_junctions(
    plane: _Plane, networks: dict[str, RoadNetwork]
) -> tuple[np.ndarray, np.ndarray]:
    """The junctions of both networks (the same OpenStreetMap node: the same coordinates),
    as ``xy`` in a fixed order, and whether a van's arterial (:data:`ARTERIAL_KMH`) starts
    at each."""
    van, bike = networks["van"], networks["bike"]
    bike_keys = set(zip(bike.node_lat.tolist(), bike.node_lon.tolist(), strict=True))
    shared = np.array(
        [
            key in bike_keys
            for key in zip(van.node_lat.tolist(), van.node_lon.tolist(), strict=True)
        ],
        dtype=bool,
    )
    fast = np.zeros(van.n_nodes, dtype=bool)
    fast[van.tail()[van.speed_kmh >= ARTERIAL_KMH]] = True
    order = np.flatnonzero(shared)
    order = order[np.lexsort((van.node_lon[order], van.node_lat[order]))]
    return plane.xy(van.node_lat[order], van.node_lon[order]), fast[order]


def _home_pieces(
    plane: _Plane, streets: Streets, junctions: cKDTree
) -> tuple[np.ndarray, np.ndarray]:
    """The straight pieces of the home streets near the shared junctions: ``(k, 2, 2)``
    end coordinates and each piece's length x class weight."""
    weight_of_way = np.array(
        [HOME_STREET_WEIGHT.get(str(h), 0.0) for h in streets.way_tags["highway"]]
    )
    ways = np.flatnonzero(weight_of_way > 0)
    if len(ways) == 0:
        raise ValueError("the extract has no residential or main street to place orders on.")
    starts, ends = streets.way_offsets[ways], streets.way_offsets[ways + 1]
    counts = ends - starts
    position = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    nodes = streets.way_nodes[position]
    way_of = np.repeat(ways, counts)
    pair = np.flatnonzero(way_of[:-1] == way_of[1:])  # consecutive points of one way
    xy = plane.xy(streets.node_lat[nodes], streets.node_lon[nodes])
    ends_xy = np.stack([xy[pair], xy[pair + 1]], axis=1)
    snap_a, _ = junctions.query(ends_xy[:, 0])
    snap_b, _ = junctions.query(ends_xy[:, 1])
    length = np.hypot(*(ends_xy[:, 1] - ends_xy[:, 0]).T)
    keep = (snap_a <= ADDRESS_MAX_SNAP_M) & (snap_b <= ADDRESS_MAX_SNAP_M) & (length > 0)
    if not keep.any():
        raise ValueError("no residential street of the extract lies near both networks.")
    return ends_xy[keep], (length * weight_of_way[way_of[pair]])[keep]


class _Grid:
    """Home-street length per :data:`GRID_M` cell, smoothed on demand."""

    def __init__(self, xy: np.ndarray, weight: np.ndarray):
        self.origin = xy.min(axis=0) - 3 * CENTRE_SIGMA_M
        size = np.ceil((xy.max(axis=0) + 3 * CENTRE_SIGMA_M - self.origin) / GRID_M).astype(int)
        self.counts = np.zeros(size)
        np.add.at(self.counts, tuple(self._cell(xy).T), weight)
        self._smoothed: dict[float, np.ndarray] = {}

    def _cell(self, xy: np.ndarray) -> np.ndarray:
        cell = np.floor((xy - self.origin) / GRID_M).astype(int)
        return np.clip(cell, 0, np.array(self.counts.shape) - 1)

    def density(self, xy: np.ndarray, sigma_m: float) -> np.ndarray:
        if sigma_m not in self._smoothed:
            self._smoothed[sigma_m] = gaussian_filter(self.counts, sigma_m / GRID_M)
        return self._smoothed[sigma_m][tuple(self._cell(xy).T)]


def _radii(xy: np.ndarray, weight: np.ndarray, centre_xy: np.ndarray) -> dict[str, float]:
    distance = np.hypot(*(xy - centre_xy).T)
    order = np.argsort(distance, kind="stable")
    cumulative = np.cumsum(weight[order]) / weight.sum()

    def within(share: float) -> float:
        return float(distance[order][np.searchsorted(cumulative, share)])

    r50, r70, r90 = within(0.5), within(0.7), within(0.9)
    limited = float(np.clip(LIMITED_TRAFFIC_SHARE_OF_R50 * r50, *LIMITED_TRAFFIC_RADIUS_M))
    return {"r50": r50, "r70": r70, "r90": r90, "limited_traffic": limited}


def _place_nodes(
    junction_xy: np.ndarray,
    arterial: np.ndarray,
    density: np.ndarray,
    centre: int,
    radii: dict[str, float],
    orders: int,
) -> list[tuple[str, int]]:
    """``(kind, junction index)`` of the warehouse, the hub and the stores (see the
    module's docstring); sets ``radii["low_emission"]`` inside the warehouse."""
    distance = np.hypot(*(junction_xy - junction_xy[centre]).T)
    limited = radii["limited_traffic"]

    def best(score: np.ndarray, *masks: np.ndarray) -> int:
        """The best score under the first mask that leaves a junction (else anywhere)."""
        for mask in masks:
            if mask.any():
                return int(np.flatnonzero(mask)[np.argmax(score[mask])])
        return int(np.argmax(score))

    edge = distance >= radii["r90"]
    warehouse = best(-np.abs(distance - radii["r90"]), edge & arterial, edge)
    radii["low_emission"] = max(limited, min(radii["r70"], distance[warehouse] - 300.0))
    outside_ltz = distance >= limited + 200.0
    near = distance <= max(radii["r50"], limited + 500.0)
    hub = best(density, outside_ltz & near & arterial, outside_ltz & near, outside_ltz)
    placed = [("warehouse", warehouse), ("urban_hub", hub), ("store", centre)]
    n_stores = int(np.clip(round(orders / ORDERS_PER_STORE), *STORES))
    spacing = STORE_SPACING_M
    inner = (distance <= radii["r70"]) & outside_ltz
    while sum(kind == "store" for kind, _ in placed) < n_stores:
        taken = junction_xy[[j for _, j in placed]]
        gap = np.hypot(*(junction_xy[:, None, :] - taken[None]).transpose(2, 0, 1)).min(axis=1)
        free = inner & (gap >= spacing)
        if not free.any():
            if spacing < GRID_M:
                break  # a network too small for more stores
            spacing /= 2
            continue
        placed.append(("store", best(density, free)))
    return placed


def _node_facts(
    plane: _Plane,
    junction_xy: np.ndarray,
    centre_xy: np.ndarray,
    placed: list[tuple[str, int]],
    city: str,
) -> tuple[NodeFacts, ...]:
    label = {"warehouse": "warehouse", "urban_hub": "urban hub", "store": "store"}
    prefix = {"warehouse": "WH", "urban_hub": "HUB", "store": "ST"}
    numbers = {kind: 0 for kind in label}
    facts = []
    for kind, j in placed:
        numbers[kind] += 1
        lat, lon = plane.latlon(*junction_xy[j])
        profile = PROFILES[kind]
        facts.append(
            NodeFacts(
                node_id=f"{prefix[kind]}-{numbers[kind]:02d}",
                name=f"{city} {label[kind]} ({_where(junction_xy[j] - centre_xy)})",
                kind=kind,
                lat=round(float(lat), 7),
                lon=round(float(lon), 7),
                opens=profile.opens,
                closes=profile.closes,
                pick_capacity_per_hour=profile.pick_capacity_per_hour,
                handling_cost_eur=profile.handling_cost_eur,
            )
        )
    return tuple(facts)


def _where(offset_xy: np.ndarray) -> str:
    """``centre`` or e.g. ``north-east, 2.1 km out``."""
    km = float(np.hypot(*offset_xy)) / 1000.0
    if km < 0.25:
        return "centre"
    bearing = math.degrees(math.atan2(offset_xy[0], offset_xy[1])) % 360.0
    return f"{COMPASS[int((bearing + 22.5) // 45) % 8]}, {km:.1f} km out"


def _zones(
    plane: _Plane, centre_xy: np.ndarray, radii: dict[str, float], city: str
) -> tuple[ZoneFacts, ...]:
    def ring(radius_m: float) -> tuple[tuple[float, float], ...]:
        turn = np.linspace(0.0, 2 * np.pi, ZONE_VERTICES, endpoint=False)
        lat, lon = plane.latlon(
            centre_xy[0] + radius_m * np.sin(turn), centre_xy[1] + radius_m * np.cos(turn)
        )
        return tuple(
            (round(float(x), 6), round(float(y), 6)) for x, y in zip(lon, lat, strict=True)
        )

    ltz_km, lez_km = radii["limited_traffic"] / 1000.0, radii["low_emission"] / 1000.0
    return (
        ZoneFacts(
            "LTZ-CENTRE",
            f"{city} centre limited-traffic zone ({ltz_km:.1f} km around the densest streets)",
            "limited_traffic",
            ring(radii["limited_traffic"]),
        ),
        ZoneFacts(
            "LEZ",
            f"{city} low-emission zone ({lez_km:.1f} km around the centre)",
            "low_emission",
            ring(radii["low_emission"]),
        ),
    )


def _districts(
    plane: _Plane,
    xy: np.ndarray,
    weight: np.ndarray,
    junction_xy: np.ndarray,
    centre_xy: np.ndarray,
    city: str,
) -> tuple[tuple[str, str, float, float], ...]:
    """Weighted k-means of the home streets (seeds: farthest-point from the centre, so no
    random draw), each district's reference point the junction nearest its centroid."""
    k = int(np.clip(round(weight.sum() / 1000.0 / DISTRICT_KM_OF_STREET), *DISTRICTS))
    seeds = [centre_xy]
    gap = np.hypot(*(xy - centre_xy).T)
    while len(seeds) < k:
        seeds.append(xy[int(np.argmax(gap))])
        gap = np.minimum(gap, np.hypot(*(xy - seeds[-1]).T))
    means = np.array(seeds)
    for _ in range(20):
        label = cKDTree(means).query(xy)[1]
        total = np.bincount(label, weights=weight, minlength=k)
        for axis in (0, 1):
            summed = np.bincount(label, weights=weight * xy[:, axis], minlength=k)
            means[:, axis] = np.where(total > 0, summed / np.maximum(total, 1e-9), means[:, axis])
    reference = junction_xy[cKDTree(junction_xy).query(means)[1]]
    order = np.argsort(np.hypot(*(reference - centre_xy).T), kind="stable")
    code = "".join(c for c in city.upper() if c.isalnum())[:3] or "OSM"
    rows = []
    for number, d in enumerate(order, start=1):
        lat, lon = plane.latlon(*reference[d])
        name = f"{city} {_where(reference[d] - centre_xy)}"
        rows.append((f"{code}-{number:02d}", name, round(float(lat), 7), round(float(lon), 7)))
    return tuple(rows)


def _cycleway_share(streets: Streets) -> float:
    """Length of cycle tracks and lanes per length of street a van may use (one way
    counted once)."""
    highway = streets.way_tags["highway"]
    lane = np.zeros(streets.n_ways, dtype=bool)
    for key in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both"):
        lane |= np.isin(streets.way_tags[key], list(CYCLEWAY_VALUES))
    is_cycleway = highway == "cycleway"
    street = np.isin(highway, [*HOME_STREET_WEIGHT, "service", "trunk"]) & (highway != "pedestrian")
    length = _way_lengths_m(streets)
    van_m = float(length[street].sum())
    return float(length[is_cycleway | (lane & street)].sum()) / van_m if van_m else 0.0


def _way_lengths_m(streets: Streets) -> np.ndarray:
    lat, lon = streets.node_lat[streets.way_nodes], streets.node_lon[streets.way_nodes]
    phi = np.radians(lat)
    step = (
        np.hypot(np.diff(np.radians(lon)) * np.cos((phi[1:] + phi[:-1]) / 2), np.diff(phi))
        * EARTH_RADIUS_M
    )
    along = np.concatenate([[0.0], np.cumsum(step)])
    offsets = streets.way_offsets
    # A way's length: along its last point minus along its first (steps between ways
    # fall outside every way's span).
    return along[offsets[1:] - 1] - along[offsets[:-1]]
