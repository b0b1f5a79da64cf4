"""The versions of a day's plan: a plan job and the re-plans that follow it.

A re-plan (``POST /v1/plans/{id}/replan``) stores a new plan job whose plan.json names
the plan it re-plans in ``replan.replan_of``, and whose ``message`` says so
(:func:`replan_message`). Backwards, a version's ancestors are read from its plan.json;
forwards, the version that re-plans a plan is found by that message (a short column,
cheap to scan, unlike plan.json), then confirmed from its plan.json.

Tracking reads these chains: an order's history is the events of every version of its
day, an event for a superseded version is refused with the current one's id, and
``report otif`` counts each order once, from the newest version that has it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import PlanJob

# A day is re-planned a few times; a chain longer than this is a loop or corrupt data.
MAX_VERSIONS = 1000


def replan_message(plan_id: str, now: datetime) -> str:
    """The ``message`` of the plan job that re-plans ``plan_id`` at ``now``."""
    return f"re-plan of {plan_id} at {now.isoformat()}"


def replan_of(doc: dict) -> str | None:
    """The plan id a plan.json re-plans, or None for a day's first plan."""
    return (doc.get("replan") or {}).get("replan_of")


def versions(
    s: Session, plan_id: str, doc: dict | None = None, read: Callable[[PlanJob], dict] | None = None
) -> list[str]:
    """``plan_id`` and the versions it re-plans, newest first (their events are the day's).

    ``doc`` is the plan's plan.json when the caller has it; ``read`` parses a job's
    plan.json (default: ``json.loads``; the tracking service passes its cache)."""
    read = read or (lambda job: json.loads(job.plan_json))
    if doc is None:
        job = s.get(PlanJob, plan_id)
        if job is None or job.plan_json is None:
            return [plan_id]
        doc = read(job)
    out = [plan_id]
    while (previous := replan_of(doc)) and previous not in out and len(out) < MAX_VERSIONS:
        job = s.get(PlanJob, previous)
        if job is None or job.plan_json is None:
            break
        out.append(job.id)
        doc = read(job)
    return out


def current_version(s: Session, plan_id: str, read: Callable[[PlanJob], dict] | None = None) -> str:
    """The newest version that re-plans ``plan_id`` (directly or through other
    versions), or ``plan_id`` itself when no done plan job re-plans it."""
    read = read or (lambda job: json.loads(job.plan_json))
    seen = [plan_id]
    current = plan_id
    while len(seen) < MAX_VERSIONS:
        candidates = s.scalars(
            select(PlanJob)
            .where(PlanJob.status == "done")
            .where(PlanJob.message.startswith(f"re-plan of {current} at ", autoescape=True))
            .order_by(PlanJob.finished_at.desc(), PlanJob.id)
        ).all()
        newer = next(
            (j for j in candidates if j.id not in seen and replan_of(read(j)) == current), None
        )
        if newer is None:
            return current
        seen.append(newer.id)
        current = newer.id
    return current
