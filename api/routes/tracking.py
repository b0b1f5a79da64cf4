"""Tracking endpoints: vehicle events (planner keys, or driver keys for their vehicles),
an order's tracking (checkout keys or the customer's signed token), a plan's live state
(planner keys; a driver key sees its own vehicles), and two pages: the customer's
tracking page and the planner's live map."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from fastapi.responses import HTMLResponse

from api.auth import Caller, api_key_header, require_role
from api.deps import TrackingDep
from api.errors import AUTH_RESPONSES, NOT_TEXT_RESPONSES, message, problem_responses
from api.schemas.tracking import EventIn, EventOut, LivePlan, Tracking
from api.services.driver_scope import check_driver, live_for
from api.services.pages import page
from api.services.personal_data import customers_in

router = APIRouter(tags=["tracking"])

ERRORS = problem_responses(
    {
        404: "No such plan or order (`loc` says which).",
        409: "The event id was sent before with another body, or the event contradicts what "
        "is known (a stop already done, a vehicle still at another stop), "
        "or the plan job has not produced a plan, or the event's plan was re-planned "
        "(`loc`: body, plan_id; the message and `ctx.current_plan_id` name the current "
        "version).",
    }
)
# A driver key's 403: a string for a key of another role, field paths for a vehicle or a
# plan that is not the driver's.
DRIVER_AUTH_RESPONSES = AUTH_RESPONSES | problem_responses(
    {
        403: "A checkout key; or a driver key for another vehicle (`loc`: body, "
        "vehicle_id), a collected event (`loc`: body, kind) or a plan none of its vehicles "
        "is on (`loc`: path, plan_id).",
    },
    "either",
)
PLANNER_OR_DRIVER = Depends(require_role("planner", "driver"))
# An order id, or a parcel id of a split order (ORDER/1, ...): the routes take the rest of
# the path, so a parcel is tracked as /v1/orders/ORDER/1/tracking (or ORDER%2F1).
OrderId = Annotated[str, Path(min_length=1, max_length=64)]
PlanId = Annotated[str, Path(min_length=1, max_length=36)]


@router.post(
    "/v1/events",
    response_model=EventOut,
    status_code=201,
    responses=DRIVER_AUTH_RESPONSES
    | ERRORS
    | NOT_TEXT_RESPONSES
    | {200: {"description": "A repeated event id: no change.", "model": EventOut}},
)
def post_event(
    event: EventIn,
    service: TrackingDep,
    response: Response,
    caller: Annotated[Caller, PLANNER_OR_DRIVER],
) -> EventOut:
    """A vehicle event: departed, position, arrived (at a stop, or back at the node without
    ``order_id``), delivered (a delivery stop), picked_up (a return's pickup stop, whose
    ``order_id`` is the return id), failed (with a reason), delayed (``delay_s``), or
    collected (a click & collect order, no vehicle). The vehicle's remaining stops get new ETAs
    and late flags, returned with the vehicle's state. 201 when new; the same
    ``event_id`` again with the same body answers 200 and changes nothing. A planner
    key reports for every vehicle, a driver key for its own vehicles only.

    An event for a plan version that a re-plan superseded is refused with 409 (``loc``
    body, plan_id): its message and ``ctx.current_plan_id`` name the current version,
    whose routes the driver app reads again before sending the event there. An event id
    already recorded stays a 200 replay, whatever the version."""
    check_driver(caller, event)
    out, created = service.record(event)
    if not created:
        response.status_code = 200
    return out


@router.get(
    "/v1/orders/{order_id:path}/tracking",
    response_model=Tracking,
    responses=AUTH_RESPONSES | ERRORS,
)
def get_tracking(
    order_id: OrderId,
    request: Request,
    service: TrackingDep,
    token: Annotated[
        str | None,
        Query(max_length=64, description="The customer's signed token (instead of a key)."),
    ] = None,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> Tracking:
    """An order's status, promised slot, current ETA window, vehicle mode and history.
    Called with a checkout key, or, from the customer's page, with the order's
    ``token`` (in ``tracking_url``; 401 once it expired: a checkout key's answer carries
    a new one). A checkout key's answer also names the order's channel and customer id."""
    if token is not None:
        why = service.token_problem(order_id, token)
        if why is not None:
            raise message(401, why)
        return service.tracking(order_id)
    require_role("checkout")(request, api_key)
    channel, customer_id = service.who(order_id)
    return service.tracking(order_id).model_copy(
        update={"channel": channel, "customer_id": customer_id}
    )


@router.get(
    "/v1/plans/{plan_id}/live",
    response_model=LivePlan,
    responses=DRIVER_AUTH_RESPONSES | ERRORS,
)
def get_live(
    plan_id: PlanId, service: TrackingDep, caller: Annotated[Caller, PLANNER_OR_DRIVER]
) -> LivePlan:
    """Every vehicle of a plan: status, last position, done and remaining stops with
    their ETAs, late stops flagged (as planned until the plan's first event). A driver
    key sees its own vehicles of the plan (403 if none is on it)."""
    return live_for(caller, service.live(plan_id), partial(customers_in, service.db))


@router.get("/track/{order_id:path}", response_class=HTMLResponse, include_in_schema=False)
def tracking_page(order_id: OrderId) -> HTMLResponse:
    """The customer's tracking page: it reads its token from the address and fetches
    ``/v1/orders/{id}/tracking`` every 30 s."""
    return HTMLResponse(page("track.html"))


@router.get("/live/{plan_id}", response_class=HTMLResponse, include_in_schema=False)
def live_page(plan_id: PlanId) -> HTMLResponse:
    """The planner's live map. The page holds no data: it asks for a planner key (or a
    driver key: its own vehicles), or reads it from the address's fragment,
    ``#key=...``, which browsers never send to a server, and fetches
    ``/v1/plans/{id}/live`` with it."""
    return HTMLResponse(page("live.html"))
