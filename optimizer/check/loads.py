"""Loads on board along a route: within the vehicle's capacity at every point, and as
reported (weights and volumes from the catalogue)."""

from __future__ import annotations

from optimizer.check.figures import EPSILON, _close, _num
from optimizer.check.records import _Context, _Plan, _Route, _Stop, _stop_lines
from optimizer.model import Order, Scenario


def _loads(ctx: _Context, route: _Route) -> list[tuple[float, float]] | None:
    """The load on board along a route: leaving the node (every delivery of the tour),
    then after each stop (a delivery leaves, a pickup boards; the parcel of a failed
    attempt stays on board). None when a stop is unknown (unknown_order says it)."""
    sc = ctx.scenario
    visits = [ctx.visit(s) for s in route.stops]
    if any(v is None for v in visits):
        return None
    pairs = list(zip(visits, route.stops, strict=True))
    kg = sum(_kg(sc, o, s) for o, s in pairs if not s.pickup)
    litres = sum(_litres(sc, o, s) for o, s in pairs if not s.pickup)
    out = [(kg, litres)]
    for o, s in pairs:
        if s.failed_attempt:
            pass
        elif s.pickup:
            kg, litres = kg + _kg(sc, o, s), litres + _litres(sc, o, s)
        else:
            kg, litres = kg - _kg(sc, o, s), litres - _litres(sc, o, s)
        out.append((kg, litres))
    return out


def _check_capacity(ctx: _Context, plan: _Plan) -> None:
    """Never over capacity at any point of a route: leaving with the deliveries, and
    after each pickup boards."""
    for route in plan.routes:
        vt = route.vehicle_type
        loads = _loads(ctx, route) if vt is not None else None
        if loads is None:
            continue
        for k in (0, 1):
            capacity, unit = (vt.capacity_kg, "kg") if k == 0 else (vt.capacity_l, "l")
            worst = max(range(len(loads)), key=lambda j: loads[j][k])
            load = loads[worst][k]
            if load > capacity + EPSILON:
                where = (
                    "leaving the node"
                    if worst == 0
                    else f"after stop {worst} ({route.stops[worst - 1].order_id})"
                )
                ctx.flag(
                    "overloaded",
                    f"{route.label} carries {load:.1f} {unit} {where}, over the "
                    f"{vt.vehicle_type_id}'s {capacity:g} {unit} capacity",
                    vehicle_id=route.vehicle_id,
                )


def _check_reported_loads(ctx: _Context, plan: _Plan) -> None:
    """What is on board leaving the node, then on arrival at each stop (when reported)."""
    for route in plan.routes:
        loads = _loads(ctx, route)
        if loads is None:
            continue  # unknown_order says it; the loads cannot be recomputed
        kg, litres = loads[0]
        _check_load(ctx, route, route.label, None, route.load_kg, route.load_l, kg, litres)
        for k, stop in enumerate(route.stops):
            kg, litres = loads[k]
            _check_load(
                ctx,
                route,
                f"{stop.order_id} on {route.label}",
                stop.order_id,
                stop.load_kg,
                stop.load_l,
                kg,
                litres,
            )


def _check_load(
    ctx: _Context,
    route: _Route,
    who: str,
    order_id: str | None,
    said_kg: float | None,
    said_l: float | None,
    kg: float,
    litres: float,
) -> None:
    for said, actual, unit in ((said_kg, kg, "kg"), (said_l, litres, "l")):
        if said is not None and not _close(said, actual):
            ctx.flag(
                "load_mismatch",
                f"{who}: load on board is reported {_num(said)} {unit}, the catalogue "
                f"gives {_num(actual)} {unit}",
                order_id,
                route.vehicle_id,
            )


def _kg(sc: Scenario, order: Order, stop: _Stop) -> float:
    """Weight of what a stop delivers (a SKU not in the catalogue weighs nothing here:
    parcel_lines_mismatch says it)."""
    cat = sc.catalogue
    return sum(cat[k].weight_kg * q for k, q in _stop_lines(order, stop) if k in cat)


def _litres(sc: Scenario, order: Order, stop: _Stop) -> float:
    cat = sc.catalogue
    return sum(cat[k].volume_l * q for k, q in _stop_lines(order, stop) if k in cat)
