"""A hand-checked plan for the tracking tests, stored as a done plan job.

One cargo bike leaves its node at 09:00 for three stops 1, 2 and 3 km due north (the
great-circle model's detour factor 1.25 for bikes at 15 km/h: 300 s per km), 120 s at
each door. Planned: A 09:05-09:07, B 09:12-09:14, C 09:19, waits for its 10:00-10:30
slot, 10:00-10:02; back at the node 10:17. A second bike has one stop, D.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timedelta

from api.models import PlanJob, utcnow
from optimizer.io import load_scenario
from optimizer.travel.great_circle import EARTH_RADIUS_M

KM_NORTH_DEG = math.degrees(1000 / EARTH_RADIUS_M)  # 1 km along a meridian


def hhmm(day: str, tz: str, clock: str) -> str:
    """``"09:05"`` or ``"09:05:30"`` on ``day`` in ISO 8601 with the offset ``tz``."""
    return f"{day}T{clock}{'' if clock.count(':') == 2 else ':00'}{tz}"


def hand_plan(scenario_dir) -> tuple[dict, dict]:
    """(plan.json document, facts the tests check against)."""
    scenario = load_scenario(scenario_dir)
    node = next(n for n in scenario.nodes.values())
    day = scenario.settings.date.isoformat()
    offset = scenario.settings.to_datetime(9 * 3600).strftime("%z")
    tz = offset[:3] + ":" + offset[3:]

    def at(clock: str) -> str:
        return hhmm(day, tz, clock)

    def stop(order_id, km, arrival, start, departure, slot):
        return {
            "order_id": order_id,
            "service": "eco",
            "lat": node.lat + km * KM_NORTH_DEG,
            "lon": node.lon,
            "arrival": at(arrival),
            "service_start": at(start),
            "departure": at(departure),
            "slot_start": at(slot[0]),
            "slot_end": at(slot[1]),
            "distance_from_prev_m": 1250,
            "load_kg": 10.0,
            "load_l": 20.0,
        }

    bike = f"{node.node_id}/ebike/1"
    other = f"{node.node_id}/ebike/2"
    route = {
        "vehicle_id": bike,
        "vehicle_type_id": "ebike",
        "node_id": node.node_id,
        "mode": "cargo_bike",
        "start": at("09:00"),
        "end": at("10:17"),
        "distance_m": 7500,
        "duration_s": 4620,
        "load_kg": 30.0,
        "load_l": 60.0,
        "cost_eur": 10.0,
        "co2_g": 7.5,
        "stops": [
            stop("A", 1, "09:05", "09:05", "09:07", ("09:00", "11:00")),
            stop("B", 2, "09:12", "09:12", "09:14", ("09:00", "11:00")),
            stop("C", 3, "09:19", "10:00", "10:02", ("10:00", "10:30")),
        ],
    }
    second = dict(
        route,
        vehicle_id=other,
        end=at("09:12"),
        stops=[stop("D", 1, "09:05", "09:05", "09:07", ("09:00", "11:00"))],
    )
    doc = {
        "format": "lastmile-plan/1",
        "scenario": {
            "name": scenario.settings.name,
            "date": day,
            "timezone": scenario.settings.timezone,
        },
        "engine": "hand",
        "solve_s": 0.0,
        "routes": [route, second],
        "collections": [{"order_id": "K", "node_id": node.node_id, "ready_by": at("10:00")}],
        "unassigned": [
            {
                "order_id": "U",
                "code": "too_big",
                "reason": "heavier than every vehicle",
                "node_id": None,
            }  # fmt: skip
        ],
        "assignments": [
            {"order_id": o, "status": "routed", "node_id": node.node_id, "vehicle_id": v}
            for o, v in (("A", bike), ("B", bike), ("C", bike), ("D", other))
        ]
        + [
            {"order_id": "K", "status": "collected", "node_id": node.node_id, "vehicle_id": None},
            {"order_id": "U", "status": "unassigned", "node_id": None, "vehicle_id": None},
        ],
        "sourcing": [],
        "kpis": {},
    }
    facts = {"bike": bike, "other": other, "node": node, "at": at, "tz": tz, "day": day}
    return doc, facts


def with_pickup(doc: dict) -> dict:
    """The hand plan with stop B (bike 1, 2 km north, 09:12-09:14) turned into the pickup
    of return R1, as plan.json writes a pickup stop."""
    doc = json.loads(json.dumps(doc))
    route = doc["routes"][0]
    b = route["stops"][1]
    b.update(kind="pickup", order_id="R1", return_id="R1", return_kind="return",
             service="return_pickup", original_order_id=None, lines=[])  # fmt: skip
    for stop in (route["stops"][0], route["stops"][2]):
        stop["kind"] = "delivery"
    doc["assignments"] = [a for a in doc["assignments"] if a["order_id"] != "B"]
    doc["returns"] = [{"return_id": "R1", "status": "routed", "node_id": route["node_id"],
                       "vehicle_id": route["vehicle_id"], "code": None, "reason": None,
                       "candidates": {}}]  # fmt: skip
    return doc


def store_done_plan(app, scenario_dir, doc: dict) -> str:
    """Store ``doc`` as a done plan job of the running service; its id."""
    job_id = str(uuid.uuid4())
    with app.state.db.transaction() as session:
        session.add(
            PlanJob(
                id=job_id,
                status="done",
                progress=1.0,
                message="done",
                scenario_dir=str(scenario_dir),
                time_limit_s=1.0,
                created_at=utcnow(),
                started_at=utcnow(),
                finished_at=utcnow(),
                checker_ok=True,
                plan_json=json.dumps(doc),
                kpis_json="{}",
            )
        )
    return job_id


def shifted(iso: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat()
