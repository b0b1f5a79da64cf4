"""What sourcing decides and how: :class:`SourcingParams` (the policy and its prices),
:class:`SourcingDecision` (an order's node, its cost terms and the runner-up's, with the
parcels of a split) and :class:`Sourcing` (the decisions of one :meth:`assign` call,
with the click & collect orders and the orders left unassigned).

:meth:`assign`: :meth:`optimizer.sourcing.greedy.GreedySourcing.assign`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from optimizer.model import OrderLine, Unassigned


@dataclass(frozen=True)
class DecisionPart:
    """One parcel of a split order: its node, its lines and its cost terms."""

    parcel_id: str
    node_id: str
    lines: tuple[OrderLine, ...]
    terms: dict[str, float]

    @property
    def cost_eur(self) -> float:
        return sum(self.terms.values())


@dataclass
class SourcingDecision:
    """Why an order ships from ``node_id``: its cost terms and the runner-up's.

    Terms are in euros: ``handling_eur`` (the node's picking and packing), ``route_eur``
    (what delivering it adds to the node's routes: the cheapest insertion for the
    route-aware policy, an out-and-back estimate otherwise), ``workload_eur`` (the share
    of the node's picking capacity already used, priced), ``priority_eur`` (a planner's
    surcharge on a node, e.g. to protect a busy store). A split order lists its
    ``parts`` (one parcel per node, each with its own terms); its terms are their sums
    plus ``split_eur``, the penalty of the extra parcels, and ``node_id`` is its first
    part's node. The runner-up may be a split too (``runner_up_parts``).
    """

    order_id: str
    node_id: str
    terms: dict[str, float]
    runner_up_node_id: str | None = None
    runner_up_terms: dict[str, float] | None = None
    policy: str = "route_aware"
    parts: list[DecisionPart] = field(default_factory=list)
    runner_up_parts: list[DecisionPart] = field(default_factory=list)

    @property
    def cost_eur(self) -> float:
        return sum(self.terms.values())

    @property
    def runner_up_cost_eur(self) -> float | None:
        return None if self.runner_up_terms is None else sum(self.runner_up_terms.values())

    def move_part(self, parcel_id: str, node_id: str, terms: dict[str, float]) -> None:
        """A parcel sourced again from another node (its route there was full)."""
        penalty = self.terms.get("split_eur", 0.0)
        self.parts = [
            replace(p, node_id=node_id, terms=dict(terms)) if p.parcel_id == parcel_id else p
            for p in self.parts
        ]
        self.node_id = self.parts[0].node_id
        self.terms = {}
        for part in self.parts:
            for k, v in part.terms.items():
                self.terms[k] = round(self.terms.get(k, 0.0) + v, 4)
        self.terms["split_eur"] = penalty


@dataclass
class Sourcing:
    # to be routed, by order id (a parcel id when a parcel alone was sourced again)
    decisions: dict[str, SourcingDecision] = field(default_factory=dict)
    collections: dict[str, str] = field(default_factory=dict)  # click & collect -> node
    unassigned: list[Unassigned] = field(default_factory=list)


@dataclass(frozen=True)
class SourcingParams:
    """How nodes are chosen.

    Parameters
    ----------
    policy
        ``route_aware`` (default): handling + the cheapest insertion into the node's
        routes as they are being built + workload + priority. Baselines, as order
        management systems rank: ``nearest`` (nearest node with the stock),
        ``cheapest_handling`` (lowest handling cost with the stock), ``estimate``
        (handling + an out-and-back delivery estimate). ``shared_route``: handling +
        the order's share of a route from the node (fixed cost and stem shared by the
        stops a route carries, plus its own leg; :mod:`optimizer.sourcing.shared`),
        linear in the orders: the decomposition's network-wide pass and its parts.
    workload_eur
        Price of a node's picking being fully used: a node at 60 % of its day's picking
        capacity adds 0.6 x this to each further order (spreads work before it jams).
    node_priority_eur
        A planner's surcharge per order on some nodes (e.g. protect a busy store).
    max_split
        The most nodes (parcels) a delivered basket may ship from; 1: never split.
        ``None``: the scenario's ``max_split`` (2 unless ``scenario.yaml`` says).
    split_penalty_eur
        Cost of each parcel beyond the first, besides its handling and its stop.
        ``None``: the scenario's ``split_penalty_eur`` (4 EUR: packaging and the
        customer's experience, see :class:`optimizer.model.Settings`). The baselines
        ``nearest`` and ``cheapest_handling`` split only baskets no single node holds.
    """

    policy: str = "route_aware"
    workload_eur: float = 1.0
    node_priority_eur: dict[str, float] = field(default_factory=dict)
    max_split: int | None = None
    split_penalty_eur: float | None = None

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"policy {self.policy!r} not understood; one of {POLICIES}.")
        if self.workload_eur < 0:
            raise ValueError("workload_eur < 0 not understood.")
        if self.max_split is not None and self.max_split < 1:
            raise ValueError("max_split < 1 not understood (1: never split).")
        if self.split_penalty_eur is not None and self.split_penalty_eur < 0:
            raise ValueError("split_penalty_eur < 0 not understood.")


POLICIES = ("route_aware", "nearest", "cheapest_handling", "estimate", "shared_route")
