"""The re-plan's bodies: what to re-plan from (:class:`ReplanRequest`) and what changed
(:class:`ReplanOut`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.base import Instant, RequestModel


class ReplanRequest(RequestModel):
    """What to re-plan from."""

    now: Instant | None = Field(
        None, description="The re-plan's instant, ISO 8601 with offset (default: now)."
    )
    broken_down: list[str] = Field(
        default_factory=list, max_length=1000, description="Vehicles out for the rest of the day."
    )
    policy: Literal["retry_later_slot", "click_and_collect", "auto"] = Field(
        "auto", description="Failed deliveries: later slot, click & collect, or the cheaper."
    )
    time_limit_s: float = Field(2.0, gt=0, le=300, description="Routing budget, seconds.")


class ReplanOut(BaseModel):
    plan_id: str = Field(description="The new plan version's job id.")
    replan_of: str
    checker_ok: bool
    violations: list[str]
    changes: dict
    kpis: dict
    replan_ms: float
