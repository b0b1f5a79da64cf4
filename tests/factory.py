"""Small scenarios built in code, for tests that need a known, hand-checkable day."""

from __future__ import annotations

from datetime import date

from shapely.geometry import Polygon

from optimizer.model import (
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
    VehicleType,
    Zone,
    ZoneRule,
)

H = 3600
# A limited-traffic square around (48.86, 2.35), about 1.1 km x 1.5 km.
CENTRE = Polygon([(2.34, 48.855), (2.36, 48.855), (2.36, 48.865), (2.34, 48.865)])


def settings() -> Settings:
    return Settings(
        name="test-day",
        date=date(2026, 11, 24),
        timezone="Europe/Paris",
        services={
            Service.EXPRESS: ServiceSettings(7.9, 120),
            Service.ECO: ServiceSettings(3.9, 240),
            Service.GREEN: ServiceSettings(4.9, 120),
            Service.CLICK_COLLECT: ServiceSettings(0.0, 0),
        },
    )


def vehicle_types() -> dict[str, VehicleType]:
    return {
        "van": VehicleType("van", Mode.VAN, 600, 3300, 200, 18, 35, 0.08, 28, 11),
        "bike": VehicleType("bike", Mode.CARGO_BIKE, 125, 500, 60, 15, 8, 0.02, 24, 1),
    }


def order(order_id, lat, lon, lines, service=Service.EXPRESS, slot=(10, 12), collect=None):
    return Order(
        order_id=order_id,
        lat=lat,
        lon=lon,
        service=service,
        slot_start_s=slot[0] * H,
        slot_end_s=slot[1] * H,
        service_time_s=300,
        lines=tuple(OrderLine(s, q) for s, q in lines),
        collect_node_id=collect,
    )


def scenario(orders, stock=None, fleet=None, nodes=None, zones=True) -> Scenario:
    """Two nodes: HUB (vans + bikes, east) and STORE (bikes, west), 2 km apart."""
    nodes = nodes or {
        "HUB": Node("HUB", "Hub", NodeKind.URBAN_HUB, 48.850, 2.370, 7 * H, 21 * H, 60, 1.8),
        "STORE": Node("STORE", "Store", NodeKind.STORE, 48.870, 2.330, 9 * H, 20 * H, 15, 3.5),
    }
    fleet = fleet or [
        FleetEntry("HUB", "van", 2, 7 * H, 15 * H),
        FleetEntry("HUB", "bike", 1, 8 * H, 16 * H),
        FleetEntry("STORE", "bike", 1, 9 * H, 17 * H),
    ]
    stock = (
        stock
        if stock is not None
        else {
            ("HUB", "BOOK"): 10,
            ("HUB", "SOFA"): 2,
            ("STORE", "BOOK"): 10,
        }
    )
    return Scenario(
        settings=settings(),
        nodes=nodes,
        vehicle_types=vehicle_types(),
        fleet=fleet,
        catalogue={
            "BOOK": Sku("BOOK", "Book", 0.5, 2),
            "SOFA": Sku("SOFA", "Sofa", 45, 900),
            "TV": Sku("TV", "TV 55 inch", 20, 150),
        },
        stock=stock,
        orders=list(orders),
        zones=[Zone("ZTL", "Centre", ZoneRule.LIMITED_TRAFFIC, CENTRE)] if zones else [],
    )
