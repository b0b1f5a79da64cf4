"""Planning days ahead (``lastmile plan --days N``): the next N days of a scenario folder
whose orders are dated on several days, each day planned and checked.

A scenario's ``orders.csv`` (and ``returns.csv``) may hold slots on any date from the
scenario's day on (``docs/scenario-format.md``, "Several days"). :func:`plan_days` cuts
them by the local date of their slot: day 1 is the scenario's ``date``, day k the
(k-1)-th after it. Each day is planned with the fleet of ``fleet.csv`` (every day's)
and the stock left by the days before it: what earlier days' plans shipped from stock
is taken off, what their tours brought back (returns' ``restock``) is added, and
``inbound.csv`` arrivals join the stock of the day after they arrive (on their own day
they are inbound, as in a single day). Made-to-order goods (``lead_time_days``) never
come from stock; an order carries when they are ready (``ready_at``; without it, the
scenario's day plus the SKU's longest lead time over the nodes), which the checker
verifies on each day's plan.

Each day goes through the one pipeline every edge uses
(:func:`optimizer.workflows.plan.checked`): planned, its ``plan.json`` checked by the
independent checker. Orders dated after the N days are counted as not planned.
Pure: no files, no clock (the edge writes ``plan/<date>/`` and the summary).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from optimizer.model import Order, Plan, Return, Scenario
from optimizer.planning import PlanParams, plan_day
from optimizer.promise import PromiseParams
from optimizer.promise.capacity import slot_rooms
from optimizer.promise.engine import later_slots
from optimizer.travel import TravelProvider
from optimizer.workflows.plan import PlanRun, checked

Progress = Callable[[float, str], None]

DAY_S = 86_400  # seconds from one local midnight to the next, on the wall clock
MAX_DAYS = 366  # a year ahead is the most one run plans


class DaysError(ValueError):
    """Inputs ``plan_days`` cannot plan: every problem, one sentence each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class DayPlan:
    """One day planned: the day's scenario (its slots in seconds since its own midnight,
    its stock left by the days before), the checked run and its summary."""

    day: date
    scenario: Scenario
    run: PlanRun
    summary: dict


@dataclass(frozen=True)
class DaysPlan:
    """The N days planned, and what was dated after them (not planned)."""

    days: list[DayPlan]
    not_planned: dict

    @property
    def ok(self) -> bool:
        """Whether the checker found every day's plan clean."""
        return all(d.run.report.ok for d in self.days)

    def summary(self) -> dict:
        """The days' figures and their totals (``summary.json``)."""
        keys = ("orders", "routed", "collected", "unassigned", "returns", "returns_routed",
                "vehicles_used", "crew_used", "cost_eur", "violations")  # fmt: skip
        totals = {k: sum(d.summary[k] for d in self.days) for k in keys}
        totals["cost_eur"] = round(totals["cost_eur"], 2)
        first = self.days[0].day.isoformat() if self.days else None
        return {
            "first_day": first,
            "days_planned": len(self.days),
            "totals": totals,
            "not_planned": self.not_planned,
            "days": [d.summary for d in self.days],
        }


def plan_days(
    scenario: Scenario,
    days: int,
    params: PlanParams | None = None,
    travel: TravelProvider | None = None,
    progress: Progress | None = None,
) -> DaysPlan:
    """Plan the ``days`` days from the scenario's day, one after the other (see the
    module). :class:`DaysError` lists every problem before any day is planned: ``days``
    out of 1..366, an order or a return dated before the scenario's day, a slot running
    past midnight, goods ready only after the slot they are due in."""
    orders = _with_ready(scenario)
    by_day, problems = _by_day(scenario, orders, days)
    if problems:
        raise DaysError(problems)
    stock = dict(scenario.stock)
    out = []
    for k in range(days):
        if progress is not None:
            progress(k / days, f"day {k + 1} of {days}")
        day = _day_scenario(scenario, k, by_day.get(k, ([], [])), stock)
        plan = plan_day(day, params, travel)
        run = checked(day, plan, travel)
        out.append(DayPlan(day.settings.date, day, run, _summary(day, run)))
        stock = _stock_after(day, run, stock, scenario, k)
    if progress is not None:
        progress(1.0, "days planned")
    later_orders = [o for d, (os_, _) in by_day.items() if d >= days for o in os_]
    later_returns = [r for d, (_, rs) in by_day.items() if d >= days for r in rs]
    later_days = sorted(d for d, (os_, rs) in by_day.items() if d >= days and (os_ or rs))
    first = scenario.settings.date
    not_planned = {
        "orders": len(later_orders),
        "returns": len(later_returns),
        "from": (first + timedelta(days=later_days[0])).isoformat() if later_days else None,
        "to": (first + timedelta(days=later_days[-1])).isoformat() if later_days else None,
    }
    return DaysPlan(days=out, not_planned=not_planned)


def later_days(scenario: Scenario) -> tuple[int, int]:
    """How many orders and returns are dated after the scenario's day (which a plan of
    that day alone leaves unassigned: ``plan --days`` plans them on their days)."""
    orders = sum(1 for o in scenario.orders if o.slot_start_s >= DAY_S)
    return orders, sum(1 for r in scenario.returns if r.slot_start_s >= DAY_S)


def _with_ready(scenario: Scenario) -> list[Order]:
    """The orders, each holding made-to-order goods with a ready time: its ``ready_at``,
    else the scenario's midnight plus the longest lead time of its SKUs over the nodes
    (ordered on the scenario's day, wherever it ships from)."""
    out = []
    for o in scenario.orders:
        if o.ready_s is None:
            leads = [
                lead
                for line in o.lines
                for n in scenario.nodes
                if (lead := scenario.line_lead_time_days(n, line)) is not None
            ]
            if leads:
                o = dataclasses.replace(o, ready_s=max(leads) * DAY_S)
        out.append(o)
    return out


def _by_day(
    scenario: Scenario, orders: list[Order], days: int
) -> tuple[dict[int, tuple[list[Order], list[Return]]], list[str]]:
    """Orders and returns by day index (0: the scenario's day), and every problem."""
    problems = []
    if not 1 <= days <= MAX_DAYS:
        problems.append(f"--days {days}: plan from 1 to {MAX_DAYS} days")
    first = scenario.settings.date
    by_day: dict[int, tuple[list[Order], list[Return]]] = {}
    for item in [*orders, *scenario.returns]:
        is_order = isinstance(item, Order)
        what = f"order {item.order_id!r}" if is_order else f"return {item.return_id!r}"
        k = item.slot_start_s // DAY_S
        due = first + timedelta(days=k)
        if k < 0:
            problems.append(f"{what} is due on {due}, before the scenario's day {first} "
                            "(scenario.yaml's date): plan from its day, or drop it")  # fmt: skip
            continue
        iso = scenario.settings.to_iso
        if item.slot_end_s > (k + 1) * DAY_S:
            problems.append(f"{what}'s slot runs past midnight ({iso(item.slot_start_s)} to "
                            f"{iso(item.slot_end_s)}): a slot lies within one day")  # fmt: skip
            continue
        ready_s = getattr(item, "ready_s", None)
        if ready_s is not None and ready_s > item.slot_end_s:
            problems.append(
                f"{what} is due on {due} (slot ending {iso(item.slot_end_s)}) but its "
                f"made-to-order goods are ready only at {iso(ready_s)}"
            )
        by_day.setdefault(k, ([], []))[0 if is_order else 1].append(item)
    return by_day, problems


def _day_scenario(
    scenario: Scenario,
    k: int,
    items: tuple[list[Order], list[Return]],
    stock: dict[tuple[str, str], int],
) -> Scenario:
    """Day ``k``: its orders and returns, times counted from its own midnight, the stock
    left, and the inbound arriving from its midnight on."""
    shift = k * DAY_S
    orders = [
        dataclasses.replace(
            o,
            slot_start_s=o.slot_start_s - shift,
            slot_end_s=o.slot_end_s - shift,
            ready_s=None if o.ready_s is None else o.ready_s - shift,
            transfer_departs_s=(
                None if o.transfer_departs_s is None else o.transfer_departs_s - shift
            ),
        )
        for o in items[0]
    ]
    returns = [
        dataclasses.replace(r, slot_start_s=r.slot_start_s - shift, slot_end_s=r.slot_end_s - shift)
        for r in items[1]
    ]
    inbound = [
        dataclasses.replace(i, arrives_at_s=i.arrives_at_s - shift)
        for i in scenario.inbound
        if i.arrives_at_s >= shift
    ]
    settings = dataclasses.replace(
        scenario.settings, date=scenario.settings.date + timedelta(days=k)
    )
    return dataclasses.replace(
        scenario,
        settings=settings,
        orders=orders,
        returns=returns,
        inbound=inbound,
        stock={key: max(0, qty) for key, qty in stock.items()},
    )


def _stock_after(
    day: Scenario,
    run: PlanRun,
    stock: dict[tuple[str, str], int],
    scenario: Scenario,
    k: int,
) -> dict[tuple[str, str], int]:
    """The stock the next day starts with: ``stock`` less what day ``k`` shipped from
    stock, plus what its tours brought back and the inbound that arrived during it."""
    out = dict(stock)
    for node_id, lines in run.plan.shipments(day):
        for line in lines:
            if day.lead_time_days(node_id, line.sku) is None:  # else made to order
                key = (node_id, line.sku)
                out[key] = out.get(key, 0) - line.qty
    for back in run.plan.restock(day):
        for line in back["lines"]:
            key = (back["node_id"], line.sku)
            out[key] = out.get(key, 0) + line.qty
    for i in scenario.inbound:
        # Day 0 had every earlier arrival as inbound too: they join its stock after it.
        if (k == 0 or k * DAY_S <= i.arrives_at_s) and i.arrives_at_s < (k + 1) * DAY_S:
            out[(i.node_id, i.sku)] = out.get((i.node_id, i.sku), 0) + i.qty
    return out


def _summary(day: Scenario, run: PlanRun) -> dict:
    """A day's figures: orders and what became of them, the vehicles and people it
    needs, its cost and the checker's verdict."""
    kpis = run.kpis
    used = {r.vehicle_id: r.vehicle_type_id for r in run.plan.routes}
    by_type = Counter(used.values())
    return {
        "date": day.settings.date.isoformat(),
        "orders": kpis["orders_total"],
        "routed": kpis["orders_routed"],
        "collected": kpis["orders_collected"],
        "unassigned": kpis["orders_unassigned"],
        "unassigned_by_reason": kpis["unassigned_by_reason"],
        "returns": len(day.returns),
        "returns_routed": sum(1 for r in run.plan.returns if r.status == "routed"),
        "vehicles_used": len(used),
        "vehicles_by_type": dict(sorted(by_type.items())),
        "crew_used": sum(day.vehicle_types[t].crew * n for t, n in by_type.items()),
        "cost_eur": kpis["cost_eur"],
        "violations": len(run.report.violations),
        "room_left": room_left(day, run.plan),
    }


def room_left(day: Scenario, plan: Plan) -> dict:
    """What the checkout could still sell on ``day`` once ``plan`` is made: per node and
    slot, places for any order and hours per crew pool (a crew of 2, a tail lift), as
    the service sets them from a later day's plan
    (:func:`optimizer.promise.capacity.slot_rooms`), and their totals."""
    p = PromiseParams.for_scenario(day)
    slots = later_slots(day, p)
    rooms = slot_rooms(day, slots, p.future_capacity_share, p.future_drops_per_vehicle_hour, plan)
    crew: Counter = Counter()
    for room in rooms:
        crew.update(room.crew_s)
    return {
        "places": sum(r.places for r in rooms),
        "crew_hours": {k: round(v / 3600, 1) for k, v in sorted(crew.items())},
        "slots": [
            {"node_id": r.node_id, "slot_start": _hhmm(r.slot_start_s),
             "slot_end": _hhmm(r.slot_end_s), "places": r.places,
             "crew_hours": {k: round(v / 3600, 1) for k, v in r.crew_s.items()}}
            for r in rooms
        ],
    }  # fmt: skip


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
