"""The checkout's bodies: the promise (a basket at an address, its options), holds and
their confirmation, stock counts and a reloaded scenario."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from api.schemas.base import Instant, RequestModel
from optimizer.io.scenario_reader import coordinates_look_missing
from optimizer.model.scenario import MAX_VARIANT_CHARS, variant_problem


class Strict(RequestModel):
    """A checkout request body (see :class:`api.schemas.base.RequestModel`)."""


class BasketLine(Strict):
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(gt=0, le=999)
    variant: str | None = Field(
        None,
        max_length=MAX_VARIANT_CHARS,
        description=(
            "The configuration of a made-to-order item, options name=value separated by "
            "';' (fabric=velvet;arms=slim): its lead time may differ (lead_times.csv)."
        ),
    )

    @field_validator("variant")
    @classmethod
    def _a_variant(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = variant_problem(value.strip())
        if problem is not None:
            raise ValueError(f"expected {problem}")
        return value.strip() or None


class Address(Strict):
    """Coordinates, or a postcode, or a Paris arrondissement number (one of the three)."""

    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    postcode: str | None = Field(None, min_length=1, max_length=16)
    arrondissement: int | None = Field(None, ge=1, le=20)

    @model_validator(mode="after")
    def _one_form(self) -> Address:
        forms = [
            self.lat is not None or self.lon is not None,
            self.postcode is not None,
            self.arrondissement is not None,
        ]
        if sum(forms) != 1:
            raise ValueError("give lat and lon, or a postcode, or an arrondissement")
        if forms[0] and (self.lat is None or self.lon is None):
            raise ValueError("give both lat and lon")
        if forms[0] and coordinates_look_missing(self.lat, self.lon):
            raise ValueError(
                "coordinates 0,0 look missing (what a system sends for an address it could "
                "not locate): give the address's lat and lon, or its postcode"
            )
        return self


class PromiseRequest(Strict):
    lines: list[BasketLine] = Field(min_length=1, max_length=100)
    address: Address
    requested_at: Instant | None = Field(
        None,
        description="When the customer wants the options from (default: now; an earlier "
        "instant counts as now: the past is never offered; nothing ending before it is "
        "offered; beyond the promise's horizon of days, 422). The options expire 15 min "
        "after the service's now, whatever this is.",
    )


class ResolvedAddress(BaseModel):
    lat: float
    lon: float
    postcode: str | None = None


class DeliveryOption(BaseModel):
    option_id: str
    service: Literal["express", "eco", "green"]
    slot_start: datetime
    slot_end: datetime
    eta_start: datetime
    eta_end: datetime
    price_eur: float
    co2_g: float
    node_id: str
    mode: str
    recommended: bool
    service_date: date = Field(
        description="The day delivered (a later day's price is an estimate; made-to-order "
        "goods are delivered after their lead time)."
    )


class CollectOption(BaseModel):
    option_id: str
    service: Literal["click_collect"]
    node_id: str
    node_name: str
    ready_by: datetime
    price_eur: float
    distance_km: float
    service_date: date = Field(description="The day the basket is ready to collect.")
    transfer_from_node_id: str | None = Field(
        None, description="Set when the basket comes from this node by the store shuttle."
    )
    stock_arrives_at: datetime | None = Field(
        None, description="When the shuttle or the last inbound unit reaches the store."
    )


class LineStatus(BaseModel):
    sku: str
    qty: int
    variant: str | None = Field(None, description="The line's configuration, as asked.")
    in_stock: bool
    earliest_promise: datetime | None = Field(
        None, description="When inbound stock makes an out-of-stock line promisable."
    )
    lead_time_days: int | None = Field(
        None,
        description="Made to order or from a supplier (for its variant): days until its "
        "goods are in at the quickest node; null for an item from stock.",
    )


class Unavailable(BaseModel):
    service: Literal["express", "eco", "green", "click_collect"]
    reason: str = Field(description="Why nothing can be offered within the promise's horizon.")


class PromiseResponse(BaseModel):
    address: ResolvedAddress
    currency: str
    quoted_at: datetime
    options_expire_at: datetime
    options: list[Annotated[DeliveryOption | CollectOption, Field(discriminator="service")]]
    lines: list[LineStatus]
    unavailable: list[Unavailable] = Field(
        default_factory=list,
        description="Services asked for that cannot be offered within the horizon, and why "
        "(a made-to-order lead time that ends beyond it).",
    )


Channel = Literal["web", "app", "store", "call_centre"]
"""Where an order was taken (issue 17, item 1)."""

CustomerId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The retailer's opaque customer id (no personal data: not an e-mail or a "
        "phone number), the same across channels.",
    ),
]


# E.164: a plus, a country code, at most 15 digits in all (ITU-T E.164).
PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")  # dropped from a contact's phone number
# An e-mail address as a gateway takes it: one @, a dot in the domain, no spaces; at most
# 254 characters (RFC 5321's path limit less its brackets).
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_CHARS = 254


class Contact(Strict):
    """How the retailer's gateway reaches the customer of an order or a return: personal
    data, stored apart from the order (``customer_contacts``), answered to checkout keys
    only, carried by the delivery-status webhooks, erasable
    (``DELETE /v1/customers/{customer_id}/personal-data``). At least one field."""

    name: str | None = Field(None, min_length=1, max_length=100)
    phone: str | None = Field(
        None,
        max_length=32,
        description="International form, E.164: +33612345678 (spaces, dots, dashes and "
        "brackets are dropped).",
    )
    email: str | None = Field(None, max_length=MAX_EMAIL_CHARS)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = _PHONE_SEPARATORS.sub("", value)
        if not PHONE.fullmatch(digits):
            raise ValueError("an E.164 phone number such as +33612345678 (spaces, dots, "
                             "dashes and brackets are dropped)")  # fmt: skip
        return digits

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.fullmatch(value):
            raise ValueError("an e-mail address (name@domain.tld)")
        return value

    @model_validator(mode="after")
    def _something(self) -> Contact:
        if self.name is None and self.phone is None and self.email is None:
            raise ValueError("give at least one of name, phone and email (or no contact)")
        return self


# The longest option id the promise makes: a basket of 100 lines of 64-character SKUs
# with 200-character variants, made to order (its allocation carried too), encodes to
# about 56,500 characters (tests/test_variants.py); a hold's body stays under its 64 KiB.
MAX_OPTION_ID_CHARS = 60_000


class HoldRequest(Strict):
    option_id: str = Field(min_length=1, max_length=MAX_OPTION_ID_CHARS)
    channel: Channel | None = Field(None, description="Where the order is taken.")
    customer_id: CustomerId | None = None
    contact: Contact | None = Field(None, description="The customer's contact, for its order.")


class HoldResponse(BaseModel):
    hold_id: str
    status: str
    expires_at: datetime
    node_id: str
    service: str


class ConfirmResponse(BaseModel):
    hold_id: str
    status: str
    order_id: str
    node_id: str
    service_date: date = Field(description="The day of the plan the order joins.")
    tracking_url: str = Field(
        description="The customer's tracking page, signed with ``tracking_token`` (no API "
        "key needed); trackable at once, before any plan has the order."
    )
    tracking_token: str = Field(
        description="The order's tracking token: ``GET /v1/orders/{order_id}/tracking?token=``. "
        "It expires at the end of the ``LASTMILE_TRACKING_TOKEN_DAYS``-th day (30) after "
        "today; a checkout key's ``GET /v1/orders/{order_id}/tracking`` gives a new link."
    )


class HoldStatus(BaseModel):
    hold_id: str
    status: str
    order_id: str | None
    expires_at: datetime
    node_id: str


class StockRow(Strict):
    node_id: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=0, le=10_000_000)


class StockUpdate(Strict):
    rows: list[StockRow] = Field(min_length=1, max_length=100_000)


class StockUpdated(BaseModel):
    rows: int
    version: int


class Reloaded(BaseModel):
    version: int
    vehicles_added: int
    vehicles_removed: int
