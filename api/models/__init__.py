"""The service's tables (SQLAlchemy 2.0 declarative), created by the Alembic migrations
in ``api/migrations``: :mod:`.base` (the declarative base, keys, plan jobs, settings),
:mod:`.checkout` (stock, holds, the day's orders and routes) and :mod:`.tracking`
(tracked vehicles and orders, events). Importing the package registers every table on
``Base.metadata``."""

from api.models import checkout, tracking
from api.models.base import KV, ApiKey, Base, PlanJob, UTCDateTime, utcnow

__all__ = ["KV", "ApiKey", "Base", "PlanJob", "UTCDateTime", "checkout", "tracking", "utcnow"]
