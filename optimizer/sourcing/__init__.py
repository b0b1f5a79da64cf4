"""Sourcing: which fulfilment node each order ships from."""

from optimizer.sourcing.greedy import GreedySourcing, Sourcing, SourcingDecision
from optimizer.sourcing.reach import FleetGroup, Reach, Stage, compute_reach, fleet_groups

__all__ = [
    "FleetGroup",
    "GreedySourcing",
    "Reach",
    "Sourcing",
    "SourcingDecision",
    "Stage",
    "compute_reach",
    "fleet_groups",
]
