"""Writing a plan's files: plan.json, kpis.json, routes.geojson, map.html (atomically)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from optimizer.model import (
    Break,
    Collection,
    OrderChange,
    OrderLine,
    Parcel,
    Plan,
    ReturnAssignment,
    Route,
    Scenario,
    Stop,
    Unassigned,
    UnassignedCode,
    parcel_view,
    with_order_changes,
)
from optimizer.travel.route_lines import route_lines

PLAN_FORMAT = "lastmile-plan/1"
# The ``service`` of a pickup stop (tracking keeps it per stop; OTIF leaves pickups out).
PICKUP_SERVICE = "return_pickup"


def plan_to_dict(scenario: Scenario, plan: Plan, kpis: dict) -> dict:
    """The plan as the JSON document of docs/plan-format.md (ISO 8601 times). A
    re-plan's order changes are applied to ``scenario`` (again, if the caller did)."""
    scenario = with_order_changes(scenario, plan.order_changes)
    iso = scenario.settings.to_iso
    # A parcel's lines: shipped, or left unassigned after a failed attempt on a route.
    parcel_lines = {u.parcel_id: u.lines or () for u in plan.unassigned if u.parcel_id}
    parcel_lines |= {pid: p.lines for pid, p in plan.parcels.items()}
    return {
        "format": PLAN_FORMAT,
        "scenario": {
            "name": scenario.settings.name,
            "date": scenario.settings.date.isoformat(),
            "timezone": scenario.settings.timezone,
        },
        "engine": plan.engine,
        "solve_s": round(plan.solve_s, 3),
        "max_split": plan.max_split,
        "routes": [_route(scenario, plan, r, parcel_lines) for r in plan.routes],
        "collections": [_collection(scenario, plan, c) for c in plan.collections],
        "unassigned": [_unassigned(u) for u in plan.unassigned],
        "assignments": _assignments(scenario, plan),
        "sourcing": [
            _decision(d) for d in sorted(plan.decisions.values(), key=lambda d: d.order_id)
        ],
        "returns": [_return_assignment(a) for a in plan.returns],
        "restock": [
            {
                "node_id": x["node_id"],
                "vehicle_id": x["vehicle_id"],
                "trip": x["trip"],
                "at": iso(x["at_s"]),
                "lines": _lines(x["lines"]),
            }
            for x in plan.restock(scenario)
        ],
        "kpis": kpis,
        **_replanned(plan, iso),
    }


def _route(scenario: Scenario, plan: Plan, r: Route, parcel_lines: dict) -> dict:
    """A route of ``routes``: the vehicle's trip, its breaks, figures and stops."""
    iso = scenario.settings.to_iso
    return {
        "vehicle_id": r.vehicle_id,
        "vehicle_type_id": r.vehicle_type_id,
        "node_id": r.node_id,
        "mode": r.mode,
        "trip": r.trip,
        "start": iso(r.start_s),
        "reload_s": r.reload_s,
        "end": iso(r.end_s),
        "breaks": [
            {"start": iso(b.start_s), "end": iso(b.end_s), "after_stop": b.after_stop}
            for b in r.breaks
        ],
        "distance_m": r.distance_m,
        "duration_s": r.duration_s,
        "load_kg": r.load_kg,
        "load_l": r.load_l,
        "cost_eur": r.cost_eur,
        "co2_g": r.co2_g,
        "stops": [
            _pickup(scenario, s) if s.is_pickup else _delivery(scenario, plan, s, parcel_lines)
            for s in r.stops
        ],
    }


def _delivery(scenario: Scenario, plan: Plan, s: Stop, parcel_lines: dict) -> dict:
    """A delivery stop: an order, or one parcel of a split order (its own lines)."""
    iso = scenario.settings.to_iso
    order = parcel_view(scenario, plan, s.order_id, s.parcel_id)
    out = {
        "kind": "delivery",
        "order_id": s.order_id,
        "parcel_id": s.parcel_id or s.order_id,
        "lines": _lines(parcel_lines.get(s.parcel_id or "", order.lines)),
        "service": str(order.service),
        "lat": s.lat,
        "lon": s.lon,
        "arrival": iso(s.arrival_s),
        "service_start": iso(s.service_start_s),
        "departure": iso(s.departure_s),
        "slot_start": iso(order.slot_start_s),
        "slot_end": iso(order.slot_end_s),
        "distance_from_prev_m": s.distance_from_prev_m,
        "load_kg": s.load_kg,
        "load_l": s.load_l,
    }
    if s.locked:
        out |= {"locked": True, "outcome": s.outcome}
    return out


def _collection(scenario: Scenario, plan: Plan, c: Collection) -> dict:
    """A click & collect order (or a parcel of one a re-plan collects) at its store."""
    iso = scenario.settings.to_iso
    return {
        "order_id": c.order_id,
        # A whole order, or one parcel of a split order a re-plan has collected.
        "parcel_id": c.parcel_id or c.order_id,
        "lines": _lines(
            plan.parcels[c.parcel_id].lines
            if c.parcel_id
            else scenario.orders_by_id[c.order_id].lines
        ),
        "node_id": c.node_id,
        "ready_by": iso(c.ready_by_s),
    } | _transfer(c, iso)


def _unassigned(u: Unassigned) -> dict:
    return {
        "order_id": u.order_id,
        "code": str(u.code),
        "reason": u.reason,
        "node_id": u.node_id,
    } | ({"parcel_id": u.parcel_id, "lines": _lines(u.lines or ())} if u.parcel_id else {})


def _assignments(scenario: Scenario, plan: Plan) -> list[dict]:
    """One row per order of the scenario: routed, collected or unassigned, with its
    node and vehicle; a split order lists its parcels instead."""
    assignments: dict[str, dict] = {}
    split: dict[str, list[dict]] = {}  # order -> where its parcels go
    for r in plan.routes:
        for s in r.stops:
            if s.is_pickup or s.failed_attempt:
                continue  # a failed order is placed again elsewhere in the plan
            assignments[s.order_id] = {
                "status": "routed",
                "node_id": r.node_id,
                "vehicle_id": r.vehicle_id,
            }
            parcel = plan.parcels.get(s.parcel_id or "")
            if parcel is not None:
                split.setdefault(s.order_id, []).append(
                    {
                        "parcel_id": parcel.parcel_id,
                        "node_id": r.node_id,
                        "vehicle_id": r.vehicle_id,
                    }
                )
    for c in plan.collections:
        # The node whose stock it takes: the store, or where the shuttle brings it from.
        node_id = c.transfer_from_node_id or c.node_id
        if c.parcel_id is not None:  # one parcel of a split order
            split.setdefault(c.order_id, []).append(
                {"parcel_id": c.parcel_id, "node_id": node_id, "vehicle_id": None}
            )
            continue
        assignments[c.order_id] = {"status": "collected", "node_id": node_id, "vehicle_id": None}
    for u in plan.unassigned:
        if u.parcel_id is not None:
            split.setdefault(u.order_id, []).append(
                {"parcel_id": u.parcel_id, "node_id": None, "vehicle_id": None}
            )
            continue
        assignments[u.order_id] = {"status": "unassigned", "node_id": None, "vehicle_id": None}
    for order_id, parcels in split.items():  # shipped from several nodes: one row each
        parcels.sort(key=lambda p: p["parcel_id"])
        assignments[order_id] = {
            "status": split_status(parcels),
            "node_id": None,
            "vehicle_id": None,
            "parcels": parcels,
        }
    return [{"order_id": o.order_id, **assignments[o.order_id]} for o in scenario.orders]


def _decision(d) -> dict:
    """A sourcing decision with its cost terms and the runner-up's (and their parcels)."""
    return {
        "order_id": d.order_id,
        "policy": d.policy,
        "node_id": d.node_id,
        "cost_eur": round(d.cost_eur, 4),
        "terms": d.terms,
        "runner_up_node_id": d.runner_up_node_id,
        "runner_up_cost_eur": (
            None if d.runner_up_cost_eur is None else round(d.runner_up_cost_eur, 4)
        ),
        "runner_up_terms": d.runner_up_terms,
        **({"parts": [_part(p) for p in d.parts]} if d.parts else {}),
        **({"runner_up_parts": [_part(p) for p in d.runner_up_parts]} if d.runner_up_parts else {}),
    }


def _replanned(plan: Plan, iso) -> dict:
    """A re-plan's own members (its summary and the order changes it made), if it is one."""
    if plan.replan is None:
        return {}
    return {
        "replan": plan.replan,
        "order_changes": [c.as_dict(iso) for c in plan.order_changes],
    }


def _pickup(scenario: Scenario, s) -> dict:
    """A return's pickup stop: ``order_id`` is the return id (the stop's key), the load
    is on board on arrival (``load_kg``) and after the pickup boards (``load_after_kg``)."""
    iso = scenario.settings.to_iso
    ret = scenario.returns_by_id[s.return_id]
    out = {
        "kind": "pickup",
        "order_id": s.order_id,
        "return_id": s.return_id,
        "return_kind": str(ret.kind),
        "service": PICKUP_SERVICE,
        "original_order_id": ret.order_id,
        "lines": _lines(ret.lines),
        "lat": s.lat,
        "lon": s.lon,
        "arrival": iso(s.arrival_s),
        "service_start": iso(s.service_start_s),
        "departure": iso(s.departure_s),
        "slot_start": iso(ret.slot_start_s),
        "slot_end": iso(ret.slot_end_s),
        "distance_from_prev_m": s.distance_from_prev_m,
        "load_kg": s.load_kg,
        "load_l": s.load_l,
        "load_after_kg": round(s.load_kg + scenario.weight_kg(ret), 3),
        "load_after_l": round(s.load_l + scenario.volume_l(ret), 3),
    }
    if s.locked:
        out |= {"locked": True, "outcome": s.outcome}
    return out


def _return_assignment(a: ReturnAssignment) -> dict:
    return {
        "return_id": a.return_id,
        "status": a.status,
        "node_id": a.node_id,
        "vehicle_id": a.vehicle_id,
        "code": a.code,
        "reason": a.reason,
        "candidates": {n: round(c, 4) for n, c in sorted(a.candidates.items())},
    }


def _lines(lines) -> list[dict]:
    """Lines as plan.json holds them; a configured item with its ``variant``."""
    return [
        {"sku": x.sku, "qty": x.qty} | ({"variant": x.variant} if x.variant else {}) for x in lines
    ]


def _part(part) -> dict:
    """A parcel of a split sourcing decision (or of its runner-up, without an id)."""
    out = {"parcel_id": part.parcel_id} if part.parcel_id else {}
    return out | {
        "node_id": part.node_id,
        "lines": _lines(part.lines),
        "cost_eur": round(part.cost_eur, 4),
        "terms": part.terms,
    }


def routes_geojson(scenario: Scenario, plan: Plan) -> dict:
    """Nodes, routes (LineStrings, node -> stops -> node; along the streets, credited, on
    road travel) and stops (Points) as GeoJSON."""
    iso = scenario.settings.to_iso
    lines = route_lines(scenario, plan.routes)
    features = []
    for node in scenario.nodes.values():
        features.append(
            _feature(
                {"type": "Point", "coordinates": [node.lon, node.lat]},
                {
                    "kind": "node",
                    "node_id": node.node_id,
                    "name": node.name,
                    "node_kind": node.kind,
                },
            )
        )
    for r, line in zip(plan.routes, lines.lonlat, strict=True):
        features.append(
            _feature(
                {"type": "LineString", "coordinates": line},
                {
                    "kind": "route",
                    "vehicle_id": r.vehicle_id,
                    "mode": r.mode,
                    "node_id": r.node_id,
                    "trip": r.trip,
                    "start": iso(r.start_s),
                    "end": iso(r.end_s),
                    "distance_m": r.distance_m,
                    "stops": len(r.stops),
                    "cost_eur": r.cost_eur,
                    "co2_g": r.co2_g,
                },
            )
        )
        for k, s in enumerate(r.stops, start=1):
            features.append(
                _feature(
                    {"type": "Point", "coordinates": [s.lon, s.lat]},
                    {
                        "kind": "pickup" if s.is_pickup else "stop",
                        "order_id": s.order_id,
                        "parcel_id": s.parcel_id or s.order_id,
                        "vehicle_id": r.vehicle_id,
                        "sequence": k,
                        "arrival": iso(s.arrival_s),
                        "service_start": iso(s.service_start_s),
                    },
                )
            )
    credit = {"attribution": lines.credit} if lines.credit else {}
    return {"type": "FeatureCollection", **credit, "features": features}


def _feature(geometry: dict, properties: dict) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def recover_plan_folder(out_dir: str | Path) -> Path | None:
    """Undo what a :func:`write_plan_files` killed midway left beside ``out_dir``: the
    previous plan moved aside to ``.OUT.old.XXXXXXXX/OUT`` while ``OUT`` is absent (killed
    between the two renames) is moved back; then every ``.OUT.old.*`` and staging folder
    ``.OUT.XXXXXXXX`` (killed while writing, or before cleaning up) is removed. Returns
    the folder restored, if any."""
    out = Path(out_dir).resolve()
    parent = out.parent
    if not parent.is_dir():
        return None
    name = re.escape(out.name)
    stale_stage = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}")  # tempfile.mkdtemp's names
    stale_old = re.compile(rf"\.{name}\.old\.[a-z0-9_]{{8}}")
    olds, stages = [], []
    for entry in parent.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            if stale_old.fullmatch(entry.name):
                olds.append(entry)
            elif stale_stage.fullmatch(entry.name):
                stages.append(entry)
    restored = None
    if not out.exists() and not out.is_symlink():
        kept = [o for o in olds if (o / out.name).is_dir()]
        if kept:
            newest = max(kept, key=lambda o: o.stat().st_mtime)
            os.replace(newest / out.name, out)
            restored = out
    for leftover in olds + stages:
        shutil.rmtree(leftover, ignore_errors=True)
    return restored


def write_plan_files(out_dir: str | Path, files: dict[str, str]) -> Path:
    """Write ``{name: text}`` into ``out_dir`` all at once: the files are written into a
    staging folder beside it, which then replaces ``out_dir``; an interrupted write
    leaves the previous plan (or nothing), never half a plan. What an earlier write
    killed midway left beside ``out_dir`` is restored or cleaned first
    (:func:`recover_plan_folder`)."""
    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    recover_plan_folder(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder.")
    if out.exists():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in files)
        if foreign:
            raise FileExistsError(
                f"{out} holds other files ({', '.join(foreign[:3])}); plan into an empty "
                "folder or a previous plan's folder."
            )
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    stage.chmod(0o777 & ~umask)  # mkdtemp makes it private; the plan folder is not
    try:
        for name, text in files.items():
            (stage / name).write_text(text, encoding="utf-8")
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(stage, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out


def to_json(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def plan_from_dict(scenario: Scenario, document: dict) -> Plan:
    """Read back a plan.json written by :func:`plan_to_dict` (a trusted, checked plan:
    run ``optimizer.check.check_plan`` on documents from elsewhere first)."""
    seconds = lambda iso: scenario.settings.to_seconds(datetime.fromisoformat(iso))  # noqa: E731
    routes = [_read_route(r, seconds) for r in document["routes"]]
    sources = {
        a["order_id"]: a["node_id"]
        for a in document["assignments"]
        if a["status"] != "unassigned" and a["node_id"] is not None
    }
    return Plan(
        scenario_name=document["scenario"]["name"],
        sources=sources,
        routes=routes,
        collections=[_read_collection(c, seconds) for c in document["collections"]],
        unassigned=[_read_unassigned(u) for u in document["unassigned"]],
        engine=document.get("engine", ""),
        solve_s=document.get("solve_s", 0.0),
        parcels=_read_parcels(document, routes),
        max_split=document.get("max_split", 1),
        order_changes=[
            OrderChange(
                c["order_id"],
                c["kind"],
                seconds(c["slot_start"]),
                seconds(c["slot_end"]),
                c["reason"],
                c.get("node_id"),
                c.get("parcel_id"),
            )
            for c in document.get("order_changes", [])
        ],
        replan=document.get("replan"),
        returns=[_read_return_assignment(a) for a in document.get("returns", [])],
    )


def _read_route(r: dict, seconds) -> Route:
    """A route of plan.json's ``routes``, its stops and breaks."""
    return Route(
        vehicle_id=r["vehicle_id"],
        vehicle_type_id=r["vehicle_type_id"],
        node_id=r["node_id"],
        mode=r["mode"],
        start_s=seconds(r["start"]),
        end_s=seconds(r["end"]),
        stops=[_read_stop(s, seconds) for s in r["stops"]],
        distance_m=r["distance_m"],
        load_kg=r["load_kg"],
        load_l=r["load_l"],
        cost_eur=r["cost_eur"],
        co2_g=r["co2_g"],
        trip=r.get("trip", 1),
        reload_s=r.get("reload_s", 0),
        breaks=[
            Break(seconds(b["start"]), seconds(b["end"]), b["after_stop"])
            for b in r.get("breaks", [])
        ],
    )


def _read_stop(s: dict, seconds) -> Stop:
    """A delivery or pickup stop (a parcel id only where it differs from the order's)."""
    return Stop(
        order_id=s["order_id"],
        lat=s["lat"],
        lon=s["lon"],
        arrival_s=seconds(s["arrival"]),
        service_start_s=seconds(s["service_start"]),
        departure_s=seconds(s["departure"]),
        distance_from_prev_m=s["distance_from_prev_m"],
        load_kg=s["load_kg"],
        load_l=s["load_l"],
        parcel_id=s["parcel_id"] if s.get("parcel_id", s["order_id"]) != s["order_id"] else None,
        locked=bool(s.get("locked", False)),
        outcome=s.get("outcome"),
        kind=s.get("kind", "delivery"),
        return_id=s.get("return_id"),
    )


def _read_parcels(document: dict, routes: list[Route]) -> dict[str, Parcel]:
    """The parcels of split orders: shipped on a route, or collected at a store."""
    parcels = {
        s.parcel_id: Parcel(s.parcel_id, s.order_id, r.node_id, lines[s.parcel_id])
        for r, lines in zip(routes, _parcel_lines(document), strict=True)
        for s in r.stops
        if s.parcel_id is not None and not s.is_pickup and not s.failed_attempt
    }
    for c in document["collections"]:  # a parcel a re-plan collects at a store
        if c.get("parcel_id") not in (None, c["order_id"]):
            parcels[c["parcel_id"]] = Parcel(
                c["parcel_id"], c["order_id"], c.get("transfer_from_node_id") or c["node_id"],
                read_lines(c.get("lines", ())),
            )  # fmt: skip
    return parcels


def _read_collection(c: dict, seconds) -> Collection:
    return Collection(
        c["order_id"],
        c["node_id"],
        seconds(c["ready_by"]),
        c.get("transfer_from_node_id"),
        seconds(c["transfer_departs"]) if c.get("transfer_departs") else None,
        c["parcel_id"] if c.get("parcel_id") not in (None, c["order_id"]) else None,
    )


def _read_unassigned(u: dict) -> Unassigned:
    return Unassigned(
        u["order_id"],
        UnassignedCode(u["code"]),
        u["reason"],
        u.get("node_id"),
        u.get("parcel_id"),
        read_lines(u["lines"]) if u.get("parcel_id") else None,
    )


def _read_return_assignment(a: dict) -> ReturnAssignment:
    return ReturnAssignment(
        a["return_id"],
        a["status"],
        a.get("node_id"),
        a.get("vehicle_id"),
        a.get("code"),
        a.get("reason"),
        dict(a.get("candidates") or {}),
    )


def _parcel_lines(document: dict) -> list[dict[str, tuple[OrderLine, ...]]]:
    """Per route of a plan.json, the lines of each of its parcel stops."""
    return [
        {s.get("parcel_id", s["order_id"]): read_lines(s.get("lines", ())) for s in r["stops"]}
        for r in document["routes"]
    ]


def read_lines(lines) -> tuple[OrderLine, ...]:
    """Order lines from plan.json's ``lines`` (``{sku, qty}``, and ``variant`` if any)."""
    return tuple(OrderLine(x["sku"], x["qty"], x.get("variant", "")) for x in lines)


def split_status(parcels: list[dict]) -> str:
    """The status of a split order's row: routed while any parcel is on a route, else
    collected while any is at a store, else unassigned."""
    if any(p["vehicle_id"] is not None for p in parcels):
        return "routed"
    if any(p["node_id"] is not None for p in parcels):
        return "collected"
    return "unassigned"


def _transfer(c: Collection, iso) -> dict:
    """A collection's shuttle transfer, written only when there is one."""
    if c.transfer_from_node_id is None:
        return {}
    out = {"transfer_from_node_id": c.transfer_from_node_id}
    if c.transfer_departs_s is not None:
        out["transfer_departs"] = iso(c.transfer_departs_s)
    return out
