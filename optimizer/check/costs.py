"""Money and CO2 per route: recomputed from the vehicle type, compared with the plan's."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.check.figures import _close, _or_inf
from optimizer.check.records import _Context, _Plan


@dataclass(frozen=True)
class _Cost:
    mode: str
    km: float
    fixed_eur: float
    hours: float
    cost_eur: float
    co2_g: float


def _route_costs(plan: _Plan) -> dict[int, _Cost]:
    """Recomputed cost of every route that can be walked and timed, by route index.

    The vehicle's fixed cost is charged once, on its first route by start time.
    """
    first: dict[str | None, int] = {}
    for route in sorted(plan.routes, key=lambda r: (_or_inf(r.start_s), r.index)):
        first.setdefault(route.vehicle_id, route.index)
    costs = {}
    for route in plan.routes:
        vt = route.vehicle_type
        if route.walk is None or vt is None or route.start_s is None or route.end_s is None:
            continue
        km = route.walk.distance_m / 1000
        hours = (route.end_s - route.start_s) / 3600
        fixed_eur = vt.fixed_cost_eur if first[route.vehicle_id] == route.index else 0.0
        costs[route.index] = _Cost(
            mode=vt.mode.value,
            km=km,
            fixed_eur=fixed_eur,
            hours=hours,
            cost_eur=fixed_eur + vt.cost_per_km_eur * km + vt.cost_per_hour_eur * hours,
            co2_g=vt.co2_g_per_km * km,
        )
    return costs


def _check_route_figures(ctx: _Context, plan: _Plan, costs: dict[int, _Cost]) -> None:
    for route in plan.routes:
        vid = route.vehicle_id
        if (
            route.duration_s is not None
            and route.start_s is not None
            and route.end_s is not None
            and route.duration_s != route.end_s - route.start_s
        ):
            ctx.flag(
                "route_figure_mismatch",
                f"{route.label}: duration_s is {route.duration_s:g}, but end - start is "
                f"{route.end_s - route.start_s} s",
                vehicle_id=vid,
            )
        cost = costs.get(route.index)
        vt = route.vehicle_type
        if cost is None or vt is None:
            continue
        if route.cost_eur is not None and not _close(route.cost_eur, cost.cost_eur):
            first = "on its first tour" if cost.fixed_eur else "not on a later tour"
            ctx.flag(
                "route_figure_mismatch",
                f"{route.label}: cost_eur is {route.cost_eur:.2f}, recomputed "
                f"{cost.cost_eur:.2f} = fixed {cost.fixed_eur:.2f} ({first}) + "
                f"{vt.cost_per_km_eur:g}/km x {cost.km:.2f} km + "
                f"{vt.cost_per_hour_eur:g}/h x {cost.hours:.2f} h",
                vehicle_id=vid,
            )
        if route.co2_g is not None and not _close(route.co2_g, cost.co2_g):
            ctx.flag(
                "route_figure_mismatch",
                f"{route.label}: co2_g is {route.co2_g:g}, recomputed {cost.co2_g:.2f} = "
                f"{vt.co2_g_per_km:g} g/km x {cost.km:.2f} km",
                vehicle_id=vid,
            )
