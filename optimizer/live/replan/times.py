"""Times and costs of the re-plan's routes: a route re-timed over a subset of its stops,
the later slots a failed delivery may be retried in (and the one it lands in once
routed), the routes' cost and CO2, and a clock time in words."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from optimizer.live.replan.state import FailedPolicy, ReplanParams
from optimizer.model import Break, OrderChange, Route, Scenario, Stop
from optimizer.travel import Profile, TimedLegs, TravelProvider


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _later_window(order, ready_s: int, params: ReplanParams) -> tuple[int, int] | None:
    """The span of the order's later slots (its own slot length, on its own grid, ending
    by ``delivery_end_s``) that start once the parcel is back at its node; None if no
    such slot is left today."""
    length = order.slot_end_s - order.slot_start_s
    if length <= 0:
        return None
    k = max(1, math.ceil((ready_s - order.slot_start_s) / length))
    n = (params.delivery_end_s - order.slot_start_s) // length  # slots that fit the day
    if k >= n:
        return None
    return order.slot_start_s + k * length, order.slot_start_s + n * length


def _snap_retry_slots(
    scenario: Scenario, routes: list[Route], changes: list[OrderChange]
) -> list[OrderChange]:
    """A retried order's new slot: the one of its original length in which its new
    service starts (the routing window spanned every later slot)."""
    served = {s.order_id: s.service_start_s for r in routes for s in r.stops if not s.locked}
    out = []
    for c in changes:
        if c.kind != FailedPolicy.RETRY_LATER_SLOT.value or c.order_id not in served:
            out.append(c)
            continue
        base = scenario.orders_by_id[c.order_id]
        length = base.slot_end_s - base.slot_start_s
        k = max(0, (served[c.order_id] - c.slot_start_s) // length)
        start = min(c.slot_start_s + k * length, c.slot_end_s - length)
        out.append(replace(c, slot_start_s=start, slot_end_s=start + length))
    return out


def _variable_cost(vt, route: Route) -> float:
    return (
        vt.cost_per_km_eur * route.distance_m / 1000
        + vt.cost_per_hour_eur * (route.end_s - route.start_s) / 3600
    )


def _retimed(scenario: Scenario, travel: TravelProvider, route: Route, stops: list[Stop]) -> Route:
    """The route with only ``stops`` (a subset, in order), leaving at its start (after
    its reload), its breaks after the same stops: with stops removed, every other is
    served no later than before, still in its slot."""
    vt = scenario.vehicle_types[route.vehicle_type_id]
    node = scenario.nodes[route.node_id]
    orders = [scenario.orders_by_id[s.order_id] for s in stops]
    lat = np.array([node.lat] + [o.lat for o in orders])
    lon = np.array([node.lon] + [o.lon for o in orders])
    dist, free_s = travel.matrices(lat, lon, Profile.of(vt))
    dur = TimedLegs.of(travel, free_s, vt.mode)
    kg = sum(scenario.weight_kg(o) for o in orders)
    litres = sum(scenario.volume_l(o) for o in orders)
    keep = {s.order_id for s in stops}
    pauses = sorted(
        (sum(1 for s in route.stops[: b.after_stop] if s.order_id in keep), b.end_s - b.start_s)
        for b in route.breaks
    )
    breaks: list[Break] = []

    def pause(t: int, served: int) -> int:
        while pauses and pauses[0][0] <= served:
            breaks.append(Break(t, t + pauses.pop(0)[1], served))
            t = breaks[-1].end_s
        return t

    t, at, metres, new = pause(route.start_s + route.reload_s, 0), 0, 0, []
    for k, order in enumerate(orders, 1):
        arrival = t + dur(at, k, t)
        begin = max(arrival, order.slot_start_s)
        new.append(
            Stop(
                order.order_id,
                order.lat,
                order.lon,
                arrival,
                begin,
                begin + order.service_time_s,
                int(dist[at, k]),
                round(kg, 3),
                round(litres, 3),
            )
        )
        kg -= scenario.weight_kg(order)
        litres -= scenario.volume_l(order)
        metres += int(dist[at, k])
        t, at = pause(begin + order.service_time_s, k), k
    return replace(
        route,
        stops=new,
        breaks=breaks,
        end_s=t + dur(at, 0, t),
        distance_m=metres + int(dist[at, 0]),
        load_kg=round(sum(scenario.weight_kg(o) for o in orders), 3),
        load_l=round(sum(scenario.volume_l(o) for o in orders), 3),
    )


def _costed(scenario: Scenario, routes: list[Route]) -> list[Route]:
    """Cost and CO2 of every route; a vehicle's fixed cost on its first route only."""
    out, seen = [], set()
    for r in sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)):
        vt = scenario.vehicle_types[r.vehicle_type_id]
        fixed = 0.0 if r.vehicle_id in seen else vt.fixed_cost_eur
        seen.add(r.vehicle_id)
        cost = (
            fixed
            + vt.cost_per_km_eur * r.distance_m / 1000
            + vt.cost_per_hour_eur * (r.end_s - r.start_s) / 3600
        )
        out.append(
            replace(
                r,
                cost_eur=round(cost, 6),
                co2_g=round(vt.co2_g_per_km * r.distance_m / 1000, 6),
            )
        )
    return out
