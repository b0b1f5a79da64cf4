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

from dataclasses import replace

import numpy as np

from optimizer.insertion import LiveRoutes, LiveStop
from optimizer.model import ItemNeeds, Order, OrderLine, Parcel, Scenario, Service
from optimizer.sourcing.decisions import (
    POLICIES,
    DecisionPart,
    Sourcing,
    SourcingDecision,
    SourcingParams,
)
from optimizer.sourcing.parcels import _SplitChoice
from optimizer.sourcing.reach import Reach, Stage, compute_reach
from optimizer.sourcing.shared import shared_route_costs
from optimizer.sourcing.unassigned import _Explanations
from optimizer.travel import TravelProvider

__all__ = [
    "POLICIES",
    "DecisionPart",
    "GreedySourcing",
    "Sourcing",
    "SourcingDecision",
    "SourcingParams",
]

# What a node "holds" of a made-to-order SKU (``Scenario.lead_time_days``): more than any
# day sells, so its goods never limit the node choice.
MADE_TO_ORDER_UNITS = 10**9


class GreedySourcing(_SplitChoice, _Explanations):
    """Assigns orders to nodes, holding the stock and picking capacity left.

    Its methods are grouped by concern: splits are priced and taken in
    :mod:`optimizer.sourcing.parcels`, the reasons for orders left unassigned are told in
    :mod:`optimizer.sourcing.unassigned`."""

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
        # Made-to-order goods (a lead time at the node) are made for each order: never short.
        for j, node_id in enumerate(self.node_ids):
            for k, sku in enumerate(self.skus):
                if sc.lead_time_days(node_id, sku) is not None:
                    self.stock[j, k] = MADE_TO_ORDER_UNITS
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
        # Parcels of split orders: reach and estimates whatever their size, which is
        # checked per parcel against the vehicle types of each node (``_carries``).
        self.parcel_node_stage = self.reach.node_stage(self.node_ids, parcel=True)
        if params.policy == "shared_route":
            self.delivery_cost = shared_route_costs(sc, self.reach, self.node_ids)
            self.parcel_delivery_cost = shared_route_costs(
                sc, self.reach, self.node_ids, self.reach.parcel_stage
            )
        else:
            self.delivery_cost = self._delivery_cost_estimates(self.reach.stage)
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
        ordered, deferred = self._sourcing_order(order_ids, exclude)
        for order_id in ordered:
            ok = self._candidates(order_id, exclude) & (self.picks_left > 0)
            if not ok.any() and order_id not in deferred and self._splittable(order_id):
                deferred.add(order_id)
                ordered.append(order_id)  # after the orders still served whole
                continue
            if self._order(order_id).service is Service.CLICK_COLLECT:
                self._assign_collection(order_id, ok, exclude, result)
            else:
                self._assign_delivery(order_id, ok, exclude, result)
        return result

    def _sourcing_order(
        self, order_ids: list[str], exclude: dict[str, set[str]]
    ) -> tuple[list[str], set[str]]:
        """The orders in the order they are sourced, and those deferred from the start."""
        counts = {o: int(self._candidates(o, exclude).sum()) for o in order_ids}
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
        return ordered, {o for o in ordered if counts[o] == 0}

    def _barred(self, unit_id: str, exclude: dict[str, set[str]]) -> set[str]:
        """Nodes an order or parcel may not ship from: excluded, or holding a sibling."""
        nodes = set(exclude.get(unit_id, ()))
        return nodes | {self.parcels[p].node_id for p in self.siblings(unit_id)}

    def _reachable(self, unit_id: str, exclude: dict[str, set[str]]) -> np.ndarray:
        """Per node, whether it could deliver the order (or parcel) alone, and may."""
        order = self._order(unit_id)
        if unit_id in self.parcels:
            ok = self._parcel_reach(unit_id)
        else:
            ok = self.node_stage[self.reach_row[unit_id]] == Stage.FEASIBLE
        if order.ship_from_node_id is not None:
            ok &= np.arange(len(self.node_ids)) == self.node_index[order.ship_from_node_id]
        for node_id in self._barred(unit_id, exclude):
            ok[self.node_index[node_id]] = False
        return ok

    def _candidates(self, unit_id: str, exclude: dict[str, set[str]]) -> np.ndarray:
        """Per node, whether it holds the basket and may serve it (picking aside)."""
        has_stock = np.all(self.stock >= self._need(unit_id), axis=1)
        order = self._order(unit_id)
        if order.service is Service.CLICK_COLLECT:  # never a parcel: not split
            j = self._collect_stock_node(order)
            ok = np.zeros(len(self.node_ids), dtype=bool)
            ok[j] = has_stock[j] or self._inbound_covers(order, self.row[unit_id], j)
            for node_id in exclude.get(unit_id, ()):
                ok[self.node_index[node_id]] = False
            return ok
        return has_stock & self._reachable(unit_id, exclude)

    def _assign_collection(
        self, order_id: str, ok: np.ndarray, exclude: dict[str, set[str]], result: Sourcing
    ) -> None:
        """A click & collect order: its stock held where it is collected (or shuttled
        from), or the reason it cannot be."""
        order = self._order(order_id)
        if not ok.any():
            result.unassigned.append(self._why_not(order_id, exclude.get(order_id, set())))
            return
        j = self._collect_stock_node(order)
        self._hold(order_id, j)
        result.collections[order_id] = order.collect_node_id

    def _assign_delivery(
        self, order_id: str, ok: np.ndarray, exclude: dict[str, set[str]], result: Sourcing
    ) -> None:
        """A delivered order: the best-ranked node, or a split when cheaper (or when no
        single node can), or the reason it cannot be sourced."""
        terms = self._terms(order_id, ok) if ok.any() else {}
        rank = self._rank(terms, order_id, ok) if ok.any() else np.full(len(ok), np.inf)
        ranked = np.argsort(rank, kind="stable")
        splits = self._splits(order_id, rank, self._barred(order_id, exclude))
        best = float(rank[ranked[0]])
        if splits and (
            not np.isfinite(best)
            or (self.policy in ("route_aware", "estimate", "shared_route") and splits[0][0] < best)
        ):
            result.decisions[order_id] = self._take_split(order_id, splits, rank, terms)
            return
        if not ok.any():
            result.unassigned.append(self._why_not(order_id, self._barred(order_id, exclude)))
            self._best_rows.clear()
            return
        j = int(ranked[0])
        runner = int(ranked[1]) if len(ranked) > 1 and np.isfinite(rank[ranked[1]]) else None
        self._hold(order_id, j)
        self._placed(order_id, order_id, j)
        self._best_rows.clear()
        result.decisions[order_id] = self._whole_decision(order_id, j, runner, terms, splits)

    def _whole_decision(
        self, order_id: str, j: int, runner: int | None, terms: dict, splits: list
    ) -> SourcingDecision:
        """The decision to ship an order whole from node ``j``, with the runner-up (a node,
        or the split it passed over)."""
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
        return decision

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
            sc = self.scenario
            size = sc.weight_kg(order), sc.volume_l(order)
            needs = sc.item_needs(order.lines)
            terms["route_eur"] = self._insertion_costs(order, *size, ok, order_id, needs)
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
        self,
        order: Order,
        weight: float,
        volume: float,
        ok: np.ndarray,
        key,
        item_modes: ItemNeeds | None = None,
    ) -> np.ndarray:
        """Per node, the cheapest insertion of a stop for the order (or a parcel of it,
        of ``weight``/``volume`` and what its items need, ``item_modes``: modes, crew,
        equipment) into the routes built so far."""
        sc, live = self.scenario, self.live
        zones = sc.zones_at(order.lat, order.lon)
        carry = (order.service, weight, volume, zones, item_modes)
        allowed = ok[self.vehicle_node] & np.array(
            [vt.may_carry(*carry) for vt in live.vehicle_types]
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
