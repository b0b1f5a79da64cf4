"""The service's tables (SQLAlchemy 2.0 declarative), created by the Alembic migrations
in ``api/migrations``.

:mod:`.base` (the declarative base, keys, service-wide values),
:mod:`.plans` (plan jobs), :mod:`.checkout` (stock, holds, the day's orders and routes),
:mod:`.tracking` (tracked vehicles and orders, events), :mod:`.orders` (orders and
returns taken by API) and :mod:`.webhooks`
(subscriptions, the outbox of events, deliveries). Importing the package
registers every table on ``Base.metadata``."""

from api.models import checkout, orders, plans, tracking, webhooks
from api.models.base import KV, ApiKey, Base, UTCDateTime, utcnow
from api.models.plans import PlanJob

__all__ = [
    "KV",
    "ApiKey",
    "Base",
    "PlanJob",
    "UTCDateTime",
    "checkout",
    "orders",
    "plans",
    "tracking",
    "utcnow",
    "webhooks",
]
