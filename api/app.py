"""The FastAPI application. Routers translate HTTP to calls of the core and back."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from pydantic import BaseModel


def _version() -> str:
    try:
        return version("lastmile")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


class Health(BaseModel):
    status: str
    version: str


def create_app() -> FastAPI:
    app = FastAPI(
        title="lastmile",
        version=_version(),
        summary="Fulfilment node choice, routing and delivery promises for omnichannel retail.",
    )

    @app.get("/healthz", response_model=Health, tags=["ops"])
    def healthz() -> Health:
        """Liveness: the service is up (needs no key)."""
        return Health(status="ok", version=_version())

    return app


app = create_app()
