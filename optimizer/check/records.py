"""The plan as the checker reads it (its own records, not the solver's objects), and
the context every check shares: the scenario, the travel model, the violations found."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from optimizer.check.report import Violation
from optimizer.model import (
    Node,
    Order,
    OrderChange,
    Return,
    Scenario,
    Service,
    Vehicle,
    VehicleType,
    changed_order,
)
from optimizer.travel import TravelProvider

Lines = tuple[tuple[str, int], ...]  # (sku, qty) of a parcel
# A violation's message names ids and values from the plan, which may be of any length.
MAX_MESSAGE_CHARS = 500


def _cut(message: str) -> str:
    """``message``, at most :data:`MAX_MESSAGE_CHARS` long (what is cut is counted)."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    cut = len(message) - (MAX_MESSAGE_CHARS - 40)
    return f"{message[: MAX_MESSAGE_CHARS - 40]}... ({cut:,} characters cut)"


@dataclass
class _Stop:
    order_id: str | None
    arrival_s: int | None
    service_start_s: int | None
    departure_s: int | None
    distance_from_prev_m: float | None
    load_kg: float | None
    load_l: float | None
    parcel_id: str | None = None  # the order id when absent: the whole order
    lines: Lines | None = None  # the order's lines when absent
    # A re-plan's locked stop happened: its times are reported facts, not checked against
    # the travel model or the slot; a failed attempt is not where its order ends.
    locked: bool = False
    failed_attempt: bool = False
    pickup: bool = False  # a return's pickup: ``order_id`` holds the return id


@dataclass
class _Break:
    start_s: int | None
    end_s: int | None
    after_stop: int | None


@dataclass
class _Walk:
    """A route driven with the travel model."""

    distance_m: int
    service_start_s: list[int]  # per stop; empty when the route's start is unreadable


@dataclass
class _Route:
    index: int  # position in plan["routes"]
    label: str  # how messages name it: the vehicle id, and the tour when it has several
    vehicle_id: str | None
    vehicle_type_id: str | None
    node_id: str | None  # the node the route's orders ship from, as the plan says
    mode: str | None
    start_s: int | None
    end_s: int | None
    distance_m: float | None
    duration_s: float | None
    cost_eur: float | None
    co2_g: float | None
    load_kg: float | None
    load_l: float | None
    stops: list[_Stop]
    breaks: list[_Break] = field(default_factory=list)
    tour: int = 1  # its rank among its vehicle's tours, by start time
    vehicle: Vehicle | None = None  # resolved from the scenario
    vehicle_type: VehicleType | None = None
    base: Node | None = None  # where the vehicle leaves from and comes back to
    walk: _Walk | None = None


@dataclass
class _Collection:
    order_id: str | None
    node_id: str | None
    ready_by_s: int | None
    transfer_from_node_id: str | None = None  # the node whose stock it takes
    transfer_departs_s: int | None = None
    parcel_id: str | None = None
    lines: Lines | None = None

    @property
    def stock_node_id(self) -> str | None:
        return self.transfer_from_node_id or self.node_id


@dataclass
class _Unassigned:
    order_id: str | None
    code: str | None
    reason: str | None
    parcel_id: str | None = None  # one parcel of a split order (the others delivered)
    lines: Lines | None = None


@dataclass
class _Assignment:
    order_id: str | None
    status: str | None
    node_id: str | None
    vehicle_id: str | None
    parcels: dict[str, tuple[str | None, str | None]] | None = None  # id -> node, vehicle


@dataclass(frozen=True)
class _Place:
    """Where the plan puts an order, or one parcel of a split order."""

    status: str  # routed | collected | unassigned
    node_id: str | None
    vehicle_id: str | None
    text: str
    parcel_id: str | None = None
    lines: Lines | None = None  # None: the whole order


@dataclass
class _Plan:
    routes: list[_Route] = field(default_factory=list)
    collections: list[_Collection] = field(default_factory=list)
    unassigned: list[_Unassigned] = field(default_factory=list)
    assignments: list[_Assignment] | None = None
    kpis: dict | None = None
    max_split: int = 1  # a plan that does not say splits nothing
    returns: list[dict] | None = None  # plan["returns"]: (index, row) as read
    restock: list[dict] | None = None  # plan["restock"]

    def places(self) -> dict[str, list[_Place]]:
        out: dict[str, list[_Place]] = defaultdict(list)
        for route in self.routes:
            for stop in route.stops:
                if stop.order_id is not None and not stop.failed_attempt and not stop.pickup:
                    place = _Place(
                        "routed",
                        route.node_id,
                        route.vehicle_id,
                        f"routed on {route.label}" + _as_parcel(stop.order_id, stop.parcel_id),
                        stop.parcel_id,
                        stop.lines,
                    )
                    out[stop.order_id].append(place)
        for c in self.collections:
            if c.order_id is not None:
                by = (
                    f" (by shuttle from {c.transfer_from_node_id})"
                    if c.transfer_from_node_id
                    else ""
                )
                text = f"collected at {c.node_id}{by}" + _as_parcel(c.order_id, c.parcel_id)
                out[c.order_id].append(
                    _Place("collected", c.stock_node_id, None, text, c.parcel_id, c.lines)
                )
        for u in self.unassigned:
            if u.order_id is not None:
                text = f"unassigned ({u.code})" + _as_parcel(u.order_id, u.parcel_id)
                out[u.order_id].append(_Place("unassigned", None, None, text, u.parcel_id, u.lines))
        return out


@dataclass
class _Context:
    scenario: Scenario
    travel: TravelProvider
    violations: list[Violation] = field(default_factory=list)
    # A re-plan's changes of single parcels of split orders, by parcel id.
    parcel_changes: dict[str, OrderChange] = field(default_factory=dict)

    def flag(
        self, code: str, message: str, order_id: str | None = None, vehicle_id: str | None = None
    ) -> None:
        self.violations.append(Violation(code, _cut(message), order_id, vehicle_id))

    def order(self, order_id: str | None) -> Order | None:
        return self.scenario.orders_by_id.get(order_id) if order_id is not None else None

    def parcel(self, order_id: str | None, parcel_id: str | None) -> Order | None:
        """The order as one parcel of it is to be served: with the parcel's own change
        (a later slot, collection at a store) when a re-plan agreed one."""
        order = self.order(order_id)
        change = self.parcel_changes.get(parcel_id or "")
        return changed_order(order, change) if order is not None else None

    def visit(self, stop: _Stop) -> Order | None:
        """What a stop serves as an order-like visit: the order (its parcel), or for a
        pickup the return's address, slot, service time and lines (any service may pick
        up; zones still apply)."""
        if not stop.pickup:
            return self.parcel(stop.order_id, stop.parcel_id)
        ret = self.scenario.returns_by_id.get(stop.order_id or "")
        return None if ret is None else _return_visit(ret)


def _stop_items(ctx: _Context, plan: _Plan, pickups: bool) -> Iterator[tuple]:
    """``(route, stop, visit, sku, catalogue row)`` for each SKU a stop carries, once:
    a delivery's parcel lines, else its order's; a pickup's return lines (only when
    ``pickups``). Routes of an unknown vehicle type, stops of an unknown order and SKUs
    not in the catalogue are the other checks' to report."""
    catalogue = ctx.scenario.catalogue
    for route in plan.routes:
        if route.vehicle_type is None:
            continue
        for stop in route.stops:
            if stop.pickup and not pickups:
                continue
            visit = ctx.visit(stop)
            if visit is None:
                continue
            if stop.lines and not stop.pickup:
                skus = [sku for sku, _ in stop.lines]
            else:
                skus = [x.sku for x in visit.lines]
            for sku in dict.fromkeys(skus):
                item = catalogue.get(sku)
                if item is not None:
                    yield route, stop, visit, sku, item


def _return_visit(ret: Return) -> Order:
    """A return as an order-like visit (its own reading, not the model's ``as_stop``)."""
    return Order(
        order_id=ret.return_id,
        lat=ret.lat,
        lon=ret.lon,
        service=Service.ECO,
        slot_start_s=ret.slot_start_s,
        slot_end_s=ret.slot_end_s,
        service_time_s=ret.service_time_s,
        lines=ret.lines,
    )


def _as_parcel(order_id: str, parcel_id: str | None) -> str:
    return f" as parcel {parcel_id}" if parcel_id not in (None, order_id) else ""


def _place_lines(order: Order, place: _Place) -> Lines:
    """What a place ships of an order: the parcel's lines, or the whole order's."""
    if place.lines is not None:
        return place.lines
    return tuple((line.sku, line.qty) for line in order.lines)


def _stop_lines(order: Order, stop: _Stop) -> Lines:
    if stop.lines is not None:
        return stop.lines
    return tuple((line.sku, line.qty) for line in order.lines)
