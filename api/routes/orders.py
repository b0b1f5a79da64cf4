"""Orders and returns by API from any channel, a customer's open deliveries and returns,
and the erasure of a customer's personal data (role ``checkout``). Thin: validate, call
:mod:`api.services.orders`, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError

from api.auth import require_role
from api.deps import CheckoutDep, ClockDep, TrackingDep
from api.schemas.checkout import CustomerId
from api.schemas.orders import (
    CustomerOrders,
    OrderBatch,
    OrderIn,
    OrderOut,
    OrdersOut,
    PersonalDataErased,
    ReturnIn,
    ReturnOut,
    form_problem,
)
from api.services.orders import OrdersService

router = APIRouter(prefix="/v1", tags=["orders"])
checkout_key = Depends(require_role("checkout"))

ERRORS = {
    400: {"description": "the body is not JSON text"},
    401: {"description": "missing or unknown API key"},
    403: {"description": "a key of the other role"},
    409: {"description": "the id was sent before with another body; stock or slot taken"},
    422: {"description": "invalid request: every problem, each with its field path in `loc`"},
    503: {"description": "the day's plan is not ready yet"},
}


def _inlined(node: Any, defs: dict) -> Any:
    """``node`` with every ``#/$defs/`` reference replaced by its definition (the
    models of an order refer to no model of their own: no cycle)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inlined(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {key: _inlined(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inlined(item, defs) for item in node]
    return node


def _orders_body() -> dict:
    """The body's OpenAPI: one order (``OrderIn``) or a batch (``OrderBatch``). The route
    reads the body itself (a union would put the model's name into every error's path),
    so its schema is given here, whole."""
    schema = TypeAdapter(OrderIn | OrderBatch).json_schema()
    return {
        "requestBody": {
            "required": True,
            "description": 'One order, or a batch `{"orders": [...]}` (docs/orders-api.md).',
            "content": {"application/json": {"schema": _inlined(schema, schema.get("$defs", {}))}},
        }
    }


ORDERS_BODY = _orders_body()


def _orders_of(payload: Any) -> tuple[list[OrderIn], bool]:
    """The orders of the body and whether it is a batch; every problem at once (422, each
    with its path from the body: ``["body", "orders", 2, "lines", 0, "sku"]``)."""
    batch = isinstance(payload, dict) and "orders" in payload
    try:
        if batch:
            return OrderBatch.model_validate(payload).orders, True
        return [OrderIn.model_validate(payload)], False
    except ValidationError as exc:
        errors = [e | {"loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raw = payload.get("orders") if batch else [payload]
        for i, order in enumerate(raw if isinstance(raw, list) else []):
            loc = ("body", "orders", i) if batch else ("body",)
            wrong = form_problem(order)
            if wrong and not any(e["loc"] == loc for e in errors):  # not told already
                errors.append({"type": "value_error", "loc": loc, "msg": wrong, "input": None})
        raise RequestValidationError(errors) from None


@router.post(
    "/orders",
    response_model=OrderOut | OrdersOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[checkout_key],
    responses={**ERRORS, 200: {"description": "the same request again: the first answer"}},
    openapi_extra=ORDERS_BODY,
)
def create_orders(
    payload: Annotated[Any, Body(include_in_schema=False)],
    response: Response,
    checkout: CheckoutDep,
    tracking: TrackingDep,
    clock: ClockDep,
):
    """Take one order or a batch from any channel: confirmed like a checkout's order (the
    next plan and re-plan of its day have it), trackable at once, ``order.confirmed``
    announced. The same ``order_id`` and body again: the first answer (200)."""
    orders, batch = _orders_of(payload)
    service = OrdersService(checkout, tracking)
    answers, created = service.take_all(orders, clock.now(), batch)
    if not created:
        response.status_code = status.HTTP_200_OK
    return OrdersOut(orders=answers) if batch else answers[0]


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    dependencies=[checkout_key],
    responses={**ERRORS, 404: {"description": "no such order"}},
)
def get_order(
    order_id: Annotated[str, Field(max_length=64)],
    checkout: CheckoutDep,
    tracking: TrackingDep,
):
    """An order confirmed by API or at checkout: its channel, customer id and status."""
    return OrdersService(checkout, tracking).order(order_id)


@router.post(
    "/returns",
    response_model=ReturnOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[checkout_key],
    responses={**ERRORS, 200: {"description": "the same request again: the first answer"}},
)
def create_return(
    body: ReturnIn,
    response: Response,
    checkout: CheckoutDep,
    tracking: TrackingDep,
    clock: ClockDep,
):
    """A return or exchange of an order, picked up at its address in the slot chosen; the
    plan of that day (its next plan) has it. The same ``return_id`` and body again: the
    first answer (200)."""
    answer, created = OrdersService(checkout, tracking).take_return(body, clock.now())
    if not created:
        response.status_code = status.HTTP_200_OK
    return answer


@router.get(
    "/customers/{customer_id}/orders",
    response_model=CustomerOrders,
    dependencies=[checkout_key],
    responses=ERRORS,
)
def customer_orders(customer_id: CustomerId, checkout: CheckoutDep, tracking: TrackingDep):
    """A customer's open deliveries and returns, across channels."""
    return OrdersService(checkout, tracking).customer(customer_id)


@router.delete(
    "/customers/{customer_id}/personal-data",
    response_model=PersonalDataErased,
    dependencies=[checkout_key],
    responses=ERRORS,
)
def erase_personal_data(customer_id: CustomerId, checkout: CheckoutDep, tracking: TrackingDep):
    """Erase a customer's personal data: contacts deleted, outbox events scrubbed, the
    addresses of closed orders and returns coarsened to about 1 km and unlinked from the
    customer id; open ones keep their address until delivered (``kept_for_delivery``).
    Idempotent; an unknown customer gets zero counts (200), as a second call does."""
    return OrdersService(checkout, tracking).erase_customer(customer_id)
