"""Node choice: each order goes to the node that serves it cheapest, with stock.

Orders are taken most-constrained first (fewest nodes able to serve them); stock and
picking capacity are reserved as they go. A node is a candidate when it holds the whole
basket, has picking left, and one of its fleet groups could deliver the order alone
(see :mod:`optimizer.sourcing.reach`). Policies rank the candidates (see
:class:`SourcingParams`): ``route_aware`` prices what the order adds to the node's
routes as they are being built (cheapest insertion into the live routes of
:mod:`optimizer.insertion`); the others are the order-management-system
baselines it is measured against. Every decision keeps its cost terms and the
runner-up's, for ``plan.json``.

A delivered basket may also split across up to ``max_split`` nodes, one parcel each
(:mod:`optimizer.sourcing.split`): each parcel is priced like an order of its own (its
node's handling, its own route insertion, workload, priority) plus a split penalty per
extra parcel, and a split is chosen only when it is cheaper than every single node (so
in practice when no single node holds the basket, or only a far one does). Click &
collect orders are never split: the customer collects one order at one store, and
bringing the missing lines there is a stock transfer, another feature. Orders promised
from a node (``ship_from_node_id``) are not split either.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.insertion import LiveRoutes, LiveStop
from optimizer.model import (
    Order,
    OrderLine,
    Parcel,
    Scenario,
    Service,
    Unassigned,
    UnassignedCode,
)
from optimizer.sourcing.reach import Reach, Stage, compute_reach
from optimizer.sourcing.split import split_candidates
from optimizer.travel import TravelProvider

_STAGE_CODE = {
    Stage.NO_ALLOWED_VEHICLE: UnassignedCode.NO_ALLOWED_VEHICLE,
    Stage.TOO_BIG: UnassignedCode.TOO_BIG,
    Stage.OUT_OF_RANGE: UnassignedCode.OUT_OF_RANGE,
    Stage.SLOT_UNREACHABLE: UnassignedCode.SLOT_UNREACHABLE,
}


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
        (handling + an out-and-back delivery estimate).
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


POLICIES = ("route_aware", "nearest", "cheapest_handling", "estimate")
# Splits priced exactly (each parcel's own route insertion) per order, of those the search
# finds, cheapest lower bound first.
SPLITS_PRICED = 4


class GreedySourcing:
    """Assigns orders to nodes, holding the stock and picking capacity left."""

    def __init__(
        self, scenario: Scenario, travel: TravelProvider, params: SourcingParams | None = None
    ):
        self.params = params = params or SourcingParams()
        self.policy = params.policy
        self.scenario = sc = scenario
        self.max_split = params.max_split or sc.settings.max_split
        self.split_penalty_eur = (
            sc.settings.split_penalty_eur
            if params.split_penalty_eur is None
            else params.split_penalty_eur
        )
        self.node_ids = list(sc.nodes)
        self.node_index = {n: j for j, n in enumerate(self.node_ids)}
        self.skus = list(sc.catalogue)
        self.sku_index = sku_index = {s: k for k, s in enumerate(self.skus)}
        self.stock = np.zeros((len(self.node_ids), len(self.skus)), dtype=np.int64)
        for (node_id, sku), qty in sc.stock.items():
            self.stock[self.node_index[node_id], sku_index[sku]] += qty
        self.initial_stock = self.stock.copy()
        # Inbound deliveries: a click & collect at their node may wait for them.
        self.inbound = [(self.node_index[i.node_id], sku_index[i.sku], i.qty, i.arrives_at_s)
                        for i in sc.inbound]  # fmt: skip
        self.pick_capacity = np.array([sc.nodes[n].pick_capacity_per_day for n in self.node_ids])
        self.picks_left = self.pick_capacity.copy()
        self.priority = np.array([params.node_priority_eur.get(n, 0.0) for n in self.node_ids])
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
        self.delivery_cost = self._delivery_cost_estimates(self.reach.stage)
        # Parcels of split orders: reach and estimates whatever their size, which is
        # checked per parcel against the vehicle types of each node (``_carries``).
        self.parcel_node_stage = self.reach.node_stage(self.node_ids, parcel=True)
        self.parcel_delivery_cost = self._delivery_cost_estimates(self.reach.parcel_stage)
        self.node_types = [set() for _ in self.node_ids]
        for group in self.reach.groups:
            self.node_types[self.node_index[group.node_id]].add(group.vehicle_type_id)
        self.distance_m = self._nearest_distances()
        self.held: dict[str, int] = {}  # order or parcel -> node index holding its stock
        # Parts of split orders: by parcel id, the parcel, its order-like view for routing
        # (the parent order with the part's lines) and its units per SKU.
        self.parcels: dict[str, Parcel] = {}
        self.parcel_orders: dict[str, Order] = {}
        self.parcel_need: dict[str, np.ndarray] = {}
        # Route-aware: the routes as they are being built, one stop per sourced order.
        self.live: LiveRoutes | None = None
        self.placed_on: dict[str, str] = {}
        self._best_rows: dict[str, tuple] = {}
        if params.policy == "route_aware":
            self.live = LiveRoutes(scenario, travel)
            self.live_ids = list(self.live.vehicles)
            self.vehicle_node = np.array(
                [self.node_index[self.live.vehicles[v].node.node_id] for v in self.live_ids]
            )
            self.live.amortize_stops = self._expected_stops()

    def _delivery_cost_estimates(self, stage: np.ndarray) -> np.ndarray:
        """(O_delivery, N) cost of reaching each customer from each node with its
        cheapest feasible vehicle type; inf where no group of the node is feasible."""
        cost = np.full((len(self.reach.order_ids), len(self.node_ids)), np.inf)
        for g, group in enumerate(self.reach.groups):
            vt = self.scenario.vehicle_types[group.vehicle_type_id]
            per_km = vt.cost_per_km_eur + vt.cost_per_hour_eur / vt.speed_kmh
            c = np.where(
                stage[:, g] == Stage.FEASIBLE,
                self.reach.distance_m[:, g] / 1000 * per_km,
                np.inf,
            )
            j = self.node_index[group.node_id]
            cost[:, j] = np.minimum(cost[:, j], c)
        return cost

    def _expected_stops(self) -> np.ndarray:
        """Stops a route of each vehicle is expected to carry: what fits its capacity
        with the day's average basket, and its shift at ~10 minutes a stop, at least 1."""
        sc = self.scenario
        delivery = [o for o in sc.orders if o.service is not Service.CLICK_COLLECT]
        kg = np.mean([sc.weight_kg(o) for o in delivery]) if delivery else 1.0
        litres = np.mean([sc.volume_l(o) for o in delivery]) if delivery else 1.0
        out = []
        for vehicle_id in self.live_ids:
            v = self.live.vehicles[vehicle_id]
            vt = v.vehicle_type
            shift_h = max(0.0, (v.vehicle.shift_end_s - v.earliest_start_s) / 3600)
            out.append(max(1.0, min(vt.capacity_kg / kg, vt.capacity_l / litres, 6 * shift_h)))
        return np.array(out)

    def _nearest_distances(self) -> np.ndarray:
        """(O_delivery, N) one-way distance from each node by its feasible groups."""
        out = np.full((len(self.reach.order_ids), len(self.node_ids)), np.inf)
        for g, group in enumerate(self.reach.groups):
            d = np.where(
                self.reach.stage[:, g] == Stage.FEASIBLE, self.reach.distance_m[:, g], np.inf
            )
            j = self.node_index[group.node_id]
            out[:, j] = np.minimum(out[:, j], d)
        return out

    # -- orders and parcels ------------------------------------------------------------

    def _order(self, unit_id: str) -> Order:
        """The order, or for a parcel of a split order its order-like view."""
        return self.parcel_orders.get(unit_id) or self.scenario.orders_by_id[unit_id]

    def _need(self, unit_id: str) -> np.ndarray:
        """Units per SKU of an order's basket or of a parcel."""
        if unit_id in self.parcel_need:
            return self.parcel_need[unit_id]
        return self.basket[self.row[unit_id]]

    def _parent(self, unit_id: str) -> str:
        parcel = self.parcels.get(unit_id)
        return parcel.order_id if parcel else unit_id

    def _lines(self, need: np.ndarray) -> tuple[OrderLine, ...]:
        return tuple(OrderLine(self.skus[k], int(need[k])) for k in np.flatnonzero(need))

    def _new_parcel(self, order_id: str, k: int, j: int, need: np.ndarray) -> str:
        """Register part ``k`` (1-based) of a split order: ``ORDER/k``, unique."""
        parcel_id = f"{order_id}/{k}"
        while parcel_id in self.scenario.orders_by_id or parcel_id in self.parcels:
            parcel_id += "'"  # an order id that already looks like a parcel id
        lines = self._lines(need)
        self.parcels[parcel_id] = Parcel(parcel_id, order_id, self.node_ids[j], lines)
        self.parcel_orders[parcel_id] = replace(
            self.scenario.orders_by_id[order_id], order_id=parcel_id, lines=lines
        )
        self.parcel_need[parcel_id] = need
        return parcel_id

    def siblings(self, parcel_id: str) -> list[str]:
        """The other parcels of a parcel's order."""
        order_id = self._parent(parcel_id)
        return [p for p, x in self.parcels.items() if x.order_id == order_id and p != parcel_id]

    def forget(self, order_id: str) -> None:
        """Drop the parcels of a split order (their stock must be released first)."""
        for parcel_id in [p for p, x in self.parcels.items() if x.order_id == order_id]:
            del self.parcels[parcel_id], self.parcel_orders[parcel_id]
            del self.parcel_need[parcel_id]

    # -- assignment ------------------------------------------------------------------

    def assign(self, order_ids: list[str], exclude: dict[str, set[str]] | None = None) -> Sourcing:
        """Source the given orders, most constrained first; ``exclude`` bars nodes per order.

        An id may also be a parcel of a split order whose route dropped it: it is sourced
        again as a whole parcel, from a node holding none of its order's other parcels.
        """
        exclude = exclude or {}
        result = Sourcing()

        def barred(unit_id: str) -> set[str]:
            nodes = set(exclude.get(unit_id, ()))
            return nodes | {self.parcels[p].node_id for p in self.siblings(unit_id)}

        def reachable(unit_id: str) -> np.ndarray:
            order = self._order(unit_id)
            if unit_id in self.parcels:
                ok = self._parcel_reach(unit_id)
            else:
                ok = self.node_stage[self.reach_row[unit_id]] == Stage.FEASIBLE
            if order.ship_from_node_id is not None:
                ok &= np.arange(len(self.node_ids)) == self.node_index[order.ship_from_node_id]
            for node_id in barred(unit_id):
                ok[self.node_index[node_id]] = False
            return ok

        def candidates(unit_id: str) -> np.ndarray:
            has_stock = np.all(self.stock >= self._need(unit_id), axis=1)
            order = self._order(unit_id)
            if order.service is Service.CLICK_COLLECT:  # never a parcel: not split
                j = self._collect_stock_node(order)
                ok = np.zeros(len(self.node_ids), dtype=bool)
                ok[j] = has_stock[j] or self._inbound_covers(order, self.row[unit_id], j)
                for node_id in exclude.get(unit_id, ()):
                    ok[self.node_index[node_id]] = False
                return ok
            return has_stock & reachable(unit_id)

        counts = {o: int(candidates(o).sum()) for o in order_ids}
        # Most constrained first, but baskets no node holds whole (any more) last: a split
        # never takes the stock an order one node could serve whole needs.
        ordered = sorted(
            order_ids,
            key=lambda o: (
                counts[o] == 0,
                counts[o],
                self._order(o).slot_start_s,
                self.row[self._parent(o)],
            ),
        )
        deferred: set[str] = {o for o in ordered if counts[o] == 0}
        for order_id in ordered:
            ok = candidates(order_id) & (self.picks_left > 0)
            order = self._order(order_id)
            if not ok.any() and order_id not in deferred and self._splittable(order_id):
                deferred.add(order_id)
                ordered.append(order_id)  # after the orders still served whole
                continue
            if order.service is Service.CLICK_COLLECT:
                if not ok.any():
                    result.unassigned.append(self._why_not(order_id, exclude.get(order_id, set())))
                    continue
                j = self._collect_stock_node(order)
                self._hold(order_id, j)
                result.collections[order_id] = order.collect_node_id
                continue
            terms = self._terms(order_id, ok) if ok.any() else {}
            rank = self._rank(terms, order_id, ok) if ok.any() else np.full(len(ok), np.inf)
            ranked = np.argsort(rank, kind="stable")
            splits = self._splits(order_id, rank, barred(order_id))
            best = float(rank[ranked[0]])
            if splits and (
                not np.isfinite(best)
                or (self.policy in ("route_aware", "estimate") and splits[0][0] < best)
            ):
                result.decisions[order_id] = self._take_split(order_id, splits, rank, terms)
                continue
            if not ok.any():
                result.unassigned.append(self._why_not(order_id, barred(order_id)))
                self._best_rows.clear()
                continue
            j = int(ranked[0])
            runner = int(ranked[1]) if len(ranked) > 1 and np.isfinite(rank[ranked[1]]) else None
            self._hold(order_id, j)
            self._placed(order_id, order_id, j)
            self._best_rows.clear()
            decision = SourcingDecision(
                order_id=order_id,
                node_id=self.node_ids[j],
                terms={k: round(float(v[j]), 4) for k, v in terms.items()},
                runner_up_node_id=self.node_ids[runner] if runner is not None else None,
                runner_up_terms=(
                    None
                    if runner is None
                    else {k: round(float(v[runner]), 4) for k, v in terms.items()}
                ),
                policy=self.policy,
            )
            if runner is None and splits:  # the split it passed over
                self._runner_up_split(decision, splits[0][1])
            result.decisions[order_id] = decision
        return result

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
        found = [  # every parcel fits a vehicle of its node allowed at the address
            c for c in found if all(self._carries(j, order, *sizes[id(p)]) for j, p in c.parts)
        ]
        priced = []
        for c, candidate in enumerate(found[:SPLITS_PRICED]):
            parts = []
            for p, (j, part) in enumerate(candidate.parts):
                mask = np.zeros(len(self.node_ids), dtype=bool)
                mask[j] = True
                kg, litres = sizes[id(part)]
                route = self._part_route(order, kg, litres, mask, key=("split", c, p))
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

    def _carries(self, j: int, order: Order, kg: float, litres: float) -> bool:
        """Whether a vehicle type of node ``j`` may deliver a parcel of this size here."""
        zones = self.scenario.zones_at(order.lat, order.lon)
        types = self.scenario.vehicle_types
        return any(types[t].may_carry(order.service, kg, litres, zones) for t in self.node_types[j])

    def _parcel_reach(self, parcel_id: str) -> np.ndarray:
        """Nodes that could deliver a parcel alone: the rules, and its size."""
        order = self._order(parcel_id)
        kg, litres = self._part_size(self._need(parcel_id))
        ok = self.parcel_node_stage[self.reach_row[self._parent(parcel_id)]] == Stage.FEASIBLE
        return ok & np.array([self._carries(j, order, kg, litres) for j in range(len(ok))])

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

    def _part_route(
        self, order: Order, kg: float, litres: float, ok: np.ndarray, key: tuple | None = None
    ) -> np.ndarray:
        """Per node, what delivering a parcel of this size to the order adds to the routes:
        the cheapest insertion (route-aware) where one fits, else the out-and-back
        estimate (the routing engine makes room, as for whole orders)."""
        estimate = self.parcel_delivery_cost[self.reach_row[self._parent(order.order_id)]]
        if self.live is None:
            return np.where(ok, estimate, np.inf)
        inserted = self._insertion_costs(order, kg, litres, ok, key)
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

    # -- scoring -----------------------------------------------------------------------

    def _terms(self, order_id: str, ok: np.ndarray) -> dict[str, np.ndarray]:
        """Cost terms (EUR) of shipping the order from each node; inf where not ok."""
        r = self.reach_row[self._parent(order_id)]
        used = 1.0 - self.picks_left / np.maximum(1, self.pick_capacity)
        estimates = self.parcel_delivery_cost if order_id in self.parcels else self.delivery_cost
        terms = {
            "handling_eur": self.handling.astype(float),
            "route_eur": estimates[r].copy(),
            "workload_eur": self.params.workload_eur * used,
            "priority_eur": self.priority,
        }
        if self.live is not None:
            order = self._order(order_id)
            terms["route_eur"] = self._insertion_costs(
                order, self.scenario.weight_kg(order), self.scenario.volume_l(order), ok, order_id
            )
        return {k: np.where(ok, v, np.inf) for k, v in terms.items()}

    def _rank(self, terms: dict[str, np.ndarray], order_id: str, ok: np.ndarray) -> np.ndarray:
        if self.policy == "nearest":
            return np.where(ok, self.distance_m[self.reach_row[self._parent(order_id)]], np.inf)
        if self.policy == "cheapest_handling":
            return terms["handling_eur"] + 1e-6 * terms["route_eur"]  # distance breaks ties
        total = sum(terms.values())
        if self.policy == "route_aware" and not np.isfinite(total).any():
            # No node's routes, as built so far, take it: fall back to the estimate and
            # let the routing engine find room by re-optimising.
            estimates = (
                self.parcel_delivery_cost if order_id in self.parcels else self.delivery_cost
            )
            terms["route_eur"] = np.where(
                ok, estimates[self.reach_row[self._parent(order_id)]], np.inf
            )
            total = sum(terms.values())
        return total

    def _insertion_costs(
        self, order: Order, weight: float, volume: float, ok: np.ndarray, key
    ) -> np.ndarray:
        """Per node, the cheapest insertion of a stop for the order (or a parcel of it,
        of ``weight``/``volume``) into the routes built so far."""
        sc, live = self.scenario, self.live
        zones = sc.zones_at(order.lat, order.lon)
        allowed = ok[self.vehicle_node] & np.array(
            [vt.may_carry(order.service, weight, volume, zones) for vt in live.vehicle_types]
        )
        out = np.full(len(self.node_ids), np.inf)
        if not allowed.any():
            return out
        table = live.insertion_table(
            order.lat, order.lon, order.service_time_s, weight, volume, allowed
        )
        begin = np.maximum(table["arrive"], order.slot_start_s)
        fits = (begin <= order.slot_end_s) & (begin <= table["latest_x"])
        cost = table["cost"] + table["per_s_eur"] * live._span_beyond_detour(
            table, begin, order.slot_end_s
        )
        np.minimum.at(out, self.vehicle_node[table["vehicle"][fits]], cost[fits])
        if key is not None:
            self._best_rows[key] = (table, fits, cost)
        return out

    def _placed(self, key, unit_id: str, j: int) -> None:
        """Route-aware: put the order (or parcel) into the chosen node's routes as they are
        built, where its insertion under ``key`` was priced."""
        if self.live is None:
            return
        found = self._best_rows.pop(key, None)
        if found is None:
            return
        table, fits, cost = found
        mine = fits & (self.vehicle_node[table["vehicle"]] == j)
        if not mine.any():
            return  # taken on the estimate: the routing engine will make room
        k = int(np.flatnonzero(mine)[np.argmin(cost[mine])])
        vehicle_id = self.live_ids[int(table["vehicle"][k])]
        position = int(self.live.gaps()["position"][table["row"][k]])
        order = self._order(unit_id)
        self.live.insert(vehicle_id, position, LiveStop(
            key=unit_id, lat=order.lat, lon=order.lon, tw_start_s=order.slot_start_s,
            tw_end_s=order.slot_end_s, service_s=order.service_time_s,
            weight_kg=self.scenario.weight_kg(order), volume_l=self.scenario.volume_l(order),
            green=order.service is Service.GREEN,
        ))  # fmt: skip
        self.placed_on[unit_id] = vehicle_id

    def release(self, order_id: str) -> None:
        """Give back the stock and picking slot an order or parcel holds (and its place on
        a route)."""
        j = self.held.pop(order_id)
        if self.live is not None and self.placed_on.pop(order_id, None) is not None:
            self.live.remove(order_id)
        self.stock[j] += self._need(order_id)
        self.picks_left[j] += 1

    def hold(self, order_id: str, node_id: str) -> None:
        """Take an order's stock and picking at a node (the caller checked it is there)."""
        self._hold(order_id, self.node_index[node_id])

    def decision(
        self, order_id: str, node_id: str, runner_up: str | None, policy: str
    ) -> SourcingDecision:
        """A decision made elsewhere (e.g. by the routing engine), explained with the
        same terms: handling and the out-and-back estimate of each node."""
        r = self.reach_row[order_id]

        def terms(node: str) -> dict[str, float]:
            j = self.node_index[node]
            return {
                "handling_eur": float(self.handling[j]),
                "route_eur": round(float(self.delivery_cost[r, j]), 4),
                "workload_eur": 0.0,
                "priority_eur": float(self.priority[j]),
            }

        return SourcingDecision(
            order_id=order_id,
            node_id=node_id,
            terms=terms(node_id),
            runner_up_node_id=runner_up,
            runner_up_terms=terms(runner_up) if runner_up else None,
            policy=policy,
        )

    def _collect_stock_node(self, order) -> int:
        """Where a click & collect order's stock is: its store, or the node the store
        shuttle brings it from (``ship_from_node_id``, a transfer)."""
        return self.node_index[order.ship_from_node_id or order.collect_node_id]

    def _inbound_covers(self, order, i: int, j: int) -> bool:
        """At its own store, stock plus the inbound deliveries there by the time the order
        must be ready cover the basket (what is left of them after earlier holds)."""
        if order.ship_from_node_id not in (None, order.collect_node_id):
            return False
        arrived = self.stock[j].copy()
        for node, k, qty, at in self.inbound:
            if node == j and at <= order.slot_start_s:
                arrived[k] += qty
        return bool(np.all(arrived >= self.basket[i]))

    def _hold(self, order_id: str, j: int) -> None:
        self.stock[j] -= self._need(order_id)
        self.picks_left[j] -= 1
        self.held[order_id] = j
        parcel = self.parcels.get(order_id)
        if parcel is not None and parcel.node_id != self.node_ids[j]:
            self.parcels[order_id] = replace(parcel, node_id=self.node_ids[j])

    # -- explanations ----------------------------------------------------------------

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
        return Unassigned(
            order_id, _STAGE_CODE[best], self._stage_story(order, best, best_nodes), best_nodes[0]
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


def _total(parts: list, penalty_eur: float) -> dict[str, float]:
    """Terms of a split: each term summed over its parcels, and the split penalty."""
    out: dict[str, float] = {}
    for _, _, terms in parts:
        for k, v in terms.items():
            out[k] = out.get(k, 0.0) + v
    out = {k: round(v, 4) for k, v in out.items()}
    out["split_eur"] = round(penalty_eur * (len(parts) - 1), 4)
    return out
