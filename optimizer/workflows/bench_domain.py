"""Raw PyVRP on a day, as the peers modelled it: the baseline of ``lastmile bench domain``.

Built apart from lastmile's engine (nothing of :mod:`optimizer.routing`,
:mod:`optimizer.planning` or :mod:`optimizer.sourcing`), the way PEERS.md's "Lessons
learned" say the peers ran PyVRP on their Paris-like day: one :class:`pyvrp.ProblemData`
over every depot, one vehicle type per fleet row (its count available, based at its
depot), every order a client any depot may serve; one routing profile per vehicle type
whose matrices make every client that type may not deliver prohibitively far (PyVRP has no
vehicle-client compatibility); loads in grams and millilitres; cost = fixed per vehicle
used + per metre + per second of route duration, in integer micro-euros; slots as time
windows; shifts; the battery range as the maximum distance; every client optional with
the scenario's unserved penalty as its prize (the peers' objective: cost + 1,000 EUR per
unserved order). The compatibility rules are lastmile's own
(:meth:`optimizer.model.VehicleType.may_carry`) and the matrices come from the same travel
provider the checker is given, so the baseline and the checker see the same day.

The solution becomes a :class:`optimizer.model.Plan`, its times PyVRP's own schedule, for
``plan.json`` and the checker like any plan.
"""

from __future__ import annotations

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

from optimizer.model import (
    Order,
    Plan,
    Route,
    Scenario,
    Service,
    Stop,
    Unassigned,
    UnassignedCode,
    VehicleType,
    grams,
)
from optimizer.travel import Profile, TravelProvider, travel_of

ENGINE = "raw-pyvrp"
# PyVRP costs are integers: one unit is a micro-euro. A van's 0.25 EUR/km is then exactly
# 250 per metre, a bike's 0.02 EUR/km 20; 25 EUR/h is 6,944.4 per second, rounded to
# 6,944 (20 EUR/h: 5,555.6 to 5,556), 0.006-0.008 % off, 2 cents on a 14-hour route.
# The plan's costs are the checker's own formula, not these.
UNITS_PER_EUR = 1_000_000
# Into a client a vehicle type may not deliver: farther than any range and longer than
# any shift, so a route using it has excess distance and time warp and is never feasible.
FORBIDDEN_M = 10_000_000
FORBIDDEN_S = 1_000_000


def raw_pyvrp_plan(
    scenario: Scenario,
    time_limit_s: float,
    seed: int = 1,
    travel: TravelProvider | None = None,
) -> Plan:
    """Solve the day with plain PyVRP for ``time_limit_s`` seconds (``seed`` its random
    stream) and return the solution as a plan; ``travel`` defaults to the scenario's.
    A day beyond the peers' model (returns, click & collect, several tours a vehicle,
    breaks, stock or picking that may bind, handling costs) is a ValueError listing
    every reason."""
    problems = unsupported(scenario)
    if problems:
        raise ValueError("raw PyVRP models the peers' day only: " + "; ".join(problems))
    model = RawModel(scenario, travel or travel_of(scenario))
    result = pyvrp.solve(model.data, stop=MaxRuntime(time_limit_s), seed=seed, collect_stats=False)
    return model.plan(result.best, result.runtime)


def unsupported(scenario: Scenario) -> list[str]:
    """What in ``scenario`` the raw model leaves out, one sentence each (empty: none)."""
    out = []
    if scenario.returns:
        out.append(f"{len(scenario.returns)} returns")
    collect = sum(o.service is Service.CLICK_COLLECT for o in scenario.orders)
    if collect:
        out.append(f"{collect} click & collect orders")
    several = sorted(t for t, vt in scenario.vehicle_types.items() if vt.max_trips != 1)
    if several:
        out.append(f"vehicle types with several tours a shift: {', '.join(several)}")
    capped = sorted(t for t, vt in scenario.vehicle_types.items() if vt.max_stops is not None)
    if capped:
        out.append(f"vehicle types with max_stops: {', '.join(capped)}")
    settings = scenario.settings
    longest_s = max((e.shift_end_s - e.shift_start_s for e in scenario.fleet), default=0)
    if settings.break_duration_s and longest_s > settings.break_over_s:
        out.append("drivers' breaks (break_duration_min > 0)")
    handling = sorted(n for n, node in scenario.nodes.items() if node.handling_cost_eur)
    if handling:
        out.append(f"handling costs at {', '.join(handling)}")
    picking = sorted(
        n for n, node in scenario.nodes.items()
        if node.pick_capacity_per_day < len(scenario.orders)
    )  # fmt: skip
    if picking:
        out.append(f"picking capacity that may bind at {', '.join(picking)}")
    demand: dict[str, int] = {}
    for order in scenario.orders:
        for line in order.lines:
            demand[line.sku] = demand.get(line.sku, 0) + line.qty
    short = sorted(
        node_id for node_id in scenario.nodes
        if any(scenario.stock.get((node_id, sku), 0) < qty for sku, qty in demand.items())
    )  # fmt: skip
    if short:
        out.append(f"stock short of the day's demand at {', '.join(short)}")
    return out


class RawModel:
    """The day as one PyVRP problem (:attr:`data`): locations are the depots, then the
    orders; vehicle type ``k`` is ``scenario.fleet[k]``; profile ``p`` is the vehicle
    type ``type_ids[p]``'s."""

    def __init__(self, scenario: Scenario, travel: TravelProvider):
        self.scenario = scenario
        self.depot_ids = list(scenario.nodes)
        self.orders = list(scenario.orders)
        depots = [scenario.nodes[n] for n in self.depot_ids]
        lat = np.array([d.lat for d in depots] + [o.lat for o in self.orders])
        lon = np.array([d.lon for d in depots] + [o.lon for o in self.orders])
        # One profile per vehicle type (its speed, its forbidden clients).
        self.type_ids = list(scenario.vehicle_types)
        self.may = self._compatibility()
        self.distance_m: list[np.ndarray] = []
        self.duration_s: list[np.ndarray] = []
        for type_id in self.type_ids:
            vt = scenario.vehicle_types[type_id]
            distance_m, duration_s = travel.matrices(lat, lon, Profile.of(vt))
            distance_m = np.array(distance_m, dtype=np.int64)
            duration_s = np.array(duration_s, dtype=np.int64)
            forbidden = len(depots) + np.flatnonzero(~self.may[type_id])
            distance_m[:, forbidden] = FORBIDDEN_M
            duration_s[:, forbidden] = FORBIDDEN_S
            np.fill_diagonal(distance_m, 0)
            np.fill_diagonal(duration_s, 0)
            self.distance_m.append(distance_m)
            self.duration_s.append(duration_s)
        points = zip(lon, lat, strict=True)
        self.data = pyvrp.ProblemData(
            locations=[pyvrp.Location(x=float(x), y=float(y)) for x, y in points],
            clients=[self._client(len(depots) + i, o) for i, o in enumerate(self.orders)],
            depots=[pyvrp.Depot(location=j, name=n) for j, n in enumerate(self.depot_ids)],
            vehicle_types=[self._vehicle_type(k) for k in range(len(scenario.fleet))],
            distance_matrices=self.distance_m,
            duration_matrices=self.duration_s,
        )

    def _compatibility(self) -> dict[str, np.ndarray]:
        """Per vehicle type, which orders it may carry (lastmile's rule: service, zones,
        items' needs, and the basket fits)."""
        sc = self.scenario
        facts = [
            (o.service, sc.weight_kg(o), sc.volume_l(o), sc.zones_at(o.lat, o.lon),
             sc.item_needs(o.lines))
            for o in self.orders
        ]  # fmt: skip
        return {
            type_id: np.array([vt.may_carry(*f) for f in facts], dtype=bool)
            for type_id, vt in sc.vehicle_types.items()
        }

    def _client(self, location: int, order: Order) -> pyvrp.Client:
        sc = self.scenario
        return pyvrp.Client(
            location=location,
            delivery=[grams(sc.weight_kg(order)), grams(sc.volume_l(order))],
            service_duration=order.service_time_s,
            tw_early=order.slot_start_s,
            tw_late=order.slot_end_s,
            prize=round(sc.settings.unserved_penalty_eur * UNITS_PER_EUR),
            required=False,
            name=order.order_id,
        )

    def _vehicle_type(self, k: int) -> pyvrp.VehicleType:
        entry = self.scenario.fleet[k]
        vt = self.scenario.vehicle_types[entry.vehicle_type_id]
        node = self.scenario.nodes[entry.node_id]
        depot = self.depot_ids.index(entry.node_id)
        return pyvrp.VehicleType(
            num_available=entry.count,
            capacity=[vt.capacity_g, vt.capacity_ml],
            start_depot=depot,
            end_depot=depot,
            fixed_cost=round(vt.fixed_cost_eur * UNITS_PER_EUR),
            # Leave within the shift and the node's hours; back by the shift's end.
            tw_early=max(entry.shift_start_s, node.opens_s),
            tw_late=entry.shift_end_s,
            start_late=min(entry.shift_end_s, node.closes_s),
            max_distance=int(vt.range_m),
            unit_distance_cost=round(vt.cost_per_m_eur * UNITS_PER_EUR),
            unit_duration_cost=round(vt.cost_per_s_eur * UNITS_PER_EUR),
            profile=self.type_ids.index(entry.vehicle_type_id),
            name=f"{entry.node_id}/{entry.vehicle_type_id}",
        )

    def plan(self, solution: pyvrp.Solution, solve_s: float) -> Plan:
        """``solution`` as a lastmile plan: one route per PyVRP route, on the fleet row's
        vehicles in turn, its times PyVRP's schedule; orders left out unassigned."""
        sc = self.scenario
        vehicles = _vehicles_by_row(sc)
        used = [0] * len(sc.fleet)
        routes, sources = [], {}
        for pyvrp_route in solution.routes():
            k = pyvrp_route.vehicle_type()
            vehicle_id = vehicles[k][used[k]]
            used[k] += 1
            route = self._route(pyvrp_route, k, vehicle_id)
            routes.append(route)
            sources.update({s.order_id: route.node_id for s in route.stops})
        unassigned = [
            self._unassigned(i, order)
            for i, order in enumerate(self.orders)
            if order.order_id not in sources
        ]
        return Plan(
            scenario_name=sc.settings.name,
            sources=sources,
            routes=routes,
            unassigned=unassigned,
            engine=ENGINE,
            solve_s=solve_s,
            max_split=sc.settings.max_split,
        )

    def _route(self, pyvrp_route: pyvrp.Route, k: int, vehicle_id: str) -> Route:
        sc = self.scenario
        entry = sc.fleet[k]
        vt = sc.vehicle_types[entry.vehicle_type_id]
        visits = [a for a in pyvrp_route.schedule() if a.is_client()]
        orders = [self.orders[a.idx] for a in visits]
        weights = [sc.weight_kg(o) for o in orders]
        volumes = [sc.volume_l(o) for o in orders]
        depot = self.depot_ids.index(entry.node_id)
        places = [depot] + [len(self.depot_ids) + a.idx for a in visits] + [depot]
        matrix = self.distance_m[self.type_ids.index(vt.vehicle_type_id)]
        legs_m = [int(matrix[a, b]) for a, b in zip(places, places[1:], strict=False)]
        stops = []
        for n, (visit, order) in enumerate(zip(visits, orders, strict=True)):
            stops.append(
                Stop(
                    order_id=order.order_id,
                    lat=order.lat,
                    lon=order.lon,
                    arrival_s=int(visit.start_time - visit.wait_duration),
                    service_start_s=int(visit.start_time),
                    departure_s=int(visit.end_time),
                    distance_from_prev_m=legs_m[n],
                    load_kg=sum(weights[n:]),
                    load_l=sum(volumes[n:]),
                )
            )
        start_s, end_s = int(pyvrp_route.start_time()), int(pyvrp_route.end_time())
        distance_m = sum(legs_m)
        return Route(
            vehicle_id=vehicle_id,
            vehicle_type_id=vt.vehicle_type_id,
            node_id=entry.node_id,
            mode=vt.mode.value,
            start_s=start_s,
            end_s=end_s,
            stops=stops,
            distance_m=distance_m,
            load_kg=sum(weights),
            load_l=sum(volumes),
            cost_eur=route_cost_eur(vt, distance_m, end_s - start_s),
            co2_g=vt.co2_g_per_m * distance_m,
        )

    def _unassigned(self, i: int, order: Order) -> Unassigned:
        if not any(may[i] for may in self.may.values()):
            return Unassigned(
                order.order_id,
                UnassignedCode.NO_ALLOWED_VEHICLE,
                "no vehicle type may deliver it (service, zone, item or size rules)",
            )
        return Unassigned(
            order.order_id,
            UnassignedCode.FLEET_FULL,
            "raw PyVRP left it out: serving it would cost more than its unserved penalty",
        )


def route_cost_eur(vt: VehicleType, distance_m: int, duration_s: int) -> float:
    """Fixed + per km + per hour of the tour (leaving the node to coming back), the
    cost the checker recomputes."""
    return vt.fixed_cost_eur + vt.cost_per_m_eur * distance_m + vt.cost_per_s_eur * duration_s


def _vehicles_by_row(scenario: Scenario) -> list[list[str]]:
    """The vehicle ids of each fleet row, in :attr:`Scenario.vehicles` order (which
    expands the rows in turn)."""
    out, at = [], 0
    for entry in scenario.fleet:
        out.append([v.vehicle_id for v in scenario.vehicles[at : at + entry.count]])
        at += entry.count
    return out
