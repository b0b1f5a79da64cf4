"""The FastAPI application. Routers translate HTTP to calls of the core and back.

What a router may rely on once the service has started (``request.app.state``):

``settings`` (:class:`api.settings.Settings`), ``db`` (:class:`api.db.Database`: use
``db.transaction()``), ``keys`` (:class:`api.auth.KeyStore`), ``scenario`` (the
:class:`optimizer.model.Scenario` the service serves, loaded once), ``server_secret``
(bytes, created at first start), ``plans`` (:class:`api.plans.PlanRunner`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import plans
from api.auth import KeyStore, announce_generated_keys, configure_keys, server_secret
from api.db import Database
from api.settings import Settings
from optimizer.io import load_scenario

log = logging.getLogger("lastmile.api")

DESCRIPTION = """\
Every endpoint but `/healthz` and these docs needs an API key in the `X-API-Key` header:
a `checkout` key (delivery promises, holds) or a `planner` key (plans, stock, scenario).
No key or an unknown key gets 401, a key of the other role 403. Malformed requests get
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
            state.keys = KeyStore(db)
            state.keys.reload()
            state.server_secret = server_secret(db)
            state.plans = plans.PlanRunner(db, state)
            state.plans.fail_interrupted()
            try:
                yield
            finally:
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

    app.include_router(plans.router)
    return app


app = create_app()
