"""The service's tables (SQLAlchemy 2.0 declarative). Alembic migrations create them:
change a table here and add a migration in ``api/migrations/versions/``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Float, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so later migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ApiKey(Base):
    """An API key, stored as the SHA-256 of the key; the key itself is never stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(16))  # "checkout" | "planner" | "driver"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    key_prefix: Mapped[str] = mapped_column(String(6))  # first 6 characters, for logs
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16))  # "env" | "file" | "generated" | "cli"
    # A driver key's vehicles, a JSON list of vehicle ids (NULL for the other roles).
    vehicle_ids: Mapped[str | None] = mapped_column(Text)


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    checker_ok: Mapped[bool | None] = mapped_column(Boolean)
    plan_json: Mapped[str | None] = mapped_column(Text)
    kpis_json: Mapped[str | None] = mapped_column(Text)
    geojson: Mapped[str | None] = mapped_column(Text)
    map_html: Mapped[str | None] = mapped_column(Text)


class KV(Base):
    """Small service-wide values, e.g. ``server_secret`` on PostgreSQL (:mod:`api.secret`)."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
