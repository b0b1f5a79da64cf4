"""The FastAPI application. Routers translate HTTP to calls of the core and back.

What a router may rely on once the service has started (``request.app.state``):

``settings`` (:class:`api.settings.Settings`), ``db`` (:class:`api.db.Database`: use
``db.transaction()``), ``keys`` (:class:`api.auth.KeyStore`), ``scenario`` (the
:class:`optimizer.model.Scenario` the service serves, loaded once), ``server_secret``
(bytes, created at first start), ``plans`` (:class:`api.plans.PlanRunner`), ``checkout``
(:class:`api.checkout_service.CheckoutService`), ``tracking``
(:class:`api.tracking_service.TrackingService`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.routing import Match

from api import checkout, plans, replan, tracking
from api.auth import (
    KeyStore,
    announce_generated_keys,
    configure_keys,
    configured_keys,
    server_secret,
    unknown_vehicles,
)
from api.checkout import checkout_error_response
from api.checkout_service import CheckoutError, CheckoutService
from api.db import Database
from api.settings import Settings
from api.tracking_service import TrackingService
from optimizer.io import load_scenario
from optimizer.planning import PlanParams, plan_day

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


def _version() -> str:
    try:
        return version("lastmile")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


class Health(BaseModel):
    status: str
    version: str


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service. Nothing touches the database or the scenario until it starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.settings = settings
        state.scenario = load_scenario(settings.scenario)
        state.db = db = Database(settings.database_url)
        try:
            db.migrate()
            announce_generated_keys(configure_keys(db, settings))
            fleet = set(state.scenario.vehicles_by_id)
            for warning in unknown_vehicles(configured_keys(settings), fleet):
                log.warning(warning)
            state.keys = KeyStore(db)
            state.keys.reload()
            state.server_secret = server_secret(db)
            state.plans = plans.PlanRunner(db, state)
            state.plans.fail_interrupted()
            state.checkout = CheckoutService(
                db, state.scenario, state.server_secret, hold_ttl_s=settings.hold_ttl_s
            )
            state.tracking = TrackingService(db, state, state.server_secret)
            day = _CheckoutDay(state.checkout, min(settings.plan_time_limit_s, START_PLAN_S))
            try:
                yield
            finally:
                day.stop()
                state.plans.shutdown()
        finally:
            db.dispose()

    app = FastAPI(
        title="lastmile",
        version=_version(),
        summary="Fulfilment node choice, routing and delivery promises for omnichannel retail.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )

    @app.get("/healthz", response_model=Health, tags=["ops"])
    def healthz() -> Health:
        """Liveness: the service is up (needs no key)."""
        return Health(status="ok", version=_version())

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug: log it whole, tell the client nothing about the internals.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

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

    @app.exception_handler(CheckoutError)
    async def refused(request: Request, exc: CheckoutError) -> JSONResponse:
        return checkout_error_response(exc)

    app.include_router(plans.router)
    app.include_router(replan.router)
    app.include_router(checkout.router)
    app.include_router(tracking.router)
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


class _CheckoutDay:
    """Background work of the checkout: plan the day once if the database does not hold
    it yet (promises answer 503 until then), then release expired holds every 30 s."""

    SWEEP_S = 30.0

    def __init__(self, service: CheckoutService, plan_time_limit_s: float):
        self.service = service
        self.time_limit_s = plan_time_limit_s
        self._stop = threading.Event()
        self._pool: ProcessPoolExecutor | None = None
        self._thread = threading.Thread(target=self._run, name="lastmile-checkout", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        params = PlanParams(time_limit_s=self.time_limit_s, workers=1)
        try:
            if not self.service.ready:
                # The day's orders and those confirmed for it on earlier days (eco slots,
                # click & collect of a later day).
                scenario = self.service.day_scenario()
                # In a child process: OR-Tools holds the interpreter lock while it solves,
                # and the service must keep answering meanwhile.
                with ProcessPoolExecutor(max_workers=1, mp_context=plans.CONTEXT) as pool:
                    self._pool = pool
                    plan = pool.submit(plan_day, scenario, params).result()
                self._pool = None
                if self._stop.is_set():
                    return
                self.service.start(lambda: plan, scenario)
        except Exception:  # the service stays up; promises keep answering 503
            if not self._stop.is_set():
                log.exception("could not plan the day for the checkout")
            return
        while not self._stop.wait(self.SWEEP_S):
            try:
                self.service.expire_due(datetime.now(UTC))
            except Exception:
                log.exception("releasing expired holds failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        pool = self._pool
        if pool is not None:  # a day plan still running is of no use any more
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
        self._thread.join(timeout=10)


app = create_app()
