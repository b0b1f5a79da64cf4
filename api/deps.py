"""What a route takes from the running service (``app.state``, see :mod:`api.app`), as
``Annotated`` FastAPI dependencies: a route declares ``db: DbDep`` rather than reading
``request.app.state.db`` itself.

Before the service has started (or while it starts), a route that needs a piece the
service does not hold yet answers 503 ``not_ready``: "the checkout is starting; retry
shortly" for the checkout, "the service is starting; retry shortly" for the rest.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from api.clock import Clock
from api.db import Database
from api.errors import problem
from api.services.checkout import CheckoutService
from api.services.plan_jobs import PlanRunner
from api.services.tracking import TrackingService
from api.settings import Settings
from optimizer.model import Scenario


def _held(request: Request, name: str, what: str = "the service") -> Any:
    found = getattr(request.app.state, name, None)
    if found is None:
        raise problem(503, f"{what} is starting; retry shortly")
    return found


async def _db(request: Request) -> Database:
    return _held(request, "db")


async def _checkout(request: Request) -> CheckoutService:
    return _held(request, "checkout", "the checkout")


async def _tracking(request: Request) -> TrackingService:
    return _held(request, "tracking")


async def _plans(request: Request) -> PlanRunner:
    return _held(request, "plans")


async def _clock(request: Request) -> Clock:
    return _held(request, "clock")


async def _settings(request: Request) -> Settings:
    return _held(request, "settings")


async def _scenario(request: Request) -> Scenario:
    return _held(request, "scenario")


async def _state(request: Request) -> Any:
    return request.app.state


DbDep = Annotated[Database, Depends(_db)]
"""The service's database (:class:`api.db.Database`): use ``db.transaction()``."""
CheckoutDep = Annotated[CheckoutService, Depends(_checkout)]
"""The checkout (:class:`api.services.checkout.CheckoutService`); 503 until it exists."""
TrackingDep = Annotated[TrackingService, Depends(_tracking)]
"""The tracking state of the service's plans (:class:`api.services.tracking.TrackingService`)."""
PlanRunnerDep = Annotated[PlanRunner, Depends(_plans)]
"""The plan jobs' runner (:class:`api.services.plan_jobs.PlanRunner`)."""
ClockDep = Annotated[Clock, Depends(_clock)]
"""The service's one clock: read ``clock.now()``, never the machine's."""
SettingsDep = Annotated[Settings, Depends(_settings)]
"""The service's settings (:class:`api.settings.Settings`)."""
ScenarioDep = Annotated[Scenario, Depends(_scenario)]
"""The day served: the scenario folder re-dated to the clock's day."""
StateDep = Annotated[Any, Depends(_state)]
"""The whole ``app.state``, for the services that take it (plan jobs, the re-plan)."""
