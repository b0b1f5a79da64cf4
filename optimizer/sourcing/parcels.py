"""Splitting a delivered basket into parcels from several nodes: which splits are
worth pricing, each parcel's cost terms (its node's handling, its own route insertion,
workload, priority) plus the split penalty, and the decision that takes one.

The search for the ways a basket can be split is :mod:`optimizer.sourcing.split`; this
module holds :class:`_SplitChoice`, the methods of
:class:`optimizer.sourcing.greedy.GreedySourcing` that price and take a split (mixed
into it: they use its stock, reach and live routes).
"""

from __future__ import annotations

import numpy as np

from optimizer.model import ItemNeeds, Order, Service
from optimizer.sourcing.decisions import DecisionPart, SourcingDecision
from optimizer.sourcing.reach import Stage
from optimizer.sourcing.split import split_candidates

# Splits priced exactly (each parcel's own route insertion) per order, of those the search
# finds, cheapest lower bound first.
SPLITS_PRICED = 4


class _SplitChoice:
    """Pricing and taking splits (a part of :class:`GreedySourcing`)."""

    def _splits(self, order_id: str, rank: np.ndarray, excluded: set[str]) -> list[tuple]:
        """Priced splits of an order's basket, cheapest first: (cost, [(node id, units,
        terms)]). Empty when splitting is off or not worth searching."""
        if not self._splittable(order_id):
            return []
        order = self._order(order_id)
        best = float(rank.min()) if len(rank) else np.inf
        if np.isfinite(best) and self.policy in ("nearest", "cheapest_handling"):
            return []  # the OMS rules split only baskets no node holds whole
        usable = (self.parcel_node_stage[self.reach_row[order_id]] == Stage.FEASIBLE) & (
            self.picks_left > 0
        )
        for node_id in excluded:
            usable[self.node_index[node_id]] = False
        fixed = self._fixed_terms()
        fixed_sum = sum(fixed.values())
        if np.isfinite(best):
            two = np.sort(np.where(usable, fixed_sum, np.inf))[:2]
            if two.sum() + self.split_penalty_eur >= best:
                return []  # even free delivery could not make a split cheaper
        need = self._need(order_id)
        if not usable.any():
            return []
        lightest = min(
            (self.scenario.catalogue[self.skus[k]] for k in np.flatnonzero(need)),
            key=lambda sku: (sku.weight_kg, sku.volume_l),
        )
        bound = fixed_sum + self._part_route(order, lightest.weight_kg, lightest.volume_l, usable)
        found = split_candidates(
            need, self.stock, usable, bound, self.max_split, self.split_penalty_eur
        )
        sizes = {id(part): self._part_size(part) for c in found for _, part in c.parts}
        modes = {id(part): self._part_modes(part) for c in found for _, part in c.parts}
        found = [  # every parcel fits a vehicle of its node allowed at the address
            c
            for c in found
            if all(self._carries(j, order, *sizes[id(p)], modes[id(p)]) for j, p in c.parts)
        ]
        priced = []
        for c, candidate in enumerate(found[:SPLITS_PRICED]):
            parts = []
            for p, (j, part) in enumerate(candidate.parts):
                mask = np.zeros(len(self.node_ids), dtype=bool)
                mask[j] = True
                kg, litres = sizes[id(part)]
                route = self._part_route(
                    order, kg, litres, mask, key=("split", c, p), item_modes=modes[id(part)]
                )
                part_terms = {
                    "handling_eur": float(fixed["handling_eur"][j]),
                    "route_eur": float(route[j]),
                    "workload_eur": float(fixed["workload_eur"][j]),
                    "priority_eur": float(fixed["priority_eur"][j]),
                }
                parts.append((self.node_ids[j], part, part_terms))
            cost = sum(sum(t.values()) for _, _, t in parts)
            priced.append((cost + self.split_penalty_eur * (len(parts) - 1), parts, c))
        priced.sort(key=lambda x: x[0])
        return [x for x in priced if np.isfinite(x[0])]

    def _splittable(self, order_id: str) -> bool:
        """Whether an order may split: delivered, not promised from a node, not a parcel."""
        order = self._order(order_id)
        return not (
            self.max_split < 2
            or order_id in self.parcels
            or order.ship_from_node_id is not None
            or order.service is Service.CLICK_COLLECT
        )

    def _carries(
        self, j: int, order: Order, kg: float, litres: float, item_modes: ItemNeeds | None
    ) -> bool:
        """Whether a vehicle type of node ``j`` may deliver a parcel of this size (and of
        items carried by ``item_modes``) here."""
        carry = (order.service, kg, litres, self.scenario.zones_at(order.lat, order.lon))
        types = self.scenario.vehicle_types
        return any(types[t].may_carry(*carry, item_modes) for t in self.node_types[j])

    def _parcel_reach(self, parcel_id: str) -> np.ndarray:
        """Nodes that could deliver a parcel alone: the rules, its size and its items."""
        order = self._order(parcel_id)
        need = self._need(parcel_id)
        kg, litres = self._part_size(need)
        modes = self._part_modes(need)
        ok = self.parcel_node_stage[self.reach_row[self._parent(parcel_id)]] == Stage.FEASIBLE
        return ok & np.array([self._carries(j, order, kg, litres, modes) for j in range(len(ok))])

    def _fixed_terms(self) -> dict[str, np.ndarray]:
        """The terms of a parcel from each node that do not depend on where it goes."""
        used = 1.0 - self.picks_left / np.maximum(1, self.pick_capacity)
        return {
            "handling_eur": self.handling.astype(float),
            "workload_eur": self.params.workload_eur * used,
            "priority_eur": self.priority.astype(float),
        }

    def _part_size(self, need: np.ndarray) -> tuple[float, float]:
        cat = self.scenario.catalogue
        kg = sum(cat[self.skus[k]].weight_kg * int(need[k]) for k in np.flatnonzero(need))
        litres = sum(cat[self.skus[k]].volume_l * int(need[k]) for k in np.flatnonzero(need))
        return kg, litres

    def _part_modes(self, need: np.ndarray) -> ItemNeeds | None:
        """What a part of the basket needs of its vehicle (modes, crew, equipment; None:
        nothing)."""
        return self.scenario.item_needs(self._lines(need))

    def _part_route(
        self,
        order: Order,
        kg: float,
        litres: float,
        ok: np.ndarray,
        key: tuple | None = None,
        item_modes: ItemNeeds | None = None,
    ) -> np.ndarray:
        """Per node, what delivering a parcel of this size to the order adds to the routes:
        the cheapest insertion (route-aware) where one fits, else the out-and-back
        estimate (the routing engine makes room, as for whole orders)."""
        estimate = self.parcel_delivery_cost[self.reach_row[self._parent(order.order_id)]]
        if self.live is None:
            return np.where(ok, estimate, np.inf)
        inserted = self._insertion_costs(order, kg, litres, ok, key, item_modes)
        return np.where(ok, np.where(np.isfinite(inserted), inserted, estimate), np.inf)

    def _take_split(
        self, order_id: str, splits: list, rank: np.ndarray, terms: dict
    ) -> SourcingDecision:
        _, parts, c = splits[0]
        decision_parts = []
        for k, (node_id, need, part_terms) in enumerate(parts, start=1):
            j = self.node_index[node_id]
            parcel_id = self._new_parcel(order_id, k, j, need)
            self._hold(parcel_id, j)
            self._placed(("split", c, k - 1), parcel_id, j)
            decision_parts.append(
                DecisionPart(
                    parcel_id,
                    node_id,
                    self.parcels[parcel_id].lines,
                    {t: round(v, 4) for t, v in part_terms.items()},
                )
            )
        self._best_rows.clear()
        decision = SourcingDecision(
            order_id=order_id,
            node_id=parts[0][0],
            terms=_total(parts, self.split_penalty_eur),
            policy=self.policy,
            parts=decision_parts,
        )
        j = int(np.argmin(rank))
        if np.isfinite(rank[j]):
            decision.runner_up_node_id = self.node_ids[j]
            decision.runner_up_terms = {k: round(float(v[j]), 4) for k, v in terms.items()}
        elif len(splits) > 1:
            self._runner_up_split(decision, splits[1][1])
        return decision

    def _runner_up_split(self, decision: SourcingDecision, parts: list) -> None:
        """Record a split passed over as the runner-up (its parts have no parcel ids)."""
        decision.runner_up_node_id = parts[0][0]
        decision.runner_up_terms = _total(parts, self.split_penalty_eur)
        decision.runner_up_parts = [
            DecisionPart("", node_id, self._lines(need), {t: round(v, 4) for t, v in pt.items()})
            for node_id, need, pt in parts
        ]


def _total(parts: list, penalty_eur: float) -> dict[str, float]:
    """Terms of a split: each term summed over its parcels, and the split penalty."""
    out: dict[str, float] = {}
    for _, _, terms in parts:
        for k, v in terms.items():
            out[k] = out.get(k, 0.0) + v
    out = {k: round(v, 4) for k, v in out.items()}
    out["split_eur"] = round(penalty_eur * (len(parts) - 1), 4)
    return out
