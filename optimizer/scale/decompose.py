"""Cut a day that outgrows one machine into parts that can be planned apart.

The rule, in four steps:

1. **Every order gets a node from the whole network first.** The fast ``shared_route``
   sourcing (handling + the order's share of a route from the node: fixed cost and stem
   shared by the stops a route carries, plus its own leg, see
   :mod:`optimizer.sourcing.shared`; with stock and picking capacity reserved as it
   goes) runs over the whole day
   and every node, in two passes, so a cheap node does not swallow the day: first each
   node takes at most what its fleet can deliver in a day (:func:`fleet_orders`, its
   reach); then orders left over go to any node with the stock and picking capacity.
   Orders no pass can place (sold out everywhere, no vehicle may go there, ...) are
   unassigned here, with the reason that holds for the whole network.
2. **Nodes are cut into regions by geography** (recursive coordinate bisection): the
   nodes are split along the axis of their widest spread, at the median of the orders
   sourced to them, until each region has at most ``part_orders`` orders to route, or
   is a single node.
3. **A node too big for a part is cut into sectors** (:mod:`optimizer.scale.split`): a
   region of one node with more than ``part_orders`` orders to route is cut into as
   many arcs of its orders' bearings as it takes, each a part with the node's share of
   the fleet (by the orders each vehicle type may deliver there), stock, picking and
   inbound stock; shares never add up to more than the node has.
4. **An order goes with the region (the sector) of the node step 1 chose for it.** A
   return goes with the region of its first candidate end node (the node that shipped
   it, else the store nearest to it; see :mod:`optimizer.sourcing.returns`), else of the
   node nearest to it, in a cut node's sector by its bearing, and its end node is then
   chosen among the region's nodes; an exchange goes with its delivery's part (one
   visit, see :mod:`optimizer.planning`). This is the rule for orders near a border: an
   order between two regions is not split or shared; it lands in the region whose node
   was cheapest for it with the stock. Click & collect orders go with their store (dealt
   in turn between a cut store's sectors), orders promised from a node with that node.

Each region (or sector) is a part: a :class:`Scenario` with the region's nodes, their
fleet, stock, inbound stock and picking capacity (whole, or a sector's share), and the
region's orders. A vehicle, a unit of stock and a parcel of picking are in exactly one
part, so the parts' plans can never use one twice. A sector's vehicles have the part's
own ids (``NODE/TYPE/k`` counted in the part): :attr:`Part.vehicle_names` gives the
day's, and the merge renames them. Inside a part, the route-aware sourcing of
:func:`optimizer.planning.plan_day` may move an order to any node of its region, never
across a border; that, and routes that cannot cross borders, is the cost of decomposing
(``lastmile bench scale`` measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from optimizer.model import Scenario, Service, Unassigned, Vehicle
from optimizer.scale.split import (
    bearing,
    fleet_rows,
    fleet_shares,
    sector_of,
    sectors,
    share,
    with_picking,
)
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
    repair
        Retry the orders the parts left unserved with the vehicles, stock and picking
        the day has left, across the borders (:mod:`optimizer.scale.repair`).
    """

    part_orders: int = 1500
    part_time_limit_s: float = 6.0
    repair: bool = True

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
    """One region (or one sector of a node too big for a part): its nodes and the
    sub-scenario planned on its own."""

    index: int
    node_ids: list[str]
    scenario: Scenario
    routed_orders: int  # orders step 1 sourced to the region's nodes for delivery
    # A sector of a node cut by :mod:`optimizer.scale.split`: (sector, sectors).
    sector: tuple[int, int] | None = None
    # The part's vehicle ids (its own ``Scenario.vehicles``) -> the day's, where they
    # differ (a node's fleet shared between sectors); see :func:`global_vehicle_id`.
    vehicle_names: dict[str, str] = field(default_factory=dict)

    @property
    def orders(self) -> int:
        return len(self.scenario.orders)

    def global_vehicle_id(self, vehicle_id: str) -> str:
        return self.vehicle_names.get(vehicle_id, vehicle_id)


@dataclass
class Decomposition:
    parts: list[Part]
    region_of_node: dict[str, int]
    # Orders no node of the whole network can take, with the network-wide reason.
    unassigned: list[Unassigned] = field(default_factory=list)
    # The boundary repair's part, once planned (:mod:`optimizer.scale.repair`), and how
    # many of its orders it served.
    repair: Part | None = None
    repaired_orders: int = 0


def decompose(
    scenario: Scenario, params: ScaleParams | None = None, travel: TravelProvider | None = None
) -> Decomposition:
    """Cut ``scenario`` into parts by the rule of this module's docstring."""
    params = params or ScaleParams()
    travel = travel or travel_of(scenario)
    sourcing = GreedySourcing(scenario, travel, SourcingParams(policy="shared_route"))
    node_ids = sourcing.node_ids
    decisions, node_of, unassigned = _source_network(scenario, sourcing, params)
    load = np.zeros(len(node_ids))
    index = {n: j for j, n in enumerate(node_ids)}
    for decision in decisions.values():
        load[index[decision.node_id]] += 1
    regions = bisect(node_xy(scenario, node_ids), load, params.part_orders)
    region_of_node = {node_ids[j]: r for r, members in enumerate(regions) for j in members}
    part_of = {}  # order or return id -> (region, sector)
    sectors_of: dict[int, np.ndarray] = {}  # region of one heavy node -> sectors' bearings
    for r, members in enumerate(regions):
        ids = {node_ids[j] for j in members}
        orders = [o for o in scenario.orders if node_of.get(o.order_id) in ids]
        k = math.ceil(load[members].sum() / params.part_orders) if len(members) == 1 else 1
        if k > 1:
            found, sectors_of[r] = _order_sectors(scenario, node_ids[members[0]], orders,
                                                  decisions, r, k)  # fmt: skip
            part_of |= found
        else:
            part_of |= {o.order_id: (r, 0) for o in orders}
    for ret in scenario.returns:
        part_of[ret.return_id] = _return_part(scenario, ret, node_of, part_of, region_of_node,
                                              sectors_of)  # fmt: skip
    parts = _parts(scenario, regions, node_ids, part_of, sectors_of, set(decisions))
    return Decomposition(parts=parts, region_of_node=region_of_node, unassigned=unassigned)


def _source_network(scenario: Scenario, sourcing: GreedySourcing, params: ScaleParams):
    """Step 1 of the rule: every order's node (``node_of``; the pass's decisions for
    deliveries), and the orders no node can take."""
    deliverable = fleet_orders(scenario)
    picking = sourcing.pick_capacity.copy()
    fleet = np.array([deliverable[n] for n in sourcing.node_ids])
    decisions, node_of = {}, {}
    left = [o.order_id for o in scenario.orders]
    for cap in (fleet, None):  # None: picking only
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
    return decisions, node_of, found.unassigned


def _order_sectors(scenario, node_id, orders, decisions, region, k) -> tuple[dict, np.ndarray]:
    """A heavy node's orders by (region, sector): deliveries by their bearing from the
    node (:func:`optimizer.scale.split.sectors`), collections at it dealt in turn; and
    the bearings the sectors start at."""
    node = scenario.nodes[node_id]
    routed = [o for o in orders if o.order_id in decisions]
    lat = np.array([o.lat for o in routed])
    lon = np.array([o.lon for o in routed])
    labels, starts = sectors(bearing(node, lat, lon), k)
    out = {o.order_id: (region, int(s)) for o, s in zip(routed, labels, strict=True)}
    collected = [o for o in orders if o.order_id not in decisions]
    out |= {o.order_id: (region, i % len(starts)) for i, o in enumerate(collected)}
    return out, starts


def _return_part(scenario, ret, node_of, part_of, region_of_node, sectors_of) -> tuple:
    """A return's (region, sector): its exchange order's, else its home node's region
    (rule 3), in a heavy node's sector by its bearing from the node."""
    order = scenario.exchange_order(ret)
    if order is not None and order.order_id in part_of:
        return part_of[order.order_id]
    node_id = _return_home(scenario, ret, node_of)
    region = region_of_node[node_id]
    if region not in sectors_of:
        return region, 0
    angle = bearing(scenario.nodes[node_id], np.array([ret.lat]), np.array([ret.lon]))
    return region, int(sector_of(angle, sectors_of[region])[0])


def _parts(scenario, regions, node_ids, part_of, sectors_of, routed: set[str]) -> list[Part]:
    """One part per region, or per sector of a heavy node's region; none when empty."""
    orders: dict[tuple, list] = {}
    for o in scenario.orders:
        if o.order_id in part_of:
            orders.setdefault(part_of[o.order_id], []).append(o)
    returns: dict[tuple, list] = {}
    for r in scenario.returns:
        returns.setdefault(part_of[r.return_id], []).append(r)
    parts = []
    for region, members in enumerate(regions):
        ids = {node_ids[j] for j in members}
        k = len(sectors_of.get(region, [0]))
        keys = [(region, s) for s in range(k)]
        if k == 1:
            piece = sub_scenario(scenario, ids, orders.get(keys[0], []), returns.get(keys[0]))
            pieces = [(piece, piece.vehicles)]  # whole rows: the day's vehicle ids
        else:
            pieces = node_sectors(scenario, node_ids[members[0]],
                                  [orders.get(key, []) for key in keys],
                                  [returns.get(key, []) for key in keys], routed)  # fmt: skip
        for s, (key, (piece, fleet)) in enumerate(zip(keys, pieces, strict=True)):
            if not piece.orders and not piece.returns:
                continue
            names = {
                mine.vehicle_id: day.vehicle_id
                for mine, day in zip(piece.vehicles, fleet, strict=True)
                if mine.vehicle_id != day.vehicle_id
            }
            parts.append(
                Part(
                    index=len(parts),
                    node_ids=sorted(ids),
                    scenario=piece,
                    routed_orders=sum(o.order_id in routed for o in orders.get(key, [])),
                    sector=(s, k) if k > 1 else None,
                    vehicle_names=names,
                )
            )
    return parts


def node_sectors(
    scenario: Scenario, node_id: str, orders: list[list], returns: list[list], routed: set[str]
) -> list[tuple[Scenario, list[Vehicle]]]:
    """One sub-scenario per sector of a heavy node (``orders[s]``, ``returns[s]``), each
    with the node's share of its fleet (by reach), stock, picking and inbound stock
    (:mod:`optimizer.scale.split`), and the day's vehicles its fleet is, in the order of
    its own ``Scenario.vehicles``. Shares add up to the node's whole, never more."""
    k = len(orders)
    node = scenario.nodes[node_id]
    reach = {
        t: np.array(
            [
                sum(o.order_id in routed and scenario.may_deliver(vt, o) for o in group)
                for group in orders
            ]
        )  # fmt: skip
        for t, vt in scenario.vehicle_types.items()
    }
    vehicles = fleet_shares(scenario, node_id, reach, k)
    count = np.array([len(group) for group in orders])
    picking = share(node.pick_capacity_per_day, count, count)
    need: dict[str, np.ndarray] = {}
    for s, group in enumerate(orders):
        for o in group:
            for line in o.lines:
                need.setdefault(line.sku, np.zeros(k, dtype=int))[s] += line.qty
    stock = [{} for _ in range(k)]
    for (n, sku), held in scenario.stock.items():
        if n == node_id:
            for s, q in enumerate(share(held, need.get(sku, np.zeros(k, dtype=int)), count)):
                stock[s][n, sku] = int(q)
    inbound = [[] for _ in range(k)]
    for i in scenario.inbound:
        if i.node_id == node_id:
            inbound[int(np.argmax(need.get(i.sku, np.zeros(k))))].append(i)
    return [
        (
            replace(
                scenario,
                nodes={node_id: with_picking(node, int(picking[s]))},
                fleet=fleet_rows(vehicles[s]),
                stock=stock[s],
                orders=list(orders[s]),
                inbound=inbound[s],
                returns=list(returns[s]),
            ),
            vehicles[s],
        )
        for s in range(k)
    ]


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
