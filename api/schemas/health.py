"""The liveness answer (``GET /healthz``)."""

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    version: str
