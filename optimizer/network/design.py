"""From today's network, candidate sites and aggregated demand to a shortlist of networks.

Each exact model proposes one network; today's network is always on the list, and a
network two models agree on is replayed once (under the first model's name):

- ``today``: the network as it is;
- ``cflp-keep``: capacitated facility location with fixed costs, today's nodes kept,
  candidates opened where they pay for themselves;
- ``cflp-close``: the same, but today's dark stores, hubs and micro-hubs may close;
- ``p-median``: as many dark stores, hubs and micro-hubs as today, placed among today's
  and the candidates to minimise order-weighted bike distance (stores and the warehouse
  stay);
- ``max-cover``: today's network plus ``new_sites`` candidates maximising the orders
  within a cargo-bike radius (or a bike time budget) of a bike base.

Distances are the travel model's cargo-bike distances (great circle x detour), the same
the routing uses; costs are a per-order estimate (:class:`DesignParams`). The models are
the shortlist's source, not the verdict: the replay is.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from optimizer.model import Mode, Scenario
from optimizer.network.apply import Network
from optimizer.network.demand import DemandPoints
from optimizer.network.models import (
    LocationResult,
    covers_within,
    facility_location,
    max_covering,
    p_median,
)
from optimizer.network.sites import KIND_PROFILES, Site, existing_sites
from optimizer.travel import GreatCircle, Profile, TravelProvider

# A cargo bike costs ~1.6 EUR per km ridden (rider 24 EUR/h at 15 km/h + 0.02 EUR/km:
# data/paris_city.py); the stem out to a customer's area and back (2 x the distance) is
# shared by the ~8 drops of a bike tour (the Paris sample's bike routes carry 6-10
# stops), so each order pays ~2 x 1.6 / 8 = 0.4 EUR per km between its site and its door.
EUR_PER_ORDER_KM = 0.4
# A cargo bike's delivery radius around its base: ~3 km keeps a tour of 8-10 drops
# within a 2-3 hour shift half at 15 km/h (Paris cargo-bike operators quote 2-4 km).
BIKE_RADIUS_KM = 3.0
BIKE_SPEED_KMH = 15.0  # as the sample's e-cargo bike (data/paris_city.py)


@dataclass(frozen=True)
class DesignParams:
    """Knobs of the models.

    Parameters
    ----------
    eur_per_order_km
        Delivery cost of one order per km between its site and its door (facility
        location's serving cost, with the site's handling cost per order).
    cover_radius_km
        Maximal covering: a point is covered when a site is within this bike distance.
    cover_time_s
        If set, covering uses this bike travel-time budget instead of the radius (an
        express promise: e.g. 900 s from the site to the door).
    new_sites
        Maximal covering: how many candidates it may add to today's network.
    time_limit_s
        Per model solve.
    """

    eur_per_order_km: float = EUR_PER_ORDER_KM
    cover_radius_km: float = BIKE_RADIUS_KM
    cover_time_s: float | None = None
    new_sites: int = 2
    time_limit_s: float = 60.0
    solver: str = "scip"

    def __post_init__(self):
        if self.eur_per_order_km < 0:
            raise ValueError("eur_per_order_km < 0 not understood.")
        if self.cover_radius_km <= 0:
            raise ValueError("cover_radius_km <= 0 not understood.")
        if self.cover_time_s is not None and self.cover_time_s <= 0:
            raise ValueError("cover_time_s <= 0 not understood.")
        if self.new_sites < 0:
            raise ValueError("new_sites < 0 not understood.")


@dataclass
class Design:
    """What the models proposed: the sites they chose among, the inputs and results."""

    sites: list[Site]
    demand: DemandPoints
    distance_km: np.ndarray  # demand points x sites, cargo-bike km
    results: dict[str, LocationResult] = field(default_factory=dict)
    networks: list[Network] = field(default_factory=list)
    # A model whose network another already proposed -> that network's name.
    same_as: dict[str, str] = field(default_factory=dict)

    @property
    def existing(self) -> list[Site]:
        return [s for s in self.sites if s.existing]


def bike_distance_km(
    demand: DemandPoints, sites: list[Site], travel: TravelProvider | None = None
) -> np.ndarray:
    """Demand points x sites, cargo-bike km from the travel model."""
    travel = travel or GreatCircle()
    profile = Profile(Mode.CARGO_BIKE, BIKE_SPEED_KMH)
    lat = np.array([s.lat for s in sites])
    lon = np.array([s.lon for s in sites])
    distance_m, _ = travel.table(demand.lat, demand.lon, lat, lon, profile)
    return distance_m / 1000.0


# What each model's network is called in the shortlist.
_MODEL_LABELS = {
    "cflp-keep": "capacitated facility location, today's nodes kept",
    "cflp-close": "capacitated facility location, closing allowed",
    "p-median": "p-median, as many sites as today",
    "max-cover": "maximal covering within a bike radius",
}


def design_networks(
    base: Scenario,
    candidates: list[Site],
    demand: DemandPoints,
    params: DesignParams | None = None,
    travel: TravelProvider | None = None,
) -> Design:
    """Run the models and return the shortlist (``today`` first)."""
    params = params or DesignParams()
    existing = existing_sites(base)
    _check_candidate_ids(existing, candidates)
    sites = existing + list(candidates)
    dist = bike_distance_km(demand, sites, travel)
    design = Design(sites=sites, demand=demand, distance_km=dist)
    if len(demand):
        _run_models(base, design, len(candidates), params)
    design.networks = _shortlist(design)
    return design


def _check_candidate_ids(existing: list[Site], candidates: list[Site]) -> None:
    ids = [s.site_id for s in existing]
    clash = sorted({s.site_id for s in candidates} & set(ids))
    counts = Counter(s.site_id for s in candidates)
    dup = sorted(k for k, c in counts.items() if c > 1)
    if clash or dup:
        raise ValueError(
            "candidate ids must be unique and differ from today's nodes: "
            + ", ".join(clash + dup)
            + "."
        )


def _run_models(base: Scenario, design: Design, n_candidates: int, params: DesignParams) -> None:
    """Each exact model's result, in ``design.results`` by the model's name (p-median
    only when today has sites that may move, max-cover only with new sites to add)."""
    sites, dist = design.sites, design.distance_km
    weight = design.demand.orders_per_day
    is_existing = np.array([s.existing for s in sites])
    fixed_site = np.array([s.existing and not s.closable for s in sites])
    handling = np.array([_handling(base, s) for s in sites])
    serve = handling[None, :] + params.eur_per_order_km * dist
    fixed = np.array([s.cost_per_day_eur for s in sites])
    capacity = np.array([s.capacity_orders_per_day for s in sites], dtype=float)
    solve = dict(time_limit_s=params.time_limit_s, solver=params.solver)
    design.results["cflp-keep"] = facility_location(
        weight, serve, fixed, capacity, must_open=is_existing, **solve
    )
    design.results["cflp-close"] = facility_location(
        weight, serve, fixed, capacity, must_open=fixed_site, **solve
    )
    movable_today = int((is_existing & ~fixed_site).sum())
    if movable_today:
        design.results["p-median"] = p_median(
            weight, dist, int(fixed_site.sum()) + movable_today, must_open=fixed_site,
            **solve,
        )  # fmt: skip
    if params.new_sites and n_candidates:
        if params.cover_time_s is None:
            covers = covers_within(dist, params.cover_radius_km)
        else:
            covers = covers_within(dist / BIKE_SPEED_KMH * 3600, params.cover_time_s)
        bikes = np.array([_has_bikes(base, s) for s in sites])
        design.results["max-cover"] = max_covering(
            weight,
            covers & bikes[None, :],
            int(is_existing.sum()) + min(params.new_sites, n_candidates),
            must_open=is_existing,
            **solve,
        )


def _shortlist(design: Design) -> list[Network]:
    """Today's network, then each model's, once: a network a model before proposed is
    recorded in ``design.same_as`` instead."""
    networks = [Network("today", model="today's network")]
    seen = {networks[0].key(): networks[0].name}
    for name, result in design.results.items():
        chosen = list(zip(design.sites, result.open, strict=True))
        network = Network(
            name=name,
            opened=tuple(s for s, o in chosen if o and not s.existing),
            closed=tuple(s.site_id for s, o in chosen if s.existing and not o),
            model=_MODEL_LABELS[name],
        )
        if network.key() in seen:
            design.same_as[name] = seen[network.key()]
        else:
            seen[network.key()] = name
            networks.append(network)
    return networks


def _handling(base: Scenario, site: Site) -> float:
    if site.existing:
        return base.nodes[site.site_id].handling_cost_eur
    return KIND_PROFILES[site.kind].handling_cost_eur


def _has_bikes(base: Scenario, site: Site) -> bool:
    if not site.existing:
        return any(s.mode.is_bike for s in KIND_PROFILES[site.kind].fleet)
    return any(
        f.node_id == site.site_id and base.vehicle_types[f.vehicle_type_id].mode.is_bike
        for f in base.fleet
    )


def comparison_csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    """``rows`` (dicts) as CSV text over ``columns``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([r[c] for c in columns] for r in rows)
    return out.getvalue()


def comparison_markdown(rows: list[dict], columns: tuple[str, ...]) -> str:
    """A Markdown table of ``rows`` (dicts) over ``columns``."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"
