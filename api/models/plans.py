"""The plan jobs' table: each daily plan requested through the API, and its results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class PlanJob(Base):
    """A daily-plan run requested through the API, and its results once done."""

    __tablename__ = "plan_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4
    # queued | running | done | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    message: Mapped[str | None] = mapped_column(Text)
    scenario_dir: Mapped[str] = mapped_column(Text)
    time_limit_s: Mapped[float] = mapped_column(Float)
    # The day planned (0011): a later day of the served folder, its capacity then set
    # from the plan; None for the day served (or another folder's own date).
    service_date: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    checker_ok: Mapped[bool | None] = mapped_column(Boolean)
    plan_json: Mapped[str | None] = mapped_column(Text)
    kpis_json: Mapped[str | None] = mapped_column(Text)
    geojson: Mapped[str | None] = mapped_column(Text)
    map_html: Mapped[str | None] = mapped_column(Text)
