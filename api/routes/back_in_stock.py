"""Back-in-stock alerts: the checkout subscribes a customer to an out-of-stock SKU at
an address (checkout keys); the alerts are listed to checkout keys with their contacts
and to planner keys without. Thin: the work is :mod:`api.services.back_in_stock`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from api.auth import Caller, require_role
from api.deps import CheckoutDep, ClockDep, DbDep
from api.errors import AUTH_RESPONSES, NOT_TEXT_RESPONSES, problem, problem_responses
from api.schemas.back_in_stock import BackInStockIn, BackInStockOut
from api.services import back_in_stock
from api.services.checkout.answers import resolve

router = APIRouter(prefix="/v1", tags=["checkout"], responses=AUTH_RESPONSES)


@router.post(
    "/back-in-stock",
    response_model=BackInStockOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_role("checkout"))],
    responses=NOT_TEXT_RESPONSES
    | problem_responses({409: "The SKU is promisable there now.", 503: "The day is not ready."}),
)
def subscribe(body: BackInStockIn, service: CheckoutDep, clock: ClockDep) -> dict:
    """Tell the customer (``channel``, ``contact``) once ``qty`` of ``sku`` is promisable
    at ``address``: one ``stock.back_in_stock`` webhook, with the first promisable date,
    after the stock update that makes it so; the alert then ends."""
    if body.sku not in service.scenario.catalogue:
        raise problem(422, f"unknown SKU {body.sku!r}", ("body", "sku"))
    point = resolve(service.scenario, body.address)
    return back_in_stock.subscribe(
        service,
        body.sku,
        body.qty,
        point,
        body.channel,
        body.contact,
        clock.now(),
        body.customer_id,
    )


@router.get("/back-in-stock", response_model=list[BackInStockOut])
def list_alerts(
    db: DbDep,
    caller: Annotated[Caller, Depends(require_role("checkout", "planner"))],
    status: Literal["waiting", "notified", "erased"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict]:
    """The latest alerts, newest first; their contacts to checkout keys only."""
    return back_in_stock.alerts(db, caller.role == "checkout", status, limit)
