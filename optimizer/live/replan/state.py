"""The re-plan's inputs and their check: what happened on the road (:class:`LiveState`,
:class:`TripFacts`, :class:`StopFact`), how to re-plan (:class:`ReplanParams`,
:class:`FailedPolicy`), the refusal of a live state that does not fit the plan
(:class:`ReplanError`), and the two records the steps share: a failed delivery to
settle (``_Failed``) and what a vehicle can still do (``_Vehicle``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from optimizer.model import Plan, Route, Scenario, Vehicle
from optimizer.routing import ENGINES

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
class _Failed:
    order_id: str
    node_id: str  # where the parcel goes back to
    ready_s: int  # when it is back there (a pickup: now, nothing rides back)
    why: str  # what happened, in words
    pickup: bool = False  # a return's pickup: retried later today, never collected


@dataclass
class _Vehicle:
    """What a vehicle can still do after its locked part."""

    vehicle: Vehicle
    available_s: int  # at its node, free to leave
    used_m: int = 0  # driven so far today (battery)
    used_today: bool = False  # has a route already (its fixed cost is paid)
    trips: int = 0  # tours it left on today
    broken: bool = False


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
