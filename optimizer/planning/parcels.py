"""Split orders and returns as routed stops.

A split order is routed as its parcels (``ORDER/1``, ``ORDER/2``: each a stop with the
order's address and slot and the part's lines), each in its node's batch. It is served
only if all its parcels are: when one is left out even after the retry round, the order
is listed unassigned with that parcel's reason and its other parcels come off their
routes (their stock and picking are given back), so nothing is half delivered.
"""

from __future__ import annotations

from dataclasses import replace

from optimizer.model import Route, Scenario, Unassigned
from optimizer.planning.problem import NodeProblem
from optimizer.routing import RoutingResult
from optimizer.sourcing import GreedySourcing, SourcingDecision


def _units(decision: SourcingDecision) -> dict[str, str]:
    """What a decision routes: the order itself, or each of its parcels, with its node."""
    if decision.parts:
        return {p.parcel_id: p.node_id for p in decision.parts}
    return {decision.order_id: decision.node_id}


def _with_parcels(scenario: Scenario, sourcing: GreedySourcing) -> Scenario:
    """The scenario the routing sees: its orders and, as order-like stops, the parcels of
    split orders (the order's address and slot with the part's lines) and the returns
    (pickups; ``build_problem`` knows them by ``scenario.returns_by_id``)."""
    if not sourcing.parcel_orders and not scenario.returns:
        return scenario
    return replace(
        scenario,
        orders=[
            *scenario.orders,
            *sourcing.parcel_orders.values(),
            *(r.as_stop() for r in scenario.returns),
        ],
    )


def _whole_orders(
    sourcing: GreedySourcing, decisions: dict, unassigned: list[Unassigned]
) -> tuple[list[Unassigned], set[str]]:
    """Turn unserved parcels into their unserved orders. A split order with a parcel left
    out is unassigned whole, with that parcel's reason; its other parcels give back their
    stock and picking and are returned (``held back``) to come off their routes."""
    out: list[Unassigned] = []
    failed: dict[str, list[Unassigned]] = {}
    for u in unassigned:
        parcel = sourcing.parcels.get(u.order_id)
        if parcel is None:
            out.append(u)
        else:
            failed.setdefault(parcel.order_id, []).append(u)
    held_back: set[str] = set()
    for order_id, reasons in failed.items():
        first = reasons[0]
        parcels = [p for p in sourcing.parcels.values() if p.order_id == order_id]
        lost = {u.order_id for u in reasons}
        others = [p.parcel_id for p in parcels if p.parcel_id not in lost]
        for parcel_id in others:
            if parcel_id in sourcing.held:
                sourcing.release(parcel_id)
            held_back.add(parcel_id)
        lines = ", ".join(f"{x.sku} x{x.qty}" for x in sourcing.parcels[first.order_id].lines)
        also = f"; its other parcel(s) {', '.join(others)} are not shipped" if others else ""
        out.append(
            Unassigned(
                order_id,
                first.code,
                f"the order is split and parcel {first.order_id} ({lines}) cannot be served: "
                f"{first.reason}{also}, so nothing is half delivered",
                first.node_id,
            )
        )
        decisions.pop(order_id, None)
        sourcing.forget(order_id)
    return out, held_back


def _without(node_problem: NodeProblem, result: RoutingResult, units: set[str]) -> RoutingResult:
    """The routes without the stops of ``units``: tours left empty are dropped, a break
    stays after the same stops (in the next tour, before it leaves, if its tour is gone;
    or at the end of the last one), and a route left with no tour is dropped."""
    if not units:
        return result
    routes = []
    for r in result.routes:
        trips, rest = [], r.rest
        for k, trip in enumerate(r.trips()):
            kept = [i for i in trip if node_problem.order_ids[i] not in units]
            if rest is not None and rest.trip == k:
                after = sum(node_problem.order_ids[i] not in units for i in trip[: rest.after_stop])
                rest = replace(rest, trip=len(trips) if kept else -1, after_stop=after)
            if kept:
                trips.append(kept)
            elif rest is not None and rest.trip == -1 and k + 1 < len(r.trips()):
                rest = replace(rest, trip=len(trips), after_stop=0)  # before the next tour
        if not trips:
            continue
        if rest is not None and rest.trip in (-1, len(trips)):
            rest = replace(rest, trip=len(trips) - 1, after_stop=len(trips[-1]))
        routes.append(
            replace(
                r,
                stops=[i for trip in trips for i in trip],
                trip_sizes=[len(t) for t in trips] if r.trip_sizes else [],
                rest=rest,
            )
        )
    return replace(result, routes=routes)


def _as_parcels(route: Route, sourcing: GreedySourcing) -> Route:
    """Stops of parcels carry their order's id and their own parcel id."""
    if not any(s.order_id in sourcing.parcels for s in route.stops):
        return route
    stops = [
        replace(s, order_id=sourcing.parcels[s.order_id].order_id, parcel_id=s.order_id)
        if s.order_id in sourcing.parcels
        else s
        for s in route.stops
    ]
    return replace(route, stops=stops)
