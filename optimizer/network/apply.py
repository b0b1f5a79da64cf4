"""A network applied to a day: which nodes exist, their fleet and their stock.

Rules (documented in README "Network design"):

- **Opening** a candidate adds a :class:`~optimizer.model.Node` of its kind with the
  kind's hours and handling cost (:data:`~optimizer.network.sites.KIND_PROFILES`), a
  picking capacity of the site's orders per day spread over those hours, and the
  kind's fleet: for each mode, the day's zero-emission vehicle type of that mode
  (the cheapest per day if several).
- **Stock** of an opened site: for every SKU, the mean quantity the day's open nodes of
  the kinds it copies hold (a dark store copies the dark stores: the fast movers; a hub
  the hubs; a micro-hub half the depth of dark stores and hubs together), rounded up.
  A kind with no such node in the day gets nothing listed, which the replay shows as
  orders it cannot serve.
- **Closing** an existing dark store, hub or micro-hub removes the node, its fleet and
  its stock: the saving is the point of closing it. Click & collect orders promised at
  a closed node are collected at the nearest open store or dark store instead (ready at
  the same time if it is open then), or delivered eco when there is none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from optimizer.model import FleetEntry, Node, NodeKind, Order, Scenario, Service
from optimizer.network.sites import KIND_PROFILES, Site
from optimizer.travel.great_circle import great_circle_km

COLLECT_KINDS = (NodeKind.STORE, NodeKind.DARK_STORE)


@dataclass(frozen=True)
class Network:
    """A network to replay: the sites it opens and the existing nodes it closes."""

    name: str
    opened: tuple[Site, ...] = ()
    closed: tuple[str, ...] = ()
    model: str = ""  # which model proposed it (empty: given by hand)

    @property
    def opened_ids(self) -> tuple[str, ...]:
        return tuple(s.site_id for s in self.opened)

    def cost_per_day_eur(self, existing: list[Site]) -> float:
        """Sites' cost per day: the existing sites it keeps plus the ones it opens."""
        kept = sum(s.cost_per_day_eur for s in existing if s.site_id not in self.closed)
        return kept + sum(s.cost_per_day_eur for s in self.opened)

    def key(self) -> tuple:
        """What the network is, regardless of its name (to drop duplicates)."""
        return tuple(sorted(self.opened_ids)), tuple(sorted(self.closed))


def apply_network(day: Scenario, network: Network) -> Scenario:
    """``day`` with ``network``'s sites opened and closed (see the module's rules)."""
    unknown = [n for n in network.closed if n not in day.nodes]
    if unknown:
        raise ValueError(f"network {network.name!r} closes unknown nodes: {', '.join(unknown)}.")
    fixed = [n for n in network.closed if day.nodes[n].kind not in KIND_PROFILES]
    if fixed:
        raise ValueError(
            f"network {network.name!r} closes {', '.join(fixed)}: stores and warehouses stay."
        )
    clash = [s.site_id for s in network.opened if s.site_id in day.nodes]
    if clash:
        raise ValueError(
            f"network {network.name!r} opens sites whose ids are already nodes: {', '.join(clash)}."
        )
    closed = set(network.closed)
    nodes = {k: n for k, n in day.nodes.items() if k not in closed}
    fleet = [f for f in day.fleet if f.node_id not in closed]
    stock = {key: q for key, q in day.stock.items() if key[0] not in closed}
    for site in network.opened:
        profile = KIND_PROFILES[site.kind]
        hours = (profile.closes_s - profile.opens_s) / 3600
        nodes[site.site_id] = Node(
            node_id=site.site_id,
            name=site.name,
            kind=site.kind,
            lat=site.lat,
            lon=site.lon,
            opens_s=profile.opens_s,
            closes_s=profile.closes_s,
            pick_capacity_per_hour=site.capacity_orders_per_day / hours,
            handling_cost_eur=profile.handling_cost_eur,
        )
        fleet += _site_fleet(day, site)
        stock.update(_site_stock(day, site, closed))
    orders = [_recollect(o, nodes, day) for o in day.orders] if closed else list(day.orders)
    return Scenario(
        settings=replace(day.settings, name=f"{day.settings.name}+{network.name}"),
        nodes=nodes,
        vehicle_types=day.vehicle_types,
        fleet=fleet,
        catalogue=day.catalogue,
        stock=stock,
        orders=orders,
        zones=day.zones,
        inbound=[i for i in day.inbound if i.node_id not in closed],
        places=day.places,
        lead_times={k: d for k, d in day.lead_times.items() if k[0] in nodes},
        variant_lead_times={k: r for k, r in day.variant_lead_times.items() if k[0] in nodes},
    )


def rebase_day(day: Scenario, base: Scenario) -> Scenario:
    """A generated ``day`` (orders, stock) run on ``base``'s network: ``base``'s nodes,
    fleet, vehicle types, zones and prices; the day's stock for the nodes both have,
    ``base``'s for the others; click & collect at a node ``base`` lacks goes to the
    nearest counter. The day's date and orders are kept."""
    missing = sorted({line.sku for o in day.orders for line in o.lines} - set(day.catalogue))
    if missing:
        raise ValueError(f"the day's orders use SKUs it does not list: {', '.join(missing)}.")
    stock = {k: q for k, q in day.stock.items() if k[0] in base.nodes}
    have = {k[0] for k in stock}
    stock.update({k: q for k, q in base.stock.items() if k[0] not in have})
    return Scenario(
        settings=replace(
            base.settings,
            name=day.settings.name,
            date=day.settings.date,
            timezone=day.settings.timezone,
        ),
        nodes=dict(base.nodes),
        vehicle_types=dict(base.vehicle_types),
        fleet=list(base.fleet),
        catalogue={**base.catalogue, **day.catalogue},
        stock=stock,
        orders=[_recollect(o, base.nodes, day) for o in day.orders],
        zones=list(base.zones),
        inbound=[i for i in day.inbound if i.node_id in base.nodes],
        places=dict(base.places) or dict(day.places),
        lead_times={
            k: d for k, d in (base.lead_times | day.lead_times).items() if k[0] in base.nodes
        },
        variant_lead_times={
            k: r
            for k, r in (base.variant_lead_times | day.variant_lead_times).items()
            if k[0] in base.nodes
        },
    )


def _site_fleet(day: Scenario, site: Site) -> list[FleetEntry]:
    out = []
    for shift in KIND_PROFILES[site.kind].fleet:
        types = [
            vt for vt in day.vehicle_types.values() if vt.mode is shift.mode and vt.zero_emission
        ]
        if not types or shift.count <= 0:
            continue
        vt = min(types, key=lambda t: (t.fixed_cost_eur, t.vehicle_type_id))
        out.append(FleetEntry(site.site_id, vt.vehicle_type_id, shift.count, shift.start_s,
                              shift.end_s))  # fmt: skip
    return out


def _site_stock(day: Scenario, site: Site, closed: set[str]) -> dict[tuple[str, str], int]:
    profile = KIND_PROFILES[site.kind]
    models = [
        n.node_id
        for n in day.nodes.values()
        if n.kind in profile.stock_from and n.node_id not in closed
    ] or [n.node_id for n in day.nodes.values() if n.kind in profile.stock_from]
    if not models:
        return {}
    out = {}
    for sku in day.catalogue:
        held = [day.stock[(n, sku)] for n in models if (n, sku) in day.stock]
        if held:
            # Mean over the model nodes (0 where one does not list it), at the kind's depth.
            qty = math.ceil(profile.stock_depth * sum(held) / len(models))
            out[(site.site_id, sku)] = int(qty)
    return out


def _recollect(order: Order, nodes: dict[str, Node], day: Scenario) -> Order:
    """A click & collect order whose node is closed goes to the nearest open counter."""
    if order.ship_from_node_id is not None and order.ship_from_node_id not in nodes:
        order = replace(order, ship_from_node_id=None)
    if order.service is not Service.CLICK_COLLECT or order.collect_node_id in nodes:
        return order
    counters = [n for n in nodes.values() if n.kind in COLLECT_KINDS]
    old = day.nodes[order.collect_node_id]
    if counters:
        km = np.array([great_circle_km(old.lat, old.lon, n.lat, n.lon) for n in counters])
        new = counters[int(np.argmin(km))]
        # Ready when it was promised, but at least an hour after the counter opens and
        # half an hour before it closes (the generator's click & collect rules).
        ready = min(max(order.slot_start_s, new.opens_s + 3600), new.closes_s - 1800)
        return replace(
            order, collect_node_id=new.node_id, slot_start_s=ready, slot_end_s=new.closes_s
        )
    # No counter left: the customer has it delivered in an eco slot instead.
    eco = day.settings.services.get(Service.ECO)
    length = eco.slot_length_min * 60 if eco else 4 * 3600
    start = 12 * 3600
    return replace(
        order,
        service=Service.ECO,
        collect_node_id=None,
        slot_start_s=start,
        slot_end_s=start + length,
        service_time_s=max(order.service_time_s, 180),
    )
