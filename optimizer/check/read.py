"""Reading plan.json into the checker's records: a missing key or an unreadable value
is flagged ``malformed``, never raised; a re-plan's order changes are checked as read."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

from optimizer.check.figures import MAX_PLAN_NUMBER, _clock, _is_number, _or_inf, _shown
from optimizer.check.records import (
    Lines,
    _Assignment,
    _Break,
    _Collection,
    _Context,
    _Plan,
    _return_visit,
    _Route,
    _Stop,
    _Unassigned,
)
from optimizer.model import NodeKind, OrderChange, Service

PLAN_FORMAT = "lastmile-plan/1"
# plan.json is 7 levels deep (plan.routes[i].stops[j].lines[k].qty); deeper is not a plan.
MAX_PLAN_DEPTH = 32
# The values :func:`_check_values` reports before it says how many more there are.
MAX_WILD_VALUES = 20


class _Fields:
    """Reads the fields of one JSON object; a missing or bad field is flagged, not raised."""

    def __init__(self, ctx: _Context, obj: dict, where: str, vehicle_id: str | None = None):
        self.ctx, self.obj, self.where = ctx, obj, where
        self.vehicle_id = vehicle_id
        self.order_id: str | None = None

    def bad(self, key: str, what: str) -> None:
        self.ctx.flag("malformed", f"{self.where}: {key} {what}", self.order_id, self.vehicle_id)

    def _get(self, key: str, required: bool) -> Any:
        value = self.obj.get(key)
        if value is None and required:
            self.bad(key, "is missing" if key not in self.obj else "is null")
        return value

    def text(self, key: str, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is None or isinstance(value, str):
            return value
        self.bad(key, f"{_shown(value)} is not a string")
        return None

    def number(self, key: str, required: bool = True) -> float | None:
        value = self._get(key, required)
        if value is None or _is_number(value):
            return value
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.bad(key, f"{_shown(value)} is not a number")
        # else NaN, an infinity or a number too large: _check_values flagged it at its path
        return None

    def time(self, key: str, required: bool = True) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            self.bad(key, f"{_shown(value)} is not an ISO 8601 datetime")
            return None
        if moment.utcoffset() is None:
            self.bad(key, f"{_shown(value)} has no UTC offset")
            return None
        try:
            return self.ctx.scenario.settings.to_seconds(moment)
        except OverflowError:  # e.g. year 1 at UTC+14: no such local time
            self.bad(key, f"{_shown(value)} is out of range")
            return None

    def objects(self, key: str, required: bool = True) -> list[tuple[int, dict]] | None:
        """The JSON objects of a list field, with their positions (others are flagged)."""
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            self.bad(key, "is not a list")
            return None
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((i, item))
            else:
                self.bad(f"{key}[{i}]", f"{_shown(item)} is not an object")
        return out


def _json_path(path: tuple) -> str:
    """``("routes", 0, "stops")`` -> ``plan.routes[0].stops``."""
    return "plan" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _wild_value(value: Any) -> str | None:
    """What makes ``value`` no JSON value a plan could hold, leaving containers aside."""
    if value is None or isinstance(value, str | bool | dict | list):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{_shown(value)} is not finite (JSON has no NaN or infinity)"
    if isinstance(value, int | float):
        if abs(value) > MAX_PLAN_NUMBER:
            return f"{_shown(value)} is too large (a plan's figures are at most 1e15 in size)"
        return None
    return f"a {type(value).__name__} is not a JSON value"


def _check_values(ctx: _Context, plan: dict) -> None:
    """Flag, wherever they are (fields the checks read or not), values no plan holds:
    NaN and infinities, numbers beyond :data:`MAX_PLAN_NUMBER`, nesting deeper than
    :data:`MAX_PLAN_DEPTH`, keys that are not strings, values that are not JSON. The walk
    is iterative (any depth) and stops after :data:`MAX_WILD_VALUES` findings."""
    found = 0
    stack: list[tuple[tuple, Any]] = [((), plan)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict | list) and len(path) >= MAX_PLAN_DEPTH:
            problem = f"nested deeper than {MAX_PLAN_DEPTH} levels"
        elif isinstance(value, dict):
            problem = next(
                (f"key {_shown(k)} is not a string" for k in value if not isinstance(k, str)),
                None,
            )
            stack.extend(((*path, k), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))
            problem = None
        else:
            problem = _wild_value(value)
        if problem is None:
            continue
        found += 1
        if found > MAX_WILD_VALUES:
            ctx.flag("malformed", f"{_json_path(path)} and after: more values like these")
            return
        ctx.flag("malformed", f"{_json_path(path)}: {problem}")


def _read_plan(ctx: _Context, plan: Any) -> _Plan:
    if not isinstance(plan, dict):
        ctx.flag("malformed", f"plan.json is a {type(plan).__name__}, not a JSON object")
        return _Plan()
    _check_values(ctx, plan)
    top = _Fields(ctx, plan, "plan")
    _check_header(ctx, top)
    routes = [_read_route(ctx, i, obj) for i, obj in top.objects("routes") or []]
    _label_tours(routes)
    kpis = plan.get("kpis")
    if kpis is not None and not isinstance(kpis, dict):
        top.bad("kpis", "is not an object")
        kpis = None
    assignments = top.objects("assignments", required=False)
    max_split = top.number("max_split", required=False)
    if max_split is not None and (max_split < 1 or max_split != int(max_split)):
        top.bad("max_split", f"{_shown(max_split)} is not an integer >= 1")
        max_split = None
    return _Plan(
        max_split=1 if max_split is None else int(max_split),
        routes=routes,
        collections=[_read_collection(ctx, i, obj) for i, obj in top.objects("collections") or []],
        unassigned=[_read_unassigned(ctx, i, obj) for i, obj in top.objects("unassigned") or []],
        assignments=None
        if assignments is None
        else [_read_assignment(ctx, i, obj) for i, obj in assignments],
        kpis=kpis,
        returns=top.objects("returns", required=False),
        restock=top.objects("restock", required=False),
    )


def _read_order_changes(ctx: _Context, plan: dict) -> list[OrderChange]:
    """A re-plan's agreed changes to orders, those a customer could have been offered:
    a later slot of the same day, or collection at a store (see docs/replan.md); of one
    parcel of a split order (``parcel_id``: an id of the form ORDER/k); or a return's
    pickup retried in a later slot (``order_id`` is the return id)."""
    top = _Fields(ctx, plan, "plan")
    out: list[OrderChange] = []
    seen: set[str] = set()
    returns = ctx.scenario.returns_by_id
    for i, obj in top.objects("order_changes") or []:
        c = _Fields(ctx, obj, f"order change {i + 1}")
        c.order_id = c.text("order_id")
        kind, node_id, reason = c.text("kind"), c.text("node_id", False), c.text("reason", False)
        parcel_id = c.text("parcel_id", False)
        start_s, end_s = c.time("slot_start"), c.time("slot_end")
        order = ctx.order(c.order_id)
        if order is None and c.order_id in returns and parcel_id is None:
            order = _return_visit(returns[c.order_id])
            if kind == "click_and_collect":
                kind = None
                c.bad("kind", "a return's pickup can only be retried in a later slot")
        if None in (c.order_id, kind, start_s, end_s):
            continue
        who = f"order change {i + 1} ({parcel_id or c.order_id})"
        problems = []
        key = parcel_id or c.order_id
        if order is None:
            problems.append("is not an order (or return) of the scenario")
        elif key in seen:
            problems.append("is changed twice")
        elif parcel_id is not None and not parcel_id.startswith(f"{c.order_id}/"):
            problems.append(f"parcel {parcel_id!r} is not a parcel of {c.order_id}")
        if kind not in ("retry_later_slot", "click_and_collect"):
            problems.append(f"kind {kind!r} is not retry_later_slot or click_and_collect")
        if not (reason or "").strip():
            problems.append("has no reason in words")
        if end_s < start_s:
            problems.append(f"slot ends {_clock(end_s)} before it starts {_clock(start_s)}")
        if order is not None and kind == "retry_later_slot":
            if order.service is Service.CLICK_COLLECT:
                problems.append("is click & collect: there is no delivery to retry")
            elif start_s < order.slot_start_s:
                problems.append(
                    f"retries at {_clock(start_s)}, before the slot it failed in "
                    f"{_clock(order.slot_start_s)}"
                )
        if kind == "click_and_collect":
            node = ctx.scenario.nodes.get(node_id or "")
            if node is None or node.kind is not NodeKind.STORE:
                problems.append(f"collects at {node_id!r}, which is not a store of the scenario")
        seen.add(key)
        if problems:
            for problem in problems:
                ctx.flag("bad_order_change", f"{who} {problem}", c.order_id)
            continue
        out.append(OrderChange(c.order_id, kind, start_s, end_s, reason, node_id, parcel_id))
    return out


def _check_header(ctx: _Context, top: _Fields) -> None:
    fmt = top.text("format", required=False)
    if fmt is not None and fmt != PLAN_FORMAT:
        ctx.flag("wrong_scenario", f"plan format is {fmt!r}, this checker reads {PLAN_FORMAT!r}")
    header = top.obj.get("scenario")
    day = ctx.scenario.settings.date.isoformat()
    if isinstance(header, dict) and header.get("date", day) != day:
        ctx.flag(
            "wrong_scenario", f"the plan is for {header.get('date')!r}, the scenario for {day}"
        )


def _read_route(ctx: _Context, i: int, obj: dict) -> _Route:
    vehicle_id = obj.get("vehicle_id") if isinstance(obj.get("vehicle_id"), str) else None
    r = _Fields(ctx, obj, f"route {i + 1} ({vehicle_id or 'no vehicle'})", vehicle_id)
    route = _Route(
        index=i,
        label=vehicle_id or f"route {i + 1}",
        vehicle_id=r.text("vehicle_id"),
        vehicle_type_id=r.text("vehicle_type_id"),
        node_id=r.text("node_id"),
        mode=r.text("mode"),
        start_s=r.time("start"),
        end_s=r.time("end"),
        distance_m=r.number("distance_m"),
        duration_s=r.number("duration_s", required=False),
        cost_eur=r.number("cost_eur"),
        co2_g=r.number("co2_g"),
        load_kg=r.number("load_kg", required=False),
        load_l=r.number("load_l", required=False),
        stops=[_read_stop(ctx, r.where, k, o, vehicle_id) for k, o in r.objects("stops") or []],
        breaks=[
            _read_break(ctx, r.where, k, o, vehicle_id)
            for k, o in r.objects("breaks", required=False) or []
        ],
    )
    sc = ctx.scenario
    route.vehicle = sc.vehicles_by_id.get(route.vehicle_id or "")
    type_id = route.vehicle.vehicle_type_id if route.vehicle else route.vehicle_type_id
    route.vehicle_type = sc.vehicle_types.get(type_id or "")
    route.base = sc.nodes.get((route.vehicle.node_id if route.vehicle else route.node_id) or "")
    return route


def _label_tours(routes: list[_Route]) -> None:
    """Name a vehicle's tours 'tour 1', 'tour 2'... by start time when it has several."""
    tours: dict[str, list[_Route]] = defaultdict(list)
    for route in routes:
        if route.vehicle_id is not None:
            tours[route.vehicle_id].append(route)
    for vehicle_routes in tours.values():
        if len(vehicle_routes) > 1:
            vehicle_routes.sort(key=lambda r: (_or_inf(r.start_s), r.index))
            for k, route in enumerate(vehicle_routes, 1):
                route.label = f"{route.vehicle_id} tour {k}"
                route.tour = k


def _read_break(ctx: _Context, where: str, k: int, obj: dict, vehicle_id: str | None) -> _Break:
    b = _Fields(ctx, obj, f"{where} break {k + 1}", vehicle_id)
    after = b.number("after_stop")
    if after is not None and (after != int(after) or after < 0):
        b.bad("after_stop", f"{after!r} is not a stop count")
        after = None
    return _Break(b.time("start"), b.time("end"), None if after is None else int(after))


def _read_stop(ctx: _Context, where: str, k: int, obj: dict, vehicle_id: str | None) -> _Stop:
    s = _Fields(ctx, obj, f"{where} stop {k + 1}", vehicle_id)
    kind = obj.get("kind", "delivery")
    if kind not in ("delivery", "pickup"):
        s.bad("kind", f"{kind!r} is not delivery or pickup")
    pickup = kind == "pickup"
    # A pickup is keyed by its return id and carries no parcel or lines of an order.
    s.order_id = s.text("return_id" if pickup else "order_id")
    return _Stop(
        order_id=s.order_id,
        arrival_s=s.time("arrival"),
        service_start_s=s.time("service_start"),
        departure_s=s.time("departure"),
        distance_from_prev_m=s.number("distance_from_prev_m"),
        load_kg=s.number("load_kg", required=False),
        load_l=s.number("load_l", required=False),
        parcel_id=None if pickup else s.text("parcel_id", required=False),
        lines=None if pickup else _read_lines(s),
        locked=obj.get("locked") is True,
        failed_attempt=obj.get("locked") is True and obj.get("outcome") == "failed",
        pickup=pickup,
    )


def _read_lines(f: _Fields) -> Lines | None:
    """A parcel's ``lines`` ([{sku, qty}]), if given; unreadable entries are flagged."""
    if f.obj.get("lines") is None:
        return None
    out = []
    for k, item in f.objects("lines") or []:
        line = _Fields(f.ctx, item, f"{f.where} line {k + 1}", f.vehicle_id)
        line.order_id = f.order_id
        sku, qty = line.text("sku"), line.number("qty")
        if sku is not None and qty is not None:
            out.append((sku, qty))
    return tuple(out)


def _read_collection(ctx: _Context, i: int, obj: dict) -> _Collection:
    c = _Fields(ctx, obj, f"collection {i + 1}")
    c.order_id = c.text("order_id")
    source = c.text("transfer_from_node_id", required=False)
    departs = c.time("transfer_departs", required=source is not None)
    return _Collection(
        c.order_id,
        c.text("node_id"),
        c.time("ready_by"),
        source,
        departs,
        c.text("parcel_id", required=False),
        _read_lines(c),
    )


def _read_unassigned(ctx: _Context, i: int, obj: dict) -> _Unassigned:
    u = _Fields(ctx, obj, f"unassigned {i + 1}")
    u.order_id = u.text("order_id")
    # A missing code or reason has its own violation code (see _check_unassigned).
    parcel_id = u.text("parcel_id", required=False)
    return _Unassigned(
        u.order_id,
        u.text("code", required=False),
        u.text("reason", required=False),
        parcel_id,
        _read_lines(u) if parcel_id is not None else None,
    )


def _read_assignment(ctx: _Context, i: int, obj: dict) -> _Assignment:
    a = _Fields(ctx, obj, f"assignment {i + 1}")
    a.order_id = a.text("order_id")
    parcels = None
    if obj.get("parcels") is not None:
        parcels = {}
        for k, item in a.objects("parcels") or []:
            p = _Fields(ctx, item, f"{a.where} parcel {k + 1}")
            p.order_id = a.order_id
            parcel_id = p.text("parcel_id")
            node_id = p.text("node_id", required=False)
            parcels[parcel_id] = (node_id, p.text("vehicle_id", required=False))
    return _Assignment(
        a.order_id,
        a.text("status"),
        a.text("node_id", required=False),
        a.text("vehicle_id", required=False),
        parcels,
    )
