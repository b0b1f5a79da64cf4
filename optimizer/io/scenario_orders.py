"""Reading what a scenario folder sells, holds and delivers: ``catalogue.csv``,
``stock.csv``, ``inbound.csv``, ``lead_times.csv``, ``orders.csv`` with
``order_lines.csv``, ``returns.csv`` with ``return_lines.csv``, and the optional
``postcodes.csv`` and ``service_times.csv``.

Mixed into :class:`optimizer.io.scenario_reader._ScenarioReader` as :class:`_OrderFiles`;
the contract is ``docs/scenario-format.md``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

import numpy as np

from optimizer.io.problems import Problem
from optimizer.io.scenario_fleet import equipment_names
from optimizer.io.tables import _Files, _hhmm, _Index, _Row
from optimizer.model.scenario import (
    SAME_ADDRESS_DEG,
    Inbound,
    Mode,
    Order,
    OrderLine,
    Place,
    Return,
    ReturnKind,
    Service,
    Sku,
    variant_options,
)
from optimizer.travel.zones import nearest_postcodes

INBOUND_FILE = "inbound.csv"
LEAD_TIMES_FILE = "lead_times.csv"
POSTCODES_FILE = "postcodes.csv"
SERVICE_TIMES_FILE = "service_times.csv"
RETURNS_FILE = "returns.csv"
RETURN_LINES_FILE = "return_lines.csv"
# A zone's service-time factor outside (0, 10] is a typo, not a measurement.
MAX_SERVICE_TIME_FACTOR = 10.0
# catalogue.csv's optional columns for bulky items (docs/scenario-format.md): the crew
# it takes, the minutes per unit to carry it in and install it, the vehicle's equipment.
BULKY_COLUMNS = ("crew", "install_min", "equipment")
# An installation longer than a 12-hour shift per unit is a typo, not a sofa.
MAX_INSTALL_MIN = 12 * 60
# What ``lastmile report otif --service-times`` writes besides postcode and factor (read
# by people, not by the planner).
SERVICE_TIMES_EXTRA = ("samples", "planned_median_s", "actual_median_s")


def _modes(row: _Row, column: str) -> frozenset[Mode] | None:
    """An optional cell of modes separated by commas (``van``, ``van,cargo_bike``, as a
    GIS layer's ``allowed_modes``); empty: None (any mode). An unknown mode is a problem
    of the row."""
    names = [m.strip() for m in row.optional_text(column).split(",") if m.strip()]
    unknown = [m for m in names if m not in {mode.value for mode in Mode}]
    if unknown:
        row.problem(
            column,
            f"unknown mode {', '.join(repr(m) for m in unknown)} "
            f"(allowed: {', '.join(Mode)}, several separated by commas)",
        )
        return None
    return frozenset(Mode(m) for m in names) or None


def _bulky(row: _Row) -> dict[str, Any]:
    """A catalogue row's optional bulky-item cells as :class:`Sku` fields; empty (or
    absent): one person, no installation, no equipment."""
    install_min = (
        row.number("install_min", min=0, max=MAX_INSTALL_MIN) if row.cells.get("install_min") else 0
    )
    return dict(
        crew=row.integer("crew", min=1) if row.cells.get("crew") else 1,
        install_s=None if install_min is None else round(install_min * 60),
        equipment=equipment_names(row),
    )


class _OrderFiles(_Files):
    """Reads the catalogue, stock, orders and returns files (and their optional
    companions)."""

    node_ids: _Index
    skus: _Index
    order_ids: _Index
    return_ids: _Index

    def catalogue(self) -> dict[str, Sku]:
        catalogue: dict[str, Sku] = {}
        columns = ("sku", "name", "weight_kg", "volume_l")
        optional = ("modes", "lead_time_days", *BULKY_COLUMNS)
        for row in self.table("catalogue.csv", columns, optional=optional, ids=self.skus):
            lead = row.integer("lead_time_days") if row.optional_text("lead_time_days") else 0
            sku = row.build(
                Sku,
                sku=row.unique("sku", self.skus),
                name=row.optional_text("name"),
                **{c: row.number(c, min=0, strict=True) for c in columns[2:]},
                modes=_modes(row, "modes"),
                **_bulky(row),
                lead_time_days=lead,
            )
            if sku is not None:
                catalogue[sku.sku] = sku
        return catalogue

    def stock(self) -> dict[tuple[str, str], int]:
        stock: dict[tuple[str, str], int] = {}
        first_lines: dict[tuple[str, str], int] = {}
        for row in self.table("stock.csv", ("node_id", "sku", "qty")):
            key = (row.ref("node_id", self.node_ids), row.ref("sku", self.skus))
            qty = row.integer("qty", min=0)
            if None not in key:
                first = first_lines.setdefault(key, row.line)
                if first != row.line:
                    row.problem(
                        "sku",
                        f"duplicate stock row for node {key[0]!r} and SKU {key[1]!r}"
                        f" (first on line {first})",
                    )
            if row.ok:
                stock[key] = qty
        return stock

    def inbound(self) -> list[Inbound]:
        """Optional ``inbound.csv``: stock on its way to the nodes."""
        if not (self.folder / INBOUND_FILE).exists():
            return []
        inbound = []
        for row in self.table(INBOUND_FILE, ("node_id", "sku", "qty", "arrives_at")):
            node_id = row.ref("node_id", self.node_ids)
            sku = row.ref("sku", self.skus)
            qty = row.integer("qty", min=0, strict=True)
            arrives_at_s = row.datetime("arrives_at")
            if row.ok:
                inbound.append(Inbound(node_id, sku, qty, arrives_at_s))
        return inbound

    def lead_times(
        self, catalogue: dict[str, Sku]
    ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], tuple]]:
        """Optional ``lead_times.csv`` (node_id, sku, lead_time_days, optional variant):
        a SKU made to order or shipped from a supplier at that node, its goods there that
        many days after the order (over the catalogue's ``lead_time_days``); a row with a
        ``variant`` (options ``name=value`` separated by ``;``) gives the lead time of the
        lines whose variant has those options (:meth:`Scenario.lead_time_days`). Returns
        the SKUs' lead times and the variants' (see ``Scenario.variant_lead_times``)."""
        if not (self.folder / LEAD_TIMES_FILE).exists():
            return {}, {}
        out: dict[tuple[str, str], int] = {}
        variants: dict[tuple[str, str], list[tuple[frozenset[str], int, int]]] = {}
        first_lines: dict[tuple, int] = {}
        table = self.table(LEAD_TIMES_FILE, ("node_id", "sku", "lead_time_days"), ("variant",))
        for row in table:
            key = (row.ref("node_id", self.node_ids), row.ref("sku", self.skus))
            days = row.integer("lead_time_days", min=0)
            variant = row.variant()
            options = variant_options(variant or "")
            if None not in key and variant is not None:
                first = first_lines.setdefault((*key, options), row.line)
                if first != row.line:
                    what = f" and variant {variant!r}" if variant else ""
                    message = (f"duplicate lead time for node {key[0]!r}, SKU {key[1]!r}"
                               f"{what} (first on line {first})")  # fmt: skip
                    row.problem("variant" if variant else "sku", message)
            if row.ok and options:
                variants.setdefault(key, []).append((options, days, row.line))
            elif row.ok:
                out[key] = days
        return out, self._variant_rules(variants, out, catalogue)

    def _variant_rules(
        self, variants: dict, skus: dict[tuple[str, str], int], catalogue: dict[str, Sku]
    ) -> dict:
        """The variant rules of SKUs made to order at their node (else a problem on the
        rule's line: a variant never makes a stocked SKU made to order)."""
        rules = {}
        for (node_id, sku), found in variants.items():
            listed = sku in catalogue and catalogue[sku].lead_time_days > 0
            made = (node_id, sku) in skus or listed
            if not made:
                for _, _, line in found:
                    self.problems.append(Problem(
                        LEAD_TIMES_FILE, line, "variant",
                        f"SKU {sku!r} is not made to order at node {node_id!r}: a variant's "
                        "lead time applies to a SKU with a lead time there (lead_time_days "
                        "in catalogue.csv or a row of this file without variant)",
                    ))  # fmt: skip
                continue
            rules[node_id, sku] = tuple((options, days) for options, days, _ in found)
        return rules

    def places(self) -> dict[str, Place]:
        """Optional ``postcodes.csv``: a reference point per postcode."""
        if not (self.folder / POSTCODES_FILE).exists():
            return {}
        places: dict[str, Place] = {}
        postcodes = _Index("postcode", POSTCODES_FILE)
        for row in self.table(POSTCODES_FILE, ("postcode", "name", "lat", "lon")):
            lat, lon = row.coordinates()
            place = row.build(
                Place,
                postcode=row.unique("postcode", postcodes),
                name=row.optional_text("name"),
                lat=lat,
                lon=lon,
            )
            if place is not None:
                places[place.postcode] = place
        return places

    def service_times(self, orders: list[Order], places: dict[str, Place]) -> list[Order]:
        """Optional ``service_times.csv`` (``postcode``, ``factor``; written by ``lastmile
        report otif --service-times``): the service time of every delivery whose address
        is nearest to that postcode is multiplied by ``factor``."""
        if not (self.folder / SERVICE_TIMES_FILE).exists():
            return orders
        factors: dict[str, float] = {}
        seen = _Index("postcode", SERVICE_TIMES_FILE)
        for row in self.table(SERVICE_TIMES_FILE, ("postcode", "factor"), SERVICE_TIMES_EXTRA):
            postcode = row.unique("postcode", seen)
            factor = row.number("factor", min=0, max=MAX_SERVICE_TIME_FACTOR, strict=True)
            if postcode is not None and postcode not in places:
                known = f"{POSTCODES_FILE} has no such postcode" if places else (
                    f"needs {POSTCODES_FILE}, which is missing"
                )  # fmt: skip
                row.problem("postcode", f"{postcode!r}: {known}")
            if row.ok:
                factors[postcode] = factor
        if not factors:
            return orders
        zones = nearest_postcodes(
            np.array([o.lat for o in orders]), np.array([o.lon for o in orders]), places
        )
        return [
            replace(o, service_time_s=round(o.service_time_s * factors[zone]))
            if zone in factors and o.service is not Service.CLICK_COLLECT
            else o
            for o, zone in zip(orders, zones, strict=True)
        ]

    @staticmethod
    def install_times(orders: list[Order], catalogue: dict[str, Sku]) -> list[Order]:
        """Every delivered order's service time with its items' carrying in and
        installing (``install_min`` per unit): the stop lasts the handover of
        ``orders.csv`` plus that; a collected order has no installation."""
        out = []
        for o in orders:
            install_s = sum(
                catalogue[x.sku].install_s * x.qty for x in o.lines if x.sku in catalogue
            )
            if install_s and o.service is not Service.CLICK_COLLECT:
                o = replace(o, service_time_s=o.service_time_s + install_s)
            out.append(o)
        return out

    def orders(self) -> list[Order]:
        columns = (
            "order_id",
            "lat",
            "lon",
            "service",
            "slot_start",
            "slot_end",
            "service_time_s",
        )
        optional = ("collect_node_id", "ship_from_node_id", "transfer_departs", "ready_at")
        table = self.table("orders.csv", columns, optional, self.order_ids)
        pending: list[dict[str, Any]] = []  # an order's fields, waiting for its lines
        for row in table:
            service = row.enum("service", Service)
            slot = row.span("slot_start", "slot_end", row.datetime, "slot")
            collect_node_id = self._collect_node(row, service)
            ship_from_node_id = self._ship_from_node(row)
            lat, lon = row.coordinates()
            order = row.build(
                dict,
                order_id=row.unique("order_id", self.order_ids),
                lat=lat,
                lon=lon,
                service=service,
                slot_start_s=slot[0],
                slot_end_s=slot[1],
                collect_node_id=collect_node_id,
                service_time_s=row.integer("service_time_s", min=0),
                ship_from_node_id=ship_from_node_id,
                transfer_departs_s=self._transfer_departs(row, collect_node_id, ship_from_node_id),
                ready_s=row.datetime("ready_at") if row.optional_text("ready_at") else None,
            )
            if order is not None:
                pending.append(order)
        lines = self._order_lines()
        return [Order(**order, lines=tuple(lines[order["order_id"]])) for order in pending]

    def _collect_node(self, row: _Row, service: Service | None) -> str | None:
        if service is Service.CLICK_COLLECT:
            expected = "the node where a click_collect order is collected"
            return row.ref("collect_node_id", self.node_ids, expected)
        if service is not None and row.optional_text("collect_node_id"):
            message = f"must be empty unless the order is click_collect (it is {service})"
            row.problem("collect_node_id", message)
        return None

    def _ship_from_node(self, row: _Row) -> str | None:
        if not row.optional_text("ship_from_node_id"):
            return None
        expected = "the node a promised order ships from"
        return row.ref("ship_from_node_id", self.node_ids, expected)

    def _transfer_departs(
        self, row: _Row, collect_node_id: str | None, ship_from_node_id: str | None
    ) -> int | None:
        """The store shuttle's departure for a click & collect from another node's stock."""
        transfer = ship_from_node_id not in (None, collect_node_id) and collect_node_id
        if not row.optional_text("transfer_departs"):
            if transfer:
                why = "required when a click_collect order ships from another node than its "
                row.problem("transfer_departs", why + "collect_node_id (the store shuttle)")
            return None
        if not transfer:
            row.problem("transfer_departs", "must be empty unless a click_collect order "
                        "ships from another node than its collect_node_id")  # fmt: skip
            return None
        return row.datetime("transfer_departs")

    def _order_lines(self) -> dict[str, list[OrderLine]]:
        return self._lines_of("order_lines.csv", "order_id", self.order_ids, "orders.csv", "order")

    def _lines_of(
        self, file: str, key: str, ids, owner_file: str, owner: str
    ) -> dict[str, list[OrderLine]]:
        """The lines of ``file`` (``key``, sku, qty) by their owner's id (an order, a
        return); an owner in ``ids`` with no line is a problem of its own row in
        ``owner_file``."""
        lines: dict[str, list[OrderLine]] = defaultdict(list)
        table = self.table(file, (key, "sku", "qty"), ("variant",))
        for row in table:
            owner_id = row.ref(key, ids)
            line = row.build(
                OrderLine, sku=row.ref("sku", self.skus),
                qty=row.integer("qty", min=0, strict=True), variant=row.variant(),
            )  # fmt: skip
            if owner_id is not None:
                mentioned = lines[owner_id]  # an owner whose lines are all bad has lines
                if line is not None:
                    mentioned.append(line)
        if table.complete:
            for owner_id, at in ids.lines.items():
                if owner_id not in lines:
                    message = f"{owner} {owner_id!r} has no lines in {file}"
                    self.problems.append(Problem(owner_file, at, key, message))
        return lines

    # returns.csv, return_lines.csv

    def returns(self, orders: list[Order]) -> list[Return]:
        """Optional ``returns.csv`` (with ``return_lines.csv``): pickups at customers'
        addresses. An exchange (or a take-back) names its delivery order, whose address and
        slot it shares: one visit."""
        if not (self.folder / RETURNS_FILE).exists():
            return []
        columns = ("return_id", "lat", "lon", "slot_start", "slot_end", "service_time_s")
        optional = ("kind", "order_id", "shipped_from_node_id")
        by_id = {o.order_id: o for o in orders}
        table = self.table(RETURNS_FILE, columns, optional, self.return_ids)
        pending: list[dict[str, Any]] = []
        exchange_of: dict[str, str] = {}  # order -> the return exchanging it
        for row in table:
            return_id = row.unique("return_id", self.return_ids)
            if return_id is not None and return_id in self.order_ids.lines:
                row.problem("return_id", f"{return_id!r} is also an order_id in orders.csv; "
                            "return and order ids must differ")  # fmt: skip
            kind = ReturnKind.RETURN
            if row.optional_text("kind"):
                kind = row.enum("kind", ReturnKind)
            slot = row.span("slot_start", "slot_end", row.datetime, "slot")
            lat, lon = row.coordinates()
            order_id = row.optional_text("order_id") or None
            if kind is not None and kind.one_visit:
                what = "an exchange" if kind is ReturnKind.EXCHANGE else "a take-back"
                order_id = row.ref("order_id", self.order_ids, f"the delivery order of {what}")
                order = by_id.get(order_id) if order_id else None
                if order_id in exchange_of:
                    row.problem("order_id", f"order {order_id!r} is already exchanged by "
                                f"{exchange_of[order_id]!r}: one exchange or take-back per "
                                "order (one visit: one hand-over, one pickup)")  # fmt: skip
                elif order_id is not None:
                    exchange_of[order_id] = str(return_id)
                if order is not None and order.service is Service.CLICK_COLLECT:
                    row.problem("order_id", f"{what} goes with a delivery; order "
                                f"{order_id!r} is click_collect")  # fmt: skip
                elif (
                    order is not None
                    and None not in slot
                    and ((order.slot_start_s, order.slot_end_s) != slot)
                ):
                    window = f"{_hhmm(order.slot_start_s)}-{_hhmm(order.slot_end_s)}"
                    row.problem("slot_start", f"{what} shares its order's slot ({window})")
                if (
                    order is not None
                    and None not in (lat, lon)
                    and max(abs(lat - order.lat), abs(lon - order.lon)) > SAME_ADDRESS_DEG
                ):
                    row.problem("lat", f"{what} is picked up where its order is delivered "
                                f"({order.lat}, {order.lon}): one visit")  # fmt: skip
            shipped = None
            if row.optional_text("shipped_from_node_id"):
                shipped = row.ref("shipped_from_node_id", self.node_ids, "a node id")
            item = row.build(
                dict,
                return_id=return_id,
                lat=lat,
                lon=lon,
                slot_start_s=slot[0],
                slot_end_s=slot[1],
                service_time_s=row.integer("service_time_s", min=0),
                kind=kind,
                order_id=order_id,
                shipped_from_node_id=shipped,
            )
            if item is not None:
                pending.append(item)
        lines = self._return_lines()
        return [Return(**item, lines=tuple(lines[item["return_id"]])) for item in pending]

    def _return_lines(self) -> dict[str, list[OrderLine]]:
        return self._lines_of(
            RETURN_LINES_FILE, "return_id", self.return_ids, RETURNS_FILE, "return"
        )
