"""Candidate sites: where a dark store, an urban hub or a micro-hub could open.

A site is what a facility-location model chooses among: existing nodes (kept, or closed
when allowed) and candidates (opened or not). Each carries a cost per day of being open,
a capacity in orders per day and a kind; the kind decides how a new site is run once
it is opened in a replayed day (:data:`KIND_PROFILES`: opening hours, picking, fleet,
stock).

Candidates come from a CSV file (``optimizer.io.candidates``), a grid inside a polygon
(:func:`grid_sites`) or the centroids of demand clusters (:func:`demand_centroid_sites`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from optimizer.model import Mode, NodeKind, Scenario

KM_PER_DEG_LAT = 111.32  # mean length of a degree of latitude


@dataclass(frozen=True)
class Shift:
    """``count`` vehicles of ``mode`` working ``start_s``-``end_s`` (seconds since midnight)."""

    mode: Mode
    count: int
    start_s: int
    end_s: int


@dataclass(frozen=True)
class KindProfile:
    """How a newly opened site of one kind runs a day.

    Parameters
    ----------
    opens_s, closes_s
        Opening hours (picking and dispatch), seconds since midnight.
    handling_cost_eur
        Picking and packing cost per order.
    cost_per_day_eur
        Default cost of keeping a site of this kind open for a day (rent, energy,
        site staff), when a candidate file does not give one.
    capacity_orders_per_day
        Default picking capacity in orders per day.
    fleet
        The vehicles based there (by mode; the scenario's zero-emission vehicle type
        of that mode is used).
    stock_from
        Node kinds whose stock depth a new site copies (see ``optimizer.network.apply``).
    stock_depth
        Share of that depth it holds (a micro-hub is restocked daily from a hub, so it
        holds a day's worth of the fast movers, not a store's reserve).
    """

    opens_s: int
    closes_s: int
    handling_cost_eur: float
    cost_per_day_eur: float
    capacity_orders_per_day: int
    fleet: tuple[Shift, ...]
    stock_from: tuple[NodeKind, ...]
    stock_depth: float = 1.0


H = 3600
# Opening hours, picking and handling cost of dark stores and urban hubs are those of the
# Paris sample's nodes (data/paris_city.py PROFILES: order-of-magnitude industry figures);
# their fleets are the sample's per-kind fleets (data/generator.py FLEET_TEMPLATE), so an
# opened site runs like the sites the day already has.
# Costs per day are order-of-magnitude estimates for Paris, 2024, to be replaced by the
# designer's own quotes in the candidate file:
# - dark store: ~300 m² of ground-floor retail at ~450 EUR/m²/year (Paris commercial
#   rents outside the prime streets) + energy, cleaning, a site lead -> ~500 EUR/day;
# - urban hub: ~2,000 m² in a logistics hotel at ~150 EUR/m²/year + site staff and
#   energy -> ~1,100 EUR/day;
# - micro-hub: a container or a car-park room under a city concession (~2,000 EUR/month)
#   + the van run that restocks it each morning -> ~150 EUR/day.
KIND_PROFILES: dict[NodeKind, KindProfile] = {
    NodeKind.DARK_STORE: KindProfile(
        opens_s=7 * H,
        closes_s=23 * H,
        handling_cost_eur=2.2,
        cost_per_day_eur=500.0,
        capacity_orders_per_day=640,  # 40 orders/h x 16 h, as the sample's dark stores
        fleet=(
            Shift(Mode.VAN, 1, 9 * H, 20 * H + 1800),
            Shift(Mode.CARGO_BIKE, 2, 7 * H + 1800, 14 * H + 1800),
            Shift(Mode.CARGO_BIKE, 2, 13 * H, 20 * H + 1800),
        ),
        stock_from=(NodeKind.DARK_STORE,),
    ),
    NodeKind.URBAN_HUB: KindProfile(
        opens_s=6 * H,
        closes_s=21 * H,
        handling_cost_eur=1.8,
        cost_per_day_eur=1100.0,
        capacity_orders_per_day=900,  # 60 orders/h x 15 h, as the sample's hubs
        fleet=(
            Shift(Mode.VAN, 2, 7 * H + 1800, 15 * H + 1800),
            Shift(Mode.VAN, 2, 12 * H, 20 * H + 1800),
            Shift(Mode.CARGO_BIKE, 4, 7 * H + 1800, 14 * H + 1800),
            Shift(Mode.CARGO_BIKE, 4, 13 * H, 20 * H + 1800),
            Shift(Mode.CARGO_TRIKE, 1, 8 * H, 16 * H),
        ),
        stock_from=(NodeKind.URBAN_HUB,),
    ),
    # Micro-hub: parcels and fast movers staged for riders; picking is quicker than a
    # store's (pre-sorted totes) but the team is one or two people: ~25 orders/h.
    NodeKind.MICRO_HUB: KindProfile(
        opens_s=7 * H + 1800,
        closes_s=20 * H + 1800,
        handling_cost_eur=2.0,
        cost_per_day_eur=150.0,
        capacity_orders_per_day=325,  # 25 orders/h x 13 h
        fleet=(
            Shift(Mode.CARGO_BIKE, 3, 8 * H, 14 * H + 1800),
            Shift(Mode.CARGO_BIKE, 3, 13 * H, 20 * H + 1800),
            Shift(Mode.CARGO_TRIKE, 1, 8 * H, 16 * H),
        ),
        stock_from=(NodeKind.DARK_STORE, NodeKind.URBAN_HUB),
        stock_depth=0.5,
    ),
}
# Kinds a designer may open or close; stores (retail shops) and warehouses are the
# fixed backbone of the network here.
SITE_KINDS = tuple(KIND_PROFILES)


@dataclass(frozen=True)
class Site:
    """A place a network may include.

    ``existing`` sites are nodes of today's network (``site_id`` is the node id);
    ``cost_per_day_eur`` is what keeping (or opening) it costs per day, and
    ``capacity_orders_per_day`` how many orders it can pick in a day.
    """

    site_id: str
    name: str
    kind: NodeKind
    lat: float
    lon: float
    cost_per_day_eur: float
    capacity_orders_per_day: int
    existing: bool = False

    def __post_init__(self):
        problems = []
        if not self.site_id:
            problems.append("site_id is empty")
        if not -90 <= self.lat <= 90 or not -180 <= self.lon <= 180:
            problems.append(f"({self.lat}, {self.lon}) is not a WGS 84 position")
        if self.cost_per_day_eur < 0:
            problems.append(f"cost_per_day_eur {self.cost_per_day_eur} < 0")
        if self.capacity_orders_per_day < 0:
            problems.append(f"capacity_orders_per_day {self.capacity_orders_per_day} < 0")
        if not self.existing and self.kind not in KIND_PROFILES:
            problems.append(
                f"kind {self.kind} cannot be opened; one of {', '.join(map(str, SITE_KINDS))}"
            )
        if problems:
            raise ValueError(f"site {self.site_id!r}: " + "; ".join(problems) + ".")

    @property
    def closable(self) -> bool:
        """Whether a network may leave it out: candidates, and existing dark stores,
        hubs and micro-hubs (stores and warehouses are kept)."""
        return not self.existing or self.kind in KIND_PROFILES


def candidate(
    site_id: str,
    kind: NodeKind | str,
    lat: float,
    lon: float,
    name: str | None = None,
    cost_per_day_eur: float | None = None,
    capacity_orders_per_day: int | None = None,
) -> Site:
    """A candidate site, with its kind's default cost and capacity where not given."""
    kind = NodeKind(kind)
    profile = KIND_PROFILES.get(kind)
    if profile is None:
        raise ValueError(
            f"site {site_id!r}: kind {kind} cannot be opened; one of "
            f"{', '.join(map(str, SITE_KINDS))}."
        )
    return Site(
        site_id=site_id,
        name=name or f"{kind.replace('_', ' ')} {site_id}",
        kind=kind,
        lat=float(lat),
        lon=float(lon),
        cost_per_day_eur=(
            profile.cost_per_day_eur if cost_per_day_eur is None else float(cost_per_day_eur)
        ),
        capacity_orders_per_day=(
            profile.capacity_orders_per_day
            if capacity_orders_per_day is None
            else int(capacity_orders_per_day)
        ),
    )


def existing_sites(scenario: Scenario) -> list[Site]:
    """Today's nodes as sites. A dark store, hub or micro-hub costs its kind's default
    per day (it could be closed to save it); stores and warehouses cost nothing here:
    they stay open in every network, so their cost does not change the comparison."""
    out = []
    for node in scenario.nodes.values():
        profile = KIND_PROFILES.get(node.kind)
        out.append(
            Site(
                site_id=node.node_id,
                name=node.name,
                kind=node.kind,
                lat=node.lat,
                lon=node.lon,
                cost_per_day_eur=profile.cost_per_day_eur if profile else 0.0,
                capacity_orders_per_day=node.pick_capacity_per_day,
                existing=True,
            )
        )
    return out


def grid_sites(
    area: BaseGeometry, spacing_km: float, kind: NodeKind | str, prefix: str = "G"
) -> list[Site]:
    """Candidates on a square grid of ``spacing_km`` inside ``area`` (a lon/lat polygon)."""
    if spacing_km <= 0:
        raise ValueError("spacing_km <= 0 not understood.")
    min_lon, min_lat, max_lon, max_lat = area.bounds
    mid_lat = (min_lat + max_lat) / 2
    dlat = spacing_km / KM_PER_DEG_LAT
    dlon = spacing_km / (KM_PER_DEG_LAT * np.cos(np.radians(mid_lat)))
    lats = np.arange(min_lat + dlat / 2, max_lat, dlat)
    lons = np.arange(min_lon + dlon / 2, max_lon, dlon)
    grid_lat, grid_lon = (a.ravel() for a in np.meshgrid(lats, lons, indexing="ij"))
    inside = shapely.intersects_xy(area, grid_lon, grid_lat)
    return [
        candidate(f"{prefix}{k + 1:03d}", kind, round(float(la), 5), round(float(lo), 5))
        for k, (la, lo) in enumerate(zip(grid_lat[inside], grid_lon[inside], strict=True))
    ]


def demand_centroid_sites(
    lat: np.ndarray,
    lon: np.ndarray,
    weight: np.ndarray,
    k: int,
    kind: NodeKind | str,
    seed: int = 0,
    area: BaseGeometry | None = None,
    prefix: str = "C",
    iterations: int = 50,
) -> list[Site]:
    """Candidates at the centroids of ``k`` weighted clusters of demand points (Lloyd's
    k-means on a local km projection, seeded k-means++ start). With ``area`` given,
    centroids outside it are dropped."""
    lat, lon, weight = (np.asarray(a, dtype=float) for a in (lat, lon, weight))
    if not len(lat) == len(lon) == len(weight):
        raise ValueError("lat, lon and weight must have the same length.")
    if k < 1 or k > len(lat):
        raise ValueError(f"k must be between 1 and the {len(lat)} demand points, got {k}.")
    rng = np.random.default_rng(seed)
    cos = np.cos(np.radians(lat.mean()))
    xy = np.column_stack([lon * cos, lat]) * KM_PER_DEG_LAT
    w = np.maximum(weight, 0) + 1e-12
    centres = [xy[rng.choice(len(xy), p=w / w.sum())]]
    while len(centres) < k:  # k-means++: far points more likely
        d2 = np.min(((xy[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        p = w * d2
        centres.append(xy[rng.choice(len(xy), p=p / p.sum())] if p.sum() > 0 else xy[0])
    c = np.array(centres)
    for _ in range(iterations):
        label = np.argmin(((xy[:, None] - c[None]) ** 2).sum(-1), axis=1)
        moved = np.array(
            [
                np.average(xy[label == j], axis=0, weights=w[label == j])
                if np.any(label == j)
                else c[j]
                for j in range(k)
            ]
        )
        if np.allclose(moved, c):
            break
        c = moved
    c_lat = c[:, 1] / KM_PER_DEG_LAT
    c_lon = c[:, 0] / KM_PER_DEG_LAT / cos
    keep = np.ones(k, dtype=bool) if area is None else shapely.intersects_xy(area, c_lon, c_lat)
    return [
        candidate(
            f"{prefix}{j + 1:03d}", kind, round(float(c_lat[j]), 5), round(float(c_lon[j]), 5)
        )
        for j in np.flatnonzero(keep)
    ]
