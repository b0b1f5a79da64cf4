"""``GET /healthz``: liveness, with no key."""

from fastapi import APIRouter

from api.schemas.health import Health
from api.services.health import service_version

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the service is up (needs no key)."""
    return Health(status="ok", version=service_version())
