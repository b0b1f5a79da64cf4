"""Network design: where to open dark stores, urban hubs and micro-hubs.

Candidate sites (:mod:`sites`), demand over a calendar (:mod:`demand`), exact models
(:mod:`models`: capacitated facility location, p-median, maximal covering, with OR-Tools
MathOpt) and the shortlist they propose (:mod:`design`). The replay that judges each
network by the days it produces through the production pipeline composes the planner and
the checker, so it lives in the workflow layer (:mod:`optimizer.workflows.replay`).
"""

from optimizer.network.apply import Network, apply_network, rebase_day
from optimizer.network.demand import DemandPoints, aggregate_demand, day_volumes
from optimizer.network.design import Design, DesignParams, design_networks
from optimizer.network.models import (
    LocationResult,
    covers_within,
    facility_location,
    max_covering,
    p_median,
)
from optimizer.network.sites import (
    KIND_PROFILES,
    Site,
    candidate,
    demand_centroid_sites,
    existing_sites,
    grid_sites,
)

__all__ = [
    "KIND_PROFILES",
    "DemandPoints",
    "Design",
    "DesignParams",
    "LocationResult",
    "Network",
    "Site",
    "aggregate_demand",
    "apply_network",
    "candidate",
    "covers_within",
    "day_volumes",
    "demand_centroid_sites",
    "design_networks",
    "existing_sites",
    "facility_location",
    "grid_sites",
    "max_covering",
    "p_median",
    "rebase_day",
]
