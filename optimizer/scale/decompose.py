"""Cut a day that outgrows one machine into parts that can be planned apart.

The rule, in three steps:

1. **Every order gets a node from the whole network first.** The fast ``estimate``
   sourcing (handling + an out-and-back delivery estimate, with stock and picking
   capacity reserved as it goes, see :mod:`optimizer.sourcing`) runs over the whole day
   and every node, in three passes, so a cheap node does not swallow the day: first
   each node takes at most what its fleet can deliver in a day (:func:`fleet_orders`)
   and at most ``part_orders``; then orders left over go to nodes up to what their
   fleet can deliver; then to any node with the stock and picking capacity. Orders no
   pass can place (sold out everywhere, no vehicle may go there, ...) are unassigned
   here, with the reason that holds for the whole network.
2. **Nodes are cut into regions by geography** (recursive coordinate bisection): the
   nodes are split along the axis of their widest spread, at the median of the orders
   sourced to them, until each region has at most ``part_orders`` orders to route, or
   is a single node.
3. **An order goes with the region of the node step 1 chose for it.** A return goes
   with the region of its first candidate end node (the node that shipped it, else the
   store nearest to it; see :mod:`optimizer.sourcing.returns`), else of the node nearest
   to it, and its end node is then chosen among the region's nodes; an exchange goes with
   the region of its delivery's node (one visit, see :mod:`optimizer.planning`). This is the rule
   for orders near a border: an order between two regions is not split or shared; it
   lands in the region whose node was cheapest for it with the stock. Click & collect
   orders go with their store, orders promised from a node with that node.

Each region is a part: a :class:`Scenario` with the region's nodes, their whole fleet,
their whole stock, inbound stock and picking capacity, and the region's orders. A node
(and so every vehicle and every unit of stock) is in exactly one part, so the parts'
plans can never use a vehicle or a unit of stock twice. Inside a part, the route-aware
sourcing of :func:`optimizer.planning.plan_day` may move an order to any node of its
region, never across a border; that, and routes that cannot cross borders, is the cost
of decomposing (``lastmile bench scale`` measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.model import Scenario, Service, Unassigned
from optimizer.sourcing import GreedySourcing, SourcingParams
from optimizer.sourcing.returns import candidate_nodes
from optimizer.travel import TravelProvider, travel_of
from optimizer.travel.great_circle import great_circle_km

KM_PER_DEG_LAT = 111.32  # mean length of a degree of latitude


@dataclass(frozen=True)
class ScaleParams:
    """How a big day is cut into parts.

    Parameters
    ----------
    part_orders
        Orders to route per part at most (a region of one node may have more). 1,500
        by default: the size up to which ``plan_day`` also solves a joint routing
        problem over all the part's nodes, and a part's solve then stays well under
        1 GB of memory, so two workers fit in 4 GB.
    part_time_limit_s
        Routing seconds of a part of ``part_orders`` orders; a smaller part gets its
        share (at least ``MIN_PART_TIME_S``). The day's routing time therefore grows
        with its orders: 4 s per 1,000 orders with the defaults.
    """

    part_orders: int = 1500
    part_time_limit_s: float = 6.0

    def __post_init__(self):
        if self.part_orders < 1:
            raise ValueError("part_orders < 1 not understood.")
        if self.part_time_limit_s <= 0:
            raise ValueError("part_time_limit_s <= 0 not understood.")

    def time_limit_s(self, orders: int) -> float:
        """Routing seconds of a part of ``orders`` orders to route."""
        return max(MIN_PART_TIME_S, self.part_time_limit_s * orders / self.part_orders)


# Deliveries per vehicle and hour of shift, to size what a node's fleet can take in
# the first sourcing pass: ~20 minutes a stop in Paris traffic (a 3-7 minute hand-over,
# 2-3 km to the next customer at 12-18 km/h, the run out from the node and back).
STOPS_PER_HOUR = 3.0
MIN_PART_TIME_S = 1.0  # below this the engine barely gets past its first solution
# ``lastmile plan`` decomposes days above this many orders unless told: up to here
# one machine plans the day whole in a few minutes (5,000 orders: ~3 min, ~540 MB on
# 2 cores), and the whole plan avoids the decomposition's cost penalty.
DECOMPOSE_ABOVE_ORDERS = 10_000


@dataclass
class Part:
    """One region: its nodes and the sub-scenario planned on its own."""

    index: int
    node_ids: list[str]
    scenario: Scenario
    routed_orders: int  # orders step 1 sourced to the region's nodes for delivery

    @property
    def orders(self) -> int:
        return len(self.scenario.orders)


@dataclass
class Decomposition:
    parts: list[Part]
    region_of_node: dict[str, int]
    # Orders no node of the whole network can take, with the network-wide reason.
    unassigned: list[Unassigned] = field(default_factory=list)


def decompose(
    scenario: Scenario, params: ScaleParams | None = None, travel: TravelProvider | None = None
) -> Decomposition:
    """Cut ``scenario`` into parts by the rule of this module's docstring."""
    params = params or ScaleParams()
    travel = travel or travel_of(scenario)
    sourcing = GreedySourcing(scenario, travel, SourcingParams(policy="estimate"))
    node_ids = sourcing.node_ids
    deliverable = fleet_orders(scenario)
    picking = sourcing.pick_capacity.copy()
    fleet = np.array([deliverable[n] for n in node_ids])
    decisions, node_of = {}, {}
    left = [o.order_id for o in scenario.orders]
    for cap in (np.minimum(fleet, params.part_orders), fleet, None):  # None: picking only
        # The pass sees each node's picking capacity lowered to ``cap``.
        used = picking - sourcing.picks_left
        limit = picking if cap is None else np.minimum(picking, np.floor(cap).astype(int))
        sourcing.pick_capacity = limit
        sourcing.picks_left = free = np.maximum(0, limit - used)
        found = sourcing.assign(left)
        sourcing.picks_left = picking - used - (free - sourcing.picks_left)
        decisions |= found.decisions
        node_of |= {o: d.node_id for o, d in found.decisions.items()} | found.collections
        left = [u.order_id for u in found.unassigned]

    load = np.zeros(len(node_ids))
    index = {n: j for j, n in enumerate(node_ids)}
    for decision in decisions.values():
        load[index[decision.node_id]] += 1
    xy = node_xy(scenario, node_ids)
    regions = bisect(xy, load, params.part_orders)
    region_of_node = {node_ids[j]: r for r, members in enumerate(regions) for j in members}

    return_node = {r.return_id: _return_home(scenario, r, node_of) for r in scenario.returns}
    parts = []
    for members in regions:
        ids = {node_ids[j] for j in members}
        orders = [o for o in scenario.orders if node_of.get(o.order_id) in ids]
        returns = [r for r in scenario.returns if return_node[r.return_id] in ids]
        if not orders and not returns:
            continue
        parts.append(
            Part(
                index=len(parts),
                node_ids=sorted(ids),
                scenario=sub_scenario(scenario, ids, orders, returns),
                routed_orders=int(load[members].sum()),
            )
        )
    return Decomposition(parts=parts, region_of_node=region_of_node, unassigned=found.unassigned)


def fleet_orders(scenario: Scenario) -> dict[str, float]:
    """Per node, about how many orders its fleet delivers in a day: per vehicle, the
    fewer of what its shift allows at ``STOPS_PER_HOUR`` and what one load of the
    day's average basket fills (one tour per vehicle)."""
    delivery = [o for o in scenario.orders if o.service is not Service.CLICK_COLLECT]
    kg = float(np.mean([scenario.weight_kg(o) for o in delivery])) if delivery else 1.0
    litres = float(np.mean([scenario.volume_l(o) for o in delivery])) if delivery else 1.0
    out = dict.fromkeys(scenario.nodes, 0.0)
    for entry in scenario.fleet:
        vt = scenario.vehicle_types[entry.vehicle_type_id]
        node = scenario.nodes[entry.node_id]
        hours = max(0, min(entry.shift_end_s, node.closes_s + 3600 * 4)
                    - max(entry.shift_start_s, node.opens_s)) / 3600  # fmt: skip
        stops = min(STOPS_PER_HOUR * hours, vt.capacity_kg / max(kg, 1e-9),
                    vt.capacity_l / max(litres, 1e-9))  # fmt: skip
        out[entry.node_id] += entry.count * stops
    return out


def node_xy(scenario: Scenario, node_ids: list[str]) -> np.ndarray:
    """(N, 2) node positions in km on a local flat map (equirectangular)."""
    lat = np.array([scenario.nodes[n].lat for n in node_ids])
    lon = np.array([scenario.nodes[n].lon for n in node_ids])
    lat0 = float(lat.mean()) if len(lat) else 0.0
    return np.column_stack(
        [lon * KM_PER_DEG_LAT * math.cos(math.radians(lat0)), lat * KM_PER_DEG_LAT]
    )


def bisect(xy: np.ndarray, load: np.ndarray, max_load: float) -> list[list[int]]:
    """Recursive coordinate bisection: indices of the points per region.

    A region with more than ``max_load`` load and more than one point is split in two
    along its principal axis (the direction of its widest spread), at the point where
    the load sorted along that axis reaches half. Deterministic: ties break by index.
    """
    out: list[list[int]] = []
    stack = [np.arange(len(xy))]
    while stack:
        members = stack.pop()
        if len(members) <= 1 or load[members].sum() <= max_load:
            if len(members):
                out.append(sorted(int(j) for j in members))
            continue
        points = xy[members] - xy[members].mean(axis=0)
        _, _, axes = np.linalg.svd(points, full_matrices=False)
        along = points @ axes[0]
        ranked = members[np.lexsort((members, along))]
        cumulative = np.cumsum(load[ranked])
        cut = int(np.searchsorted(cumulative, cumulative[-1] / 2)) + 1
        cut = min(max(cut, 1), len(ranked) - 1)
        stack += [ranked[cut:], ranked[:cut]]
    return sorted(out, key=lambda region: region[0])


def _return_home(scenario: Scenario, ret, node_of: dict[str, str]) -> str:
    """The node whose region a return goes with (see the module's rule 3): an exchange's
    goes with its delivery's (``node_of``: order -> node)."""
    order = scenario.exchange_order(ret)
    if order is not None and node_of.get(order.order_id) in scenario.nodes:
        return node_of[order.order_id]
    candidates = candidate_nodes(scenario, ret, {})
    if candidates:
        return candidates[0]
    return min(
        scenario.nodes.values(), key=lambda n: great_circle_km(ret.lat, ret.lon, n.lat, n.lon)
    ).node_id


def sub_scenario(
    scenario: Scenario, node_ids: set[str], orders: list, returns: list | None = None
) -> Scenario:
    """The part of ``scenario`` made of ``node_ids`` (with their fleet, stock and
    inbound stock), ``orders`` and ``returns`` (none if not given). Vehicle ids are
    those of the whole scenario: a node's fleet rows are kept whole and in order."""
    return replace(
        scenario,
        nodes={n: node for n, node in scenario.nodes.items() if n in node_ids},
        fleet=[f for f in scenario.fleet if f.node_id in node_ids],
        stock={k: q for k, q in scenario.stock.items() if k[0] in node_ids},
        orders=list(orders),
        inbound=[i for i in scenario.inbound if i.node_id in node_ids],
        returns=list(returns or []),
    )
