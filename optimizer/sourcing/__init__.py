"""Sourcing: which fulfilment node each order ships from."""

from optimizer.sourcing.greedy import (
    POLICIES,
    GreedySourcing,
    Sourcing,
    SourcingDecision,
    SourcingParams,
)
from optimizer.sourcing.reach import FleetGroup, Reach, Stage, compute_reach, fleet_groups

__all__ = [
    "POLICIES",
    "SourcingParams",
    "FleetGroup",
    "GreedySourcing",
    "Reach",
    "Sourcing",
    "SourcingDecision",
    "Stage",
    "compute_reach",
    "fleet_groups",
]
