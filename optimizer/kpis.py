"""The plan's key figures, summed from what the plan says (the checker re-derives them)."""

from __future__ import annotations

from collections import Counter, defaultdict

from optimizer.model import Plan, Scenario, parcel_view, with_order_changes


def plan_kpis(scenario: Scenario, plan: Plan) -> dict:
    """KPIs of a plan (see docs/plan-format.md); a re-plan's order changes are applied to
    ``scenario`` (again, if the caller did)."""
    scenario = with_order_changes(scenario, plan.order_changes)
    total = len(scenario.orders)
    # A failed attempt kept on a re-planned route is not where its order ends.
    delivered = [s for r in plan.routes for s in r.stops if not s.failed_attempt]
    pickups = [s for s in delivered if s.is_pickup]
    delivered = [s for s in delivered if not s.is_pickup]
    routed_ids = {s.order_id for s in delivered}
    routed = len(routed_ids)
    parcels = len(delivered) + len(plan.collections)
    # An order counts once: routed while a parcel of it is on a route, else collected;
    # unassigned when all of it is (a re-plan may leave one parcel of a split order
    # unassigned after the others were delivered: ``parcels_unassigned``).
    collected = len({c.order_id for c in plan.collections} - routed_ids)
    whole = [u for u in plan.unassigned if u.parcel_id is None]
    unassigned = len(whole)
    undeliverable = sum(1 for u in whole if not u.code.deliverable)
    deliverable = total - undeliverable
    late = {
        s.order_id
        for s in delivered
        if s.service_start_s > parcel_view(scenario, plan, s.order_id, s.parcel_id).slot_end_s
    }
    on_time = routed - len(late)  # an order is on time when all its parcels are
    km_by_mode: dict[str, float] = defaultdict(float)
    cost_by_mode: dict[str, float] = defaultdict(float)
    vehicles_by_mode: dict[str, set[str]] = defaultdict(set)
    for r in plan.routes:
        km_by_mode[r.mode] += r.distance_m / 1000
        cost_by_mode[r.mode] += r.cost_eur
        vehicles_by_mode[r.mode].add(r.vehicle_id)
    handling = sum(  # every parcel is picked and packed at its node
        scenario.nodes[node_id].handling_cost_eur for node_id, _ in plan.shipments(scenario)
    ) + sum(  # every return picked up is checked back into its end node's stock
        scenario.nodes[r.node_id].handling_cost_eur
        for r in plan.routes
        for s in r.stops
        if s.is_pickup and not s.failed_attempt
    )
    route_cost = sum(cost_by_mode.values())
    return {
        "orders_total": total,
        "orders_routed": routed,
        "orders_collected": collected,
        "orders_unassigned": unassigned,
        "orders_deliverable": deliverable,
        "orders_split": len({p.order_id for p in plan.parcels.values()}),
        "parcels_unassigned": len(plan.unassigned) - unassigned,
        "parcels_shipped": parcels,
        "served_deliverable_pct": _pct(routed + collected, deliverable),
        "on_time_pct": _pct(on_time, routed),
        "distance_km_by_mode": {m: round(v, 3) for m, v in sorted(km_by_mode.items())},
        "cost_eur": round(route_cost + handling, 3),
        "route_cost_eur_by_mode": {m: round(v, 3) for m, v in sorted(cost_by_mode.items())},
        "handling_cost_eur": round(handling, 3),
        "co2_g": round(sum(r.co2_g for r in plan.routes), 3),
        "vehicles_used": len({r.vehicle_id for r in plan.routes}),
        "vehicles_used_by_mode": {m: len(v) for m, v in sorted(vehicles_by_mode.items())},
        "unassigned_by_reason": dict(sorted(Counter(str(u.code) for u in whole).items())),
        # Returns (pickups): the plan picks up returns_routed of returns_total; the rest
        # are listed in plan.returns with a reason.
        "returns_total": len(scenario.returns),
        "returns_routed": len({s.return_id for s in pickups}),
        "returns_unassigned": sum(1 for a in plan.returns if a.status == "unassigned"),
        "solve_s": round(plan.solve_s, 2),
    }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 100.0
