"""Access: green orders by bike, zones (low-emission, limited-traffic) by the vehicles
they admit, and items by the modes their catalogue rows allow."""

from __future__ import annotations

from optimizer.check.records import _Context, _Plan, _stop_items
from optimizer.model import Service, ZoneRule


def _check_access(ctx: _Context, plan: _Plan) -> None:
    sc = ctx.scenario
    for route in plan.routes:
        vt = route.vehicle_type
        if vt is None:
            continue
        for stop in route.stops:
            order = ctx.visit(stop)
            if order is None or order.service is Service.CLICK_COLLECT:
                continue  # collect_routed says it
            if sc.may_deliver(vt, order):
                continue
            who = f"{order.order_id} on {route.label}"
            ids = order.order_id, route.vehicle_id
            if order.service is Service.GREEN and not vt.mode.is_bike:
                ctx.flag(
                    "green_not_bike",
                    f"{who}: a green order goes by cargo bike or trike, not by {vt.mode.value}",
                    *ids,
                )
            for zone in sc.zones_at(order.lat, order.lon):
                if zone.admits(vt):
                    continue
                if zone.rule is ZoneRule.LOW_EMISSION:
                    ctx.flag(
                        "low_emission_zone",
                        f"{who}: {vt.vehicle_type_id} is not zero-emission and may not "
                        f"deliver in the low-emission zone {zone.name} ({zone.zone_id})",
                        *ids,
                    )
                else:
                    allowed = sorted(zone.allowed_modes or ("cargo_bike", "cargo_trike"))
                    ctx.flag(
                        "limited_traffic_zone",
                        f"{who}: a {vt.mode.value} may not deliver in the limited-traffic "
                        f"zone {zone.name} ({zone.zone_id}); allowed: "
                        f"{', '.join(allowed)}",
                        *ids,
                    )


def _check_item_modes(ctx: _Context, plan: _Plan) -> None:
    """Every item a stop delivers (a parcel's own lines, else its order's) goes by a mode
    its catalogue row allows (``modes``; empty: any). Returns' pickups are not bound."""
    for route, _, order, sku, item in _stop_items(ctx, plan, pickups=False):
        vt = route.vehicle_type
        if not item.modes or vt.mode in item.modes:
            continue
        ctx.flag(
            "item_mode",
            f"{order.order_id} on {route.label}: {sku} goes only by "
            f"{', '.join(sorted(item.modes))}, not by {vt.mode.value}",
            order.order_id,
            route.vehicle_id,
        )
