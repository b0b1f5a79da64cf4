"""Reading the places and vehicles of a scenario folder: ``nodes.csv``,
``vehicle_types.csv`` and ``fleet.csv`` (which vehicles are based where, and when they
work).

Mixed into :class:`optimizer.io.scenario_reader._ScenarioReader` as :class:`_FleetFiles`;
the contract is ``docs/scenario-format.md``.
"""

from __future__ import annotations

import re

from optimizer.io.tables import _Files, _Index, _Row
from optimizer.model.scenario import (
    FleetEntry,
    Mode,
    Node,
    NodeKind,
    VehicleType,
    Zone,
    ZoneRule,
)

# A piece of equipment is a name (``tail_lift``, ``trolley``): letters, digits, _ and -.
EQUIPMENT_NAME = re.compile(r"[A-Za-z0-9_-]+")


def equipment_names(row: _Row, column: str = "equipment") -> frozenset[str]:
    """An optional cell of equipment names separated by commas (a vehicle type's, or
    what a SKU needs); empty: none. A name that is not a word is a problem of the row."""
    names = [n.strip() for n in row.optional_text(column).split(",") if n.strip()]
    bad = [n for n in names if not EQUIPMENT_NAME.fullmatch(n)]
    if bad:
        row.problem(
            column,
            f"{', '.join(repr(n) for n in bad)} is not an equipment name (letters, digits, "
            "_ and -, several separated by commas: tail_lift,trolley)",
        )
    return frozenset(names)


class _FleetFiles(_Files):
    """Reads ``nodes.csv``, ``vehicle_types.csv`` and ``fleet.csv``."""

    node_ids: _Index
    vehicle_type_ids: _Index

    def nodes(self) -> dict[str, Node]:
        non_negative = ("pick_capacity_per_hour", "handling_cost_eur")
        columns = ("node_id", "name", "kind", "lat", "lon", "opens", "closes", *non_negative)
        nodes: dict[str, Node] = {}
        for row in self.table("nodes.csv", columns, ids=self.node_ids):
            opens_s, closes_s = row.span("opens", "closes", row.time, "node", ("opens", "closes"))
            lat, lon = row.coordinates()
            node = row.build(
                Node,
                node_id=row.unique("node_id", self.node_ids),
                name=row.optional_text("name"),
                kind=row.enum("kind", NodeKind),
                lat=lat,
                lon=lon,
                opens_s=opens_s,
                closes_s=closes_s,
                **{c: row.number(c, min=0) for c in non_negative},
            )
            if node is not None:
                nodes[node.node_id] = node
        return nodes

    def vehicle_types(self) -> dict[str, VehicleType]:
        positive = ("capacity_kg", "capacity_l", "range_km", "speed_kmh")
        non_negative = ("fixed_cost_eur", "cost_per_km_eur", "cost_per_hour_eur", "co2_g_per_km")
        columns = ("vehicle_type_id", "mode", *positive, *non_negative)
        optional = ("zero_emission", "max_trips", "reload_s", "max_stops", "crew", "equipment")
        table = self.table("vehicle_types.csv", columns, optional, self.vehicle_type_ids)
        types: dict[str, VehicleType] = {}
        for row in table:
            vehicle_type = row.build(
                VehicleType,
                vehicle_type_id=row.unique("vehicle_type_id", self.vehicle_type_ids),
                mode=row.enum("mode", Mode),
                **{c: row.number(c, min=0, strict=True) for c in positive},
                **{c: row.number(c, min=0) for c in non_negative},
                # An empty (or absent) cell means true, as the contract says.
                zero_emission=row.boolean("zero_emission", default=True),
                # Empty (or absent): the mode's default (see VehicleType).
                max_trips=row.integer("max_trips", min=1) if row.cells.get("max_trips") else None,
                reload_s=row.integer("reload_s", min=0) if row.cells.get("reload_s") else None,
                # Empty (or absent): no limit on the stops of a tour.
                max_stops=row.integer("max_stops", min=1) if row.cells.get("max_stops") else None,
                # Empty (or absent): one driver, no equipment.
                crew=row.integer("crew", min=1) if row.cells.get("crew") else 1,
                equipment=equipment_names(row),
            )
            if vehicle_type is not None:
                types[vehicle_type.vehicle_type_id] = vehicle_type
        return types

    def fleet(
        self, nodes: dict[str, Node], vehicle_types: dict[str, VehicleType], zones: list[Zone]
    ) -> list[FleetEntry]:
        fleet: list[FleetEntry] = []
        columns = ("node_id", "vehicle_type_id", "count", "shift_start", "shift_end")
        for row in self.table("fleet.csv", columns):
            shift = row.span("shift_start", "shift_end", row.time, "shift")
            entry = row.build(
                FleetEntry,
                node_id=row.ref("node_id", self.node_ids),
                vehicle_type_id=row.ref("vehicle_type_id", self.vehicle_type_ids),
                count=row.integer("count", min=0),
                shift_start_s=shift[0],
                shift_end_s=shift[1],
            )
            if entry is not None:
                self._check_base(row, entry, nodes, vehicle_types, zones)
                fleet.append(entry)
        return fleet

    @staticmethod
    def _check_base(
        row: _Row,
        entry: FleetEntry,
        nodes: dict[str, Node],
        vehicle_types: dict[str, VehicleType],
        zones: list[Zone],
    ) -> None:
        """Vehicles may not be based inside a zone that does not admit them (they could
        not leave their depot). A row with count 0 bases no vehicle there."""
        node = nodes.get(entry.node_id)
        vehicle_type = vehicle_types.get(entry.vehicle_type_id)
        if node is None or vehicle_type is None or entry.count == 0:
            return
        for zone in zones:
            if zone.admits(vehicle_type) or not zone.contains(node.lat, node.lon):
                continue
            if zone.rule is ZoneRule.LOW_EMISSION:
                why = "which admits only zero-emission vehicles"
            else:
                why = f"which does not admit mode {vehicle_type.mode}"
            row.problem(
                "node_id",
                f"vehicle type {vehicle_type.vehicle_type_id!r} ({vehicle_type.mode}) is based"
                f" at node {node.node_id!r}, inside {zone.rule} zone {zone.zone_id!r} {why}",
            )
