"""Node choice: each order goes to the node that serves it cheapest, with stock.

Orders are taken most-constrained first (fewest nodes able to serve them); stock and
picking capacity are reserved as they go. A node is a candidate when it holds the whole
basket, has picking left, and one of its fleet groups could deliver the order alone
(see :mod:`optimizer.sourcing.reach`). Policies rank the candidates (see
:class:`SourcingParams`): ``route_aware`` prices what the order adds to the node's
routes as they are being built (cheapest insertion into the live routes of
:mod:`optimizer.promise.live_routes`); the others are the order-management-system
baselines it is measured against. Every decision keeps its cost terms and the
runner-up's, for ``plan.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.model import Scenario, Service, Unassigned, UnassignedCode
from optimizer.promise.live_routes import LiveRoutes, LiveStop
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
    """Why an order ships from ``node_id``: its cost terms and the runner-up's.

    Terms are in euros: ``handling_eur`` (the node's picking and packing), ``route_eur``
    (what delivering it adds to the node's routes: the cheapest insertion for the
    route-aware policy, an out-and-back estimate otherwise), ``workload_eur`` (the share
    of the node's picking capacity already used, priced), ``priority_eur`` (a planner's
    surcharge on a node, e.g. to protect a busy store).
    """

    order_id: str
    node_id: str
    terms: dict[str, float]
    runner_up_node_id: str | None = None
    runner_up_terms: dict[str, float] | None = None
    policy: str = "route_aware"

    @property
    def cost_eur(self) -> float:
        return sum(self.terms.values())

    @property
    def runner_up_cost_eur(self) -> float | None:
        return None if self.runner_up_terms is None else sum(self.runner_up_terms.values())


@dataclass
class Sourcing:
    decisions: dict[str, SourcingDecision] = field(default_factory=dict)  # to be routed
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
    """

    policy: str = "route_aware"
    workload_eur: float = 1.0
    node_priority_eur: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"policy {self.policy!r} not understood; one of {POLICIES}.")
        if self.workload_eur < 0:
            raise ValueError("workload_eur < 0 not understood.")


POLICIES = ("route_aware", "nearest", "cheapest_handling", "estimate")


class GreedySourcing:
    """Assigns orders to nodes, holding the stock and picking capacity left."""

    def __init__(
        self, scenario: Scenario, travel: TravelProvider, params: SourcingParams | None = None
    ):
        self.params = params = params or SourcingParams()
        self.policy = params.policy
        self.scenario = sc = scenario
        self.node_ids = list(sc.nodes)
        self.node_index = {n: j for j, n in enumerate(self.node_ids)}
        self.skus = list(sc.catalogue)
        sku_index = {s: k for k, s in enumerate(self.skus)}
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
        self.delivery_cost = self._delivery_cost_estimates()
        self.distance_m = self._nearest_distances()
        self.held: dict[str, int] = {}  # order -> node index holding its stock
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
                j = self._collect_stock_node(order)
                ok = np.zeros(len(self.node_ids), dtype=bool)
                ok[j] = has_stock[j] or self._inbound_covers(order, i, j)
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
                j = self._collect_stock_node(order)
                self._hold(order_id, j)
                result.collections[order_id] = order.collect_node_id
                continue
            terms = self._terms(order_id, ok)
            rank = self._rank(terms, order_id, ok)
            ranked = np.argsort(rank, kind="stable")
            j = int(ranked[0])
            runner = int(ranked[1]) if len(ranked) > 1 and np.isfinite(rank[ranked[1]]) else None
            self._hold(order_id, j)
            self._placed(order_id, j)
            result.decisions[order_id] = SourcingDecision(
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
        return result

    # -- scoring -----------------------------------------------------------------------

    def _terms(self, order_id: str, ok: np.ndarray) -> dict[str, np.ndarray]:
        """Cost terms (EUR) of shipping the order from each node; inf where not ok."""
        r = self.reach_row[order_id]
        used = 1.0 - self.picks_left / np.maximum(1, self.pick_capacity)
        terms = {
            "handling_eur": self.handling.astype(float),
            "route_eur": self.delivery_cost[r].copy(),
            "workload_eur": self.params.workload_eur * used,
            "priority_eur": self.priority,
        }
        if self.live is not None:
            terms["route_eur"] = self._insertion_costs(order_id, ok)
        return {k: np.where(ok, v, np.inf) for k, v in terms.items()}

    def _rank(self, terms: dict[str, np.ndarray], order_id: str, ok: np.ndarray) -> np.ndarray:
        if self.policy == "nearest":
            return np.where(ok, self.distance_m[self.reach_row[order_id]], np.inf)
        if self.policy == "cheapest_handling":
            return terms["handling_eur"] + 1e-6 * terms["route_eur"]  # distance breaks ties
        total = sum(terms.values())
        if self.policy == "route_aware" and not np.isfinite(total).any():
            # No node's routes, as built so far, take it: fall back to the estimate and
            # let the routing engine find room by re-optimising.
            estimate = self.delivery_cost[self.reach_row[order_id]]
            terms["route_eur"] = np.where(ok, estimate, np.inf)
            total = sum(terms.values())
        return total

    def _insertion_costs(self, order_id: str, ok: np.ndarray) -> np.ndarray:
        """Per node, the cheapest insertion of the order into the routes built so far."""
        sc, live = self.scenario, self.live
        order = sc.orders_by_id[order_id]
        zones = sc.zones_at(order.lat, order.lon)
        weight, volume = sc.weight_kg(order), sc.volume_l(order)
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
        self._best_rows[order_id] = (table, fits, cost)
        return out

    def _placed(self, order_id: str, j: int) -> None:
        """Route-aware: put the order into the chosen node's routes as they are built."""
        if self.live is None:
            return
        found = self._best_rows.pop(order_id, None)
        self._best_rows.clear()
        if found is None:
            return
        table, fits, cost = found
        mine = fits & (self.vehicle_node[table["vehicle"]] == j)
        if not mine.any():
            return  # taken on the estimate: the routing engine will make room
        k = int(np.flatnonzero(mine)[np.argmin(cost[mine])])
        vehicle_id = self.live_ids[int(table["vehicle"][k])]
        position = int(self.live.gaps()["position"][table["row"][k]])
        order = self.scenario.orders_by_id[order_id]
        self.live.insert(vehicle_id, position, LiveStop(
            key=order_id, lat=order.lat, lon=order.lon, tw_start_s=order.slot_start_s,
            tw_end_s=order.slot_end_s, service_s=order.service_time_s,
            weight_kg=self.scenario.weight_kg(order), volume_l=self.scenario.volume_l(order),
            green=order.service is Service.GREEN,
        ))  # fmt: skip
        self.placed_on[order_id] = vehicle_id

    def release(self, order_id: str) -> None:
        """Give back the stock and picking slot an order holds (and its place on a route)."""
        j = self.held.pop(order_id)
        if self.live is not None and self.placed_on.pop(order_id, None) is not None:
            self.live.remove(order_id)
        self.stock[j] += self.basket[self.row[order_id]]
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
            j = self._collect_stock_node(order)
            if not has_stock[j]:
                missing = self._missing_lines(i, j)
                where = f"collection node {order.collect_node_id}"
                if self.node_ids[j] != order.collect_node_id:
                    where = f"shuttle source {self.node_ids[j]} for {where}"
                return Unassigned(
                    order_id,
                    UnassignedCode.COLLECT_NODE_NO_STOCK,
                    f"{where} lacks {missing}",
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
