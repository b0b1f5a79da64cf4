"""Re-planning the rest of the day from what happened on the road.

Pure: the morning's :class:`Plan`, the scenario (with the orders confirmed since), what
each vehicle did up to ``now`` (:class:`LiveState`) in; a new :class:`Plan` and a
:class:`ReplanReport` of what changed out. Times are seconds since local midnight.

The rules (docs/replan.md):

* **Locked.** Every stop that happened (delivered, failed) or is under way (the vehicle
  is at the door or on its way to it) stays where it is, with its reported times.
* **On board.** The rest of a trip the vehicle is on stays on that vehicle (the parcels
  are on board), in its order, re-timed from the locked stop's departure; a stop that
  can no longer be served inside its slot, or would bring the vehicle back after its
  shift or past its range, rides back to the node and is treated as a failed delivery.
* **Re-optimised.** Trips not started, the parcels of broken-down vehicles (recovered to
  their node), orders confirmed since the morning and failed deliveries retried in a
  later slot form one routing problem per node, over the node's vehicles that still
  work, each leaving no earlier than ``now`` or its return, with the range it has left.
* **Failed deliveries** follow :class:`FailedPolicy`: a later slot the same day, click
  & collect at the nearest store with the stock, or (``auto``) whichever costs less;
  else unassigned with the reason.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from optimizer.model import (
    Break,
    Collection,
    NodeKind,
    OrderChange,
    Parcel,
    Plan,
    ReturnKind,
    Route,
    Scenario,
    Service,
    Stop,
    Unassigned,
    UnassignedCode,
    Vehicle,
    with_order_changes,
)
from optimizer.planning import (
    NodeProblem,
    build_node_problem,
    fleet_full_unassigned,
    to_routes,
)
from optimizer.routing import ENGINES, RoutingProblem
from optimizer.sourcing import GreedySourcing
from optimizer.sourcing.returns import candidate_nodes, reroute_price_eur
from optimizer.travel import GreatCircle, Profile, TravelProvider
from optimizer.travel.great_circle import great_circle_km

OUTCOMES = ("delivered", "failed", "in_progress")


class FailedPolicy(StrEnum):
    """What to do with an order whose delivery failed (or rode back on board)."""

    RETRY_LATER_SLOT = "retry_later_slot"  # a later slot today, else click & collect
    CLICK_AND_COLLECT = "click_and_collect"  # straight to the nearest store with stock
    AUTO = "auto"  # a later slot when its detour costs less than click & collect


@dataclass(frozen=True)
class StopFact:
    """A stop that happened or is under way: ``outcome`` is delivered, failed or
    in_progress (at the door or driving to it; its times are then the ETA)."""

    order_id: str
    outcome: str
    arrival_s: int
    departure_s: int
    failure_reason: str | None = None


@dataclass(frozen=True)
class TripFacts:
    """One trip a vehicle left on: when it left, its stops so far, when it was back
    (None while out). The k-th trip of a vehicle is its k-th route of the plan."""

    start_s: int
    stops: tuple[StopFact, ...] = ()
    back_s: int | None = None


@dataclass(frozen=True)
class LiveState:
    """What happened up to ``now_s``: each vehicle's trips, and the vehicles that broke
    down (they do nothing more today; their parcels go back to their node)."""

    now_s: int
    trips: dict[str, tuple[TripFacts, ...]] = field(default_factory=dict)
    broken_down: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReplanParams:
    """How to re-plan.

    Parameters
    ----------
    policy
        Failed deliveries: see :class:`FailedPolicy`.
    time_limit_s
        Routing budget for the whole re-plan (all nodes), seconds.
    engine
        Routing engine name.
    collect_ready_after_s
        How long a store needs to have a click & collect order ready (picked from its
        own shelves), seconds. One hour: the "ready in 1 h" most French retailers
        advertise for click & collect (a product figure; set it per retailer).
    collect_compensation_eur
        What offering click & collect instead of the delivery costs the retailer (a
        voucher, the refunded delivery fee), euros: ``auto`` retries in a later slot
        when the retry's detour costs less than this plus the store's handling cost.
        5 EUR: the eco delivery fee of the sample (a product figure).
    delivery_end_s
        When the day's last slot ends (20:00, as the promise's slots).
    """

    policy: FailedPolicy = FailedPolicy.AUTO
    time_limit_s: float = 5.0
    engine: str = "pyvrp"
    collect_ready_after_s: int = 3600
    collect_compensation_eur: float = 5.0
    delivery_end_s: int = 20 * 3600

    def __post_init__(self):
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s <= 0 not understood.")
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r} not understood; one of {sorted(ENGINES)}.")
        if self.collect_ready_after_s < 0 or self.collect_compensation_eur < 0:
            raise ValueError(
                "collect_ready_after_s or collect_compensation_eur < 0 not understood."
            )


class ReplanError(ValueError):
    """The live state does not fit the plan; ``problems`` are (where, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))


@dataclass
class ReplanReport:
    """What a re-plan changed, for the planner."""

    moved: list[dict] = field(default_factory=list)  # order, from/to vehicle and arrival
    vehicles_changed: list[str] = field(default_factory=list)
    newly_unassigned: list[dict] = field(default_factory=list)  # order, code, reason
    inserted: list[dict] = field(default_factory=list)  # new orders: order, vehicle|node
    order_changes: list[dict] = field(default_factory=list)  # later slot / click & collect
    # Returns whose end node lost its vehicles: return, from/to node, why.
    returns_rerouted: list[dict] = field(default_factory=list)
    locked_stops: int = 0
    solve_s: float = 0.0

    def to_dict(self) -> dict:
        return {
            "locked_stops": self.locked_stops,
            "moved": self.moved,
            "vehicles_changed": self.vehicles_changed,
            "newly_unassigned": self.newly_unassigned,
            "inserted": self.inserted,
            "order_changes": self.order_changes,
            "returns_rerouted": self.returns_rerouted,
            "solve_s": round(self.solve_s, 3),
        }


@dataclass
class _Failed:
    order_id: str
    node_id: str  # where the parcel goes back to
    ready_s: int  # when it is back there (a pickup: now, nothing rides back)
    why: str  # what happened, in words
    pickup: bool = False  # a return's pickup: retried later today, never collected


@dataclass
class _Ledger:
    """What a re-plan has settled besides the routes: the node of each order, the
    changes agreed with customers, the collections and the unassigned. ``scenario`` is
    the day before any change; :attr:`day` is the day as the customers agreed it."""

    scenario: Scenario
    params: ReplanParams
    now: int
    sources: dict[str, str]
    changes: list[OrderChange]
    collections: list[Collection]
    unassigned: list[Unassigned]

    @property
    def day(self) -> Scenario:
        return with_order_changes(self.scenario, self.changes)

    def retry(self, f: _Failed, window: tuple[int, int]) -> None:
        """Agree a later slot (every later slot today, narrowed once routed)."""
        self.changes = [c for c in self.changes if c.order_id != f.order_id]
        self.changes.append(
            OrderChange(
                f.order_id,
                FailedPolicy.RETRY_LATER_SLOT.value,
                *window,
                f"{f.why}; retried in a later slot",
            )
        )

    def fall_back(self, retry: dict[str, _Failed], order_id: str, note: str) -> None:
        """A retry the routes cannot keep: click & collect, or unassigned."""
        self.collect_or_give_up(retry.pop(order_id), note)

    def stranded(self, order_id: str, node_id: str) -> None:
        """A parcel of a broken-down vehicle, back at its node, that no vehicle left can
        deliver in its slot: click & collect at the nearest store holding the basket (the
        customer is offered it, as after a failed delivery), else unassigned
        (``fleet_full``, saying so)."""
        day = self.day
        ready = self.now + self.params.collect_ready_after_s
        if _nearest_store(day, self.sources, order_id, ready) is None:
            u = fleet_full_unassigned(day, order_id, node_id)
            u.reason = "its vehicle broke down and " + u.reason
            self.unassigned.append(u)
            self.sources.pop(order_id, None)
            return
        why = (f"its vehicle broke down and no vehicle of {node_id} left can deliver it in "
               "its slot today")  # fmt: skip
        self.collect_or_give_up(_Failed(order_id, node_id, self.now, why))

    def collect_or_give_up(self, f: _Failed, note: str = "") -> None:
        """Click & collect at the nearest store with the basket in stock (after what the
        plan ships from it), open long enough to get it ready; else unassigned. A failed
        pickup is unassigned: the customer rebooks or drops the item at a store."""
        day, now, params = self.day, self.now, self.params
        order = day.orders_by_id[f.order_id]
        why = f.why + (f"; {note}" if note else "")
        # What an earlier re-plan agreed (a later slot that failed again) is superseded.
        self.changes = [c for c in self.changes if c.order_id != f.order_id]
        if f.pickup:
            store = _nearest_store(day, {}, f.order_id, now, any_stock=True)
            where = f" or to drop it at {day.nodes[store].name} ({store})" if store else ""
            self.unassigned.append(
                Unassigned(
                    f.order_id,
                    UnassignedCode.PICKUP_FAILED,
                    f"{why}; no later slot today: call the customer to rebook the pickup" + where,
                    None,
                )
            )
            self.sources.pop(f.order_id, None)
            return
        ready = now + params.collect_ready_after_s
        store = _nearest_store(day, self.sources, f.order_id, ready)
        if store is None:
            self.unassigned.append(
                Unassigned(
                    f.order_id,
                    UnassignedCode.DELIVERY_FAILED,
                    f"{why}; no later slot today and no store near {order.order_id}'s "
                    "address holds the basket for click & collect: call the customer to rebook",
                    None,
                )
            )
            self.sources.pop(f.order_id, None)
            return
        node = day.nodes[store]
        self.changes.append(
            OrderChange(
                f.order_id,
                FailedPolicy.CLICK_AND_COLLECT.value,
                ready,
                node.closes_s,
                f"{why}; offered click & collect at {node.name} ({store})",
                store,
            )
        )
        self.collections.append(Collection(f.order_id, store, ready))
        self.sources[f.order_id] = store


@dataclass
class _Vehicle:
    """What a vehicle can still do after its locked part."""

    vehicle: Vehicle
    available_s: int  # at its node, free to leave
    used_m: int = 0  # driven so far today (battery)
    used_today: bool = False  # has a route already (its fixed cost is paid)
    trips: int = 0  # tours it left on today
    broken: bool = False


def replan(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None = None,
    travel: TravelProvider | None = None,
) -> tuple[Plan, ReplanReport]:
    """Re-plan the rest of the day (see the module's docstring).

    ``scenario`` holds every order of the day, including those confirmed after ``plan``
    was made (they are the "new" orders). The parcels of split orders are re-planned
    as stops of their own (``ORDER/1``...: tracking's ids too); a failed parcel is
    refused (not supported yet). Raises :class:`ReplanError` when the live state does
    not fit the plan (a fact about an order not on that vehicle's trip...).
    """
    picked = {s.order_id: r.node_id for r in plan.routes for s in r.stops if s.is_pickup}
    if not picked:
        new, report = _replan_parcels(scenario, plan, state, params, travel)
        new.returns = list(plan.returns)  # none routed: unassigned as in the morning
        return new, report
    return _replan_returns(scenario, plan, state, params, travel, picked)


def _replan_returns(scenario, plan, state, params, travel, picked: dict[str, str]):
    """Re-plan a day with pickups: each routed return is an order-like stop of its end
    node (as in planning), locked, kept on board or re-routed from that node like an
    order; a failed pickup is retried in a later slot today, else unassigned with the
    reason. Returns the plan unassigned in the morning stay so. The loads along the new
    routes are walked again (a tour leaves with its deliveries; pickups board)."""
    returns = scenario.returns_by_id
    units = replace(scenario, orders=scenario.orders + [returns[r].as_stop() for r in picked])
    # The other end nodes a return may go to when its node can no longer send a vehicle.
    shipped = plan.sources | {p.order_id: p.node_id for p in plan.parcels.values()}
    ends = {
        r: [n for n in candidate_nodes(scenario, returns[r], shipped) if n != node_id]
        for r, node_id in picked.items()
    }
    new, report = _replan_parcels(
        units, replace(plan, sources=plan.sources | picked), state, params, travel, ends
    )
    new.routes = [_walk_loads(scenario, new, r) for r in new.routes]
    new.sources = {o: n for o, n in new.sources.items() if o not in picked}
    dropped = {u.order_id: u for u in new.unassigned if u.order_id in picked}
    new.unassigned = [u for u in new.unassigned if u.order_id not in picked]
    on_route = {
        s.order_id: r for r in new.routes for s in r.stops if s.is_pickup and not s.failed_attempt
    }
    rows = []
    for row in plan.returns:
        if row.return_id in on_route:
            route = on_route[row.return_id]
            rows.append(replace(row, status="routed", node_id=route.node_id,
                                vehicle_id=route.vehicle_id, code=None, reason=None))  # fmt: skip
        elif row.return_id in picked and (row.return_id in dropped or row.status == "routed"):
            why = dropped.get(row.return_id)
            rows.append(replace(
                row, status="unassigned", vehicle_id=None,
                code=str(why.code) if why else UnassignedCode.FLEET_FULL.value,
                reason=why.reason if why else "the re-plan could not keep the pickup on a route",
            ))  # fmt: skip
        else:  # unassigned in the morning, or given up by an earlier re-plan (its
            rows.append(row)  # failed attempt still on a route): as it was
    new.returns = rows
    return new, report


def _walk_loads(scenario: Scenario, plan: Plan, route: Route) -> Route:
    """The route with its pickups marked and the load on board walked along it: it
    leaves with its deliveries, a delivery leaves (not a failed attempt's), a pickup
    boards."""
    returns = scenario.returns_by_id
    if not any(s.order_id in returns for s in route.stops):
        return route
    cat = scenario.catalogue

    def size(stop: Stop) -> tuple[float, float]:
        if stop.order_id in returns:
            lines = returns[stop.order_id].lines
        elif stop.parcel_id in plan.parcels:
            lines = plan.parcels[stop.parcel_id].lines
        else:
            lines = scenario.orders_by_id[stop.order_id].lines
        return (sum(cat[x.sku].weight_kg * x.qty for x in lines),
                sum(cat[x.sku].volume_l * x.qty for x in lines))  # fmt: skip

    stops = [
        replace(s, kind="pickup", return_id=s.order_id)
        if s.order_id in returns
        else replace(s, kind="delivery", return_id=None)
        for s in route.stops
    ]
    sizes = [size(s) for s in stops]
    kg = sum(w for s, (w, _) in zip(stops, sizes, strict=True) if not s.is_pickup)
    litres = sum(v for s, (_, v) in zip(stops, sizes, strict=True) if not s.is_pickup)
    start = (round(kg, 3), round(litres, 3))
    out = []
    for stop, (w, v) in zip(stops, sizes, strict=True):
        out.append(replace(stop, load_kg=round(kg, 3), load_l=round(litres, 3)))
        if stop.failed_attempt:
            continue
        sign = -1 if stop.is_pickup else 1
        kg, litres = kg - sign * w, litres - sign * v
    return replace(route, stops=out, load_kg=start[0], load_l=start[1])


def _replan_parcels(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None = None,
    travel: TravelProvider | None = None,
    ends: dict[str, list[str]] | None = None,
) -> tuple[Plan, ReplanReport]:
    """:func:`replan` for a plan whose split orders' parcels are stops of their own: each
    parcel is re-planned as an order of its own (``ORDER/k``, its lines, its node), so a
    failed parcel is retried in a later slot, collected at a store, or left unassigned,
    on its own; its siblings keep what happened to them."""
    if not plan.parcels and not any(u.parcel_id for u in plan.unassigned):
        return _replan(scenario, plan, state, params, travel, ends=ends)
    parcels = dict(plan.parcels)
    by_id = scenario.orders_by_id
    # Parcels an earlier re-plan left unassigned are orders of their own too.
    lost = {u.parcel_id: u for u in plan.unassigned if u.parcel_id}
    units = replace(
        scenario,
        orders=scenario.orders
        + [
            replace(by_id[p.order_id], order_id=pid, lines=p.lines, ship_from_node_id=p.node_id)
            for pid, p in parcels.items()
        ]
        + [
            replace(by_id[u.order_id], order_id=pid, lines=u.lines or ()) for pid, u in lost.items()
        ],
    )
    as_units = replace(
        plan,
        routes=[
            replace(
                r,
                stops=[
                    replace(s, order_id=s.parcel_id or s.order_id, parcel_id=None) for s in r.stops
                ],
            )  # fmt: skip
            for r in plan.routes
        ],
        sources=plan.sources | {pid: p.node_id for pid, p in parcels.items()},
        parcels={},
        collections=[replace(c, order_id=c.parcel_id or c.order_id, parcel_id=None)
                     for c in plan.collections],
        unassigned=[replace(u, order_id=u.parcel_id or u.order_id, parcel_id=None, lines=None)
                    for u in plan.unassigned],
        order_changes=[replace(c, order_id=c.parcel_id or c.order_id, parcel_id=None)
                       for c in plan.order_changes],
    )  # fmt: skip
    split = {p.order_id for p in parcels.values()} | {u.order_id for u in lost.values()}
    new, report = _replan(units, as_units, state, params, travel, split, ends=ends)
    parent = {pid: p.order_id for pid, p in parcels.items()}
    parent |= {pid: u.order_id for pid, u in lost.items()}
    lines = {pid: p.lines for pid, p in parcels.items()}
    lines |= {pid: u.lines or () for pid, u in lost.items()}
    new.routes = [
        replace(r, stops=[
            replace(s, order_id=parent[s.order_id], parcel_id=s.order_id)
            if s.order_id in parent else s
            for s in r.stops
        ])
        for r in new.routes
    ]  # fmt: skip
    routed = {
        s.parcel_id for r in new.routes for s in r.stops if s.parcel_id and not s.failed_attempt
    }
    collected = {c.order_id: c for c in new.collections if c.order_id in parent}
    new.parcels = {pid: p for pid, p in parcels.items() if pid in routed}
    new.parcels |= {  # a parcel offered click & collect takes the store's stock
        pid: Parcel(pid, parent[pid], c.node_id, lines[pid]) for pid, c in collected.items()
    }
    new.collections = [
        replace(c, order_id=parent[c.order_id], parcel_id=c.order_id)
        if c.order_id in parent else c
        for c in new.collections
    ]  # fmt: skip
    new.unassigned = [
        replace(u, order_id=parent[u.order_id], parcel_id=u.order_id, lines=lines[u.order_id])
        if u.order_id in parent else u
        for u in new.unassigned
    ]  # fmt: skip
    new.order_changes = [
        replace(c, order_id=parent[c.order_id], parcel_id=c.order_id)
        if c.order_id in parent else c
        for c in new.order_changes
    ]  # fmt: skip
    new.sources = {o: n for o, n in new.sources.items() if o not in parent}
    new.decisions = {o: d for o, d in new.decisions.items() if o not in parent}
    new.max_split = plan.max_split
    _report_parcels(report, parent)
    return new, report


def _report_parcels(report: ReplanReport, parent: dict[str, str]) -> None:
    """The report's entries about parcels name their order too."""
    for entry in report.moved + report.newly_unassigned + report.order_changes:
        if entry.get("order_id") in parent:
            entry["parcel_id"] = entry["order_id"]
            entry["order_id"] = parent[entry["parcel_id"]]


def _replan(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None,
    travel: TravelProvider | None,
    split: set[str] = frozenset(),
    ends: dict[str, list[str]] | None = None,
) -> tuple[Plan, ReplanReport]:
    """The re-plan itself, over order-like units (orders, parcels, returns' pickups).
    ``ends``: the pickups among the units, each with the other end nodes it may go to."""
    params = params or ReplanParams()
    ends = ends or {}
    pickups = set(ends)
    travel = travel or GreatCircle()
    started = time.perf_counter()
    now = state.now_s
    _validate(scenario, plan, state)
    changes: list[OrderChange] = list(plan.order_changes)
    day = with_order_changes(scenario, changes)
    sources = dict(plan.sources)

    by_vehicle: dict[str, list[Route]] = {}
    for route in sorted(plan.routes, key=lambda r: (r.vehicle_id, r.start_s)):
        by_vehicle.setdefault(route.vehicle_id, []).append(route)

    fleet = {
        v.vehicle_id: _Vehicle(
            v, max(now, v.shift_start_s), broken=v.vehicle_id in state.broken_down
        )
        for v in scenario.vehicles
    }
    engine = ENGINES[params.engine]()
    # Re-sequencing what is on board: a small share of the budget per vehicle out.
    tail_s = min(0.2, 0.25 * params.time_limit_s / max(1, len(state.trips)))
    kept: list[Route] = []
    pool: list[str] = []  # orders to route again from their node
    failed: list[_Failed] = []
    recovered: set[str] = set()  # parcels of broken-down vehicles
    locked = 0
    for vid, routes in by_vehicle.items():
        live = fleet[vid]
        trips = state.trips.get(vid, ())
        for k, route in enumerate(routes):
            prior = _prior_facts(route)
            if k >= len(trips) and not prior:
                pool += [s.order_id for s in route.stops]
                continue
            facts = trips[k] if k < len(trips) else TripFacts(route.start_s)
            new_facts = [f for f in facts.stops if f.order_id not in {p.order_id for p in prior}]
            facts = replace(facts, stops=tuple(prior + new_facts))
            done = {f.order_id for f in facts.stops}
            rest = [s.order_id for s in route.stops if s.order_id not in done]
            locked += len(facts.stops)
            if facts.back_s is not None or live.broken:
                # Back at the node (or stuck): what it did not deliver is at the node.
                pool += rest
                if live.broken:
                    recovered.update(rest)
                rest = []
            if len(rest) > 1:
                rest = _resequence(day, travel, engine, live, facts, rest, tail_s)
            new, carried = _locked_route(day, travel, route, facts, rest, live)
            kept.append(new)
            live.used_today = True
            live.trips += 1
            live.used_m += new.distance_m
            live.available_s = max(live.available_s, new.end_s)
            # A failed parcel is back at the node with its vehicle (or recovered from a
            # broken-down one from now).
            ready = now if live.broken else max(now, new.end_s)
            for f in new_facts:  # (an earlier re-plan placed the earlier ones again)
                if f.outcome == "failed":
                    up = f.order_id in pickups  # nothing rides back: retried from now
                    failed.append(
                        _Failed(
                            f.order_id,
                            route.node_id,
                            now if up else ready,
                            f"{'pickup' if up else 'delivery'} failed "
                            f"({f.failure_reason or 'other'}) at {_clock(f.arrival_s)} on {vid}",
                            up,
                        )
                    )
            for order_id in carried:
                up = order_id in pickups
                failed.append(
                    _Failed(
                        order_id,
                        route.node_id,
                        now if up else new.end_s,
                        f"{vid} runs too late to "
                        + (
                            "pick it up in its slot"
                            if up
                            else f"deliver it in its slot; it rides back to {route.node_id}"
                        ),
                        up,
                    )  # fmt: skip
                )

    placed = {s.order_id for r in plan.routes for s in r.stops} | split
    placed |= {c.order_id for c in plan.collections} | {u.order_id for u in plan.unassigned}
    new_orders = [o.order_id for o in scenario.orders if o.order_id not in placed]
    book = _Ledger(
        scenario,
        params,
        now,
        sources,
        changes,
        list(plan.collections),
        [u for u in plan.unassigned if u.order_id in scenario.orders_by_id],
    )
    new_sources, new_unassigned, new_collections = _source_new(day, travel, sources, new_orders)
    sources.update(new_sources)
    book.unassigned += new_unassigned
    book.collections += new_collections
    collected_new = {c.order_id for c in new_collections}
    pool += [o for o in new_orders if o in new_sources and o not in collected_new]

    # Failed deliveries: a later slot (routed with the pool), or click & collect. A
    # failed pickup: a later slot, else unassigned.
    failed_ids = {f.order_id for f in failed}
    pool = [o for o in pool if o not in failed_ids]
    retry: dict[str, _Failed] = {}
    for f in failed:
        if params.policy is FailedPolicy.CLICK_AND_COLLECT and not f.pickup:
            book.collect_or_give_up(f)
            continue
        window = _later_window(book.day.orders_by_id[f.order_id], f.ready_s, params)
        if window is None:
            book.collect_or_give_up(f)
            continue
        retry[f.order_id] = f
        book.retry(f, window)
    day = book.day
    rerouted = _reroute_returns(day, [o for o in pool + list(retry) if o in ends], ends,
                                sources, fleet)  # fmt: skip

    # Route the pool, node by node, on the vehicles that still work.
    by_node: dict[str, list[str]] = {}
    for order_id in pool + list(retry):
        by_node.setdefault(sources[order_id], []).append(order_id)
    batches = {
        nid: _node_batch(day, travel, nid, ids, fleet, retry, now) for nid, ids in by_node.items()
    }
    remaining = max(0.1, params.time_limit_s - (time.perf_counter() - started))
    total = sum(b.problem.num_stops for b in batches.values()) or 1
    results = {
        nid: engine.solve(b.problem, max(0.05, remaining * b.problem.num_stops / total))
        for nid, b in batches.items()
        if b.problem.num_stops
    }
    fresh: list[Route] = []
    for nid, batch in sorted(batches.items()):
        result = results.get(nid)
        dropped = (  # (an exchange's stop drops both halves)
            [u for i in result.dropped for u in batch.members(i)] if result else batch.unit_ids
        )
        if result is not None:
            fresh += [
                _after_earlier_tours(day, fleet[r.vehicle_id], r)
                for r in to_routes(day, batch, result)
            ]
        for order_id in dropped:
            if order_id in retry:
                book.fall_back(retry, order_id, "no later slot today fits the routes")
            elif order_id in recovered and order_id not in ends:
                book.stranded(order_id, nid)
            else:
                u = fleet_full_unassigned(day, order_id, nid)
                if order_id in recovered:
                    u.reason = "its vehicle broke down and " + u.reason
                book.unassigned.append(u)
                sources.pop(order_id, None)

    fresh = _wait_for_parcels(travel, fresh, retry, book)
    if params.policy is FailedPolicy.AUTO and retry:
        fresh = _cheaper_collect(travel, fresh, retry, book)
    # Retried slots: the slot (of the order's own length) its new service start falls in.
    changes = book.changes = _snap_retry_slots(scenario, fresh, book.changes)
    collections, unassigned = book.collections, book.unassigned

    routes = _costed(scenario, kept + fresh)
    placed_now = {s.order_id for r in routes for s in r.stops if not s.failed_attempt}
    placed_now |= {c.order_id for c in collections}
    sources = {o: n for o, n in sources.items() if o in placed_now}
    new_plan = Plan(
        scenario_name=plan.scenario_name,
        sources=sources,
        routes=sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)),
        collections=sorted(collections, key=lambda c: c.order_id),
        unassigned=sorted(unassigned, key=lambda u: u.order_id),
        engine=engine.name,
        solve_s=time.perf_counter() - started,
        decisions={o: d for o, d in plan.decisions.items() if o in sources},
        order_changes=sorted(changes, key=lambda c: c.order_id),
        replan={"now": scenario.settings.to_iso(now), "policy": params.policy.value},
    )
    report = _report(scenario, plan, new_plan, new_orders, locked)
    report.returns_rerouted = rerouted
    report.solve_s = new_plan.solve_s
    return new_plan, report


def _can_leave(day: Scenario, live: _Vehicle) -> bool:
    """Whether the vehicle may still leave on a tour today (as :func:`_node_batch` lets
    it): working, a tour left, back and reloaded before its shift and its node end."""
    vehicle = live.vehicle
    vt = day.vehicle_types[vehicle.vehicle_type_id]
    leaves = max(vehicle.shift_start_s, live.available_s + (vt.reload_s if live.trips else 0))
    return (
        not live.broken
        and live.trips < vt.max_trips
        and leaves < vehicle.shift_end_s
        and leaves <= day.nodes[vehicle.node_id].closes_s
        and live.used_m < vt.range_km * 1000
    )


def _reroute_returns(
    day: Scenario,
    pickups: list[str],
    ends: dict[str, list[str]],
    sources: dict[str, str],
    fleet: dict[str, _Vehicle],
) -> list[dict]:
    """A pickup still to do whose end node has no vehicle left that may carry it (broken
    down, its tours or shift over) goes to the cheapest other candidate end node that
    has one (out and back with such a vehicle, plus that node's handling: the rule of
    planning, docs/scenario-format.md); ``sources`` is updated. Returns what moved."""
    free: dict[str, set[str]] = {}
    for live in fleet.values():
        if _can_leave(day, live):
            free.setdefault(live.vehicle.node_id, set()).add(live.vehicle.vehicle_id)
    returns = day.returns_by_id
    moved = []
    for rid in pickups:
        node_id = sources[rid]
        if reroute_price_eur(day, returns[rid], node_id, free.get(node_id, set())) < math.inf:
            continue
        prices = {n: reroute_price_eur(day, returns[rid], n, free.get(n, set())) for n in ends[rid]}
        best = min(sorted(prices), key=lambda n: prices[n], default=None)
        if best is None or prices[best] == math.inf:
            continue  # nowhere else: routed from its node, unassigned with the reason
        sources[rid] = best
        moved.append({
            "return_id": rid,
            "from_node_id": node_id,
            "to_node_id": best,
            "reason": f"no vehicle of {node_id} can still pick it up today; {best} can, "
                      f"for {prices[best]:.2f} EUR with its handling",
        })  # fmt: skip
    return moved


# -- the live state against the plan -------------------------------------------------------


def _validate(scenario: Scenario, plan: Plan, state: LiveState) -> None:
    problems: list[tuple[str, str]] = []
    routes: dict[str, list[Route]] = {}
    for r in sorted(plan.routes, key=lambda r: r.start_s):
        routes.setdefault(r.vehicle_id, []).append(r)
    for vid in sorted(state.broken_down):
        if vid not in scenario.vehicles_by_id:
            problems.append((f"broken_down[{vid}]", "no such vehicle in the fleet"))
    for vid, trips in state.trips.items():
        where = f"trips[{vid}]"
        if vid not in routes:
            problems.append((where, "the vehicle has no route in the plan"))
            continue
        if len(trips) > len(routes[vid]):
            problems.append((where, f"{len(trips)} trips, the plan has {len(routes[vid])}"))
            continue
        for k, trip in enumerate(trips):
            planned = [s.order_id for s in routes[vid][k].stops]
            seen = set()
            for j, f in enumerate(trip.stops):
                at = f"{where}[{k}].stops[{j}]"
                if f.outcome not in OUTCOMES:
                    problems.append((at, f"outcome {f.outcome!r} is not one of {OUTCOMES}"))
                if f.order_id not in planned or f.order_id in seen:
                    problems.append((at, f"{f.order_id} is not (or twice) on this trip"))
                if f.departure_s < f.arrival_s:
                    problems.append((at, "departure before arrival"))
                if f.outcome == "in_progress" and j != len(trip.stops) - 1:
                    problems.append((at, "only the last stop of a trip can be in progress"))
                seen.add(f.order_id)
            if k < len(trips) - 1 and trip.back_s is None:
                problems.append((f"{where}[{k}]", "a later trip started before this one ended"))
    if problems:
        raise ReplanError(problems)


def _prior_facts(route: Route) -> list[StopFact]:
    """The stops an earlier re-plan locked as done (delivered or failed): facts still."""
    return [
        StopFact(s.order_id, s.outcome, s.arrival_s, s.departure_s)
        for s in route.stops
        if s.locked and s.outcome in ("delivered", "failed")
    ]


def _on_board_loads(day: Scenario, vt, facts: TripFacts, orders: list) -> tuple:
    """Capacity, demand and pickup arrays for re-sequencing what is on board: without
    pickups in the rest, no load to model (it is on board already); with them, the rest
    leaves with its deliveries and boards its pickups within the capacity the returns
    already picked up on this trip leave (grams, millilitres)."""
    n = len(orders)
    returns = day.returns_by_id
    if not any(o.order_id in returns for o in orders):
        return np.ones((1, 1), dtype=np.int64), np.zeros((n, 1), dtype=np.int64), None
    picked = [returns[f.order_id] for f in facts.stops
              if f.order_id in returns and f.outcome == "delivered"]  # fmt: skip
    kg = vt.capacity_kg - sum(day.weight_kg(r) for r in picked)
    litres = vt.capacity_l - sum(day.volume_l(r) for r in picked)
    capacity = np.array([[max(0, int(kg * 1000)), max(0, int(litres * 1000))]], dtype=np.int64)
    size = np.array(
        [[math.ceil(day.weight_kg(o) * 1000), math.ceil(day.volume_l(o) * 1000)] for o in orders],
        dtype=np.int64,
    ).reshape(n, 2)
    is_pickup = np.array([o.order_id in returns for o in orders], dtype=bool)[:, None]
    return capacity, np.where(is_pickup, 0, size), np.where(is_pickup, size, 0)


def _resequence(
    day: Scenario,
    travel: TravelProvider,
    engine,
    live: _Vehicle,
    facts: TripFacts,
    rest: list[str],
    budget_s: float,
) -> list[str]:
    """The order to deliver what is on board in: a routing problem whose one vehicle
    starts at its last locked stop when it leaves it (or at its node when it left) and
    ends at its node, with the range it has left. Stops it cannot fit keep their place
    at the end (the re-timing then decides whether they ride back)."""
    vehicle = live.vehicle
    vt = day.vehicle_types[vehicle.vehicle_type_id]
    node = day.nodes[vehicle.node_id]
    done = [day.orders_by_id[f.order_id] for f in facts.stops]
    orders = [day.orders_by_id[o] for o in rest]
    lat = np.array([node.lat] + [o.lat for o in done + orders])
    lon = np.array([node.lon] + [o.lon for o in done + orders])
    dist, dur = travel.matrices(lat, lon, Profile.of(vt))
    path = [0, *range(1, len(done) + 1)]
    driven = sum(int(dist[a, b]) for a, b in zip(path, path[1:], strict=False))
    start = len(done)  # the last locked stop, or the node
    t = facts.stops[-1].departure_s if facts.stops else facts.start_s
    locations = np.array([start, 0, *range(len(done) + 1, len(done) + 1 + len(orders))])
    grid = np.ix_(locations, locations)
    n = len(orders)
    capacity, demand, pickup = _on_board_loads(day, vt, facts, orders)
    problem = RoutingProblem(
        distance_m=[dist[grid]],
        duration_s=[dur[grid]],
        vehicle_profile=np.zeros(1, dtype=np.int64),
        vehicle_start_location=np.zeros(1, dtype=np.int64),
        vehicle_earliest_start_s=np.array([t], dtype=np.int64),
        vehicle_latest_start_s=np.array([t], dtype=np.int64),
        vehicle_latest_end_s=np.array([max(t, vehicle.shift_end_s)], dtype=np.int64),
        vehicle_capacity=capacity,  # loaded already (pickups: the load along the rest)
        vehicle_max_distance_m=np.array(
            [max(0, int(vt.range_km * 1000) - live.used_m - driven)], dtype=np.int64
        ),
        vehicle_fixed_cost_eur=np.zeros(1),
        vehicle_cost_per_m_eur=np.array([vt.cost_per_km_eur / 1000]),
        vehicle_cost_per_s_eur=np.array([vt.cost_per_hour_eur / 3600]),
        stop_location=np.arange(2, 2 + n, dtype=np.int64),
        stop_demand=demand,
        stop_pickup=pickup,
        stop_service_s=np.array([o.service_time_s for o in orders], dtype=np.int64),
        tw_start_s=np.array([o.slot_start_s for o in orders], dtype=np.int64),
        tw_end_s=np.array([o.slot_end_s for o in orders], dtype=np.int64),
        allowed=np.ones((n, 1), dtype=bool),
        penalty_eur=np.full(n, day.settings.unserved_penalty_eur),
        vehicle_end_location=np.ones(1, dtype=np.int64),
    )
    result = engine.solve(problem, max(0.02, budget_s))
    order = [rest[i] for r in result.routes for i in r.stops]
    last = facts.stops[-1].order_id if facts.stops else None
    return _exchanges_together(day, order + [o for o in rest if o not in order], last)


def _exchanges_together(day: Scenario, rest: list[str], last: str | None) -> list[str]:
    """The on-board stops with each exchange's two halves one visit again: the pickup
    right after its delivery, or first when its delivery (or pickup) is the stop just
    locked (the engine above sequenced them one by one; the re-timing keeps the slots)."""
    out = list(rest)
    for ret in day.returns:
        delivery, pickup = ret.order_id, ret.return_id
        if ret.kind is not ReturnKind.EXCHANGE or delivery is None:
            continue
        if pickup in out and delivery in out:
            out.remove(pickup)
            out.insert(out.index(delivery) + 1, pickup)
        elif last in (delivery, pickup):
            other = pickup if last == delivery else delivery
            if other in out:
                out.remove(other)
                out.insert(0, other)
    return out


def _locked_route(
    day: Scenario,
    travel: TravelProvider,
    route: Route,
    facts: TripFacts,
    rest: list[str],
    live: _Vehicle,
) -> tuple[Route, list[str]]:
    """The trip's locked stops as reported, then what is on board re-timed from the last
    one, keeping a stop only while its slot, the shift and the range still hold. Returns
    the route and the orders that ride back to the node."""
    vehicle = live.vehicle
    vt = day.vehicle_types[vehicle.vehicle_type_id]
    node = day.nodes[vehicle.node_id]
    ids = [f.order_id for f in facts.stops] + rest
    orders = [day.orders_by_id[o] for o in ids]
    lat = np.array([node.lat] + [o.lat for o in orders])
    lon = np.array([node.lon] + [o.lon for o in orders])
    dist, dur = travel.matrices(lat, lon, Profile.of(vt))
    range_m = int(vt.range_km * 1000) - live.used_m

    t, at, metres = facts.start_s, 0, 0
    plan: list[tuple[int, int, int, int, StopFact | None]] = []  # index, arrival, begin, leave
    for k, f in enumerate(facts.stops, 1):
        begin = max(f.arrival_s, min(orders[k - 1].slot_start_s, f.departure_s))
        plan.append((k, f.arrival_s, begin, f.departure_s, f))
        metres += int(dist[at, k])
        t, at = f.departure_s, k
    carried = []
    # The tour's planned breaks still ahead, by how many stops come before them.
    pauses = sorted(
        (b.after_stop - len(facts.stops), b.end_s - b.start_s)
        for b in route.breaks
        if b.after_stop >= len(facts.stops) and facts.back_s is None
    )
    breaks: list[Break] = []

    def pause(t: int, served: int) -> int:
        while pauses and pauses[0][0] <= served:
            _, length = pauses.pop(0)
            breaks.append(Break(t, t + length, len(plan)))
            t += length
        return t

    if rest:
        t = pause(t, 0)
    for k in range(len(facts.stops) + 1, len(ids) + 1):
        order = orders[k - 1]
        arrival = t + int(dur[at, k])
        begin = max(arrival, order.slot_start_s)
        leave = begin + order.service_time_s
        pending_s = sum(length for _, length in pauses)  # breaks still to take today
        if (
            begin > order.slot_end_s
            or leave + pending_s + int(dur[k, 0]) > vehicle.shift_end_s
            or metres + int(dist[at, k]) + int(dist[k, 0]) > range_m
        ):
            carried.append(order.order_id)
            continue
        plan.append((k, arrival, begin, leave, None))
        metres += int(dist[at, k])
        t, at = leave, k
        t = pause(t, len(plan) - len(facts.stops))
    while pauses:  # the tour ended sooner than planned: the break before going back
        t = pause(t, pauses[0][0])
    metres += int(dist[at, 0])
    end = t + int(dur[at, 0])
    if facts.back_s is not None and not plan[len(facts.stops) :] and not live.broken:
        end = facts.back_s  # the trip is over: when it was back is a fact too

    # The load of the stops the trip serves (the checker's reading: a parcel riding back
    # unserved is no stop of the trip; it fitted when the trip left, with the others).
    on_board = [orders[k - 1] for k, *_ in plan]
    kg = sum(day.weight_kg(o) for o in on_board)
    litres = sum(day.volume_l(o) for o in on_board)
    load_kg, load_l = kg, litres
    stops, prev = [], 0
    for k, arrival, begin, leave, f in plan:
        order = orders[k - 1]
        stops.append(
            Stop(
                order_id=order.order_id,
                lat=order.lat,
                lon=order.lon,
                arrival_s=arrival,
                service_start_s=begin,
                departure_s=leave,
                distance_from_prev_m=int(dist[prev, k]),
                load_kg=round(kg, 3),
                load_l=round(litres, 3),
                locked=f is not None,
                outcome=f.outcome if f is not None else None,
            )
        )
        if f is None or f.outcome != "failed":
            kg -= day.weight_kg(order)
            litres -= day.volume_l(order)
        prev = k
    return (
        Route(
            vehicle_id=vehicle.vehicle_id,
            vehicle_type_id=vt.vehicle_type_id,
            node_id=vehicle.node_id,
            mode=str(vt.mode),
            start_s=facts.start_s,
            end_s=end,
            stops=stops,
            distance_m=metres,
            load_kg=round(load_kg, 3),
            load_l=round(load_l, 3),
            cost_eur=0.0,  # set by _costed, once the vehicle's first route is known
            co2_g=0.0,
            trip=live.trips + 1,
            reload_s=route.reload_s,
            breaks=breaks,
        ),
        carried,
    )


# -- new orders, failed deliveries ---------------------------------------------------------


def _source_new(
    day: Scenario, travel: TravelProvider, sources: dict[str, str], new_orders: list[str]
) -> tuple[dict[str, str], list[Unassigned], list[Collection]]:
    """Nodes for the orders confirmed since the plan: the node they were promised from,
    else the sourcing's choice with the stock the plan already ships held."""
    out: dict[str, str] = {}
    collections: list[Collection] = []
    todo = []
    for order_id in new_orders:
        order = day.orders_by_id[order_id]
        if order.service is Service.CLICK_COLLECT and order.collect_node_id:
            out[order_id] = order.collect_node_id
            collections.append(Collection(order_id, order.collect_node_id, order.slot_start_s))
        elif order.ship_from_node_id:
            out[order_id] = order.ship_from_node_id
        else:
            todo.append(order_id)
    unassigned: list[Unassigned] = []
    if todo:
        sourcing = GreedySourcing(day, travel)
        for order_id, node_id in {**sources, **out}.items():
            sourcing.hold(order_id, node_id)
        chosen = sourcing.assign(todo)
        unassigned += chosen.unassigned
        out.update({o: d.node_id for o, d in chosen.decisions.items()})
        for o, n in chosen.collections.items():
            out[o] = n
            collections.append(Collection(o, n, day.orders_by_id[o].slot_start_s))
    return out, unassigned, collections


def _later_window(order, ready_s: int, params: ReplanParams) -> tuple[int, int] | None:
    """The span of the order's later slots (its own slot length, on its own grid, ending
    by ``delivery_end_s``) that start once the parcel is back at its node; None if no
    such slot is left today."""
    length = order.slot_end_s - order.slot_start_s
    if length <= 0:
        return None
    k = max(1, math.ceil((ready_s - order.slot_start_s) / length))
    n = (params.delivery_end_s - order.slot_start_s) // length  # slots that fit the day
    if k >= n:
        return None
    return order.slot_start_s + k * length, order.slot_start_s + n * length


def _snap_retry_slots(
    scenario: Scenario, routes: list[Route], changes: list[OrderChange]
) -> list[OrderChange]:
    """A retried order's new slot: the one of its original length in which its new
    service starts (the routing window spanned every later slot)."""
    served = {s.order_id: s.service_start_s for r in routes for s in r.stops if not s.locked}
    out = []
    for c in changes:
        if c.kind != FailedPolicy.RETRY_LATER_SLOT.value or c.order_id not in served:
            out.append(c)
            continue
        base = scenario.orders_by_id[c.order_id]
        length = base.slot_end_s - base.slot_start_s
        k = max(0, (served[c.order_id] - c.slot_start_s) // length)
        start = min(c.slot_start_s + k * length, c.slot_end_s - length)
        out.append(replace(c, slot_start_s=start, slot_end_s=start + length))
    return out


def _nearest_store(
    day: Scenario, sources: dict[str, str], order_id: str, ready_s: int, any_stock: bool = False
):
    """The store nearest the order's address, open after ``ready_s``, that holds its
    basket after what ``sources`` ship from it (with ``any_stock``: any open store)."""
    order = day.orders_by_id[order_id]
    shipped: dict[tuple[str, str], int] = {}
    for other, node_id in sources.items():
        if other == order_id or other not in day.orders_by_id:
            continue
        for line in day.orders_by_id[other].lines:
            shipped[node_id, line.sku] = shipped.get((node_id, line.sku), 0) + line.qty
    best, best_km = None, math.inf
    for node in day.nodes.values():
        if node.kind is not NodeKind.STORE or node.closes_s <= ready_s:
            continue
        if any_stock or all(
            day.stock.get((node.node_id, line.sku), 0) - shipped.get((node.node_id, line.sku), 0)
            >= line.qty
            for line in order.lines
        ):
            km = great_circle_km(order.lat, order.lon, node.lat, node.lon)
            if km < best_km:
                best, best_km = node.node_id, km
    return best


# -- routing the pool ----------------------------------------------------------------------


def _node_batch(
    day: Scenario,
    travel: TravelProvider,
    node_id: str,
    order_ids: list[str],
    fleet: dict[str, _Vehicle],
    retry: dict[str, _Failed],
    now: int,
) -> NodeProblem:
    """The node's routing problem for the rest of the day: its vehicles that still work,
    each leaving no earlier than it is free, with the range it has left and no fixed
    cost if it already drove today; a retried parcel goes on a trip leaving after it is
    back at the node."""
    batch = build_node_problem(day, travel, node_id, order_ids)
    p = batch.problem
    live = [fleet[v.vehicle_id] for v in batch.vehicles]
    types = [day.vehicle_types[v.vehicle.vehicle_type_id] for v in live]
    # A vehicle back from a tour reloads before the next (the checker's rule too).
    available = [
        v.available_s + (vt.reload_s if v.trips else 0) for v, vt in zip(live, types, strict=True)
    ]
    earliest = np.maximum(p.vehicle_earliest_start_s, available)
    trips_left = np.array([vt.max_trips - v.trips for v, vt in zip(live, types, strict=True)])
    node = day.nodes[node_id]
    usable = np.array(
        [
            not v.broken
            and trips_left[k] > 0
            and e < v.vehicle.shift_end_s
            and e <= node.closes_s
            and v.used_m < p.vehicle_max_distance_m[k]
            for k, (v, e) in enumerate(zip(live, earliest, strict=True))
        ],
        dtype=bool,
    )
    allowed = p.allowed & usable[None, :]
    # A retried parcel is back at the node at ready_s: a vehicle that may still leave
    # then may take it (a tour leaving earlier is delayed or loses it, _wait_for_parcels).
    leave_by = np.minimum(p.vehicle_latest_start_s, p.vehicle_latest_end_s)
    for i, order_id in enumerate(batch.order_ids):  # (an exchange's two halves: one stop)
        if order_id in retry:
            allowed[i] &= leave_by >= retry[order_id].ready_s
    problem = replace(
        p,
        vehicle_earliest_start_s=np.minimum(earliest, p.vehicle_latest_end_s).astype(np.int64),
        vehicle_max_distance_m=np.maximum(
            0, p.vehicle_max_distance_m - np.array([v.used_m for v in live], dtype=np.int64)
        ),
        vehicle_fixed_cost_eur=np.where(
            [v.used_today for v in live], 0.0, p.vehicle_fixed_cost_eur
        ),
        allowed=allowed,
        vehicle_max_trips=np.maximum(1, trips_left).astype(np.int64),
    )
    return replace(batch, problem=problem)


def _after_earlier_tours(day: Scenario, live: _Vehicle, route: Route) -> Route:
    """A new tour of a vehicle that already drove today: numbered after its tours, and
    its first new one starts when the vehicle is back, reloading before it leaves."""
    if not live.trips:
        return route
    if route.trip > 1:
        return replace(route, trip=route.trip + live.trips)
    reload_s = day.vehicle_types[route.vehicle_type_id].reload_s
    return replace(route, trip=live.trips + 1, start_s=route.start_s - reload_s, reload_s=reload_s)


def _wait_for_parcels(
    travel: TravelProvider, routes: list[Route], retry: dict[str, _Failed], book: _Ledger
) -> list[Route]:
    """A tour carrying a retried parcel leaves once the parcel is back at the node: the
    tour starts later if all its stops still keep their slots and the shift, else the
    parcel goes to click & collect (or is unassigned)."""
    out = []
    for route in routes:
        ready = max((retry[s.order_id].ready_s for s in route.stops if s.order_id in retry),
                    default=None)  # fmt: skip
        if ready is None or route.start_s + route.reload_s >= ready:
            out.append(route)
            continue
        day = book.day
        later = _retimed(day, travel, replace(route, start_s=ready - route.reload_s), route.stops)
        vehicle = day.vehicles_by_id[route.vehicle_id]
        node = day.nodes[route.node_id]
        if (
            not route.breaks
            and later.end_s <= vehicle.shift_end_s
            and ready <= node.closes_s
            and all(
                s.service_start_s <= day.orders_by_id[s.order_id].slot_end_s for s in later.stops
            )
        ):
            out.append(later)
            continue
        removed = set()
        for stop in route.stops:
            if stop.order_id in retry and retry[stop.order_id].ready_s > route.start_s:
                removed.add(stop.order_id)
                book.fall_back(
                    retry,
                    stop.order_id,
                    "no tour leaves after the parcel is back in time for a later slot",
                )
        kept = [s for s in route.stops if s.order_id not in removed]
        if kept:
            out.append(_retimed(book.day, travel, route, kept))
    return out


def _cheaper_collect(
    travel: TravelProvider, routes: list[Route], retry: dict[str, _Failed], book: _Ledger
) -> list[Route]:
    """``auto``: a retried order whose detour costs more than click & collect (the
    compensation and the store's handling) is offered click & collect instead, when a
    store has the stock. (A failed pickup keeps its later slot.)"""
    params = book.params
    out = []
    for route in routes:
        vt = book.scenario.vehicle_types[route.vehicle_type_id]
        for stop in list(route.stops):
            if stop.order_id not in retry or retry[stop.order_id].pickup:
                continue
            day = book.day
            without = _retimed(day, travel, route, [s for s in route.stops if s is not stop])
            saved = _variable_cost(vt, route) - _variable_cost(vt, without)
            ready = book.now + params.collect_ready_after_s
            store = _nearest_store(day, book.sources, stop.order_id, ready)
            if store is None:
                continue
            collect_eur = params.collect_compensation_eur + day.nodes[store].handling_cost_eur
            if saved > collect_eur:
                book.fall_back(
                    retry, stop.order_id, f"a later slot would cost {saved:.2f} EUR of detour"
                )
                route = without
        if route.stops:
            out.append(route)
    return out


def _variable_cost(vt, route: Route) -> float:
    return (
        vt.cost_per_km_eur * route.distance_m / 1000
        + vt.cost_per_hour_eur * (route.end_s - route.start_s) / 3600
    )


def _retimed(scenario: Scenario, travel: TravelProvider, route: Route, stops: list[Stop]) -> Route:
    """The route with only ``stops`` (a subset, in order), leaving at its start (after
    its reload), its breaks after the same stops: with stops removed, every other is
    served no later than before, still in its slot."""
    vt = scenario.vehicle_types[route.vehicle_type_id]
    node = scenario.nodes[route.node_id]
    orders = [scenario.orders_by_id[s.order_id] for s in stops]
    lat = np.array([node.lat] + [o.lat for o in orders])
    lon = np.array([node.lon] + [o.lon for o in orders])
    dist, dur = travel.matrices(lat, lon, Profile.of(vt))
    kg = sum(scenario.weight_kg(o) for o in orders)
    litres = sum(scenario.volume_l(o) for o in orders)
    keep = {s.order_id for s in stops}
    pauses = sorted(
        (sum(1 for s in route.stops[: b.after_stop] if s.order_id in keep), b.end_s - b.start_s)
        for b in route.breaks
    )
    breaks: list[Break] = []

    def pause(t: int, served: int) -> int:
        while pauses and pauses[0][0] <= served:
            breaks.append(Break(t, t + pauses.pop(0)[1], served))
            t = breaks[-1].end_s
        return t

    t, at, metres, new = pause(route.start_s + route.reload_s, 0), 0, 0, []
    for k, order in enumerate(orders, 1):
        arrival = t + int(dur[at, k])
        begin = max(arrival, order.slot_start_s)
        new.append(
            Stop(
                order.order_id,
                order.lat,
                order.lon,
                arrival,
                begin,
                begin + order.service_time_s,
                int(dist[at, k]),
                round(kg, 3),
                round(litres, 3),
            )
        )
        kg -= scenario.weight_kg(order)
        litres -= scenario.volume_l(order)
        metres += int(dist[at, k])
        t, at = pause(begin + order.service_time_s, k), k
    return replace(
        route,
        stops=new,
        breaks=breaks,
        end_s=t + int(dur[at, 0]),
        distance_m=metres + int(dist[at, 0]),
        load_kg=round(sum(scenario.weight_kg(o) for o in orders), 3),
        load_l=round(sum(scenario.volume_l(o) for o in orders), 3),
    )


def _costed(scenario: Scenario, routes: list[Route]) -> list[Route]:
    """Cost and CO2 of every route; a vehicle's fixed cost on its first route only."""
    out, seen = [], set()
    for r in sorted(routes, key=lambda r: (r.vehicle_id, r.start_s)):
        vt = scenario.vehicle_types[r.vehicle_type_id]
        fixed = 0.0 if r.vehicle_id in seen else vt.fixed_cost_eur
        seen.add(r.vehicle_id)
        cost = (
            fixed
            + vt.cost_per_km_eur * r.distance_m / 1000
            + vt.cost_per_hour_eur * (r.end_s - r.start_s) / 3600
        )
        out.append(
            replace(
                r,
                cost_eur=round(cost, 6),
                co2_g=round(vt.co2_g_per_km * r.distance_m / 1000, 6),
            )
        )
    return out


# -- what changed ----------------------------------------------------------------------------


def _report(
    scenario: Scenario, before: Plan, after: Plan, new_orders: list[str], locked: int
) -> ReplanReport:
    iso = scenario.settings.to_iso

    def where(plan: Plan) -> dict[str, tuple[str, int]]:
        return {
            s.order_id: (r.vehicle_id, s.arrival_s)
            for r in plan.routes
            for s in r.stops
            if not s.failed_attempt
        }

    was, now = where(before), where(after)
    report = ReplanReport(locked_stops=locked)
    changed: set[str] = set()
    for order_id, (vid, arrival) in sorted(now.items()):
        old = was.get(order_id)
        if old is None or order_id in new_orders:
            continue
        # Moved: another vehicle, or an arrival more than 5 minutes off (the ETA
        # window's own scale, docs/tracking.md).
        if old[0] != vid or abs(old[1] - arrival) > 300:
            report.moved.append(
                {
                    "order_id": order_id,
                    "from_vehicle_id": old[0],
                    "to_vehicle_id": vid,
                    "from_arrival": iso(old[1]),
                    "to_arrival": iso(arrival),
                }
            )
            changed.update({old[0], vid})
    for order_id, (vid, _) in was.items():
        if order_id not in now:
            changed.add(vid)
    report.vehicles_changed = sorted(changed)
    before_unassigned = {u.order_id for u in before.unassigned}
    report.newly_unassigned = [
        {"order_id": u.order_id, "code": str(u.code), "reason": u.reason}
        for u in after.unassigned
        if u.order_id not in before_unassigned
    ]
    collected = {c.order_id: c.node_id for c in after.collections}
    for order_id in new_orders:
        if order_id in now:
            report.inserted.append({"order_id": order_id, "vehicle_id": now[order_id][0]})
        elif order_id in collected:
            report.inserted.append({"order_id": order_id, "collect_node_id": collected[order_id]})
    report.order_changes = [c.as_dict(iso) for c in after.order_changes]
    return report


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
