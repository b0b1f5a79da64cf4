"""Checkout endpoints: the promise, holds, confirmation, release (role ``checkout``), and
live stock updates (role ``planner``). Thin: validate, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response, status
from pydantic import Field

from api.auth import require_role
from api.deps import CheckoutDep, ClockDep, SettingsDep, StateDep, TrackingDep
from api.schemas.checkout import (
    ConfirmResponse,
    HoldRequest,
    HoldResponse,
    HoldStatus,
    PromiseRequest,
    PromiseResponse,
    Reloaded,
    StockUpdate,
    StockUpdated,
)
from api.services.checkout import answers

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retrying a request with the same key returns the first answer.",
    ),
]


router = APIRouter(prefix="/v1", tags=["checkout"])
checkout_key = Depends(require_role("checkout"))
planner_key = Depends(require_role("planner"))

ERRORS = {
    400: {"description": "the body is not JSON text"},
    401: {"description": "missing or unknown API key"},
    403: {"description": "a key of the other role"},
    422: {"description": "invalid request, with the field path in `loc`"},
    503: {"description": "the day's plan is not ready yet"},
}


@router.post(
    "/promise", response_model=PromiseResponse, dependencies=[checkout_key], responses=ERRORS
)
def promise(body: PromiseRequest, service: CheckoutDep, clock: ClockDep) -> PromiseResponse:
    """Every option that can be kept for this basket at this address: click & collect at
    nearby stores, and express, eco and green slots that fit the day's routes."""
    return answers.quote(service, body, clock.now())


@router.post(
    "/holds",
    response_model=HoldResponse,
    status_code=status.HTTP_201_CREATED,
    dependencies=[checkout_key],
    responses={
        **ERRORS,
        409: {"description": "stock or slot taken meanwhile"},
        410: {"description": "the option expired"},
    },  # fmt: skip
)
def create_hold(
    body: HoldRequest,
    service: CheckoutDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
):
    """Reserve the option's stock and its place on a route for the hold's time to live."""
    return service.hold(
        body.option_id,
        clock.now(),
        idempotency_key,
        body.channel,
        body.customer_id,
        body.contact,
    )


@router.get(
    "/holds/{hold_id}",
    response_model=HoldStatus,
    dependencies=[checkout_key],
    responses={**ERRORS, 404: {"description": "no such hold"}},
)
def get_hold(hold_id: Annotated[str, Field(max_length=64)], service: CheckoutDep):
    return service.hold_status(hold_id)


@router.post(
    "/holds/{hold_id}/confirm",
    response_model=ConfirmResponse,
    dependencies=[checkout_key],
    responses={
        **ERRORS,
        404: {"description": "no such hold"},
        410: {"description": "the hold expired or was released"},
    },  # fmt: skip
)
def confirm_hold(
    hold_id: Annotated[str, Field(max_length=64)],
    service: CheckoutDep,
    tracking: TrackingDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
):
    """Turn the hold into an order of its day: that day's plan delivers it as promised.
    The answer carries the order's tracking link and token (its tracking says
    ``confirmed`` with the promised slot until a plan has it)."""
    answer = service.confirm(hold_id, clock.now(), idempotency_key)
    order_id = answer["order_id"]
    token = tracking.token(order_id)
    return answer | {
        "tracking_url": tracking.tracking_url(order_id, token),
        "tracking_token": token,
    }


@router.delete(
    "/holds/{hold_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[checkout_key],
    responses={
        **ERRORS,
        404: {"description": "no such hold"},
        409: {"description": "the hold is confirmed"},
    },  # fmt: skip
)
def release_hold(
    hold_id: Annotated[str, Field(max_length=64)], service: CheckoutDep, clock: ClockDep
):
    """Give the stock and the place back (releasing twice is harmless)."""
    service.release(hold_id, clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/stock", response_model=StockUpdated, dependencies=[planner_key], responses=ERRORS)
def put_stock(body: StockUpdate, service: CheckoutDep, clock: ClockDep):
    """Set on-hand quantities per node and SKU (a count from the WMS) while the service runs."""
    return answers.count_stock(service, body, clock.now())


@router.post(
    "/scenario/reload",
    response_model=Reloaded,
    dependencies=[planner_key],
    responses={**ERRORS, 409: {"description": "another day, or vehicles with stops removed"}},
)
def reload_scenario(
    service: CheckoutDep, clock: ClockDep, settings: SettingsDep, app_state: StateDep
):
    """Re-read the service's scenario folder (fleet, stock counts, catalogue) while the
    service runs; live routes, holds and confirmed orders are kept. A broken folder is a
    422 listing every problem with its file, line and column."""
    return answers.reload_served(service, settings.scenario, clock.now(), app_state)
