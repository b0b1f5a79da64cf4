"""Why an order could not be sourced: the :class:`optimizer.model.Unassigned` code and
the sentence a planner reads (no node holds the basket, the stock went to earlier
orders, no vehicle may deliver there, the slot cannot be reached...).

:class:`_Explanations` holds these methods of
:class:`optimizer.sourcing.greedy.GreedySourcing` (mixed into it: they read its stock,
reach and parcels).
"""

from __future__ import annotations

import numpy as np

from optimizer.model import Service, Unassigned, UnassignedCode
from optimizer.sourcing.reach import Stage
from optimizer.sourcing.split import split_candidates

_STAGE_CODE = {
    Stage.NO_ALLOWED_VEHICLE: UnassignedCode.NO_ALLOWED_VEHICLE,
    Stage.TOO_BIG: UnassignedCode.TOO_BIG,
    Stage.OUT_OF_RANGE: UnassignedCode.OUT_OF_RANGE,
    Stage.SLOT_UNREACHABLE: UnassignedCode.SLOT_UNREACHABLE,
}


class _Explanations:
    """Reasons for orders left unassigned (a part of :class:`GreedySourcing`)."""

    def _why_not(self, order_id: str, excluded: set[str]) -> Unassigned:
        sc = self.scenario
        order = self._order(order_id)
        need = self._need(order_id)
        has_stock = np.all(self.stock >= need, axis=1)
        if order.service is Service.CLICK_COLLECT:
            j = self._collect_stock_node(order)
            if not has_stock[j]:
                missing = self._missing_lines(need, j)
                where = f"collection node {order.collect_node_id}"
                if self.node_ids[j] != order.collect_node_id:
                    where = f"shuttle source {self.node_ids[j]} for {where}"
                return Unassigned(
                    order_id,
                    UnassignedCode.COLLECT_NODE_NO_STOCK,
                    f"{where} lacks {missing} (click & collect orders are not split across nodes)",
                    order.collect_node_id,
                )
            return Unassigned(
                order_id,
                UnassignedCode.PICK_CAPACITY,
                f"collection node {order.collect_node_id} has no picking capacity left today "
                f"({sc.nodes[order.collect_node_id].pick_capacity_per_day} orders)",
                order.collect_node_id,
            )
        able = (self.node_stage[self.reach_row[self._parent(order_id)]] == Stage.FEASIBLE) & (
            np.array([n not in excluded for n in self.node_ids])
        )
        had_stock = np.all(self.initial_stock >= need, axis=1)
        if np.any(able & had_stock & ~has_stock):
            nodes = [j for j in np.flatnonzero(able & had_stock & ~has_stock)]
            return Unassigned(
                order_id,
                UnassignedCode.STOCK_ALLOCATED,
                "the nodes able to deliver it gave the stock to earlier orders: "
                + "; ".join(
                    f"{self.node_ids[j]} lacks {self._missing_lines(need, j)}" for j in nodes
                ),
                self.node_ids[nodes[0]],
            )
        if not has_stock.any():
            return self._no_node_holds_it(order_id, need, excluded)
        stocked = [j for j in np.flatnonzero(has_stock) if self.node_ids[j] not in excluded]
        if not stocked:
            nodes = ", ".join(sorted(excluded))
            return Unassigned(
                order_id,
                UnassignedCode.FLEET_FULL,
                f"the routes of every node with the stock ({nodes}) are full in slot "
                f"{self._slot(order)}",
            )
        stages = self.node_stage[self.reach_row[self._parent(order_id)], stocked]
        best = Stage(int(stages.max()))
        names = ", ".join(self.node_ids[j] for j in stocked)
        if best is Stage.FEASIBLE:
            return Unassigned(
                order_id,
                UnassignedCode.PICK_CAPACITY,
                f"every node with the stock ({names}) has used its picking capacity for the day",
            )
        best_nodes = [self.node_ids[j] for j, s in zip(stocked, stages, strict=True) if s == best]
        if best is Stage.NO_ALLOWED_VEHICLE and self._items_bar(order, best_nodes):
            return self._no_vehicle_for_item(order, best_nodes)
        return Unassigned(
            order_id, _STAGE_CODE[best], self._stage_story(order, best, best_nodes), best_nodes[0]
        )

    def _items_bar(self, order, nodes: list[str]) -> bool:
        """Whether the items' needs (modes, crew, equipment) are what bars the order:
        some vehicle type of ``nodes`` may deliver there by the zone and service rules
        alone."""
        sc = self.scenario
        if sc.item_needs(order.lines) is None:
            return False
        zones = sc.zones_at(order.lat, order.lon)
        return any(
            sc.vehicle_types[t].may_serve(order.service, zones)
            for n in nodes
            for t in self.node_types[self.node_index[n]]
        )

    def _no_vehicle_for_item(self, order, nodes: list[str]) -> Unassigned:
        """No vehicle of the modes its items allow, with the crew and equipment they
        need, may deliver there: which SKU goes only by which modes or needs what, what
        the whole fleet lacks, and the other rules at the address."""
        sc = self.scenario
        restricted = [need for line in order.lines for need in _sku_needs(sc, line.sku)]
        needs = sc.item_needs(order.lines)
        types = [sc.vehicle_types[t] for t in {f.vehicle_type_id for f in sc.fleet if f.count}]
        most = max((vt.crew for vt in types), default=0)
        if needs.crew > most:
            restricted.append(
                f"no vehicle of the fleet has a crew of {needs.crew} (at most {most})"
            )
        fitted = frozenset().union(*(vt.equipment for vt in types))
        if needs.equipment - fitted:
            lacking = ", ".join(sorted(needs.equipment - fitted))
            restricted.append(f"no vehicle of the fleet has {lacking}")
        rules = [f"inside {z.name} ({z.rule})" for z in sc.zones_at(order.lat, order.lon)]
        if order.service is Service.GREEN:
            rules.append("green service needs a cargo bike or trike")
        also = f"; {'; '.join(rules)}" if rules else ""
        return Unassigned(
            order.order_id,
            UnassignedCode.NO_VEHICLE_FOR_ITEM,
            f"no vehicle at {', '.join(nodes)} may carry its items here: "
            f"{'; '.join(restricted)}{also}",
            nodes[0],
        )

    def _no_node_holds_it(self, order_id: str, need: np.ndarray, excluded: set[str]) -> Unassigned:
        """No single node holds the basket: out of stock, or why no split serves it."""
        total = self.stock.clip(min=0).sum(axis=0)
        short = [k for k in np.flatnonzero(need) if total[k] < need[k]]
        if short:
            parts = ", ".join(
                f"{self.skus[k]} x{need[k]} ({total[k]} left in all nodes)" for k in short
            )
            return Unassigned(order_id, UnassignedCode.OUT_OF_STOCK, f"out of stock: {parts}")
        if self.max_split < 2 or order_id in self.parcels:
            what = "parcel" if order_id in self.parcels else "basket"
            why = (
                "a parcel is not split again"
                if order_id in self.parcels
                else "max_split is 1: baskets are not split"
            )
            return Unassigned(
                order_id,
                UnassignedCode.OUT_OF_STOCK,
                f"no single node holds the whole {what} ({why}); "
                + self._holders(need, np.ones(len(self.node_ids), dtype=bool)),
            )
        order = self._order(order_id)
        if order.ship_from_node_id is not None:
            return Unassigned(
                order_id,
                UnassignedCode.OUT_OF_STOCK,
                f"it was promised from {order.ship_from_node_id}, which lacks "
                + self._missing_lines(need, self.node_index[order.ship_from_node_id]),
                order.ship_from_node_id,
            )
        able = (self.parcel_node_stage[self.reach_row[order_id]] == Stage.FEASIBLE) & np.array(
            [node_id not in excluded for node_id in self.node_ids]
        )
        zero = np.zeros(len(self.node_ids))
        n = self.max_split
        if split_candidates(need, self.stock, able, zero, n, 0.0):
            return Unassigned(
                order_id,
                UnassignedCode.PICK_CAPACITY,
                f"the nodes that hold the basket between them in up to {n} parcels have "
                "used their picking capacity for the day",
            )
        if split_candidates(need, self.initial_stock, able, zero, n, 0.0):
            return Unassigned(
                order_id,
                UnassignedCode.STOCK_ALLOCATED,
                f"the nodes able to deliver it held the basket between them in up to {n} "
                "parcels, but gave the stock to earlier orders; now " + self._holders(need, able),
            )
        return Unassigned(
            order_id,
            UnassignedCode.OUT_OF_STOCK,
            f"no {n} nodes able to deliver here hold the basket between them (max_split "
            f"{n}); " + self._holders(need, able),
        )

    def _holders(self, need: np.ndarray, nodes: np.ndarray) -> str:
        """Which of ``nodes`` hold each line of a basket, for a planner."""
        out = []
        for k in np.flatnonzero(need):
            held = [self.node_ids[j] for j in np.flatnonzero(nodes & (self.stock[:, k] >= need[k]))]
            out.append(f"{self.skus[k]} x{need[k]} at {', '.join(held) or 'none of them'}")
        return "; ".join(out)

    def _missing_lines(self, need: np.ndarray, j: int) -> str:
        short = np.flatnonzero(self.stock[j] < need)
        return ", ".join(
            f"{self.skus[k]} (needs {need[k]}, has {max(0, self.stock[j, k])})" for k in short
        )

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


def _sku_needs(sc, sku_id: str) -> list[str]:
    """What one SKU asks of its vehicle, in words: its modes, its crew, its equipment."""
    sku = sc.catalogue[sku_id]
    out = [f"{sku_id} only by {', '.join(sorted(sku.modes))}"] if sku.modes is not None else []
    if sku.crew > 1:
        out.append(f"{sku_id} needs a crew of {sku.crew}")
    if sku.equipment:
        out.append(f"{sku_id} needs {', '.join(sorted(sku.equipment))}")
    return out
