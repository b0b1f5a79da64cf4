"""``POST /v1/plans/{id}/replan``: re-plan the rest of a tracked day (planner keys); the
work is :func:`api.services.replan.replan_job`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, status

from api.auth import require_role
from api.deps import ClockDep, DbDep, StateDep
from api.errors import AUTH_RESPONSES, NOT_TEXT_RESPONSES, problem_responses
from api.schemas.replan import ReplanOut, ReplanRequest
from api.services.replan import replan_job

router = APIRouter(
    prefix="/v1/plans",
    tags=["plans"],
    dependencies=[Depends(require_role("planner"))],
    responses=AUTH_RESPONSES,
)


@router.post(
    "/{job_id}/replan",
    status_code=status.HTTP_201_CREATED,
    response_model=ReplanOut,
    responses=NOT_TEXT_RESPONSES
    | problem_responses(
        {
            404: "No plan job with this id (`loc`: path, job_id).",
            409: "The job has not produced a plan, its scenario cannot be read, or the "
            "tracking state does not fit the plan.",
        }
    ),
)
def replan_plan(
    job_id: uuid.UUID,
    db: DbDep,
    clock: ClockDep,
    app_state: StateDep,
    body: Annotated[ReplanRequest | None, Body()] = None,
) -> ReplanOut:
    """Re-plan the rest of the day: stops done or under way are kept, the rest is routed
    again with the orders confirmed since, failed deliveries (per ``policy``) and
    without the broken-down vehicles. The result is a new plan job, checked by the
    independent checker; the answer says what changed."""
    return replan_job(str(job_id), body or ReplanRequest(), db, clock, app_state)
