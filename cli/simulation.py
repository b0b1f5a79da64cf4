"""The driver of ``lastmile simulate``: a day on the road, driven through the API.

The service runs in-process (FastAPI's ``TestClient``) on a temporary SQLite database.
It plans the day (``POST /v1/plans``); then a simulated clock moves the vehicles along
their routes, sending ``departed``, ``arrived``, ``delivered``, ``picked_up``, ``failed``,
``delayed`` and ``collected`` events to ``POST /v1/events``: travel and service times vary at
random (seeded), some customers are not home, a vehicle may break down. During the day
new customers check out (``/v1/promise``, ``/v1/holds``, confirm), and the planner
re-plans (``POST /v1/plans/{id}/replan``) at a few fixed times and once at the end of
the day, so every failed delivery is retried, collected or listed with a reason. The
final plan is checked by the independent checker.

The service's clock is the simulation's (:class:`api.clock.ManualClock`): every promise,
hold, confirmation and re-plan happens at its simulated instant. With ``days`` > 1 the
clock then moves to the next morning: the service rolls to the next day by itself
(:mod:`api.services.days`: what was not delivered is carried over, the day is planned and sold
on), and the next day is driven the same way. Figures are per day.

Figures: orders delivered, collected, unassigned; OTIF and the ETA error (from the
tracking tables, ``lastmile report otif``'s definitions, over the final plan version);
re-plan latency. Returns' pickups (``returns.csv``) are driven like the other stops:
tracking knows a pickup as a stop keyed by its return id, ended by a ``picked_up``
event; a pickup fails like a delivery (nobody home...) and the next re-plan retries
it in a later slot or lists it unassigned (``pickup_failed``). ``returns_done`` counts
the returns picked up by the end of the day; they are left out of the orders' figures.
A split order's parcels fail on their own too (retried, collected or unassigned one by
one); an order counts as delivered when its parcels are delivered or collected and one
at least delivered, ``parcels_unassigned`` counts the parcels left on their own.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.clock import ManualClock
from api.models.tracking import TrackedOrder
from api.services.otif import outcomes
from api.services.plan_jobs import scenario_for_plan
from api.settings import Settings
from cli.checkout_stream import checkout_stream, promise_body
from optimizer.check import check_plan
from optimizer.io import load_scenario
from optimizer.live.report import summary
from optimizer.model import Scenario
from optimizer.travel import Profile, speed_profile, travel_of

CHECKOUT_KEY = "simulate-checkout-" + "c" * 24
PLANNER_KEY = "simulate-planner-" + "p" * 24
H = 3600


@dataclass(frozen=True)
class SimParams:
    """The simulated day.

    Travel and service times are the plan's times times a lognormal factor (median 1;
    sigma 0.15 and 0.3: assumptions, not measurements); ``fail_p`` of the attempts fail
    (5 %: the order of magnitude of first-attempt failures reported for European home
    delivery, an assumption); ``delay_p`` of the legs start with a hold of 5-25 minutes
    (traffic, a loading dock). One vehicle on the road breaks down at the second re-plan
    when ``breakdown`` is set. ``days`` consecutive days are simulated from ``start``
    (default: the scenario folder's own date), each from ``start_of_day_h``.
    """

    seed: int = 1
    days: int = 1
    start: date | None = None
    start_of_day_h: float = 6.0
    plan_time_limit_s: float = 20.0
    replan_time_limit_s: float = 2.0
    replan_at_h: tuple[float, ...] = (10.5, 12.5, 14.5, 16.5, 18.0)
    end_of_day_h: float = 21.0
    new_orders: int = 20
    fail_p: float = 0.05
    delay_p: float = 0.03
    travel_sigma: float = 0.15
    service_sigma: float = 0.3
    breakdown: bool = True
    policy: str = "auto"


@dataclass
class _Vehicle:
    """Where a simulated vehicle is and what it has done."""

    vehicle_id: str
    t: int  # free from (seconds since midnight)
    lat: float
    lon: float
    trip: int = 0  # trips it left on
    en_route: bool = False
    done: set[tuple[int, str]] = field(default_factory=set)  # (trip, order)
    broken: bool = False


class SimulationError(RuntimeError):
    """The simulated day could not go on (the service refused what it must accept)."""


def simulate(
    scenario_dir: Path, params: SimParams, progress: Callable[[str], None] = lambda m: None
) -> dict:
    """The figures of the simulated day, or with ``params.days`` > 1, of each day
    (``days``) and of all of them. Raises :class:`SimulationError` when a day's
    checkouts confirm nothing or the service offers a past date."""
    rng = np.random.default_rng(params.seed)
    template = load_scenario(scenario_dir)
    first = params.start or template.settings.date
    tz = template.settings.tz
    morning = timedelta(hours=params.start_of_day_h)
    clock = ManualClock(datetime(first.year, first.month, first.day, tzinfo=tz) + morning)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            state_dir=Path(tmp),
            scenario=Path(scenario_dir).resolve(),
            checkout_keys=[CHECKOUT_KEY],
            planner_keys=[PLANNER_KEY],
            plan_time_limit_s=max(1.0, params.plan_time_limit_s),
        )
        with TestClient(create_app(settings, clock=clock)) as client:
            days = []
            for k in range(params.days):
                day = first + timedelta(days=k)
                start = datetime(day.year, day.month, day.day, tzinfo=tz) + morning
                clock.set(start)
                progress(f"day {day}")
                _wait_for_day(client, day)
                days.append(_Day(client, clock, params, rng, progress).run())
    if params.days == 1:
        return days[0]
    return {"days": days} | _totals(days)


def _wait_for_day(client: TestClient, day: date, timeout_s: float = 600) -> None:
    """Until the service serves ``day`` with its plan stored (it rolls by itself)."""
    state = client.app.state
    state.days.wake()
    deadline = time.monotonic() + timeout_s
    while not (state.checkout.day == day and state.checkout.ready):
        if time.monotonic() > deadline:
            raise SimulationError(f"the service did not move to {day} in {timeout_s:.0f} s")
        time.sleep(0.2)


def _totals(days: list[dict]) -> dict:
    """The figures of several days that add up, and the verdicts of all of them."""
    summed = ("orders_total", "checkouts_confirmed", "orders_delivered", "orders_collected",
              "orders_unassigned", "orders_open", "orders_carried_in", "failed_attempts",
              "returns_total", "returns_done", "past_dates_offered", "events")  # fmt: skip
    out = {key: sum(d[key] for d in days) for key in summed}
    out["checker_ok"] = all(d["checker_ok"] for d in days)
    out["replans_checker_ok"] = all(d["replans_checker_ok"] for d in days)
    out["wall_s"] = round(sum(d["wall_s"] for d in days), 1)
    return out


class _Day:
    def __init__(self, client: TestClient, clock: ManualClock, params: SimParams, rng, progress):
        self.client, self.params, self.rng, self.progress = client, params, rng, progress
        self.clock = clock
        self.planner = {"X-API-Key": PLANNER_KEY}
        self.checkout = {"X-API-Key": CHECKOUT_KEY}
        self.state = client.app.state
        self.scenario: Scenario = self.state.scenario
        self.past_offered = 0  # options dated before the instant asked: must stay 0
        self.refusals: dict[str, int] = {}  # why checkouts did not confirm
        self.travel = travel_of(self.scenario)
        self.events = 0
        self.failed = 0
        self.failed_pickups = 0  # of them: returns' pickups
        self.failed_parcels = 0  # and parcels of split orders
        self.visit_failed: dict[str, str | None] = {}  # order -> why its last visit failed
        self.delays = 0
        self.replan_ms: list[float] = []
        self.replan_violations: list[str] = []  # the checker's, on every re-planned version
        self.broken: list[str] = []
        self.confirmed = 0

    # -- API calls --

    def _post(self, path: str, body: dict, headers: dict, ok=(200, 201, 202)) -> dict:
        r = self.client.post(path, json=body, headers=headers)
        if r.status_code not in ok:
            raise RuntimeError(f"POST {path} answered {r.status_code}: {r.text[:500]}")
        return r.json()

    def _event(self, kind: str, at_s: int, **fields) -> None:
        self.events += 1
        body = {
            # Unique over the days simulated: the day is in the id.
            "event_id": f"sim-{self.params.seed}-{self.scenario.settings.date:%Y%m%d}-"
            f"{self.events}",
            "kind": kind,
            "plan_id": self.plan_id,
            "occurred_at": self.scenario.settings.to_iso(at_s),
            **{k: v for k, v in fields.items() if v is not None},
        }
        self._post("/v1/events", body, self.planner)

    def run(self) -> dict:
        p = self.params
        started = time.perf_counter()
        self.progress("planning the day")
        job = self._post("/v1/plans", {"time_limit_s": p.plan_time_limit_s}, self.planner)
        while True:
            state = self.client.get(f"/v1/plans/{job['id']}", headers=self.planner).json()
            if state["status"] not in ("queued", "running", "publishing"):
                break
            time.sleep(0.2)
        if state["status"] != "done":
            raise RuntimeError(f"the day's plan {state['status']}: {state.get('error')}")
        self.plan_id, self.doc = job["id"], state["plan"]
        planned = {o["order_id"] for o in self.doc["assignments"]}
        self.vehicles: dict[str, _Vehicle] = {}
        self._new_vehicles()
        checkouts = list(checkout_stream(self.scenario, p.new_orders, p.seed + 100, 8 * H, 14 * H))
        stops = [*(int(h * H) for h in p.replan_at_h), int(p.end_of_day_h * H)]
        for k, until in enumerate(stops):
            self.progress(f"driving to {until // H:02d}:{until % H // 60:02d}")
            for v in self.vehicles.values():
                self._drive(v, until)
            while checkouts and checkouts[0][0] < until:
                self._checkout(*checkouts.pop(0))
            if k == 1 and p.breakdown:
                self._break_down(until)
            self._replan(until)
        self._collect(int(p.end_of_day_h * H))
        figures = self._figures(planned, time.perf_counter() - started)
        if p.new_orders and not self.confirmed:
            raise SimulationError(
                f"{self.scenario.settings.date}: the checkout confirmed none of "
                f"{p.new_orders} checkouts ({self.refusals or 'no answer'})"
            )
        if self.past_offered:
            raise SimulationError(
                f"{self.scenario.settings.date}: the promise offered {self.past_offered} "
                "options in the past"
            )
        return figures

    # -- the road --

    def _new_vehicles(self) -> None:
        """Vehicles the plan (or a re-plan) gives a route, waiting at their node."""
        for route in self.doc["routes"]:
            node = self.scenario.nodes[route["node_id"]]
            self.vehicles.setdefault(
                route["vehicle_id"], _Vehicle(route["vehicle_id"], 0, node.lat, node.lon)
            )

    def _routes(self, vehicle_id: str) -> list[dict]:
        routes = [r for r in self.doc["routes"] if r["vehicle_id"] == vehicle_id]
        return sorted(routes, key=lambda r: r["start"])

    def _seconds(self, iso: str) -> int:
        return self.scenario.settings.to_seconds(datetime.fromisoformat(iso))

    def _leg_s(self, vehicle_id: str, lat0, lon0, lat1, lon1, depart_s: int) -> int:
        """The leg's travel time leaving at ``depart_s`` (the scenario's time of day)."""
        vt = self.scenario.vehicle_types[self.scenario.vehicles_by_id[vehicle_id].vehicle_type_id]
        _, dur = self.travel.matrices(
            np.array([lat0, lat1]), np.array([lon0, lon1]), Profile.of(vt)
        )
        return speed_profile(self.travel).of(vt.mode).duration_s(depart_s, int(dur[0, 1]))

    def _factor(self, sigma: float) -> float:
        return float(np.exp(self.rng.normal(0.0, sigma)))

    def _drive(self, v: _Vehicle, until: int) -> None:
        """Send the vehicle's events up to ``until`` along the current plan's routes."""
        if v.broken:
            return
        while True:
            routes = self._routes(v.vehicle_id)
            if not v.en_route:
                if v.trip >= len(routes):
                    return
                route = routes[v.trip]
                leave = max(v.t, self._seconds(route["start"]))
                if leave >= until:
                    return
                node = self.scenario.nodes[route["node_id"]]
                self._event("departed", leave, vehicle_id=v.vehicle_id)
                v.t, v.lat, v.lon, v.en_route = leave, node.lat, node.lon, True
                continue
            route = routes[v.trip]
            todo = [
                s
                for s in route["stops"]
                if (v.trip, _unit(s)) not in v.done
                and s.get("outcome") not in ("delivered", "failed")
            ]
            if not todo:
                node = self.scenario.nodes[route["node_id"]]
                back = v.t + round(
                    self._leg_s(v.vehicle_id, v.lat, v.lon, node.lat, node.lon, v.t)
                    * self._factor(self.params.travel_sigma)
                )
                if back >= until:
                    return
                self._event("arrived", back, vehicle_id=v.vehicle_id)
                v.t, v.lat, v.lon, v.en_route, v.trip = back, node.lat, node.lon, False, v.trip + 1
                continue
            stop = todo[0]
            hold = 0
            if self.rng.random() < self.params.delay_p:
                hold = int(self.rng.integers(5, 26)) * 60
            arrival = (
                v.t
                + hold
                + round(
                    self._leg_s(v.vehicle_id, v.lat, v.lon, stop["lat"], stop["lon"], v.t + hold)
                    * self._factor(self.params.travel_sigma)
                )
            )
            begin = max(arrival, self._seconds(stop["slot_start"]))
            planned_service = self._seconds(stop["departure"]) - self._seconds(
                stop["service_start"]
            )
            done = begin + max(30, round(planned_service * self._factor(self.params.service_sigma)))
            if done >= until:
                return
            if hold:
                self.delays += 1
                self._event("delayed", v.t, vehicle_id=v.vehicle_id, delay_s=hold)
            unit = _unit(stop)  # a split order's parcels are tracked one by one
            self._event("arrived", arrival, vehicle_id=v.vehicle_id, order_id=unit)
            # Any stop may fail: a parcel of a split order, a pickup too (the re-plan
            # retries each on its own). The return half of an exchange is the same
            # visit as its delivery: it fails when the delivery did, for the same reason.
            fails = self.rng.random() < self.params.fail_p
            reason = str(self.rng.choice(["nobody_home", "nobody_home", "access", "refused"]))
            if stop.get("return_kind") == "exchange":
                earlier = self.visit_failed.get(stop.get("original_order_id"))
                fails, reason = earlier is not None, earlier or reason
            elif stop.get("kind") != "pickup":
                self.visit_failed[stop["order_id"]] = reason if fails else None
            if fails:
                self.failed += 1
                self.failed_pickups += stop.get("kind") == "pickup"
                self.failed_parcels += _unit(stop) != stop["order_id"]
                self._event(
                    "failed", done, vehicle_id=v.vehicle_id, order_id=unit,
                    reason=reason,
                )  # fmt: skip
            else:
                served = "picked_up" if stop.get("kind") == "pickup" else "delivered"
                self._event(served, done, vehicle_id=v.vehicle_id, order_id=unit)
            v.done.add((v.trip, unit))
            v.t, v.lat, v.lon = done, stop["lat"], stop["lon"]

    def _at(self, at_s: int) -> datetime:
        """The simulated instant ``at_s`` of the day: the service's clock goes there."""
        at = self.scenario.settings.to_datetime(at_s)
        self.clock.set(at)
        return at

    def _checkout(self, at_s: int, lines, lat: float, lon: float, rng) -> None:
        at = self._at(at_s)
        body = promise_body(lines, lat, lon, at)
        deadline = time.monotonic() + 300
        while True:  # the checkout plans its day when the service starts
            r = self.client.post("/v1/promise", json=body, headers=self.checkout)
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if r.status_code != 200:
            raise RuntimeError(f"POST /v1/promise answered {r.status_code}: {r.text[:500]}")
        options = r.json()
        today = self.scenario.settings.date.isoformat()
        for o in options["options"]:
            end = datetime.fromisoformat(o.get("slot_end") or o["ready_by"])
            if o["service_date"] < today or end <= at:  # a slot may have begun, not ended
                self.past_offered += 1
        choices = [o for o in options["options"] if o["service"] != "click_collect"]
        if not choices:
            self._refused("no delivery option")
            return
        option = choices[int(rng.integers(len(choices)))]
        hold = self.client.post(
            "/v1/holds", json={"option_id": option["option_id"]}, headers=self.checkout
        )
        if hold.status_code != 201:
            self._refused(f"hold {hold.status_code}: {hold.json()['detail'][0]['msg']}")
            return  # the stock or the place went meanwhile
        self._post(f"/v1/holds/{hold.json()['hold_id']}/confirm", {}, self.checkout)
        self.confirmed += 1

    def _refused(self, why: str) -> None:
        self.refusals[why] = self.refusals.get(why, 0) + 1

    def _break_down(self, at_s: int) -> None:
        on_road = sorted(
            v.vehicle_id for v in self.vehicles.values() if v.en_route and not v.broken
        )
        if not on_road:
            return
        vid = on_road[int(self.rng.integers(len(on_road)))]
        self.vehicles[vid].broken = True
        self.broken.append(vid)

    def _replan(self, at_s: int) -> None:
        self._at(at_s)
        self.progress(f"re-planning at {at_s // H:02d}:{at_s % H // 60:02d}")
        started = time.perf_counter()
        out = self._post(
            f"/v1/plans/{self.plan_id}/replan",
            {
                "now": self.scenario.settings.to_iso(at_s),
                "broken_down": self.broken,
                "policy": self.params.policy,
                "time_limit_s": self.params.replan_time_limit_s,
            },
            self.planner,
        )
        self.replan_ms.append((time.perf_counter() - started) * 1000)
        if not out["checker_ok"]:  # every version the day goes through, not the last only
            self.replan_violations += [f"{at_s // H:02d}h: {v}" for v in out["violations"]]
        self.plan_id = out["plan_id"]
        self.doc = self.client.get(f"/v1/plans/{self.plan_id}", headers=self.planner).json()["plan"]
        self.last_changes = out["changes"]
        self._new_vehicles()

    def _collect(self, at_s: int) -> None:
        """Every click & collect customer comes for the order by the end of the day."""
        for c in self.doc["collections"]:
            # (a parcel of a split order collected at a store is tracked as the parcel)
            self._event("collected", at_s, order_id=c.get("parcel_id") or c["order_id"])

    # -- figures --

    def _figures(self, planned: set[str], wall_s: float) -> dict:
        scenario = scenario_for_plan(self.state, self.state.settings.scenario)
        report = check_plan(scenario, self.doc)
        rows = outcomes(self.state.db, [self.plan_id])
        otif = summary(rows)
        # Per order (a split order's parcels are tracked one by one): delivered when its
        # parcels are delivered or collected and one at least delivered; else their status
        # when they agree, else open.
        order_of = {
            st.get("parcel_id") or st["order_id"]: st["order_id"]
            for r in self.doc["routes"]
            for st in r["stops"]
        }
        order_of |= {c.get("parcel_id") or c["order_id"]: c["order_id"]
                     for c in self.doc["collections"]}  # fmt: skip
        pickups = {st["return_id"] for r in self.doc["routes"] for st in r["stops"]
                   if st.get("kind") == "pickup"}  # fmt: skip
        per_order: dict[str, set[str]] = {}
        returns_done = 0
        with self.state.db.transaction(write=False) as s:
            for o in s.scalars(select(TrackedOrder).where(TrackedOrder.plan_id == self.plan_id)):
                if o.order_id in pickups:
                    returns_done += o.status == "picked_up"
                    continue
                per_order.setdefault(order_of.get(o.order_id, o.order_id), set()).add(o.status)
        statuses: dict[str, int] = {}
        for seen in per_order.values():
            if seen <= {"delivered", "collected"}:
                status = "delivered" if "delivered" in seen else "collected"
            else:
                status = seen.pop() if len(seen) == 1 else "open"
            statuses[status] = statuses.get(status, 0) + 1
        unassigned = self.doc["unassigned"]
        # report otif counts the orders the final plan delivers by vehicle; the orders
        # whose delivery failed and became click & collect or unassigned count too here.
        gave_up = sum(
            1 for c in self.doc.get("order_changes", []) if c["kind"] != "retry_later_slot"
        )
        gave_up += sum(1 for u in unassigned if u["code"] == "delivery_failed")
        ended = [o for o in rows if o.ended]
        otif_all = 100.0 * sum(o.on_time_in_full for o in ended) / max(1, len(ended) + gave_up)
        carried_in = self._carried_in()
        carried = sum(o.order_id in carried_in for o in scenario.orders)
        return {
            "scenario": self.scenario.settings.name,
            "date": self.scenario.settings.date.isoformat(),
            "seed": self.params.seed,
            "orders_total": len(scenario.orders),
            "orders_planned_morning": len(planned),
            # Checkouts confirmed during the day; some promise a later day (not today's).
            "checkouts_confirmed": self.confirmed,
            "checkouts_refused": self.refusals,
            "past_dates_offered": self.past_offered,
            # Orders not delivered the day before, carried into this day's plan.
            "orders_carried_in": carried,
            "orders_new_today": len(scenario.orders) - len(planned),
            "orders_delivered": statuses.get("delivered", 0),
            "orders_collected": statuses.get("collected", 0),
            "orders_unassigned": sum(1 for u in unassigned if not u.get("parcel_id")),
            "parcels_unassigned": sum(1 for u in unassigned if u.get("parcel_id")),
            "orders_open": sum(
                n for k, n in statuses.items() if k not in ("delivered", "collected")
            ),
            "unassigned_by_reason": _count(u["code"] for u in unassigned),
            "failed_attempts": self.failed,
            "failed_pickups": self.failed_pickups,
            "failed_parcels": self.failed_parcels,
            "delays": self.delays,
            "broken_down": self.broken,
            "order_changes": _count(c["kind"] for c in self.doc.get("order_changes", [])),
            "returns_total": len(scenario.returns),
            "returns_routed": len(pickups),
            "returns_done": returns_done,
            "returns_unassigned": _count(
                r.get("code") for r in self.doc.get("returns", []) if r["status"] == "unassigned"
            ),
            "otif_pct": otif["otif_pct"],
            "otif_all_deliveries_pct": round(otif_all, 2),
            "first_attempt_pct": otif["first_attempt_pct"],
            "eta_error_p50_min": otif["eta_error_p50_min"],
            "eta_error_p90_min": otif["eta_error_p90_min"],
            "replans": len(self.replan_ms),
            "replan_p50_ms": round(float(np.percentile(self.replan_ms, 50)), 1),
            "replan_p95_ms": round(float(np.percentile(self.replan_ms, 95)), 1),
            "replan_time_limit_s": self.params.replan_time_limit_s,
            "events": self.events,
            "checker_ok": report.ok,
            "replans_checker_ok": not self.replan_violations,
            "violations": [str(v) for v in report.violations[:10]] + self.replan_violations[:10],
            "wall_s": round(wall_s, 1),
        }

    def _carried_in(self) -> set[str]:
        from api.models.checkout import DayOrder

        with self.state.db.transaction(write=False) as s:
            return set(
                s.scalars(
                    select(DayOrder.order_id).where(
                        DayOrder.service_date == self.scenario.settings.date.isoformat(),
                        DayOrder.carried_from.is_not(None),
                    )
                )
            )


def _unit(stop: dict) -> str:
    return stop.get("parcel_id") or stop["order_id"]


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def to_json(figures: dict) -> str:
    return json.dumps(figures, indent=2) + "\n"
