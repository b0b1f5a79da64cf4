"""Webhooks and the event feed (planner keys): subscriptions, their deliveries (failed
ones visible and replayable), and ``GET /v1/events``, the events after a cursor for
systems that poll. The outbox and the deliverer are :mod:`api.services.outbox` and
:mod:`api.services.webhook_delivery`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from api.auth import require_role
from api.deps import ClockDep, DbDep, SettingsDep
from api.errors import AUTH_RESPONSES, NOT_TEXT_RESPONSES, problem, problem_responses
from api.schemas.webhooks import (
    DeliveryOut,
    EventPage,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)
from api.services import webhooks

router = APIRouter(
    tags=["webhooks"], dependencies=[Depends(require_role("planner"))], responses=AUTH_RESPONSES
)
NOT_FOUND = problem_responses({404: "No such subscription or delivery."})
Id = Annotated[str, Path(min_length=1, max_length=40)]


def only_query(*names: str):
    """A dependency refusing (422, ``loc`` ``["query", name]``) a query parameter other
    than ``names``: a misspelt ``after`` would otherwise read the feed from the start."""

    async def check(request: Request) -> None:
        for name in request.query_params:
            if name not in names:
                raise problem(422, f"unknown query parameter {name!r}", ("query", name))

    return Depends(check)


MAX_CURSOR = 2**63 - 1  # the outbox's ids are 64-bit
Cursor = Annotated[int, Query(ge=0, le=MAX_CURSOR, description="0 for the first event.")]


@router.post(
    "/v1/webhooks",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    responses=NOT_TEXT_RESPONSES,
)
def subscribe(body: SubscriptionIn, db: DbDep, clock: ClockDep, settings: SettingsDep) -> dict:
    """Subscribe ``url`` to ``event_types``. The answer holds the subscription's signing
    ``secret``, never shown again (see docs/webhooks.md to verify a signature). A URL to
    a private or local address is refused (422) unless the service allows them."""
    return webhooks.subscribe(db, body.url, body.event_types, clock.now(),
                              allow_private=settings.webhook_allow_private,
                              eta_moved_min=body.eta_moved_min)  # fmt: skip


@router.get("/v1/webhooks", response_model=list[SubscriptionOut])
def list_subscriptions(db: DbDep) -> list[dict]:
    """The active subscriptions (without their secrets)."""
    return webhooks.subscriptions(db)


@router.delete("/v1/webhooks/{subscription_id}", status_code=204, responses=NOT_FOUND)
def unsubscribe(subscription_id: Id, db: DbDep) -> Response:
    """End a subscription: nothing more is sent to it."""
    webhooks.unsubscribe(db, subscription_id)
    return Response(status_code=204)


@router.get(
    "/v1/webhooks/deliveries",
    response_model=list[DeliveryOut],
    dependencies=[only_query("status", "limit")],
)
def list_deliveries(
    db: DbDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict]:
    """The latest deliveries, newest event first: attempts, last error, when delivered."""
    return webhooks.deliveries(db, status, limit)


@router.post(
    "/v1/webhooks/deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    responses=NOT_FOUND | problem_responses({409: "The delivery is not failed."}),
)
def replay(delivery_id: Id, db: DbDep, clock: ClockDep) -> dict:
    """Send a failed delivery again (same ``webhook-id``), with a fresh count of attempts."""
    return webhooks.replay(db, delivery_id, clock.now())


@router.get("/v1/events", response_model=EventPage, dependencies=[only_query("after", "limit")])
def event_feed(
    db: DbDep,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """The events after the cursor ``after``, in order, at most ``limit``, with the
    cursor to ask from next. The same events the webhooks carry, whoever subscribed."""
    return webhooks.feed(db, after, limit)
