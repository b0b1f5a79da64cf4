"""Replay: judge a network by the operation it produces on real days.

For each network and each day the production pipeline runs unchanged: the network is
applied to the day (:func:`~optimizer.network.apply.apply_network`), the day is planned
(sourcing, routing: :func:`optimizer.planning.plan_day`), the plan is written as
``plan.json`` and verified by the independent checker, and the checkout promise is
asked, on the planned routes, whether a sample of the day's customers could still get
an express slot. The figures are summed over the days into one :class:`NetworkReport`.

Definitions (per network, over all replayed days):

- ``cost_per_drop_eur``: (routes + handling + sites' cost per day) / orders served
  (routed or collected);
- ``km_per_order``, ``co2_g_per_order``: vehicle km and CO2 / orders served;
- ``bike_share_pct``: orders delivered by cargo bike or trike / orders delivered;
- ``otif_pct``: on time in full, (orders delivered within their slot + orders ready for
  collection) / all the day's orders: the same denominator for every network, so stock
  a closed site took away counts against it (a sold-out SKU counts against all alike);
  a lastmile delivery always carries the whole basket, so "in full" is "served";
- ``express_slot_pct``: of the sampled addresses (the day's delivery orders, asked with
  their own basket at ``promise_now_s``), the share offered at least one express slot;
- ``vans_needed``, ``bikes_needed``: most vans and most bikes (and trikes) used on one day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from optimizer.model import Mode, Plan, Scenario, Service
from optimizer.network.apply import Network, apply_network
from optimizer.network.sites import Site
from optimizer.planning import PlanParams
from optimizer.promise import PromiseEngine
from optimizer.travel import TravelProvider, travel_of
from optimizer.workflows.plan import plan_and_check

Progress = Callable[[float, str], None]

# The comparison table's columns, in order.
COMPARISON_COLUMNS = (
    "network",
    "sites",
    "opened",
    "closed",
    "site_cost_eur_per_day",
    "cost_per_drop_eur",
    "operating_cost_per_drop_eur",
    "km_per_order",
    "co2_g_per_order",
    "bike_share_pct",
    "otif_pct",
    "express_slot_pct",
    "vans_needed",
    "bikes_needed",
    "served_pct",
    "checker_violations",
    "replay_s",
)


@dataclass(frozen=True)
class ReplayParams:
    """How each day is replayed.

    Parameters
    ----------
    plan
        Planning parameters per day (the routing time limit sets the replay's cost).
    promise_samples
        Addresses per day asked for an express slot on the planned routes.
    promise_now_s
        When they ask (08:00: the morning's checkouts see the day's routes).
    seed
        Seed of the address sample.
    """

    plan: PlanParams = field(default_factory=PlanParams)
    promise_samples: int = 40
    promise_now_s: int = 8 * 3600
    seed: int = 0

    def __post_init__(self):
        if self.promise_samples < 0:
            raise ValueError("promise_samples < 0 not understood.")


@dataclass(frozen=True)
class DayResult:
    """One network on one day: counts and sums, straight from the plan."""

    network: str
    day: str
    orders: int
    deliverable: int
    routed: int
    collected: int
    unassigned: int
    on_time: int
    bike_orders: int
    route_cost_eur: float
    handling_cost_eur: float
    site_cost_eur: float
    km: float
    co2_g: float
    vans_used: int
    bikes_used: int
    express_asked: int
    express_offered: int
    violations: int
    solve_s: float
    kpis: dict = field(default_factory=dict, repr=False)
    checker_kpis: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class NetworkReport:
    """A network's figures over the replayed days (see the module's definitions)."""

    network: str
    model: str
    sites: int
    opened: tuple[str, ...]
    closed: tuple[str, ...]
    site_cost_eur_per_day: float
    days: int
    orders_per_day: float
    served_pct: float
    cost_per_drop_eur: float
    operating_cost_per_drop_eur: float
    km_per_order: float
    co2_g_per_order: float
    bike_share_pct: float
    otif_pct: float
    express_slot_pct: float
    vans_needed: int
    bikes_needed: int
    checker_violations: int
    replay_s: float
    per_day: tuple[DayResult, ...] = field(default=(), repr=False)

    def row(self) -> dict:
        """The comparison table's row."""
        out = asdict(self)
        del out["per_day"]
        out["opened"] = " ".join(self.opened)
        out["closed"] = " ".join(self.closed)
        return out


def replay_day(
    day: Scenario,
    network: Network,
    existing: list[Site],
    params: ReplayParams | None = None,
    travel: TravelProvider | None = None,
) -> tuple[DayResult, Scenario, Plan]:
    """Plan ``day`` on ``network``, check the plan, ask the promise; returns the figures,
    the day as the network runs it and its plan."""
    params = params or ReplayParams()
    travel = travel or travel_of(day)
    scenario = apply_network(day, network)
    run = plan_and_check(scenario, params.plan, travel=travel)
    plan, kpis, report = run.plan, run.kpis, run.report
    orders = scenario.orders_by_id
    routed = [(r, s) for r in plan.routes for s in r.stops if not s.is_pickup]  # orders
    asked, offered = _express(scenario, plan, travel, params)
    used = kpis["vehicles_used_by_mode"]
    return (
        DayResult(
            network=network.name,
            day=scenario.settings.date.isoformat(),
            orders=kpis["orders_total"],
            deliverable=kpis["orders_deliverable"],
            routed=kpis["orders_routed"],
            collected=kpis["orders_collected"],
            unassigned=kpis["orders_unassigned"],
            # per order: a split order's parcels are several stops
            on_time=kpis["orders_routed"]
            - len(
                {s.order_id for _, s in routed if s.service_start_s > orders[s.order_id].slot_end_s}
            ),
            bike_orders=len({s.order_id for r, s in routed if Mode(r.mode).is_bike}),
            route_cost_eur=sum(kpis["route_cost_eur_by_mode"].values()),
            handling_cost_eur=kpis["handling_cost_eur"],
            site_cost_eur=network.cost_per_day_eur(existing),
            km=sum(kpis["distance_km_by_mode"].values()),
            co2_g=kpis["co2_g"],
            vans_used=used.get(Mode.VAN.value, 0),
            bikes_used=used.get(Mode.CARGO_BIKE.value, 0) + used.get(Mode.CARGO_TRIKE.value, 0),
            express_asked=asked,
            express_offered=offered,
            violations=len(report.violations),
            solve_s=plan.solve_s,
            kpis=kpis,
            checker_kpis=report.kpis,
        ),
        scenario,
        plan,
    )


def replay(
    days: list[Scenario],
    networks: list[Network],
    existing: list[Site],
    params: ReplayParams | None = None,
    travel: TravelProvider | None = None,
    progress: Progress | None = None,
) -> list[NetworkReport]:
    """Replay every day on every network; one report per network, in the given order."""
    if not days:
        raise ValueError("no day to replay.")
    names = [n.name for n in networks]
    if len(set(names)) != len(names):
        raise ValueError(f"network names must be unique, got {names}.")
    report = progress or (lambda fraction, message: None)
    total = len(days) * len(networks)
    out = []
    for a, network in enumerate(networks):
        started = time.perf_counter()
        results = []
        for b, day in enumerate(days):
            report((a * len(days) + b) / total, f"{network.name}, {day.settings.date}")
            results.append(replay_day(day, network, existing, params, travel)[0])
        out.append(summarise(network, existing, results, time.perf_counter() - started))
    report(1.0, "done")
    return out


def summarise(
    network: Network, existing: list[Site], results: list[DayResult], replay_s: float
) -> NetworkReport:
    """Sum the days into the network's figures."""
    total = lambda name: sum(getattr(r, name) for r in results)  # noqa: E731
    served = total("routed") + total("collected")
    cost = total("route_cost_eur") + total("handling_cost_eur")
    closed = set(network.closed)
    kept = [s for s in existing if s.site_id not in closed]
    return NetworkReport(
        network=network.name,
        model=network.model,
        sites=len(kept) + len(network.opened),
        opened=network.opened_ids,
        closed=tuple(network.closed),
        site_cost_eur_per_day=round(network.cost_per_day_eur(existing), 2),
        days=len(results),
        orders_per_day=round(total("orders") / len(results), 1),
        served_pct=_pct(served, total("orders")),
        cost_per_drop_eur=_ratio(cost + total("site_cost_eur"), served),
        operating_cost_per_drop_eur=_ratio(cost, served),
        km_per_order=_ratio(total("km"), served, 3),
        co2_g_per_order=_ratio(total("co2_g"), served, 1),
        bike_share_pct=_pct(total("bike_orders"), total("routed")),
        otif_pct=_pct(total("on_time") + total("collected"), total("orders")),
        express_slot_pct=_pct(total("express_offered"), total("express_asked")),
        vans_needed=max(r.vans_used for r in results),
        bikes_needed=max(r.bikes_used for r in results),
        checker_violations=total("violations"),
        replay_s=round(replay_s, 1),
        per_day=tuple(results),
    )


def _express(
    scenario: Scenario, plan: Plan, travel: TravelProvider, params: ReplayParams
) -> tuple[int, int]:
    """(addresses asked, addresses offered at least one express slot) on the plan."""
    if params.promise_samples == 0:
        return 0, 0
    delivered = [o for o in scenario.orders if o.service is not Service.CLICK_COLLECT]
    if not delivered:
        return 0, 0
    rng = np.random.default_rng(params.seed)
    pick = rng.choice(len(delivered), size=min(params.promise_samples, len(delivered)),
                      replace=False)  # fmt: skip
    engine = PromiseEngine.from_plan(scenario, plan, travel)
    offered = 0
    for k in sorted(pick):
        order = delivered[int(k)]
        answer = engine.promise(  # express only: collect, green and eco are not reported
            list(order.lines), order.lat, order.lon, params.promise_now_s, [Service.EXPRESS]
        )
        offered += bool(answer.options)
    return len(pick), offered


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 100.0


def _ratio(part: float, whole: float, digits: int = 2) -> float:
    return round(part / whole, digits) if whole else 0.0
