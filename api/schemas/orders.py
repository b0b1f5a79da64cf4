"""The bodies of orders and returns taken by API (``POST /v1/orders``, ``POST
/v1/returns``) and of a customer's open deliveries and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.base import Instant, RequestModel
from api.schemas.checkout import Address, BasketLine, Channel, Contact, CustomerId

CallerId = Field(
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9._:-]+$",
    description="The caller's id: sending it again with the same body gets the first answer "
    "(200); with another body, 409.",
)


class OrderIn(RequestModel):
    """One order: its lines, address, service and slot, or ``from_hold`` (a hold of a
    promise, confirmed as this order) instead of the four."""

    order_id: str = CallerId
    channel: Channel
    customer_id: CustomerId | None = None
    lines: list[BasketLine] | None = Field(None, min_length=1, max_length=100)
    address: Address | None = None
    service: Literal["express", "eco", "green"] | None = None
    slot: Instant | None = Field(
        None, description="The slot's start (ISO 8601 with offset), on the service's grid."
    )
    from_hold: str | None = Field(None, min_length=1, max_length=64)
    contact: Contact | None = Field(
        None, description="The customer's contact (with from_hold: replaces the hold's)."
    )

    @model_validator(mode="after")
    def _one_form(self) -> OrderIn:
        wrong = form_problem(self.model_dump(exclude_none=True))
        if wrong:
            raise ValueError(wrong)
        return self


FORM = ("lines", "address", "service", "slot")


def form_problem(data: object) -> str | None:
    """What is wrong with the form of an order (a JSON object): ``from_hold`` with lines,
    address, service or slot, or neither all four nor ``from_hold``; None if right. (Also
    asked when its fields have problems, so that all come at once.)"""
    if not isinstance(data, dict):
        return None
    given = [name for name in FORM if data.get(name) is not None]
    if data.get("from_hold") is not None and given:
        return (
            f"give from_hold or lines, address, service and slot, not both (also given: "
            f"{', '.join(given)})"
        )
    if data.get("from_hold") is None and len(given) < len(FORM):
        missing = [name for name in FORM if name not in given]
        return f"missing {', '.join(missing)} (or give from_hold)"
    return None


class OrderBatch(RequestModel):
    orders: list[OrderIn] = Field(min_length=1, max_length=500)


class OrderLineOut(BaseModel):
    sku: str
    qty: int
    variant: str | None = Field(
        None, description="The configuration of a made-to-order item, as ordered."
    )


class ContactOut(BaseModel):
    name: str | None
    phone: str | None
    email: str | None


class OrderOut(BaseModel):
    order_id: str
    status: str = Field(description="confirmed, then as tracking tells (planned, delivered...).")
    channel: str | None = Field(description="None for a checkout order given no channel.")
    customer_id: str | None
    contact: ContactOut | None = Field(
        None, description="The customer's contact (checkout keys only); null once erased."
    )
    hold_id: str
    node_id: str
    service: str
    service_date: date
    slot_start: datetime
    slot_end: datetime
    lines: list[OrderLineOut]
    tracking_url: str
    tracking_token: str


class OrdersOut(BaseModel):
    orders: list[OrderOut]


class ReturnIn(RequestModel):
    """A return of an order, the pickup half of an exchange, or the take-back of an old
    item (a sofa recycled) when the order is delivered: its lines and the pickup slot (on
    the eco grid, as the promise offers it, or the order's own slot for an exchange or a
    take-back, one visit with its delivery); the pickup is at the order's address."""

    return_id: str = CallerId
    order_id: str = Field(min_length=1, max_length=64)
    kind: Literal["return", "exchange", "takeback"] = "return"
    channel: Channel
    customer_id: CustomerId | None = None
    lines: list[BasketLine] = Field(min_length=1, max_length=100)
    slot: Instant = Field(description="The pickup slot's start (ISO 8601 with offset).")
    contact: Contact | None = Field(None, description="Default: the order's contact.")


class ReturnOut(BaseModel):
    return_id: str
    order_id: str
    kind: str
    status: str
    channel: str
    customer_id: str | None
    contact: ContactOut | None = Field(
        None, description="The customer's contact (checkout keys only); null once erased."
    )
    service_date: date
    slot_start: datetime
    slot_end: datetime
    lines: list[OrderLineOut]


class CustomerOrders(BaseModel):
    customer_id: str
    deliveries: list[OrderOut] = Field(description="Open deliveries, every channel.")
    returns: list[ReturnOut] = Field(description="Open returns, every channel.")


class PersonalDataErased(BaseModel):
    customer_id: str
    erased: dict[str, int] = Field(
        description="How many of each kind were erased: contacts (deleted), orders, returns "
        "and holds (address coarsened, customer id unlinked), back_in_stock_alerts (contact "
        "deleted, address coarsened, ended if waiting), tracking_events (driver fixes "
        "coarsened), events (outbox payloads scrubbed), plans (stored plans whose stops of the "
        "customer's closed orders were coarsened)."
    )
    kept_for_delivery: list[str] = Field(
        description="The customer's open orders and returns: they keep their address and "
        "customer id until delivered or picked up (their contact is erased now); call "
        "again after."
    )
    note: str
