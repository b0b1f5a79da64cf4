"""Orders: each exactly once (routed, collected or unassigned), its parcels carrying
its lines, unassigned ones with a known code and a reason, the assignments table."""

from __future__ import annotations

from collections import Counter

from optimizer.check.figures import _num
from optimizer.check.records import _Assignment, _Context, _Place, _place_lines, _Plan
from optimizer.model import Order, Service, UnassignedCode


def _check_order_coverage(ctx: _Context, plan: _Plan) -> None:
    places = plan.places()
    for order_id, where in places.items():
        if order_id not in ctx.scenario.orders_by_id:
            for place in where:
                ctx.flag(
                    "unknown_order",
                    f"{order_id} ({place.text}) is not an order of the scenario",
                    order_id,
                    place.vehicle_id,
                )
    for order in ctx.scenario.orders:
        where = places.get(order.order_id, [])
        if not where:
            ctx.flag(
                "order_missing",
                f"{order.order_id} is neither routed, collected nor unassigned",
                order.order_id,
            )
        elif any(p.status == "unassigned" and p.parcel_id is None for p in where):
            if len(where) > 1:
                ctx.flag(
                    "order_duplicated",
                    f"{order.order_id} appears {len(where)} times: "
                    + ", ".join(p.text for p in where),
                    order.order_id,
                )
        else:
            _check_parcels(ctx, plan, order, where)


def _check_parcels(ctx: _Context, plan: _Plan, order: Order, where: list[_Place]) -> None:
    """The parcels of a shipped order: distinct, at most max_split, its lines exactly."""
    oid = order.order_id
    ids = Counter(p.parcel_id or oid for p in where)
    twice = sorted(k for k, n in ids.items() if n > 1)
    if twice or (len(where) > 1 and order.service is Service.CLICK_COLLECT):
        why = (
            f"parcel {', '.join(twice)} is shipped more than once"
            if twice
            else "click & collect orders are not split"
        )
        ctx.flag(
            "order_duplicated",
            f"{oid} appears {len(where)} times ({why}): " + ", ".join(p.text for p in where),
            oid,
        )
        return
    if len(where) > plan.max_split:
        ctx.flag(
            "split_over_limit",
            f"{oid} ships in {len(where)} parcels, over the plan's max_split {plan.max_split}: "
            + ", ".join(p.text for p in where),
            oid,
        )
    shipped: Counter = Counter()
    for place in where:
        for sku, qty in _place_lines(order, place):
            shipped[sku] += qty
    ordered: Counter = Counter()
    for line in order.lines:
        ordered[line.sku] += line.qty
    if shipped != ordered:
        diff = ", ".join(
            f"{sku} ordered {ordered.get(sku, 0)}, shipped {_num(shipped.get(sku, 0))}"
            for sku in sorted(set(shipped) | set(ordered), key=str)
            if shipped.get(sku, 0) != ordered.get(sku, 0)
        )
        ctx.flag(
            "parcel_lines_mismatch",
            f"the {len(where)} parcel(s) of {oid} do not carry its lines exactly once: {diff}",
            oid,
        )


def _check_unassigned(ctx: _Context, plan: _Plan) -> None:
    known = {code.value for code in UnassignedCode}
    for u in plan.unassigned:
        if u.code not in known:
            ctx.flag(
                "bad_unassigned_code",
                f"{u.order_id} is unassigned with code {u.code!r}, "
                f"not one of {', '.join(sorted(known))}",
                u.order_id,
            )
        if not (u.reason or "").strip():
            ctx.flag(
                "missing_reason",
                f"{u.order_id} is unassigned ({u.code}) without a reason a planner can act on",
                u.order_id,
            )


def _check_assignments(ctx: _Context, plan: _Plan) -> None:
    if plan.assignments is None:
        return
    places = plan.places()
    rows = Counter(a.order_id for a in plan.assignments)
    for a in plan.assignments:
        if a.order_id is None:
            continue
        if a.order_id not in ctx.scenario.orders_by_id:
            ctx.flag(
                "unknown_order",
                f"assignments list {a.order_id}, which is not an order of the scenario",
                a.order_id,
            )
            continue
        if not places.get(a.order_id):
            continue  # order_missing says it
        if len(places[a.order_id]) > 1 or a.parcels is not None:
            _check_split_assignment(ctx, a, places[a.order_id])
            continue
        actual = places[a.order_id][0]
        said = f"assignments say {a.order_id}"
        if a.status != actual.status:
            ctx.flag(
                "assignment_mismatch", f"{said} is {a.status}, but it is {actual.text}", a.order_id
            )
        elif a.node_id != actual.node_id:
            ctx.flag(
                "assignment_mismatch",
                f"{said} ships from {a.node_id}, but it is {actual.text} (from {actual.node_id})",
                a.order_id,
            )
        elif (
            a.status == "routed" and a.vehicle_id is not None and a.vehicle_id != actual.vehicle_id
        ):
            ctx.flag(
                "assignment_mismatch",
                f"{said} goes on {a.vehicle_id}, but it is {actual.text}",
                a.order_id,
            )
    for order in ctx.scenario.orders:
        n = rows.get(order.order_id, 0)
        if n != 1 and places.get(order.order_id):  # a missing order is order_missing
            ctx.flag(
                "assignment_mismatch",
                f"assignments have {n} rows for {order.order_id}, not one",
                order.order_id,
            )


def _check_split_assignment(ctx: _Context, a: _Assignment, where: list[_Place]) -> None:
    """A split order's row: its status, and one parcel entry per parcel where it is."""
    actual = {p.parcel_id or a.order_id: (p.node_id, p.vehicle_id) for p in where}
    # Routed while a parcel is on a route, else collected while one is at a store.
    statuses = {p.status for p in where}
    status = next(s for s in ("routed", "collected", "unassigned") if s in statuses)
    if a.status != status or a.parcels != actual:
        said = ", ".join(f"{k} from {n} on {v}" for k, (n, v) in sorted((a.parcels or {}).items()))
        ctx.flag(
            "assignment_mismatch",
            f"assignments say {a.order_id} is {a.status} as parcels [{said}], but it is "
            + ", ".join(p.text for p in where),
            a.order_id,
        )
