"""Where a return ends: the node its pickup is routed from and restocked at.

A vehicle brings what it picks up back to its own node (a route ends where it
starts), so choosing the end node of a return is choosing the node whose routes pick
it up. The candidates (rule documented in ``docs/scenario-format.md``, returns):

1. the node that shipped the original order: ``shipped_from_node_id`` of the return, or
   the node today's plan ships ``order_id`` from (an exchange's delivery);
2. the store nearest to the customer (great-circle distance);
3. the hub that restocks that store: the scenario has no replenishment network, so the
   urban hub or warehouse nearest to that store stands for it.

Each candidate is priced by the cheapest insertion of the pickup into that node's routes
as sourcing has built them (:class:`optimizer.insertion.LiveRoutes`, the
route-aware policy) plus the node's handling cost (checking the item back into stock).
When no route of a candidate has room in the slot yet, or sourcing is not route-aware,
the price is an out-and-back estimate from the node with its cheapest allowed vehicle
type, and the routing engine makes room. The cheapest candidate wins; the pickup then
takes its place in the live routes, so later returns see it.

Pricing an insertion treats the pickup's weight as on board from the start of the tour
(LiveRoutes models deliveries only): conservative for the choice; the routing engines
and the checker model the load along the route exactly.

An exchange is one visit: when its delivery order is shipped whole from node N (one stop
of N's routes), the vehicle carrying the replacement takes the old item back, so the
end node is N, with no other candidate; its price is N's handling plus the extra time
at the door (the return's service time at the cheapest hourly cost of N's vehicle types
that may serve the visit). The routing then makes the delivery and the pickup one stop
(:func:`optimizer.planning.build_problem`). When the delivery is not one stop of today's
routes (split into parcels from several nodes, collected, or unassigned) or no vehicle of
N may serve both halves, the pickup is a plain return, priced as above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.insertion import LiveStop
from optimizer.model import (
    NodeKind,
    Return,
    ReturnAssignment,
    ReturnKind,
    Scenario,
    Service,
    UnassignedCode,
)
from optimizer.travel.great_circle import great_circle_km

HUB_KINDS = (NodeKind.URBAN_HUB, NodeKind.WAREHOUSE)


@dataclass
class ReturnChoice:
    """The end node of each return that can be routed, and the ones that cannot."""

    node_of: dict[str, str] = field(default_factory=dict)  # return_id -> node
    priced: dict[str, dict[str, float]] = field(default_factory=dict)  # return -> node -> eur
    unassigned: list[ReturnAssignment] = field(default_factory=list)
    # An exchange picked up in its delivery's visit: return -> its order
    tied: dict[str, str] = field(default_factory=dict)
    note: dict[str, str] = field(default_factory=dict)  # return -> how its node was chosen


def candidate_nodes(scenario: Scenario, ret: Return, shipped: dict[str, str]) -> list[str]:
    """The candidate end nodes of a return, in the order of the rule (no repeats)."""
    out: list[str] = []
    first = ret.shipped_from_node_id or (shipped.get(ret.order_id) if ret.order_id else None)
    if first in scenario.nodes:
        out.append(first)
    store = _nearest(scenario, ret.lat, ret.lon, (NodeKind.STORE,))
    if store is not None:
        out.append(store)
        node = scenario.nodes[store]
        hub = _nearest(scenario, node.lat, node.lon, HUB_KINDS)
        if hub is not None:
            out.append(hub)
    return list(dict.fromkeys(out))


def _nearest(scenario: Scenario, lat: float, lon: float, kinds) -> str | None:
    best = None
    for node in scenario.nodes.values():
        if node.kind in kinds:
            km = great_circle_km(lat, lon, node.lat, node.lon)
            if best is None or km < best[0]:
                best = (km, node.node_id)
    return None if best is None else best[1]


def choose_return_nodes(scenario: Scenario, sourcing, shipped: dict[str, str]) -> ReturnChoice:
    """Price each return's candidate end nodes and pick the cheapest (see the module)."""
    out = ReturnChoice()
    live = getattr(sourcing, "live", None)
    for ret in scenario.returns:
        if _tie(scenario, ret, shipped, out):
            continue
        if ret.kind.one_visit:
            out.note[ret.return_id] = _apart(scenario, sourcing, ret, shipped)
        candidates = candidate_nodes(scenario, ret, shipped)
        weight, volume = scenario.weight_kg(ret), scenario.volume_l(ret)
        zones, needs = scenario.zones_at(ret.lat, ret.lon), scenario.pickup_needs(ret)
        serving = {
            n
            for n in candidates
            for v in scenario.vehicles
            if v.node_id == n
            and scenario.vehicle_types[v.vehicle_type_id].may_carry(
                Service.ECO, weight, volume, zones, needs
            )
        }
        if not candidates or not serving:
            out.unassigned.append(_why_not(scenario, ret, candidates, weight, volume, zones))
            continue
        prices = _insertions(scenario, live, ret, serving, weight, volume, zones)
        for n in serving:
            if not np.isfinite(prices.get(n, np.inf)):
                prices[n] = _estimate(scenario, ret, n, weight, volume, zones)
        prices = {n: round(c + scenario.nodes[n].handling_cost_eur, 6) for n, c in prices.items()}
        node_id = min(sorted(prices), key=lambda n: prices[n])
        out.node_of[ret.return_id] = node_id
        out.priced[ret.return_id] = prices
        if live is not None:
            _place(live, ret, node_id, weight, volume, zones)
    return out


def _tie(scenario: Scenario, ret: Return, shipped: dict[str, str], out: ReturnChoice) -> bool:
    """End an exchange at the node shipping its delivery, when the two may be one visit
    there (see the module); False to price it as a plain return."""
    order = scenario.exchange_order(ret)
    node_id = shipped.get(order.order_id) if order is not None else None
    if node_id is None:
        return False
    zones = scenario.zones_at(order.lat, order.lon)
    weight, volume = scenario.weight_kg(ret), scenario.volume_l(ret)
    delivery = (order.service, scenario.weight_kg(order), scenario.volume_l(order), zones)
    delivery_needs, pickup_needs = scenario.item_needs(order.lines), scenario.pickup_needs(ret)
    per_hour = [
        vt.cost_per_hour_eur
        for v in scenario.vehicles
        if v.node_id == node_id
        for vt in [scenario.vehicle_types[v.vehicle_type_id]]
        if vt.may_carry(*delivery, delivery_needs)
        and vt.may_carry(Service.ECO, weight, volume, zones, pickup_needs)
    ]
    if not per_hour:
        return False
    door_eur = min(per_hour) * ret.service_time_s / 3600
    out.node_of[ret.return_id] = node_id
    out.priced[ret.return_id] = {
        node_id: round(door_eur + scenario.nodes[node_id].handling_cost_eur, 6)
    }
    out.tied[ret.return_id] = order.order_id
    out.note[ret.return_id] = (
        f"{_visit_name(ret)}: picked up in the same visit as the delivery of {order.order_id}, by "
        f"the vehicle that brings the replacement, so it goes back to {node_id}"
    )
    return True


def _apart(scenario: Scenario, sourcing, ret: Return, shipped: dict[str, str]) -> str:
    """Why an exchange's pickup is a plain return (a visit of its own)."""
    order = scenario.exchange_order(ret)
    if order is None:
        return (
            f"{_visit_name(ret)} whose order {ret.order_id} is not delivered at its address in its "
            "slot: picked up as a plain return, its end node chosen by cost"
        )
    if order.order_id in shipped:
        return (
            f"{_visit_name(ret)}: no vehicle of {shipped[order.order_id]}, which ships "
            f"{order.order_id}, may serve both the delivery and the pickup, so the pickup is "
            "a plain return (a visit of its own), its end node chosen by cost"
        )
    parcels = getattr(sourcing, "parcels", {})
    if any(p.order_id == order.order_id for p in parcels.values()):
        why = "is split into parcels from several nodes (several visits anyway)"
    else:
        why = "is not shipped today (see the unassigned orders)"
    return (
        f"{_visit_name(ret)} whose delivery {order.order_id} {why}: picked up as a plain return "
        "(a visit of its own), its end node chosen by cost"
    )


def _visit_name(ret: Return) -> str:
    """What a one-visit pickup is called in its row's reason."""
    return "an exchange" if ret.kind is ReturnKind.EXCHANGE else "a take-back"


def _allowed(live, ret: Return, node_ids: set[str], weight, volume, zones) -> np.ndarray:
    needs = live.scenario.pickup_needs(ret)
    return np.array(
        [
            live.vehicles[v].node.node_id in node_ids
            and live.vehicles[v].vehicle_type.may_carry(Service.ECO, weight, volume, zones, needs)
            for v in live.vehicles
        ],
        dtype=bool,
    )


def _insertions(scenario, live, ret: Return, nodes: set[str], weight, volume, zones) -> dict:
    """Per candidate node, the cheapest feasible insertion into its live routes."""
    out: dict[str, float] = {}
    if live is None:
        return out
    for n in sorted(nodes):
        best = _cheapest(live, ret, n, weight, volume, zones)
        if best is not None:
            out[n] = float(best.cost_eur)
    return out


def _cheapest(live, ret: Return, node_id: str, weight, volume, zones):
    allowed = _allowed(live, ret, {node_id}, weight, volume, zones)
    if not allowed.any():
        return None
    return live.cheapest_insertions(
        ret.lat, ret.lon, ret.service_time_s, weight, volume,
        [(ret.slot_start_s, ret.slot_end_s)], allowed,
    )[0]  # fmt: skip


def _estimate(
    scenario: Scenario, ret: Return, node_id: str, weight, volume, zones, vehicle_ids=None
) -> float:
    """Out and back from the node with its cheapest vehicle type allowed to carry it
    (among ``vehicle_ids`` when given: those that can still leave)."""
    node = scenario.nodes[node_id]
    km = great_circle_km(ret.lat, ret.lon, node.lat, node.lon)
    needs = scenario.pickup_needs(ret)
    costs = [
        2 * km * (vt.cost_per_km_eur + vt.cost_per_hour_eur / vt.speed_kmh)
        for v in scenario.vehicles
        if v.node_id == node_id and (vehicle_ids is None or v.vehicle_id in vehicle_ids)
        for vt in [scenario.vehicle_types[v.vehicle_type_id]]
        if vt.may_carry(Service.ECO, weight, volume, zones, needs)
    ]
    return min(costs) if costs else np.inf


def reroute_price_eur(
    scenario: Scenario, ret: Return, node_id: str, vehicle_ids: set[str]
) -> float:
    """What ending ``ret`` at ``node_id`` costs when only ``vehicle_ids`` can still leave
    (a re-plan: the return's node lost its vehicles): out and back with the cheapest of
    them allowed to carry it, plus the node's handling; inf when none may."""
    weight, volume = scenario.weight_kg(ret), scenario.volume_l(ret)
    zones = scenario.zones_at(ret.lat, ret.lon)
    eur = _estimate(scenario, ret, node_id, weight, volume, zones, vehicle_ids)
    return eur + scenario.nodes[node_id].handling_cost_eur


def _place(live, ret: Return, node_id: str, weight, volume, zones) -> None:
    """Put the pickup into the chosen node's live routes where it costs least."""
    best = _cheapest(live, ret, node_id, weight, volume, zones)
    if best is None:
        return  # taken on the estimate: the routing engine makes room
    live.insert(best.vehicle_id, best.position, LiveStop(
        key=ret.return_id, lat=ret.lat, lon=ret.lon, tw_start_s=ret.slot_start_s,
        tw_end_s=ret.slot_end_s, service_s=ret.service_time_s, weight_kg=weight,
        volume_l=volume,
    ))  # fmt: skip


def _why_not(scenario, ret: Return, candidates, weight, volume, zones) -> ReturnAssignment:
    if not candidates:
        return ReturnAssignment(
            ret.return_id, "unassigned", code=UnassignedCode.NO_ALLOWED_VEHICLE.value,
            reason="no node can take it back: the scenario has no store or hub and the "
            "original shipping node is unknown",
        )  # fmt: skip
    names = ", ".join(candidates)
    types = {
        scenario.vehicle_types[v.vehicle_type_id]
        for v in scenario.vehicles
        if v.node_id in candidates
    }
    needs = scenario.pickup_needs(ret)
    if needs is not None and not any(vt.may_serve(Service.ECO, zones, needs) for vt in types):
        return ReturnAssignment(
            ret.return_id, "unassigned", code=UnassignedCode.NO_VEHICLE_FOR_ITEM.value,
            reason=f"no vehicle of the candidate nodes ({names}) has what its items need: "
            f"{needs.in_words()}",
        )  # fmt: skip
    if any(vt.may_serve(Service.ECO, zones) for vt in types):
        return ReturnAssignment(
            ret.return_id, "unassigned", code=UnassignedCode.TOO_BIG.value,
            reason=f"{weight:.1f} kg / {volume:.0f} l is more than any vehicle of the "
            f"candidate nodes ({names}) allowed at the address carries",
        )  # fmt: skip
    rules = ", ".join(z.name for z in zones) or "none"
    return ReturnAssignment(
        ret.return_id, "unassigned", code=UnassignedCode.NO_ALLOWED_VEHICLE.value,
        reason=f"no vehicle of the candidate nodes ({names}) may pick up at the address "
        f"(zones: {rules})",
    )  # fmt: skip
