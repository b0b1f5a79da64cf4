"""What the checker reports: the violation codes, one violation, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Every violation code the checker emits, and what it means.
CODES: dict[str, str] = {
    "malformed": "a key is missing or a value cannot be read (e.g. a time without offset)",
    "wrong_scenario": "the plan was made for another day or is not a lastmile plan",
    "unknown_order": "an order id that is not in the scenario",
    "order_missing": "an order of the scenario is neither routed, collected nor unassigned",
    "order_duplicated": "an order (or one of its parcels) appears more than once across routes, "
    "collections, unassigned",
    "parcel_lines_mismatch": "the parcels of an order do not carry its lines exactly once",
    "split_over_limit": "an order ships in more parcels than the plan's max_split",
    "bad_unassigned_code": "an unassigned order whose code is not a known UnassignedCode",
    "missing_reason": "an unassigned order without a reason in words",
    "assignment_mismatch": "the assignments table disagrees with where the order really is",
    "collect_routed": "a click & collect order is delivered by a vehicle",
    "not_click_collect": "an order to be delivered is marked as collected",
    "wrong_collect_node": "a click & collect order is collected at another node than its own",
    "collect_not_ready": "a click & collect order is ready after the customer may collect it",
    "stock_exceeded": "a node ships more of a SKU than it holds",
    "goods_not_ready": "an order leaves its node (a tour's start, a collection's ready time) "
    "before its made-to-order or supplier goods are there (its ready_at)",
    "bad_transfer": "a click & collect by the store shuttle from the wrong node, on no "
    "scheduled departure, or ready before the shuttle is in and the basket prepared",
    "pick_capacity_exceeded": "a node ships more orders than it can pick in a day",
    "unknown_vehicle": "a route's vehicle is not in the fleet",
    "vehicle_mismatch": "a route's node, vehicle type or mode is not its vehicle's",
    "vehicle_overlap": "a vehicle starts a tour before its previous tour is back",
    "too_many_trips": "a vehicle drives more tours than its type's max_trips",
    "too_many_stops": "a tour makes more stops than its vehicle type's max_stops",
    "reload_too_short": "a later tour leaves its node before the reload time has passed",
    "break_missing": "a working day longer than the break threshold has no break",
    "break_too_short": "a break is shorter than the break duration",
    "work_without_break": "more work before or after a break than the rule allows",
    "break_overlap": "a break starts before the vehicle is free (service, travel, reload)",
    "before_shift": "a route leaves before its vehicle's shift starts",
    "node_closed": "a route leaves its node outside the node's opening hours",
    "after_shift_end": "a route is back after its vehicle's shift ends",
    "back_after_route_end": "the vehicle cannot be back at its node by the route's end",
    "late_stop": "service at the door starts after the slot ends",
    "early_stop": "service at the door starts before the slot opens",
    "teleport": "a reported time is earlier than the travel model makes possible",
    "distance_mismatch": "a reported distance differs from the travel model's",
    "overloaded": "a route carries more weight or volume than its vehicle takes",
    "load_mismatch": "a reported load differs from the catalogue's weights and volumes",
    "out_of_range": "a route is longer than its vehicle's range",
    "battery_exceeded": "a vehicle's tours together are longer than its range for the shift",
    "limited_traffic_zone": "a delivery in a limited-traffic zone by a mode not allowed there",
    "low_emission_zone": "a delivery in a low-emission zone by a non-zero-emission vehicle",
    "green_not_bike": "a green order delivered by a vehicle that is not a bike",
    "item_mode": "an item delivered by a mode its catalogue row does not allow",
    "crew_short": "an item delivered or picked up by a vehicle whose crew is smaller than "
    "its catalogue row's crew (a two-person sofa on a one-person van)",
    "equipment_missing": "an item delivered or picked up by a vehicle without the equipment "
    "its catalogue row needs (a tail lift)",
    "install_too_short": "a stop leaves before its service time, which includes carrying in "
    "and installing its items (the catalogue's install_min), is over",
    "route_figure_mismatch": "a route's reported cost, CO2 or duration differs from recomputed",
    "kpi_mismatch": "a reported KPI differs from the one recomputed from the plan",
    "bad_order_change": "a re-plan's change to an order (later slot, click & collect) is not "
    "one a customer could have been offered",
    "unknown_return": "a pickup or a returns row names a return that is not in the scenario",
    "return_missing": "a return of the scenario is neither picked up nor listed unassigned",
    "return_duplicated": "a return is picked up more than once, or both picked up and "
    "listed unassigned",
    "return_assignment_mismatch": "the returns table disagrees with where the pickup is",
    "restock_mismatch": "what goes back to a node's stock (restock) differs from what its "
    "route picked up, or is at another node or time than the route's end",
    "exchange_apart": "an exchange's delivery and its pickup, both routed, are not one visit: "
    "not consecutive stops of the same tour",
}


@dataclass(frozen=True)
class Violation:
    """One way a plan breaks the scenario's rules (``code`` is a key of :data:`CODES`)."""

    code: str
    message: str
    order_id: str | None = None
    vehicle_id: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


@dataclass
class CheckReport:
    """What the checker found.

    ``kpis`` are recomputed from the plan's routes, collections and unassigned orders
    (the keys of ``kpis.json`` but ``solve_s``). When a route cannot be walked or timed
    (unknown vehicle or order, unreadable start or end: each flagged as a violation) its
    figures are missing from them and the plan's own ``kpis`` are not compared.
    """

    violations: list[Violation] = field(default_factory=list)
    kpis: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations
