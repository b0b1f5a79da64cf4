"""The retry round: what the routes of a node could not fit goes to the next node.

A return and an exchange's order are not moved (:func:`keep_in_place`): the return is
listed unassigned, and the exchange's order with its pickup. Every other unit left out is
released and sourced again, excluding the nodes that could not take it, and the nodes
that take one are routed again (:func:`retry_batches`).
"""

from __future__ import annotations

from optimizer.planning.outcome import _return_full, _visit_full
from optimizer.planning.parcels import _units, _with_parcels
from optimizer.planning.problem import NodeProblem, build_node_problem
from optimizer.planning.state import DayState


def keep_in_place(day: DayState, retry: dict[str, set[str]]) -> None:
    """Take off ``retry`` what is not moved: a return the routes of its end node could
    not fit (listed in ``day.return_failed``), and an exchange's order, whose pickup
    goes with it (both unassigned)."""
    routing, decisions, paired = day.routing, day.decisions, day.paired
    for return_id in [o for o in retry if o in day.scenario.returns_by_id]:
        node_id = day.returns.node_of[return_id]
        day.return_failed[return_id] = (node_id, _return_full(routing, return_id, node_id))
        del retry[return_id]
    for order_id in [o for o in retry if o in paired]:
        node_id = decisions[order_id].node_id
        day.return_failed[paired[order_id]] = (
            node_id,
            _visit_full(routing, paired[order_id], node_id),
        )
        decisions.pop(order_id)
        day.sourcing.release(order_id)
        day.unassigned.append(_visit_full(routing, order_id, node_id, paired[order_id]))
        del retry[order_id]


def retry_batches(day: DayState, retry: dict[str, set[str]]) -> dict[str, NodeProblem]:
    """Source the units of ``retry`` again, each away from the nodes that could not take
    it, and return the routing problems of the nodes that take one (their earlier units
    and the new ones)."""
    sourcing, decisions = day.sourcing, day.decisions
    for order_id in retry:
        sourcing.release(order_id)
        decisions.pop(order_id, None)  # a parcel's order keeps its decision
    second = sourcing.assign(list(retry), exclude=retry)
    day.unassigned += second.unassigned
    touched = set()
    for order_id, decision in second.decisions.items():
        if order_id in sourcing.parcels:  # a parcel, from another node now
            parent = decisions[sourcing.parcels[order_id].order_id]
            parent.move_part(order_id, decision.node_id, decision.terms)
        else:
            decisions[order_id] = decision
        for unit_id, node_id in _units(decision).items():
            day.node_orders.setdefault(node_id, []).append(unit_id)
            touched.add(node_id)
    day.routing = _with_parcels(day.scenario, sourcing)  # the retry may split an order too
    return {
        nid: build_node_problem(day.routing, day.travel, nid, day.node_orders[nid])
        for nid in touched
    }
