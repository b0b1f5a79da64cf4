"""First sourcing policy: the cheapest feasible node with the whole basket in stock.

Orders are taken most-constrained first (fewest nodes able to serve them), and stock
and picking capacity are reserved as they go. A node is feasible for an order when one
of its fleet groups could deliver it alone (see :mod:`optimizer.sourcing.reach`); its
cost is the node's handling cost plus the cost of driving there with the cheapest such
vehicle (distance x (cost per km + cost per hour / speed)). Route-aware pricing of what
the order adds to the node's routes is a later policy behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.model import Scenario, Service, Unassigned, UnassignedCode
from optimizer.sourcing.reach import Reach, Stage, compute_reach
from optimizer.travel import TravelProvider

_STAGE_CODE = {
    Stage.NO_ALLOWED_VEHICLE: UnassignedCode.NO_ALLOWED_VEHICLE,
    Stage.TOO_BIG: UnassignedCode.TOO_BIG,
    Stage.OUT_OF_RANGE: UnassignedCode.OUT_OF_RANGE,
    Stage.SLOT_UNREACHABLE: UnassignedCode.SLOT_UNREACHABLE,
}


@dataclass
class SourcingDecision:
    """Why an order ships from ``node_id``: its cost terms and the runner-up's."""

    order_id: str
    node_id: str
    handling_cost_eur: float
    delivery_estimate_eur: float
    runner_up_node_id: str | None = None
    runner_up_cost_eur: float | None = None

    @property
    def cost_eur(self) -> float:
        return self.handling_cost_eur + self.delivery_estimate_eur


@dataclass
class Sourcing:
    decisions: dict[str, SourcingDecision] = field(default_factory=dict)  # to be routed
    collections: dict[str, str] = field(default_factory=dict)  # click & collect -> node
    unassigned: list[Unassigned] = field(default_factory=list)


class GreedySourcing:
    """Assigns orders to nodes, holding the stock and picking capacity left."""

    def __init__(self, scenario: Scenario, travel: TravelProvider):
        self.scenario = sc = scenario
        self.node_ids = list(sc.nodes)
        self.node_index = {n: j for j, n in enumerate(self.node_ids)}
        self.skus = list(sc.catalogue)
        sku_index = {s: k for k, s in enumerate(self.skus)}
        self.stock = np.zeros((len(self.node_ids), len(self.skus)), dtype=np.int64)
        for (node_id, sku), qty in sc.stock.items():
            self.stock[self.node_index[node_id], sku_index[sku]] += qty
        self.initial_stock = self.stock.copy()
        self.picks_left = np.array([sc.nodes[n].pick_capacity_per_day for n in self.node_ids])
        self.handling = np.array([sc.nodes[n].handling_cost_eur for n in self.node_ids])

        self.order_ids = [o.order_id for o in sc.orders]
        self.row = {o: i for i, o in enumerate(self.order_ids)}
        self.basket = np.zeros((len(self.order_ids), len(self.skus)), dtype=np.int64)
        for i, order in enumerate(sc.orders):
            for line in order.lines:
                self.basket[i, sku_index[line.sku]] += line.qty

        delivery_ids = [o.order_id for o in sc.orders if o.service is not Service.CLICK_COLLECT]
        self.reach: Reach = compute_reach(sc, travel, delivery_ids)
        self.reach_row = {o: i for i, o in enumerate(delivery_ids)}
        self.node_stage = self.reach.node_stage(self.node_ids)
        self.delivery_cost = self._delivery_cost_estimates()
        self.held: dict[str, int] = {}  # order -> node index holding its stock

    def _delivery_cost_estimates(self) -> np.ndarray:
        """(O_delivery, N) cost of reaching each customer from each node with its
        cheapest feasible vehicle type; inf where no group of the node is feasible."""
        cost = np.full((len(self.reach.order_ids), len(self.node_ids)), np.inf)
        for g, group in enumerate(self.reach.groups):
            vt = self.scenario.vehicle_types[group.vehicle_type_id]
            per_km = vt.cost_per_km_eur + vt.cost_per_hour_eur / vt.speed_kmh
            c = np.where(
                self.reach.stage[:, g] == Stage.FEASIBLE,
                self.reach.distance_m[:, g] / 1000 * per_km,
                np.inf,
            )
            j = self.node_index[group.node_id]
            cost[:, j] = np.minimum(cost[:, j], c)
        return cost

    # -- assignment ------------------------------------------------------------------

    def assign(self, order_ids: list[str], exclude: dict[str, set[str]] | None = None) -> Sourcing:
        """Source the given orders, most constrained first; ``exclude`` bars nodes per order."""
        exclude = exclude or {}
        result = Sourcing()

        def candidates(order_id: str) -> np.ndarray:
            i = self.row[order_id]
            has_stock = np.all(self.stock >= self.basket[i], axis=1)
            order = self.scenario.orders_by_id[order_id]
            if order.service is Service.CLICK_COLLECT:
                ok = np.zeros(len(self.node_ids), dtype=bool)
                ok[self.node_index[order.collect_node_id]] = True
                ok &= has_stock
            else:
                ok = has_stock & (self.node_stage[self.reach_row[order_id]] == Stage.FEASIBLE)
                if order.ship_from_node_id is not None:
                    ok &= np.arange(len(self.node_ids)) == self.node_index[order.ship_from_node_id]
            for node_id in exclude.get(order_id, ()):
                ok[self.node_index[node_id]] = False
            return ok

        counts = {o: int(candidates(o).sum()) for o in order_ids}
        ordered = sorted(
            order_ids,
            key=lambda o: (counts[o], self.scenario.orders_by_id[o].slot_start_s, self.row[o]),
        )
        for order_id in ordered:
            ok = candidates(order_id) & (self.picks_left > 0)
            order = self.scenario.orders_by_id[order_id]
            if not ok.any():
                result.unassigned.append(self._why_not(order_id, exclude.get(order_id, set())))
                continue
            if order.service is Service.CLICK_COLLECT:
                j = self.node_index[order.collect_node_id]
                self._hold(order_id, j)
                result.collections[order_id] = order.collect_node_id
                continue
            cost = np.where(
                ok, self.handling + self.delivery_cost[self.reach_row[order_id]], np.inf
            )
            ranked = np.argsort(cost, kind="stable")
            j = int(ranked[0])
            runner = int(ranked[1]) if len(ranked) > 1 and np.isfinite(cost[ranked[1]]) else None
            self._hold(order_id, j)
            result.decisions[order_id] = SourcingDecision(
                order_id=order_id,
                node_id=self.node_ids[j],
                handling_cost_eur=float(self.handling[j]),
                delivery_estimate_eur=float(self.delivery_cost[self.reach_row[order_id], j]),
                runner_up_node_id=self.node_ids[runner] if runner is not None else None,
                runner_up_cost_eur=float(cost[runner]) if runner is not None else None,
            )
        return result

    def release(self, order_id: str) -> None:
        """Give back the stock and picking slot an order holds."""
        j = self.held.pop(order_id)
        self.stock[j] += self.basket[self.row[order_id]]
        self.picks_left[j] += 1

    def _hold(self, order_id: str, j: int) -> None:
        self.stock[j] -= self.basket[self.row[order_id]]
        self.picks_left[j] -= 1
        self.held[order_id] = j

    # -- explanations ----------------------------------------------------------------

    def _why_not(self, order_id: str, excluded: set[str]) -> Unassigned:
        sc = self.scenario
        order = sc.orders_by_id[order_id]
        i = self.row[order_id]
        has_stock = np.all(self.stock >= self.basket[i], axis=1)
        if order.service is Service.CLICK_COLLECT:
            j = self.node_index[order.collect_node_id]
            if not has_stock[j]:
                missing = self._missing_lines(i, j)
                return Unassigned(
                    order_id,
                    UnassignedCode.COLLECT_NODE_NO_STOCK,
                    f"collection node {order.collect_node_id} lacks {missing}",
                    order.collect_node_id,
                )
            return Unassigned(
                order_id,
                UnassignedCode.PICK_CAPACITY,
                f"collection node {order.collect_node_id} has no picking capacity left today "
                f"({sc.nodes[order.collect_node_id].pick_capacity_per_day} orders)",
                order.collect_node_id,
            )
        able = (self.node_stage[self.reach_row[order_id]] == Stage.FEASIBLE) & np.array(
            [n not in excluded for n in self.node_ids]
        )
        had_stock = np.all(self.initial_stock >= self.basket[i], axis=1)
        if np.any(able & had_stock & ~has_stock):
            nodes = [j for j in np.flatnonzero(able & had_stock & ~has_stock)]
            return Unassigned(
                order_id,
                UnassignedCode.STOCK_ALLOCATED,
                "the nodes able to deliver it gave the stock to earlier orders: "
                + "; ".join(f"{self.node_ids[j]} lacks {self._missing_lines(i, j)}" for j in nodes),
                self.node_ids[nodes[0]],
            )
        if not has_stock.any():
            return Unassigned(order_id, UnassignedCode.OUT_OF_STOCK, self._stock_story(i))
        stocked = [j for j in np.flatnonzero(has_stock) if self.node_ids[j] not in excluded]
        if not stocked:
            nodes = ", ".join(sorted(excluded))
            return Unassigned(
                order_id,
                UnassignedCode.FLEET_FULL,
                f"the routes of every node with the stock ({nodes}) are full in slot "
                f"{self._slot(order)}",
            )
        stages = self.node_stage[self.reach_row[order_id], stocked]
        best = Stage(int(stages.max()))
        names = ", ".join(self.node_ids[j] for j in stocked)
        if best is Stage.FEASIBLE:
            return Unassigned(
                order_id,
                UnassignedCode.PICK_CAPACITY,
                f"every node with the stock ({names}) has used its picking capacity for the day",
            )
        best_nodes = [self.node_ids[j] for j, s in zip(stocked, stages, strict=True) if s == best]
        return Unassigned(
            order_id, _STAGE_CODE[best], self._stage_story(order, best, best_nodes), best_nodes[0]
        )

    def _missing_lines(self, i: int, j: int) -> str:
        short = np.flatnonzero(self.stock[j] < self.basket[i])
        return ", ".join(
            f"{self.skus[k]} (needs {self.basket[i, k]}, has {max(0, self.stock[j, k])})"
            for k in short
        )

    def _stock_story(self, i: int) -> str:
        total = self.stock.clip(min=0).sum(axis=0)
        short = [k for k in np.flatnonzero(self.basket[i]) if total[k] < self.basket[i, k]]
        if short:
            parts = ", ".join(
                f"{self.skus[k]} x{self.basket[i, k]} ({total[k]} left in all nodes)" for k in short
            )
            return f"out of stock: {parts}"
        return "no single node holds the whole basket (splitting orders is not enabled)"

    def _stage_story(self, order, stage: Stage, nodes: list[str]) -> str:
        sc = self.scenario
        where = ", ".join(nodes)
        rules = [f"inside {z.name} ({z.rule})" for z in sc.zones_at(order.lat, order.lon)]
        if order.service is Service.GREEN:
            rules.append("green service needs a cargo bike or trike")
        if stage is Stage.NO_ALLOWED_VEHICLE:
            return f"no vehicle at {where} may deliver here: {'; '.join(rules) or 'rules'}"
        if stage is Stage.TOO_BIG:
            because = f" ({'; '.join(rules)})" if rules else ""
            return (
                f"basket of {sc.weight_kg(order):.1f} kg / {sc.volume_l(order):.0f} L is larger "
                f"than every vehicle allowed here{because} at {where}"
            )
        if stage is Stage.OUT_OF_RANGE:
            return f"the round trip from {where} is beyond the battery range of its vehicles"
        return (
            f"no shift at {where} can reach the slot {self._slot(order)} and be back before "
            "the shift ends"
        )

    def _slot(self, order) -> str:
        to = self.scenario.settings.to_datetime
        return f"{to(order.slot_start_s):%H:%M}-{to(order.slot_end_s):%H:%M}"
