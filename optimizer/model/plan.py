"""A daily plan: what the solver decided, in the core's units (seconds since midnight).

``optimizer.io.plan_files`` writes it as ``plan.json`` (ISO 8601 times) and reads it back;
``optimizer.check`` verifies it against the scenario alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from optimizer.model.scenario import Order, OrderLine, Scenario, Service


class UnassignedCode(StrEnum):
    """Why an order is neither routed nor collected, in words a planner acts on."""

    OUT_OF_STOCK = "out_of_stock"  # no node (nor max_split nodes between them) holds it
    COLLECT_NODE_NO_STOCK = "collect_node_no_stock"  # click & collect store lacks stock
    NO_ALLOWED_VEHICLE = "no_allowed_vehicle"  # zone / service rules exclude every vehicle
    # An item may go only by some modes (catalogue.csv's modes) and no vehicle of those
    # modes may deliver there (or none is based at the nodes with the stock).
    NO_VEHICLE_FOR_ITEM = "no_vehicle_for_item"
    TOO_BIG = "too_big"  # basket heavier or larger than every allowed vehicle
    SLOT_UNREACHABLE = "slot_unreachable"  # no shift reaches the slot and gets back in time
    OUT_OF_RANGE = "out_of_range"  # round trip longer than every allowed battery range
    PICK_CAPACITY = "pick_capacity"  # nodes with the stock have no picking capacity left
    FLEET_FULL = "fleet_full"  # feasible alone, but the routes of the day are full
    STOCK_ALLOCATED = "stock_allocated"  # the nodes able to deliver it gave their stock away
    # A re-plan after a failed delivery found no later slot and no store to collect from.
    DELIVERY_FAILED = "delivery_failed"
    # A re-plan after a failed pickup (a return) found no later slot today.
    PICKUP_FAILED = "pickup_failed"
    # An exchange booked after the plan, when its delivery was already on the road or
    # handed over: the pickup can no longer be that visit (a re-plan).
    EXCHANGE_BOOKED_LATE = "exchange_booked_late"

    @property
    def deliverable(self) -> bool:
        """Could the order have been served with more fleet, picking capacity or another
        allocation of the day's stock?"""
        return self in (
            UnassignedCode.PICK_CAPACITY,
            UnassignedCode.FLEET_FULL,
            UnassignedCode.STOCK_ALLOCATED,
        )


@dataclass
class Stop:
    order_id: str
    lat: float
    lon: float
    arrival_s: int
    service_start_s: int  # max(arrival, slot start): waiting happens before service
    departure_s: int
    distance_from_prev_m: int
    load_kg: float  # on board on arrival, before this delivery
    load_l: float
    parcel_id: str | None = None  # set when the order is split: this stop's part of it
    # Set by a re-plan (optimizer.live.replan): a locked stop happened (or is under way)
    # and its times are the reported ones; ``outcome`` is "delivered", "failed" (an
    # attempt: the parcel stays on board and the order is placed again elsewhere in the
    # plan) or "in_progress".
    locked: bool = False
    outcome: str | None = None
    # "delivery" (the default) or "pickup": a return's pickup, whose ``order_id`` is the
    # ``return_id`` (``return_id`` set too); ``load_kg``/``load_l`` are on board on
    # arrival, before the pickup boards.
    kind: str = "delivery"
    return_id: str | None = None

    @property
    def is_pickup(self) -> bool:
        return self.kind == "pickup"

    @property
    def failed_attempt(self) -> bool:
        return self.outcome == "failed"


@dataclass
class Break:
    """A driver's or rider's break on a tour, taken after ``after_stop`` stops (0: at the
    node, after the tour's start and any reload, before it leaves)."""

    start_s: int
    end_s: int
    after_stop: int


@dataclass
class Route:
    """One tour of one vehicle: leave the node, deliver the stops in order, come back.

    A vehicle may drive several tours a shift (``trip`` 1, 2, ...): a later tour starts
    when the previous one is back, reloads for ``reload_s`` at the node, then leaves; its
    cost has no fixed cost (charged once, on the first tour).
    """

    vehicle_id: str
    vehicle_type_id: str
    node_id: str
    mode: str
    start_s: int
    end_s: int
    stops: list[Stop]
    distance_m: int
    load_kg: float  # on board when leaving the node
    load_l: float
    cost_eur: float
    co2_g: float
    trip: int = 1
    reload_s: int = 0  # handling at the node before leaving, from start_s
    breaks: list[Break] = field(default_factory=list)

    @property
    def duration_s(self) -> int:
        return self.end_s - self.start_s


@dataclass
class Collection:
    """A click & collect order, picked at its node and ready for the customer."""

    order_id: str
    node_id: str
    ready_by_s: int
    # The basket comes from this node by the store shuttle, leaving at
    # ``transfer_departs_s`` (< 0: a shuttle of an earlier day); the stock is taken there.
    transfer_from_node_id: str | None = None
    transfer_departs_s: int | None = None
    # Set when one parcel of a split order is collected (a re-plan offered click &
    # collect after its delivery failed): its lines are ``Plan.parcels[parcel_id]``.
    parcel_id: str | None = None


@dataclass(frozen=True)
class Parcel:
    """One part of a split order: some of its lines, shipped from one node, with its own
    route stop. An order that is not split is one parcel: the order itself."""

    parcel_id: str  # ORDER/1, ORDER/2, ...
    order_id: str
    node_id: str
    lines: tuple[OrderLine, ...]


@dataclass
class ReturnAssignment:
    """What the plan does with a return: ``routed`` (picked up by ``vehicle_id`` and
    brought back to ``node_id``, its end node, chosen by cost among ``candidates``) or
    ``unassigned`` with a ``code`` and a ``reason`` a planner acts on."""

    return_id: str
    status: str  # "routed" | "unassigned"
    node_id: str | None = None
    vehicle_id: str | None = None
    code: str | None = None
    reason: str | None = None
    candidates: dict[str, float] = field(default_factory=dict)  # node -> priced cost_eur


@dataclass
class Unassigned:
    order_id: str
    code: UnassignedCode
    reason: str
    node_id: str | None = None
    # Set when only one parcel of a split order is left unassigned (a re-plan after its
    # delivery failed, the other parcels delivered): which one, and its lines.
    parcel_id: str | None = None
    lines: tuple[OrderLine, ...] | None = None


@dataclass(frozen=True)
class OrderChange:
    """What a re-plan agreed with a customer after a failed delivery: a later slot the
    same day (``retry_later_slot``) or collection at a store (``click_and_collect``,
    collectable from ``slot_start_s`` to ``slot_end_s`` at ``node_id``)."""

    order_id: str
    kind: str  # "retry_later_slot" | "click_and_collect"
    slot_start_s: int
    slot_end_s: int
    reason: str
    node_id: str | None = None  # the store, for click_and_collect
    # Set when the change is for one parcel of a split order (its other parcels keep
    # their slot); ``order_id`` is then the order's. A change of a return (its pickup
    # retried in a later slot) is keyed by the ``return_id``.
    parcel_id: str | None = None

    def as_dict(self, iso) -> dict:
        """The change as plan.json and the re-plan report write it (``iso``: seconds
        since the day's midnight to an ISO 8601 time); ``parcel_id`` only when set."""
        out = {
            "order_id": self.order_id,
            "kind": self.kind,
            "slot_start": iso(self.slot_start_s),
            "slot_end": iso(self.slot_end_s),
            "node_id": self.node_id,
            "reason": self.reason,
        }
        return out | ({"parcel_id": self.parcel_id} if self.parcel_id else {})


@dataclass
class Plan:
    scenario_name: str
    sources: dict[str, str]  # order_id -> fulfilment node of every routed or collected order
    routes: list[Route] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    unassigned: list[Unassigned] = field(default_factory=list)
    engine: str = ""
    solve_s: float = 0.0
    # order_id -> the sourcing decision (node, runner-up, cost terms), for explanations
    decisions: dict = field(default_factory=dict)
    # A re-plan's changes to orders (later slot, click & collect), applied to the
    # scenario by ``OrderChange``-aware readers (the checker, the KPIs); and what it
    # re-planned from (``{"replan_of": ..., "now": ..., "policy": ...}``).
    order_changes: list[OrderChange] = field(default_factory=list)
    replan: dict | None = None

    # parcel_id -> the parts of split orders (routed); ``sources`` holds whole orders only
    parcels: dict[str, Parcel] = field(default_factory=dict)
    max_split: int = 1  # the most parcels an order could be split into
    # One entry per return of the scenario: routed (a pickup stop on a route) or not.
    returns: list[ReturnAssignment] = field(default_factory=list)

    def restock(self, scenario: Scenario) -> list[dict]:
        """What goes back to stock: per route with pickups, its node, the tour's end time
        and the returned lines (summed per SKU)."""
        out = []
        for route in self.routes:
            qty: dict[str, int] = {}
            for stop in route.stops:
                if stop.is_pickup and not stop.failed_attempt:
                    for line in scenario.returns_by_id[stop.return_id].lines:
                        qty[line.sku] = qty.get(line.sku, 0) + line.qty
            if qty:
                out.append(
                    {
                        "node_id": route.node_id,
                        "vehicle_id": route.vehicle_id,
                        "trip": route.trip,
                        "at_s": route.end_s,
                        "lines": [OrderLine(sku, q) for sku, q in sorted(qty.items())],
                    }
                )
        return out

    def shipments(self, scenario: Scenario) -> Iterator[tuple[str, tuple[OrderLine, ...]]]:
        """(node, lines) of every parcel the plan ships: each whole order of ``sources``
        and each part of a split order; what stock and picking are taken for."""
        for order_id, node_id in self.sources.items():
            yield node_id, scenario.orders_by_id[order_id].lines
        for parcel in self.parcels.values():
            yield parcel.node_id, parcel.lines


def with_order_changes(scenario: Scenario, changes: list[OrderChange]) -> Scenario:
    """The scenario as the customers of ``changes`` agreed it: a retried order has its
    new slot; an order offered click & collect is collected at its store in its window;
    a return whose pickup is retried has its new slot. A change of one parcel of a split
    order leaves the order as it is (:func:`parcel_view` applies it to that parcel)."""
    by_id = {c.order_id: c for c in changes if c.parcel_id is None}
    if not by_id:
        return scenario
    orders = [changed_order(o, by_id.get(o.order_id)) for o in scenario.orders]
    returns = [
        replace(r, slot_start_s=c.slot_start_s, slot_end_s=c.slot_end_s)
        if (c := by_id.get(r.return_id)) is not None
        else r
        for r in scenario.returns
    ]
    return replace(scenario, orders=orders, returns=returns)


def changed_order(order: Order, change: OrderChange | None) -> Order:
    """The order (or one parcel of it, seen as the order) as ``change`` agreed it."""
    if change is None:
        return order
    if change.kind == "click_and_collect":
        return replace(
            order,
            service=Service.CLICK_COLLECT,
            collect_node_id=change.node_id,
            ship_from_node_id=change.node_id,
            slot_start_s=change.slot_start_s,
            slot_end_s=change.slot_end_s,
        )
    return replace(order, slot_start_s=change.slot_start_s, slot_end_s=change.slot_end_s)


def parcel_view(scenario: Scenario, plan: Plan, order_id: str, parcel_id: str | None) -> Order:
    """What one parcel of an order is to the customer now: the order (with its whole-order
    changes already in ``scenario``), with the parcel's own change if a re-plan agreed
    one (a later slot, or collection at a store)."""
    order = scenario.orders_by_id[order_id]
    if parcel_id is None or parcel_id == order_id:
        return order
    change = next((c for c in plan.order_changes if c.parcel_id == parcel_id), None)
    return changed_order(order, change)
