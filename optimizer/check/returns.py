"""Returns: each picked up exactly once or unassigned with a reason, the returns table,
and what is picked up restocked at the node where its tour ends."""

from __future__ import annotations

from collections import Counter, defaultdict

from optimizer.check.figures import _clock, _num
from optimizer.check.read import _Fields
from optimizer.check.records import _Context, _Plan, _Route


def _check_returns(ctx: _Context, plan: _Plan) -> None:
    """Every return of the scenario is picked up exactly once or listed unassigned with a
    reason; the returns table agrees with the routes (pickup slots, loads and zones are
    checked with the other stops)."""
    sc = ctx.scenario
    picked: dict[str, list[_Route]] = defaultdict(list)
    for route in plan.routes:
        for stop in route.stops:
            if stop.pickup and stop.order_id is not None and not stop.failed_attempt:
                picked[stop.order_id].append(route)
    rows: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for i, obj in plan.returns or []:
        f = _Fields(ctx, obj, f"return {i + 1}")
        f.order_id = return_id = f.text("return_id")
        status = f.text("status")
        if return_id is None or status is None:
            continue
        if status not in ("routed", "unassigned"):
            f.bad("status", f"{status!r} is not routed or unassigned")
            continue
        rows[return_id].append((status, obj))
        if status == "unassigned" and not str(obj.get("reason") or "").strip():
            ctx.flag(
                "missing_reason",
                f"return {return_id} is unassigned without a reason a planner can act on",
                return_id,
            )
    for return_id in sorted(set(picked) | set(rows)):
        if return_id not in sc.returns_by_id:
            ctx.flag("unknown_return", f"{return_id} is not a return of the scenario", return_id)
    for ret in sc.returns:
        rid = ret.return_id
        routes, said = picked.get(rid, []), rows.get(rid, [])
        unassigned = [obj for status, obj in said if status == "unassigned"]
        if len(routes) > 1 or (routes and unassigned):
            where = [f"picked up by {r.label}" for r in routes] + ["listed unassigned"] * len(
                unassigned
            )
            ctx.flag("return_duplicated", f"return {rid} is {', '.join(where)}", rid)
        elif not routes and not unassigned:
            ctx.flag(
                "return_missing",
                f"return {rid} is neither picked up nor listed unassigned with a reason",
                rid,
            )
        if plan.returns is None or not routes:
            continue
        route = routes[0]
        for status, obj in said:
            if status != "routed":
                continue
            node_id, vehicle_id = obj.get("node_id"), obj.get("vehicle_id")
            if node_id not in (None, route.node_id) or vehicle_id not in (None, route.vehicle_id):
                ctx.flag(
                    "return_assignment_mismatch",
                    f"returns say {rid} goes back to {node_id} on {vehicle_id}, but it is "
                    f"picked up by {route.label} of {route.node_id}",
                    rid,
                    route.vehicle_id,
                )
        if not any(status == "routed" for status, _ in said):
            ctx.flag(
                "return_assignment_mismatch",
                f"returns have no routed row for {rid}, picked up by {route.label}",
                rid,
                route.vehicle_id,
            )


def _check_restock(ctx: _Context, plan: _Plan) -> None:
    """What each tour picked up goes back to the stock of the node it ends at (the
    vehicle's own), at the tour's end: the plan's ``restock`` says exactly that."""
    sc = ctx.scenario
    expected: dict[tuple, Counter] = {}
    labels: dict[tuple, str] = {}
    for route in plan.routes:
        got: Counter = Counter()
        for stop in route.stops:
            ret = sc.returns_by_id.get(stop.order_id or "") if stop.pickup else None
            if ret is not None and not stop.failed_attempt:
                for line in ret.lines:
                    got[line.sku] += line.qty
        if got:
            end_node = route.base.node_id if route.base is not None else route.node_id
            key = (end_node, route.vehicle_id, route.end_s)
            expected[key] = expected.get(key, Counter()) + got
            labels[key] = route.label
    said: dict[tuple, Counter] = {}
    for i, obj in plan.restock or []:
        f = _Fields(ctx, obj, f"restock {i + 1}")
        node_id, vehicle_id, at_s = f.text("node_id"), f.text("vehicle_id"), f.time("at")
        lines: Counter = Counter()
        for k, item in f.objects("lines") or []:
            line = _Fields(ctx, item, f"restock {i + 1} line {k + 1}")
            sku, qty = line.text("sku"), line.number("qty")
            if sku is not None and qty is not None:
                lines[sku] += qty
        key = (node_id, vehicle_id, at_s)
        said[key] = said.get(key, Counter()) + lines
    for key in sorted(set(expected) | set(said), key=str):
        want, have = expected.get(key, Counter()), said.get(key, Counter())
        if want == have:
            continue
        node_id, vehicle_id, at_s = key
        when = _clock(at_s) if at_s is not None else "?"
        if key in expected and key not in said:
            text = (
                f"{labels[key]} picks up {_counted(want)} and is back at {node_id} at "
                f"{when}, but the plan restocks none of it there then"
            )
        elif key not in expected:
            text = (
                f"the plan restocks {_counted(have)} at {node_id} at {when} from "
                f"{vehicle_id}, but no tour of that vehicle ending there then picked it up"
            )
        else:
            text = (
                f"{labels[key]} picks up {_counted(want)} but the plan restocks "
                f"{_counted(have)} at {node_id} at {when}"
            )
        ctx.flag("restock_mismatch", text, vehicle_id=vehicle_id)


def _counted(lines: Counter) -> str:
    return ", ".join(f"{sku} x{_num(q)}" for sku, q in sorted(lines.items())) or "nothing"
