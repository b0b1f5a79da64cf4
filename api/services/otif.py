"""Promised vs actual per order, read from the tracking tables, for `lastmile report otif`.

The edge of :mod:`optimizer.live.report`: one :class:`Outcome` per routed order of the
tracked plans (once per day: from the newest version of a re-planned day that has it,
with the failed attempts of every version), with its zone (the nearest postcode of the
plan's scenario, or the node when the scenario has no postcodes or cannot be read), the
figures from it, and the service-time factors written as the scenario's
``service_times.csv``. Returns' pickups are not orders: they are counted apart (picked
up, failed, open), once per day too.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import inspect, select

from api.db import Database
from api.models import PlanJob
from api.models.tracking import TrackedOrder, TrackingEvent
from api.services.plan_versions import versions
from optimizer.io import ScenarioError, load_scenario
from optimizer.io.plan_files import PICKUP_SERVICE
from optimizer.live.report import Outcome
from optimizer.model import Settings as DaySettings
from optimizer.travel.zones import nearest_postcodes


class ReportError(ValueError):
    """Nothing to report on: no tracking tables, an unknown plan, no event yet."""


@dataclass(frozen=True)
class Tracked:
    """What the tracking tables say about some plans: one :class:`Outcome` per routed
    order (returns' pickups are not orders: OTIF is about orders), and the pickups
    counted apart (``returns``: routed, picked_up, failed, open)."""

    outcomes: list[Outcome]
    returns: dict[str, int]


def outcomes(db: Database, plan_ids: Sequence[str] = ()) -> list[Outcome]:
    """The outcome of every routed order of ``plan_ids`` (default: every tracked plan)."""
    return tracked(db, plan_ids).outcomes


def tracked(db: Database, plan_ids: Sequence[str] = ()) -> Tracked:
    """The orders' outcomes and the returns' pickups of ``plan_ids`` (default: every
    tracked plan).

    Several versions of one day (a plan and the re-plans of it, see
    :mod:`api.services.plan_versions`) count each order and each return once, from the newest of
    those versions that has it (its final outcome); its failed attempts are those of
    every version of the day."""
    if not inspect(db.engine).has_table("tracked_orders"):
        raise ReportError("this database has no tracking tables (start `lastmile serve` on it)")
    with db.transaction(write=False) as s:
        if plan_ids:
            jobs = {j.id: j for j in s.scalars(select(PlanJob).where(PlanJob.id.in_(plan_ids)))}
            missing = [p for p in plan_ids if p not in jobs]
            if missing:
                raise ReportError(f"no plan job {missing[0]!r} in this database")
        else:
            tracked_ids = s.scalars(select(TrackedOrder.plan_id).distinct()).all()
            jobs = {j.id: j for j in s.scalars(select(PlanJob).where(PlanJob.id.in_(tracked_ids)))}
        docs = {plan_id: json.loads(job.plan_json) for plan_id, job in jobs.items()}
        # Each plan's day: the first plan of its chain of versions.
        day_of: dict[str, str] = {}
        for plan_id in jobs:
            chain = versions(s, plan_id, docs[plan_id])
            day_of |= {v: chain[-1] for v in chain}
        rows = s.scalars(
            select(TrackedOrder)
            .where(TrackedOrder.plan_id.in_(list(jobs)), TrackedOrder.vehicle_id.is_not(None))
            .order_by(TrackedOrder.plan_id, TrackedOrder.vehicle_id, TrackedOrder.sequence)
        ).all()
        order_ids = sorted({r.order_id for r in rows})
        failures: dict[tuple[str, str], list] = defaultdict(list)
        for plan_id, order_id, at in s.execute(
            select(TrackingEvent.plan_id, TrackingEvent.order_id, TrackingEvent.occurred_at).where(
                TrackingEvent.kind == "failed",
                TrackingEvent.order_id.in_(order_ids),
                TrackingEvent.plan_id.in_(list(day_of)),
            )
        ):
            failures[day_of[plan_id], order_id].append(at)
    if not rows:
        which = ", ".join(plan_ids) if plan_ids else "any plan"
        raise ReportError(f"no event has been received for {which}: nothing to report")
    rows = _final(rows, jobs, day_of)
    out = []
    for plan_id, job in jobs.items():
        mine = [r for r in rows if r.plan_id == plan_id and r.service != PICKUP_SERVICE]
        if not mine:
            continue
        info = docs[plan_id]["scenario"]
        day = DaySettings(info["name"], date.fromisoformat(info["date"]), info["timezone"])
        zones = _zones(job.scenario_dir, mine)
        for r, zone in zip(mine, zones, strict=True):
            out.append(_outcome(r, zone, day, failures.get((day_of[plan_id], r.order_id), [])))
    return Tracked(out, _returns([r for r in rows if r.service == PICKUP_SERVICE]))


def _final(rows: list[TrackedOrder], jobs: dict[str, PlanJob], day_of: dict[str, str]) -> list:
    """One row per order (or return) and day: the newest version's (a re-plan finishes
    after the plan it re-plans)."""
    newest: dict[tuple[str, str], TrackedOrder] = {}

    def age(row: TrackedOrder) -> tuple:
        job = jobs[row.plan_id]
        return (job.finished_at or job.created_at, job.created_at)

    for r in rows:
        key = (day_of[r.plan_id], r.order_id)
        if key not in newest or age(r) > age(newest[key]):
            newest[key] = r
    kept = {id(r) for r in newest.values()}
    return [r for r in rows if id(r) in kept]


def _returns(pickups: list[TrackedOrder]) -> dict[str, int]:
    """Pickups by outcome. A pickup reported ``delivered`` (before the ``picked_up``
    event existed) counts as picked up."""
    done = sum(r.status in ("picked_up", "delivered") for r in pickups)
    failed = sum(r.status == "failed" for r in pickups)
    return {"routed": len(pickups), "picked_up": done, "failed": failed,
            "open": len(pickups) - done - failed}  # fmt: skip


def _zones(scenario_dir: str, rows: list[TrackedOrder]) -> list[str]:
    try:
        places = load_scenario(scenario_dir).places
    except (ScenarioError, OSError):
        places = {}
    codes = nearest_postcodes(
        np.array([r.lat for r in rows]), np.array([r.lon for r in rows]), places
    )
    return [
        code if code is not None else f"node:{r.node_id}"
        for code, r in zip(codes, rows, strict=True)
    ]


def _outcome(r: TrackedOrder, zone: str, day: DaySettings, failed_at: list) -> Outcome:
    s = day.to_seconds
    status = r.status if r.status in ("delivered", "failed") else "open"
    done = None if r.done_at is None else s(r.done_at)
    if r.arrived_at is not None:
        arrival = s(r.arrived_at)
    elif done is not None:
        arrival = done - r.service_s  # no arrived event: the door time as planned
    else:
        arrival = None
    eta = r.eta_at_departure or r.planned_arrival_at
    planned = r.planned_arrival_at or r.slot_start_at
    actual_service = None
    slot_start = s(r.slot_start_at)
    if status == "delivered" and r.arrived_at is not None and arrival >= slot_start:
        actual_service = done - arrival  # an early vehicle may have waited: not a sample
    before = [t for t in failed_at if r.done_at is None or t < r.done_at]
    return Outcome(
        order_id=r.order_id,
        zone=zone,
        mode=r.mode,
        hour=planned.astimezone(day.tz).hour,
        slot_start_s=slot_start,
        slot_end_s=s(r.slot_end_at),
        status=status,
        arrival_s=arrival,
        done_s=done,
        eta_s=None if eta is None else s(eta),
        attempt=1 + len(before),
        planned_service_s=r.service_s,
        actual_service_s=actual_service,
    )


def service_times_csv(rows: list[dict]) -> str:
    """``service_times.csv`` for the next plan's scenario (postcode zones only)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["postcode", "factor", "samples", "planned_median_s", "actual_median_s"])
    for row in rows:
        if not row["zone"].startswith("node:"):
            writer.writerow([row["zone"], row["factor"], row["samples"],
                             row["planned_median_s"], row["actual_median_s"]])  # fmt: skip
    return out.getvalue()
