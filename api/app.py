"""The FastAPI application: the service's start and stop, its middleware, and one
``include_router`` per module of :mod:`api.routes`.

What the routes rely on once the service has started (``app.state``, which they read
through :mod:`api.deps`): ``settings`` (:class:`api.settings.Settings`), ``db``
(:class:`api.db.Database`: use ``db.transaction()``), ``keys``
(:class:`api.auth.KeyStore`), ``scenario`` (the :class:`optimizer.model.Scenario` the
service serves, loaded once), ``server_secret`` (bytes: :mod:`api.secret`), ``plans``
(:class:`api.services.plan_jobs.PlanRunner`), ``checkout``
(:class:`api.services.checkout.CheckoutService`), ``tracking``
(:class:`api.services.tracking.TrackingService`), ``clock`` (:class:`api.clock.Clock`:
the service's one clock; read ``clock.now()``, never the machine's), ``days``
(:class:`api.services.days.DayKeeper`), ``deliverer``
(:class:`api.services.webhook_delivery.Deliverer`: sends the outbox's webhooks).
``scenario`` is the day served: the scenario folder re-dated to the clock's day
(:func:`optimizer.model.on_day`), replaced when the day rolls.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Match

from api import log_redaction
from api.auth import (
    KeyStore,
    announce_generated_keys,
    configure_keys,
    configured_keys,
    unknown_vehicles,
)
from api.clock import Clock, clock_from_setting
from api.db import Database
from api.errors import message, validation_error_response
from api.limits import RequestGate
from api.routes import (
    back_in_stock,
    checkout,
    health,
    orders,
    plans,
    replan,
    tracking,
    webhooks,
)
from api.secret import server_secret
from api.services.checkout import CheckoutService
from api.services.days import DayKeeper
from api.services.health import service_version
from api.services.plan_jobs import CONTEXT, PlanRunner
from api.services.tracking import TrackingService
from api.services.webhook_delivery import Deliverer
from api.settings import Settings
from optimizer.io import load_scenario

log = logging.getLogger("lastmile.api")
# Budget of the plan made at first start when the database holds no day yet: a quick
# one, the checkout only needs the day's routes to insert into; the planner's jobs
# (POST /v1/plans) make the real plan.
START_PLAN_S = 10.0

DESCRIPTION = """\
Every endpoint but `/healthz` and these docs needs an API key in the `X-API-Key` header:
a `checkout` key (delivery promises, holds, order tracking), a `planner` key (plans,
stock, scenario, vehicle events, live state) or a `driver` key (scoped to vehicles: their
events and the live state of the plans they are on). A customer reads their order's
tracking with its signed token (`?token=`) instead of a key.
No key or an unknown key gets 401, a key of a role the endpoint does not admit 403 (a
driver key for a vehicle not its own too). Malformed requests get
422 with the path of each faulty field in `detail[].loc`.
"""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """The service. Nothing touches the database or the scenario until it starts.
    ``clock`` is the service's one clock (default: ``settings.clock``)."""
    settings = settings or Settings()
    clock = clock or clock_from_setting(settings.clock)
    log_redaction.install()  # tracking tokens never reach a log

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_redaction.install()  # again: uvicorn may have configured its loggers since
        state = app.state
        state.settings = settings
        state.clock = clock
        template = load_scenario(settings.scenario)
        for warning in template.warnings:  # an address far from the streets, say
            log.warning("scenario %s: %s", settings.scenario, warning)
        state.db = db = Database(settings.database_url)
        try:
            db.migrate()
            announce_generated_keys(configure_keys(db, settings))
            fleet = set(template.vehicles_by_id)
            for warning in unknown_vehicles(configured_keys(settings), fleet):
                log.warning(warning)
            state.keys = KeyStore(db)
            state.keys.reload()
            state.server_secret = server_secret(db, settings)
            state.plans = PlanRunner(db, state)
            state.plans.fail_interrupted()
            today = clock.now().astimezone(template.settings.tz).date()
            state.checkout = CheckoutService(
                db, template, state.server_secret, hold_ttl_s=settings.hold_ttl_s, day=today
            )
            state.scenario = state.checkout.scenario
            state.tracking = TrackingService(db, state, state.server_secret)

            def new_day(scenario) -> None:
                state.scenario = scenario

            state.days = DayKeeper(
                state.checkout,
                settings.scenario,
                clock,
                min(settings.plan_time_limit_s, START_PLAN_S),
                CONTEXT,
                on_new_day=new_day,
            )
            state.deliverer = Deliverer(db, clock, settings)
            if settings.webhook_deliver:
                state.deliverer.start()
            try:
                yield
            finally:
                state.deliverer.stop()
                state.days.stop()
                state.plans.shutdown()
        finally:
            db.dispose()

    app = FastAPI(
        title="lastmile",
        version=service_version(),
        summary="Fulfilment node choice, routing and delivery promises for omnichannel retail.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug: log it whole, tell the client nothing about the internals.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return message(500, "internal server error").response()

    @app.middleware("http")
    async def allow_every_method(request: Request, call_next):
        """A 405 lists every method the path supports (Starlette names only the first
        route's when several routes share a path, e.g. GET and DELETE on a hold)."""
        response = await call_next(request)
        if response.status_code == 405:
            methods = set()
            for route in _leaf_routes(app.routes):
                match, _ = route.matches({"type": "http", "path": request.url.path,
                                          "method": "GET"})  # fmt: skip
                if match is not Match.NONE and getattr(route, "methods", None):
                    methods |= route.methods
            if methods:
                response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    app.add_exception_handler(RequestValidationError, validation_error_response)

    # Outermost of the service's middleware: a caller without a known key is refused and
    # an oversized body cut off before anything reads the body (see api.limits).
    app.add_middleware(RequestGate, keys=lambda: app.state.keys)

    app.include_router(health.router)
    app.include_router(plans.router)
    app.include_router(replan.router)
    app.include_router(checkout.router)
    app.include_router(orders.router)
    app.include_router(back_in_stock.router)
    app.include_router(tracking.router)
    app.include_router(webhooks.router)
    return app


def _leaf_routes(routes):
    """Every endpoint route, looking inside included routers."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        inner = inner if inner is not None else getattr(route, "routes", None)
        if inner is not None:
            yield from _leaf_routes(inner)
        else:
            yield route


app = create_app()
