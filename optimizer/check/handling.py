"""Bulky items: every stop's items go on a vehicle with the crew and the equipment their
catalogue rows ask for (``crew``, ``equipment``), deliveries and pickups alike (the old
sofa taken back takes two people, as the new one). The time to carry in and install
them is part of the order's service time, held by the walk of the routes
(:mod:`optimizer.check.walk`), which names it (:func:`install_words`)."""

from __future__ import annotations

from optimizer.check.figures import _span
from optimizer.check.records import _Context, _Plan, _stop_items
from optimizer.model import Order, Scenario


def _check_item_handling(ctx: _Context, plan: _Plan) -> None:
    """Each SKU a stop delivers (a parcel's own lines, else its order's) or picks up needs
    at most the vehicle type's crew and only equipment it has."""
    for route, stop, visit, sku, item in _stop_items(ctx, plan, pickups=True):
        vt = route.vehicle_type
        does = "picks up" if stop.pickup else "delivers"
        who = f"{visit.order_id} on {route.label}"
        if item.crew > vt.crew:
            ctx.flag(
                "crew_short",
                f"{who} {does} {sku}, which takes a crew of {item.crew}; "
                f"{vt.vehicle_type_id} has {vt.crew}",
                visit.order_id,
                route.vehicle_id,
            )
        missing = sorted(item.equipment - vt.equipment)
        if missing:
            ctx.flag(
                "equipment_missing",
                f"{who} {does} {sku}, which needs {', '.join(missing)}; "
                f"{vt.vehicle_type_id} has "
                f"{', '.join(sorted(vt.equipment)) or 'no equipment'}",
                visit.order_id,
                route.vehicle_id,
            )


def install_words(scenario: Scenario, order: Order) -> str:
    """The part of an order's service time that is carrying in and installing its items
    (``install_min`` per unit in the catalogue), in words for a violation; empty when
    none."""
    parts = [
        (line.sku, line.qty, scenario.catalogue[line.sku].install_s)
        for line in order.lines
        if line.sku in scenario.catalogue and scenario.catalogue[line.sku].install_s
    ]
    if not parts:
        return ""
    total_s = sum(qty * s for _, qty, s in parts)
    what = ", ".join(f"{sku} x{qty}" for sku, qty, _ in parts)
    return f" ({_span(total_s)} of it carrying in and installing {what})"
