"""What :func:`optimizer.planning.plan_day` carries from one step to the next."""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.model import Scenario, Unassigned
from optimizer.sourcing import GreedySourcing, SourcingDecision
from optimizer.sourcing.returns import ReturnChoice
from optimizer.travel import TravelProvider


@dataclass
class DayState:
    """The day being planned: sourcing's choices and what is left to route.

    ``routing`` is the scenario the routing sees (its orders, the parcels of split
    orders and the returns as order-like stops); ``node_orders`` what each node routes
    (orders, parcels, returns: "units"); ``paired`` an exchange's order -> its return;
    ``return_failed`` a return the routes could not fit -> (its node, why).
    """

    scenario: Scenario
    travel: TravelProvider
    sourcing: GreedySourcing
    returns: ReturnChoice
    routing: Scenario
    decisions: dict[str, SourcingDecision]
    unassigned: list[Unassigned]
    units: dict[str, str]  # unit -> node, from the first sourcing
    node_orders: dict[str, list[str]]
    paired: dict[str, str]
    collections: dict[str, str]  # click & collect order -> node
    return_failed: dict[str, tuple[str, Unassigned]] = field(default_factory=dict)
