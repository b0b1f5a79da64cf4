"""What the checkout's modules share: its error, its constants, and what a hold or a
day order takes of the stock."""

from __future__ import annotations

import json
from datetime import date, timedelta

from api.errors import Problem
from api.models.checkout import DayOrder, Hold
from optimizer.model import OrderLine, Scenario

OPTION_TTL_S = 900  # an offered option can be held for 15 minutes after the promise
DAY_S = 24 * 3600


class CheckoutError(Problem):
    """A request the checkout refuses: HTTP ``status`` with a field path ``loc`` (an
    :class:`api.errors.Problem`: raised through a route, it is the answer)."""


def quoted_day(option: dict, day: int, served: date) -> str:
    """The ISO date ``day`` days after the day ``option`` was quoted on (options from
    before days rolled carry no day: the day served)."""
    quoted = date.fromisoformat(option["sd"]) if "sd" in option else served
    return (quoted + timedelta(days=day)).isoformat()


def basket_lines(lines) -> list[OrderLine]:
    """Order lines from a request's basket lines (``BasketLine``: a variant kept)."""
    return [OrderLine(x.sku, x.qty, x.variant or "") for x in lines]


def line_rows(lines) -> list[list]:
    """Order lines as the database and option ids keep them: ``[sku, qty]``, and the
    variant third when the line has one."""
    return [[x.sku, x.qty] + ([x.variant] if x.variant else []) for x in lines]


def lines_of(rows) -> list[OrderLine]:
    """Order lines from :func:`line_rows` (rows without a variant included)."""
    return [OrderLine(r[0], int(r[1]), r[2] if len(r) > 2 else "") for r in rows]


def lines_out(rows) -> list[dict]:
    """Order lines as answered and announced: ``{sku, qty}`` and the ``variant`` of a
    configured item."""
    return [
        {"sku": x.sku, "qty": x.qty} | ({"variant": x.variant} if x.variant else {})
        for x in lines_of(rows)
    ]


def add_units(units: dict[tuple[str, str], int], row: DayOrder, sc: Scenario) -> None:
    """Add what a ``day_orders`` row takes of the stock, per (node it ships from, SKU),
    to ``units`` (made-to-order goods in ``sc`` take none)."""
    data = json.loads(row.order_json)
    node_id = data["ship_from_node_id"] or data["collect_node_id"]
    for line in lines_of(data["lines"]):
        if stocked(sc, node_id, line.sku):
            units[node_id, line.sku] = units.get((node_id, line.sku), 0) + line.qty


def stocked(sc: Scenario, node_id: str, sku: str) -> bool:
    """Whether ``sku`` is taken from ``node_id``'s stock (not made to order there)."""
    return sku not in sc.catalogue or sc.lead_time_days(node_id, sku) is None


def allocation_rows(hold: Hold) -> list[tuple[str, int, str, int | None]]:
    """A hold's reserved units; rows written before 0003 are ``[sku, qty]`` at its node."""
    rows = json.loads(hold.lines_json)
    return [
        (r[0], int(r[1]), r[2], r[3]) if len(r) == 4 else (r[0], int(r[1]), hold.node_id, None)
        for r in rows
    ]
