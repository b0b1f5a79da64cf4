"""What the checkout's routes answer: a request checked against the day served (unknown
SKUs and nodes, an address outside the service area: 422 with the field's path), the
service called, and its answer shaped as the route's schema."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from api.errors import problems
from api.schemas.checkout import (
    Address,
    PromiseRequest,
    PromiseResponse,
    Reloaded,
    ResolvedAddress,
    StockUpdate,
    StockUpdated,
)
from api.services.back_in_stock import tell_back_in_stock
from api.services.checkout.common import CheckoutError, basket_lines
from api.services.checkout.service import CheckoutService
from optimizer.io import ScenarioError, load_scenario
from optimizer.model import Scenario
from optimizer.travel.great_circle import great_circle_km

# An address farther than this from every node with vehicles is outside the service
# area (the Paris sample's farthest customer is ~12 km from its nearest such node).
SERVICE_RADIUS_KM = 20.0


def quote(service: CheckoutService, body: PromiseRequest, now: datetime) -> PromiseResponse:
    """The promise for ``body`` at ``now`` (:meth:`CheckoutService.promise`), its SKUs
    known and its address resolved first."""
    scenario = service.scenario
    unknown = [
        (("body", "lines", i, "sku"), f"unknown SKU {x.sku!r}")
        for i, x in enumerate(body.lines)
        if x.sku not in scenario.catalogue
    ]
    if unknown:
        raise problems(422, unknown)
    point = resolve(scenario, body.address)
    lines = basket_lines(body.lines)
    answer = service.promise(lines, point.lat, point.lon, now, body.requested_at)
    return PromiseResponse(
        address=point,
        currency=scenario.settings.currency,
        quoted_at=answer.quoted_at,
        options_expire_at=answer.expires_at,
        options=answer.options,
        lines=answer.lines,
        unavailable=answer.unavailable,
    )


def resolve(scenario: Scenario, address: Address) -> ResolvedAddress:
    """The address as coordinates (a postcode or an arrondissement looked up); 422 if
    unknown or farther than :data:`SERVICE_RADIUS_KM` from every node with vehicles."""
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


def count_stock(service: CheckoutService, body: StockUpdate, now: datetime) -> StockUpdated:
    """Set the counted quantities (:meth:`CheckoutService.set_stock`), every node and SKU
    known first; then the back-in-stock alerts of the SKUs counted are told if they are
    promisable now (:func:`~api.services.back_in_stock.tell_back_in_stock`)."""
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
    version = service.set_stock([(r.node_id, r.sku, r.qty) for r in body.rows], now)
    tell_back_in_stock(service, {r.sku for r in body.rows}, now)  # committed: now promisable?
    return StockUpdated(rows=len(body.rows), version=version)


def reload_served(
    service: CheckoutService, scenario_dir: Path, now: datetime, app_state: Any
) -> Reloaded:
    """Re-read the served folder (:meth:`CheckoutService.reload`) and serve it
    (``app_state.scenario``: the day served, re-dated); a broken folder is a 422 listing
    every problem with its file, line and column."""
    try:
        scenario = load_scenario(scenario_dir)
    except ScenarioError as exc:
        found = [(("scenario", p.file, p.line, p.column), p.message) for p in exc.problems]
        raise problems(422, found, "scenario_error") from exc
    answer = service.reload(scenario, now)
    app_state.scenario = service.scenario  # the day served, re-dated
    tell_back_in_stock(service, None, now)  # new counts, inbound stock: any SKU
    return Reloaded(**answer)
