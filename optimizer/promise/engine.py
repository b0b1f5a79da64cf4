"""The checkout promise: which options and slots can be kept for a basket at an address.

A delivery slot is offered only when

- a node holds the whole basket in free stock (stock minus what is planned and held),
- one of that node's vehicles may deliver there (zone rules, green = bike only, size),
- the stop fits into that vehicle's current route inside the slot without breaking any
  other stop's slot, its capacity, battery range or shift (:mod:`live_routes`),
- the goods can be picked before the vehicle leaves (``pick_lead_s`` from now).

Price and CO2 come from the marginal cost of that cheapest insertion (see
:func:`price_eur` for the formula). Everything is pure: the caller passes the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.model import NodeKind, OrderLine, Plan, Scenario, Service
from optimizer.promise.live_routes import LiveRoutes
from optimizer.travel import TravelProvider
from optimizer.travel.great_circle import great_circle_km

DAY_S = 24 * 3600


@dataclass(frozen=True)
class PromiseParams:
    """Knobs of the promise, with the reasons for their defaults.

    Parameters
    ----------
    delivery_start_s, delivery_end_s
        Hours in which delivery slots are cut (08:00-20:00: the sample's slots).
    pick_lead_s
        Time to pick and pack an order before its vehicle leaves (1 h: a store pick
        of a few lines plus staging; dark stores do it faster, stores slower).
    collect_radius_km
        Click & collect is offered at stores and dark stores within this distance.
    pass_through
        Share of the marginal cost above (or below) ``reference_cost_eur`` passed on
        to the customer's price.
    reference_cost_eur
        What a delivery costs on average (cost per drop of the Paris sample, ~6 EUR).
    steer_discount_eur
        Discount on the cheapest-to-serve slots (within 10 % of the best), to steer
        customers to slots that densify routes.
    """

    delivery_start_s: int = 8 * 3600
    delivery_end_s: int = 20 * 3600
    pick_lead_s: int = 3600
    collect_radius_km: float = 5.0
    pass_through: float = 0.5
    reference_cost_eur: float = 6.0
    steer_discount_eur: float = 1.0
    max_slots_per_service: int = 12


@dataclass(frozen=True)
class SlotOption:
    service: Service
    slot_start_s: int
    slot_end_s: int
    eta_start_s: int
    eta_end_s: int
    node_id: str
    vehicle_id: str
    mode: str
    position: int
    price_eur: float
    marginal_cost_eur: float
    co2_g: float
    recommended: bool = False


@dataclass(frozen=True)
class CollectOption:
    node_id: str
    name: str
    ready_by_s: int
    price_eur: float
    distance_km: float


@dataclass(frozen=True)
class LineAvailability:
    sku: str
    qty: int
    in_stock: bool  # some node holds the qty in free stock now
    earliest_s: int | None = None  # when inbound stock makes it promisable, if not now


@dataclass
class Promise:
    options: list[SlotOption | CollectOption] = field(default_factory=list)
    lines: list[LineAvailability] = field(default_factory=list)
    service_time_s: int = 0


def door_time_s(weight_kg: float, volume_l: float, lines: int) -> int:
    """Time at the door for a basket: park, walk, hand over (3 min), a little more per
    extra line, and a quarter of an hour for two-person bulky items (> 50 kg or > 400 L),
    as in the sample generator's service times."""
    if weight_kg > 50 or volume_l > 400:
        return 900
    return int(min(420, 180 + 60 * (lines - 1) + 4 * weight_kg))


def price_eur(base_eur: float, marginal_eur: float, params: PromiseParams) -> float:
    """``base + pass_through x (marginal - reference)``, kept within [0.5, 2] x base and
    rounded to 10 cents: a slot that costs more to serve costs the customer a little more."""
    raw = base_eur + params.pass_through * (marginal_eur - params.reference_cost_eur)
    return round(float(np.clip(raw, 0.5 * base_eur, 2.0 * base_eur)) * 10) / 10


class PromiseEngine:
    """Answers checkout questions against live routes and free stock."""

    def __init__(self, scenario: Scenario, live: LiveRoutes, params: PromiseParams | None = None):
        self.scenario = scenario
        self.live = live
        self.params = params or PromiseParams()
        self.node_ids = list(scenario.nodes)
        self.node_index = {n: j for j, n in enumerate(self.node_ids)}
        self.skus = list(scenario.catalogue)
        self.sku_index = {s: k for k, s in enumerate(self.skus)}
        # free stock: what the scenario holds minus the day's planned orders (set by caller)
        self.free = np.zeros((len(self.node_ids), len(self.skus)), dtype=np.int64)
        for (node_id, sku), qty in scenario.stock.items():
            self.free[self.node_index[node_id], self.sku_index[sku]] += qty
        self.vehicle_node = np.array(
            [self.node_index[live.vehicles[v].node.node_id] for v in live.vehicles]
        )
        self.vehicle_types = live.vehicle_types

    @classmethod
    def from_plan(
        cls,
        scenario: Scenario,
        plan: Plan,
        travel: TravelProvider,
        params: PromiseParams | None = None,
    ) -> PromiseEngine:
        """The day as planned: its routes are live, its orders' stock is taken."""
        engine = cls(scenario, LiveRoutes.from_plan(scenario, plan, travel), params)
        for node_id, lines in plan.shipments(scenario):
            engine.take(node_id, list(lines))
        return engine

    # -- stock -------------------------------------------------------------------------

    def basket(self, lines: list[OrderLine]) -> np.ndarray:
        out = np.zeros(len(self.skus), dtype=np.int64)
        for line in lines:
            out[self.sku_index[line.sku]] += line.qty
        return out

    def take(self, node_id: str, lines: list[OrderLine]) -> None:
        self.free[self.node_index[node_id]] -= self.basket(lines)

    def give_back(self, node_id: str, lines: list[OrderLine]) -> None:
        self.free[self.node_index[node_id]] += self.basket(lines)

    # -- the question ------------------------------------------------------------------

    def promise(self, lines: list[OrderLine], lat: float, lon: float, now_s: int) -> Promise:
        sc, params = self.scenario, self.params
        need = self.basket(lines)
        has_stock = np.all(self.free >= need, axis=1)
        weight = sum(sc.catalogue[x.sku].weight_kg * x.qty for x in lines)
        volume = sum(sc.catalogue[x.sku].volume_l * x.qty for x in lines)
        service_s = door_time_s(weight, volume, len(lines))
        result = Promise(lines=self._availability(lines, need, now_s), service_time_s=service_s)
        if not has_stock.any():
            return result
        result.options += self._collect(lat, lon, has_stock, now_s)
        self.live.set_now(now_s + params.pick_lead_s)
        zones = sc.zones_at(lat, lon)
        offers = []
        for service in (Service.EXPRESS, Service.GREEN, Service.ECO):
            settings = sc.settings.services.get(service)
            if settings is None or settings.slot_length_min <= 0:
                continue
            slots = self._slots(settings.slot_length_min * 60, now_s)
            allowed = (
                np.array(
                    [vt.may_carry(service, weight, volume, zones) for vt in self.vehicle_types]
                )
                & has_stock[self.vehicle_node]
            )
            if slots and allowed.any():
                offers.append((service, settings, slots, allowed))
        if not offers:
            return result
        union = np.logical_or.reduce([allowed for *_, allowed in offers])
        table = self.live.insertion_table(lat, lon, service_s, weight, volume, union)
        for service, settings, slots, allowed in offers:
            best = self.live.best_in_slots(table, slots, allowed)
            options = []
            for (start, end), ins in zip(slots, best, strict=True):
                if ins is None:
                    continue
                v = self.live.vehicles[ins.vehicle_id]
                options.append(
                    SlotOption(
                        service=service,
                        slot_start_s=start,
                        slot_end_s=end,
                        eta_start_s=ins.service_start_s,
                        eta_end_s=min(end, ins.latest_start_s),
                        node_id=v.node.node_id,
                        vehicle_id=ins.vehicle_id,
                        mode=str(v.vehicle_type.mode),
                        position=ins.position,
                        price_eur=price_eur(settings.price_eur, ins.cost_eur, params),
                        marginal_cost_eur=round(ins.cost_eur, 4),
                        co2_g=round(ins.co2_g, 2),
                    )
                )
            result.options += _steer(options, params)
        return result

    def _slots(self, length_s: int, now_s: int) -> list[tuple[int, int]]:
        p = self.params
        slots, t = [], p.delivery_start_s
        while t + length_s <= p.delivery_end_s and len(slots) < p.max_slots_per_service:
            if t + length_s > now_s + p.pick_lead_s:  # the slot is not over before we could go
                slots.append((t, t + length_s))
            t += length_s
        return slots

    def _collect(self, lat, lon, has_stock, now_s) -> list[CollectOption]:
        sc, p = self.scenario, self.params
        base = sc.settings.services.get(Service.CLICK_COLLECT)
        price = base.price_eur if base else 0.0
        out = []
        for j, node_id in enumerate(self.node_ids):
            node = sc.nodes[node_id]
            if node.kind not in (NodeKind.STORE, NodeKind.DARK_STORE) or not has_stock[j]:
                continue
            km = great_circle_km(lat, lon, node.lat, node.lon)
            ready = max(now_s, node.opens_s) + p.pick_lead_s
            if km <= p.collect_radius_km and ready <= node.closes_s:
                out.append(CollectOption(node_id, node.name, ready, price, round(km, 2)))
        return sorted(out, key=lambda o: o.distance_km)[:3]

    def _availability(self, lines, need, now_s) -> list[LineAvailability]:
        out = []
        for line in lines:
            k = self.sku_index[line.sku]
            in_stock = bool(np.any(self.free[:, k] >= line.qty))
            earliest = None
            if not in_stock:
                arrivals = sorted(
                    (i.arrives_at_s, i.qty)
                    for i in self.scenario.inbound
                    if i.sku == line.sku and i.arrives_at_s >= now_s
                )
                got = 0
                for at, qty in arrivals:
                    got += qty
                    if got >= line.qty:
                        earliest = at + self.params.pick_lead_s
                        break
            out.append(LineAvailability(line.sku, line.qty, in_stock, earliest))
        return out


def _steer(options: list[SlotOption], params: PromiseParams) -> list[SlotOption]:
    """Mark the cheapest-to-serve slots (within 10 % of the best) and discount them."""
    if not options:
        return options
    best = min(o.marginal_cost_eur for o in options)
    out = []
    for o in options:
        if o.marginal_cost_eur <= best * 1.1 + 1e-9:
            cheaper = max(0.0, round((o.price_eur - params.steer_discount_eur) * 10) / 10)
            o = SlotOption(**{**o.__dict__, "price_eur": cheaper, "recommended": True})
        out.append(o)
    return out
