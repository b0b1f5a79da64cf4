"""Returns booked since the plan (``POST /v1/returns`` after it was made): in the
re-plan's scenario, but with no row in the plan's ``returns``.

Each gets its end node by planning's rule (:func:`optimizer.sourcing.returns.
choose_return_nodes`: the node that shipped the original order, the nearest store, its
hub, priced on the out-and-back estimate, as the re-plan has no live routes to insert
into) and joins the pool as a pickup of that node, as an order confirmed since the plan
does. It is unassigned with the reason instead when

* its pickup slot is over at the re-plan's ``now`` (``slot_unreachable``);
* it is an exchange whose delivery is already on the road or handed over
  (``exchange_booked_late``): the pickup can no longer be that visit, and an exchange
  picked up on a visit of its own, apart from its routed delivery, is what the checker
  refuses (``exchange_apart``). An exchange whose delivery is routed again (its trip not
  started, or confirmed since the plan too) ends at the delivery's node and is one stop
  with it; one that may not be one visit anyway (planning's rule) is a plain pickup;
* no node or vehicle can take it back (planning's reasons).
"""

from __future__ import annotations

from dataclasses import replace

from optimizer.live.replan.ledger import _Ledger
from optimizer.model import Route, Scenario, Unassigned, UnassignedCode
from optimizer.sourcing.returns import candidate_nodes, choose_return_nodes


def _take_booked_returns(
    day: Scenario, book: _Ledger, pool: set[str], booked: list[str], kept: list[Route]
) -> tuple[dict[str, list[str]], dict[str, dict[str, float]]]:
    """Settle the returns booked since the plan (see the module) in ``book``: the node
    of each to route (``book.sources``), the others unassigned with the reason.
    ``pool``: the units routed again; ``kept``: the routes that stay (locked, on board).
    Returns the pickups to route, each with the other end nodes it may go to (none for
    an exchange: its delivery's node), and each return's priced candidates (EUR)."""
    returns = day.returns_by_id
    iso = day.settings.to_iso
    todo = []
    for rid in booked:
        ret = returns[rid]
        if ret.slot_end_s > book.now:
            todo.append(rid)
            continue
        book.unassigned.append(Unassigned(rid, UnassignedCode.SLOT_UNREACHABLE, (
            f"booked after the plan for the pickup slot {iso(ret.slot_start_s)[11:16]}-"
            f"{iso(ret.slot_end_s)[11:16]}, which is over at the re-plan "
            f"({iso(book.now)[11:16]}): book a later slot"
        )))  # fmt: skip
    # The node each order ships from now (an exchange's delivery: its node).
    shipped = {o: n for o, n in book.sources.items() if o in day.orders_by_id}
    choice = choose_return_nodes(replace(day, returns=[returns[r] for r in todo]), None, shipped)
    for row in choice.unassigned:
        book.unassigned.append(Unassigned(
            row.return_id, UnassignedCode(row.code), f"booked after the plan: {row.reason}"
        ))  # fmt: skip
    ends: dict[str, list[str]] = {}
    for rid, node_id in choice.node_of.items():
        order_id = choice.tied.get(rid)
        if order_id is not None and order_id not in pool:
            book.unassigned.append(Unassigned(
                rid, UnassignedCode.EXCHANGE_BOOKED_LATE,
                _too_late(order_id, kept), node_id,
            ))  # fmt: skip
            continue
        book.sources[rid] = node_id
        others = candidate_nodes(day, returns[rid], shipped)
        ends[rid] = [] if order_id else [n for n in others if n != node_id]
    return ends, choice.priced


def _too_late(order_id: str, kept: list[Route]) -> str:
    """Why an exchange booked after the plan cannot be picked up with its delivery."""
    where = "already on its way"
    for route in kept:
        for stop in route.stops:
            if stop.order_id == order_id and not stop.failed_attempt:
                if stop.locked and stop.outcome == "delivered":
                    where = f"already delivered by {route.vehicle_id}"
                elif stop.locked:
                    where = f"being delivered by {route.vehicle_id}"
                else:
                    where = f"already on board {route.vehicle_id}, out on its trip"
    return (
        f"an exchange booked after the plan, when its delivery {order_id} was {where}: "
        "the pickup can no longer be that visit, and an exchange is not picked up on a "
        "visit of its own; book the pickup as a plain return (or the exchange with a new "
        "delivery) for the next plan"
    )
