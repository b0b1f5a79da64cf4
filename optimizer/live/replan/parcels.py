"""Re-planning a plan whose split orders' parcels are stops of their own: each parcel
is re-planned as an order of its own (``ORDER/k``), then named after its order again."""

from __future__ import annotations

from dataclasses import replace

from optimizer.live.replan.core import _replan
from optimizer.live.replan.report import ReplanReport, _report_parcels
from optimizer.live.replan.state import LiveState, ReplanParams
from optimizer.model import Parcel, Plan, Scenario, Unassigned
from optimizer.travel import TravelProvider


def _replan_parcels(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None = None,
    travel: TravelProvider | None = None,
    ends: dict[str, list[str]] | None = None,
    booked: list[str] = (),
) -> tuple[Plan, ReplanReport]:
    """:func:`replan` for a plan whose split orders' parcels are stops of their own: each
    parcel is re-planned as an order of its own (``ORDER/k``, its lines, its node), so a
    failed parcel is retried in a later slot, collected at a store, or left unassigned,
    on its own; its siblings keep what happened to them."""
    if not plan.parcels and not any(u.parcel_id for u in plan.unassigned):
        return _replan(scenario, plan, state, params, travel, ends=ends, booked=booked)
    parcels = dict(plan.parcels)
    # Parcels an earlier re-plan left unassigned are orders of their own too.
    lost = {u.parcel_id: u for u in plan.unassigned if u.parcel_id}
    units = _parcels_as_orders(scenario, parcels, lost)
    as_units = _plan_of_units(plan, parcels)
    split = {p.order_id for p in parcels.values()} | {u.order_id for u in lost.values()}
    new, report = _replan(units, as_units, state, params, travel, split, ends, booked)
    parent = {pid: p.order_id for pid, p in parcels.items()}
    parent |= {pid: u.order_id for pid, u in lost.items()}
    lines = {pid: p.lines for pid, p in parcels.items()}
    lines |= {pid: u.lines or () for pid, u in lost.items()}
    _parcels_back(new, parcels, parent, lines)
    new.max_split = plan.max_split
    _report_parcels(report, parent)
    return new, report


def _parcels_as_orders(
    scenario: Scenario, parcels: dict[str, Parcel], lost: dict[str, Unassigned]
) -> Scenario:
    """The day with each parcel (and each parcel left unassigned) an order of its own:
    its order's customer and slot, its own lines and node."""
    by_id = scenario.orders_by_id
    return replace(
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


def _plan_of_units(plan: Plan, parcels: dict[str, Parcel]) -> Plan:
    """The plan with every parcel named as the order it is re-planned as."""
    return replace(
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


def _parcels_back(
    new: Plan,
    parcels: dict[str, Parcel],
    parent: dict[str, str],
    lines: dict[str, tuple],
) -> None:
    """The re-planned units named as parcels of their orders again, in ``new``: stops,
    collections, unassigned and changes; the parcels still routed or collected (a parcel
    offered click & collect takes the store's stock); no source or decision of a parcel."""
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
