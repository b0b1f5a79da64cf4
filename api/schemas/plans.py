"""The plan jobs' bodies: what to plan (:class:`PlanRequest`) and a job as answered
(:class:`PlanJobOut`)."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.base import RequestModel

# publishing: a checked plan being made the checkout's, too late to cancel (409).
JobStatus = Literal["queued", "running", "publishing", "done", "failed", "cancelled"]


class PlanRequest(RequestModel):
    """What to plan."""

    scenario: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="Scenario folder on the server; default: the service's scenario.",
    )
    time_limit_s: float | None = Field(
        None,
        ge=1,
        le=600,
        description="Routing budget, seconds; default LASTMILE_PLAN_TIME_LIMIT_S.",
    )
    date: dt.date | None = Field(
        None,
        description=(
            "The day to plan (YYYY-MM-DD): the day served (default) or a later day within "
            "the promise's horizon, planned from the orders confirmed for it; a later "
            "day's checked plan sets what the checkout may still sell on that day. Only "
            "for the service's own scenario."
        ),
    )


class PlanJobOut(BaseModel):
    id: str
    status: JobStatus
    progress: float = Field(description="0 to 1")
    message: str | None = Field(description="What the job is doing, or how it ended.")
    scenario: str = Field(description="The scenario folder planned.")
    date: dt.date | None = Field(
        None, description="The later day planned (null: the day served or the folder's own)."
    )
    time_limit_s: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="Why the job failed (scenario problems: all of them).")
    checker_ok: bool | None = Field(
        description="Whether the independent checker found the plan sound (once done)."
    )
    kpis: dict[str, Any] | None = Field(None, description="The plan's KPIs (once done).")
    plan: dict[str, Any] | None = Field(
        None, description="The plan.json document, docs/plan-format.md (once done)."
    )
