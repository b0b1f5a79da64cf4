"""Checkout endpoints: the promise, holds, confirmation, release (role ``checkout``), and
live stock updates (role ``planner``). Thin: validate, call the service, shape the answer."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import BaseModel, Field, model_validator

from api.auth import require_role
from api.deps import CheckoutDep, ClockDep, SettingsDep, TrackingDep
from api.errors import problems
from api.schemas.base import Instant, RequestModel
from api.services.checkout import CheckoutError
from optimizer.io import ScenarioError, load_scenario
from optimizer.io.scenario_reader import coordinates_look_missing
from optimizer.model import OrderLine, Scenario
from optimizer.travel.great_circle import great_circle_km

# An address farther than this from every node with vehicles is outside the service
# area (the Paris sample's farthest customer is ~12 km from its nearest such node).
SERVICE_RADIUS_KM = 20.0

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retrying a request with the same key returns the first answer.",
    ),
]


class Strict(RequestModel):
    """A checkout request body (see :class:`api.request_models.RequestModel`)."""


class BasketLine(Strict):
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(gt=0, le=999)


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
        description="The day delivered (eco may be a later day: its price is an estimate)."
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
    in_stock: bool
    earliest_promise: datetime | None = Field(
        None, description="When inbound stock makes an out-of-stock line promisable."
    )


class PromiseResponse(BaseModel):
    address: ResolvedAddress
    currency: str
    quoted_at: datetime
    options_expire_at: datetime
    options: list[Annotated[DeliveryOption | CollectOption, Field(discriminator="service")]]
    lines: list[LineStatus]


class HoldRequest(Strict):
    option_id: str = Field(min_length=1, max_length=4096)


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


def _resolve(scenario: Scenario, address: Address) -> ResolvedAddress:
    if address.lat is not None:
        point = ResolvedAddress(lat=address.lat, lon=address.lon)
    else:
        postcode = address.postcode or f"750{address.arrondissement:02d}"
        field = "postcode" if address.postcode else "arrondissement"
        place = scenario.places.get(postcode.strip())
        if place is None:
            raise CheckoutError(422, f"unknown postcode {postcode!r}", ("body", "address", field))
        point = ResolvedAddress(lat=place.lat, lon=place.lon, postcode=place.postcode)
    based = {v.node_id for v in scenario.vehicles}
    nearest = min(
        (great_circle_km(point.lat, point.lon, n.lat, n.lon) for n in scenario.nodes.values()
         if n.node_id in based),
        default=math.inf,
    )  # fmt: skip
    if nearest > SERVICE_RADIUS_KM:
        raise CheckoutError(
            422,
            f"outside the service area: {nearest:.0f} km from the nearest node "
            f"(at most {SERVICE_RADIUS_KM:.0f} km)",
            ("body", "address"),
        )
    return point


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
    scenario = service.scenario
    unknown = [
        (("body", "lines", i, "sku"), f"unknown SKU {x.sku!r}")
        for i, x in enumerate(body.lines)
        if x.sku not in scenario.catalogue
    ]
    if unknown:
        raise problems(422, unknown)
    point = _resolve(scenario, body.address)
    lines = [OrderLine(x.sku, x.qty) for x in body.lines]
    quote = service.promise(lines, point.lat, point.lon, clock.now(), body.requested_at)
    return PromiseResponse(
        address=point,
        currency=scenario.settings.currency,
        quoted_at=quote.quoted_at,
        options_expire_at=quote.expires_at,
        options=quote.options,
        lines=quote.lines,
    )


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
    return service.hold(body.option_id, clock.now(), idempotency_key)


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
    scenario = service.scenario
    unknown = [
        (("body", "rows", i, field), f"unknown {what} {value!r}")
        for i, row in enumerate(body.rows)
        for field, what, value, known in (
            ("node_id", "node", row.node_id, scenario.nodes),
            ("sku", "SKU", row.sku, scenario.catalogue),
        )
        if value not in known
    ]
    if unknown:
        raise problems(422, unknown)
    version = service.set_stock([(r.node_id, r.sku, r.qty) for r in body.rows], clock.now())
    return StockUpdated(rows=len(body.rows), version=version)


class Reloaded(BaseModel):
    version: int
    vehicles_added: int
    vehicles_removed: int


@router.post(
    "/scenario/reload",
    response_model=Reloaded,
    dependencies=[planner_key],
    responses={**ERRORS, 409: {"description": "another day, or vehicles with stops removed"}},
)
def reload_scenario(request: Request, service: CheckoutDep, clock: ClockDep, settings: SettingsDep):
    """Re-read the service's scenario folder (fleet, stock counts, catalogue) while the
    service runs; live routes, holds and confirmed orders are kept. A broken folder is a
    422 listing every problem with its file, line and column."""
    try:
        scenario = load_scenario(settings.scenario)
    except ScenarioError as exc:
        found = [(("scenario", p.file, p.line, p.column), p.message) for p in exc.problems]
        raise problems(422, found, "scenario_error") from exc
    answer = service.reload(scenario, clock.now())
    request.app.state.scenario = service.scenario  # the day served, re-dated
    return Reloaded(**answer)
