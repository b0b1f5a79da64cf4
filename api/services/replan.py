"""The re-plan of a tracked day, behind ``POST /v1/plans/{id}/replan``
(:mod:`api.routes.replan`).

It translates: the plan's tracking rows and events become the core's
:class:`optimizer.live.replan.LiveState`, the core re-plans, and the result is stored as
a new plan job (a new plan version; its plan.json names the plan it re-plans in
``replan.replan_of``) whose tracking rows are opened at once with what already
happened copied over. Vehicles report their next events against the new plan's id.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.clock import Clock
from api.db import Database
from api.errors import problem, problems
from api.models import PlanJob, utcnow
from api.models.tracking import TrackedOrder, TrackedVehicle, TrackingEvent
from api.schemas.replan import ReplanOut, ReplanRequest
from api.services.order_events import announce_collections, announce_eta_moves
from api.services.outbox import announce
from api.services.plan_jobs import scenario_for_plan
from api.services.plan_versions import replan_message
from api.services.plan_versions import versions as plan_versions
from api.services.tracking_state import Day, open_plan, orders_of, recompute
from optimizer.io import ScenarioError
from optimizer.io.plan_files import plan_from_dict
from optimizer.live.replan import (
    FailedPolicy,
    LiveState,
    ReplanError,
    ReplanParams,
    StopFact,
    TripFacts,
)
from optimizer.model import with_order_changes
from optimizer.travel import travel_of
from optimizer.workflows.plan import artefacts
from optimizer.workflows.replan import replan_and_check

# Copied from the old plan's tracking rows to the new plan's, for the stops kept.
ORDER_STATE = ("status", "arrived_at", "done_at", "eta_at", "eta_at_departure", "late",
               "failure_reason")  # fmt: skip
JOB_ID = ("path", "job_id")  # the loc of a refusal of the plan job re-planned
VEHICLE_STATE = ("status", "trip", "last_lat", "last_lon", "last_seen_at", "busy_until_at")
# A done stop's tracking status -> the core's StopFact outcome: a return picked up is a
# stop served, as a delivery is (the core tells pickups from deliveries by their id).
OUTCOME = {"delivered": "delivered", "picked_up": "delivered", "failed": "failed"}


def replan_job(
    job_id: str, body: ReplanRequest, db: Database, clock: Clock, app_state: Any
) -> ReplanOut:
    """Re-plan the rest of plan job ``job_id``'s day (see the module docstring) at
    ``body.now`` (default: ``clock``'s now): a new plan job, its tracking rows opened,
    its routes published to the checkout when the checker finds it sound. Refusals are
    :class:`api.errors.Problem`\\ s: 404 and 409 on the job (``loc`` path, job_id), 422
    on the body."""
    started = time.perf_counter()
    with db.transaction(write=False) as s:
        job = s.get(PlanJob, str(job_id))
        if job is None:
            raise problem(404, "no plan job with this id", JOB_ID)
        if job.status != "done":
            raise problem(409, f"the job is {job.status}; no plan", JOB_ID)
        doc = json.loads(job.plan_json)
        scenario_dir = job.scenario_dir
    day = Day.of(doc)
    try:
        scenario = scenario_for_plan(app_state, Path(scenario_dir), day.settings.date)
    except (ScenarioError, OSError) as exc:
        raise problem(409, f"cannot read the plan's scenario: {exc}", JOB_ID) from exc
    now = body.now or clock.now()
    now_s = day.s(now)
    found = []
    if not 0 <= now_s <= 86_400:
        found.append((("body", "now"), f"{now.isoformat()} is not on the plan's day"))
    for i, vid in enumerate(body.broken_down):
        if vid not in scenario.vehicles_by_id:
            found.append((("body", "broken_down", i), f"no vehicle {vid!r} in the fleet"))
    if found:
        raise problems(422, found)
    old_changes = plan_from_dict(scenario, doc).order_changes
    morning_day = with_order_changes(scenario, old_changes)
    plan = plan_from_dict(morning_day, doc)
    with db.transaction(write=False) as s:
        versions = plan_versions(s, str(job_id), doc)
        state = live_state(s, versions, day, now_s, frozenset(body.broken_down))
    params = ReplanParams(policy=FailedPolicy(body.policy), time_limit_s=body.time_limit_s)
    try:
        run, report, new_day = replan_and_check(scenario, plan, state, params, str(job_id))
    except ReplanError as exc:
        raise problem(409, f"the tracking state does not fit: {exc}", JOB_ID) from exc
    new_plan, kpis, plan_json, check = run.plan, run.kpis, run.plan_json, run.report
    files = artefacts(new_day, run)
    new_id = str(uuid.uuid4())
    moment = utcnow()
    with db.transaction() as s:
        # The re-planned job's row lock: an event for it waits, then finds this version
        # (and is refused with its id) instead of landing on the superseded one.
        s.scalars(select(PlanJob.id).where(PlanJob.id == str(job_id)).with_for_update()).all()
        s.add(
            PlanJob(
                id=new_id,
                status="done",
                progress=1.0,
                message=replan_message(str(job_id), now),
                scenario_dir=scenario_dir,
                time_limit_s=body.time_limit_s,
                created_at=moment,
                started_at=moment,
                finished_at=moment,
                checker_ok=check.ok,
                plan_json=plan_json,
                kpis_json=files["kpis.json"],
                geojson=files["routes.geojson"],
                map_html=files["map.html"],
            )
        )
        s.flush()
        new_doc = json.loads(plan_json)
        tracked = _open_tracking(
            s, str(job_id), new_id, new_doc, new_day, frozenset(body.broken_down)
        )
        if check.ok:
            _announce(s, str(job_id), new_id, new_doc, tracked, clock.now(), app_state)
    checkout = getattr(app_state, "checkout", None)
    if check.ok and checkout is not None and Path(scenario_dir) == app_state.settings.scenario:
        # The checkout sells on the new version at once (a broken-down van sells nothing).
        checkout.publish(new_day, new_plan, plan_json, frozenset(body.broken_down))
    return ReplanOut(
        plan_id=new_id,
        replan_of=str(job_id),
        checker_ok=check.ok,
        violations=[str(v) for v in check.violations[:20]],
        changes=report.to_dict(),
        kpis=kpis,
        replan_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def live_state(
    s: Session, versions: list[str], day: Day, now_s: int, broken: frozenset[str]
) -> LiveState:
    """What each vehicle of the plan (``versions[0]``, re-planned from the others) did,
    from its tracking rows and the day's events: its trips (left at its ``departed``
    events, back at its ``arrived`` events without an order), each with its stops
    delivered (or picked up), failed, at the door or driven to (in progress)."""
    plan_id = versions[0]
    vehicles = s.scalars(select(TrackedVehicle).where(TrackedVehicle.plan_id == plan_id)).all()
    events = s.scalars(
        select(TrackingEvent)
        .where(TrackingEvent.plan_id.in_(versions))
        .where(TrackingEvent.kind.in_(("departed", "arrived")))
        .order_by(TrackingEvent.occurred_at)
    ).all()
    trips: dict[str, tuple[TripFacts, ...]] = {}
    for vehicle in vehicles:
        mine = [e for e in events if e.vehicle_id == vehicle.vehicle_id]
        departures = [day.s(e.occurred_at) for e in mine if e.kind == "departed"]
        backs = [day.s(e.occurred_at) for e in mine if e.kind == "arrived" and e.order_id is None]
        orders = orders_of(s, vehicle)
        out = []
        for k, start_s in enumerate(departures):
            facts = []
            heading = None
            for o in (o for o in orders if o.trip == k):
                if o.status in OUTCOME:
                    done_s = day.s(o.done_at)
                    arrival_s = day.s(o.arrived_at) if o.arrived_at else done_s - o.service_s
                    facts.append(
                        StopFact(
                            o.order_id,
                            OUTCOME[o.status],
                            min(arrival_s, done_s),
                            done_s,
                            o.failure_reason,
                        )
                    )
                elif o.status == "arrived":
                    arrival_s = day.s(o.arrived_at)
                    leave = max(now_s, max(arrival_s, day.s(o.slot_start_at)) + o.service_s)
                    facts.append(StopFact(o.order_id, "in_progress", arrival_s, leave))
                elif o.status == "out_for_delivery" and heading is None:
                    heading = o
            back_s = None
            if k < len(backs) and backs[k] >= start_s:
                back_s = backs[k]
            elif vehicle.status == "done" or vehicle.trip > k:
                back_s = max(now_s, start_s)
            if (
                back_s is None
                and heading is not None
                and not any(f.outcome == "in_progress" for f in facts)
                and vehicle.vehicle_id not in broken
            ):
                # Driving to its next stop: that stop is under way, at its ETA.
                arrival_s = max(now_s, day.s(heading.eta_at) if heading.eta_at else now_s)
                leave = max(arrival_s, day.s(heading.slot_start_at)) + heading.service_s
                facts.append(StopFact(heading.order_id, "in_progress", arrival_s, leave))
            out.append(TripFacts(start_s, tuple(facts), back_s))
        if out:
            trips[vehicle.vehicle_id] = tuple(out)
    return LiveState(now_s=now_s, trips=trips, broken_down=broken)


def _announce(
    s: Session, old_id: str, new_id: str, doc: dict, orders: list[TrackedOrder],
    now: datetime, app_state: Any,
) -> None:  # fmt: skip
    """The re-plan's webhooks, in its transaction: ``plan.published`` (with
    ``replan_of``), the ETAs it moved past a subscriber's threshold, the collections it
    made ready at another time or newly."""
    data = {"plan_id": new_id, "plan_url": f"/v1/plans/{new_id}", "replan_of": old_id}
    announce(s, "plan.published", data, now)
    link = app_state.tracking.tracking_url
    announce_eta_moves(s, orders, Day.of(doc).settings.tz, now, link)
    announce_collections(s, doc, now, link)


def _open_tracking(
    s: Session, old_id: str, new_id: str, doc: dict, scenario, broken: frozenset[str]
) -> list[TrackedOrder]:
    """The new plan's tracking rows, with what already happened copied from the old
    plan's: statuses, arrival and done times, ETAs at departure, each vehicle's fix. A
    stop the re-plan moved starts again as planned on its new vehicle. Its orders."""
    vehicles, orders = open_plan(doc, new_id, scenario)
    old_orders = {
        o.order_id: o
        for o in s.scalars(select(TrackedOrder).where(TrackedOrder.plan_id == old_id)).all()
    }
    old_vehicles = {
        v.vehicle_id: v
        for v in s.scalars(select(TrackedVehicle).where(TrackedVehicle.plan_id == old_id)).all()
    }
    kept = {
        (r["vehicle_id"], st.get("parcel_id") or st["order_id"]): st
        for r in doc["routes"]
        for st in r["stops"]
    }
    for o in orders:
        old = old_orders.get(o.order_id)
        if old is None:
            continue
        stop = kept.get((o.vehicle_id, o.order_id))
        same_vehicle = old.vehicle_id == o.vehicle_id and old.trip == o.trip
        if o.vehicle_id is None and old.status == "collected":
            o.status, o.done_at = old.status, old.done_at
        elif stop is not None and same_vehicle and (stop.get("locked") or old.status != "planned"):
            for name in ORDER_STATE:
                setattr(o, name, getattr(old, name))
            if stop.get("locked") and stop.get("outcome") == "in_progress":
                o.status = old.status if old.status == "arrived" else "out_for_delivery"
    day = Day.of(doc)
    s.add_all(vehicles + orders)
    s.flush()
    travel = travel_of(scenario)  # the travel model the plan was made with
    for vehicle in vehicles:
        old = old_vehicles.get(vehicle.vehicle_id)
        if old is not None:
            for name in VEHICLE_STATE:
                setattr(vehicle, name, getattr(old, name))
        if vehicle.vehicle_id in broken:
            vehicle.status = "done"
        recompute(vehicle, orders_of(s, vehicle), day, False, travel)
    return orders
