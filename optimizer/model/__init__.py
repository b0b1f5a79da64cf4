"""The domain model shared by the solvers, the checker and the edges."""

from optimizer.model.plan import Collection, Plan, Route, Stop, Unassigned, UnassignedCode
from optimizer.model.scenario import (
    FleetEntry,
    Mode,
    Node,
    NodeKind,
    Order,
    OrderLine,
    Scenario,
    Service,
    ServiceSettings,
    Settings,
    Sku,
    Vehicle,
    VehicleType,
    Zone,
    ZoneRule,
)

__all__ = [
    "Collection",
    "FleetEntry",
    "Mode",
    "Node",
    "NodeKind",
    "Order",
    "OrderLine",
    "Plan",
    "Route",
    "Scenario",
    "Service",
    "ServiceSettings",
    "Settings",
    "Sku",
    "Stop",
    "Unassigned",
    "UnassignedCode",
    "Vehicle",
    "VehicleType",
    "Zone",
    "ZoneRule",
]
