"""The ``shared_route`` policy's delivery price: an order's share of a route.

The ``estimate`` policy prices an order at a node by a trip from the node to the
customer alone. A route carries some twenty to fifty stops, so the drive out and back
and the vehicle's fixed cost are shared by all of them, and what decides between a near
store and a far hub is mostly that share and the handling: priced alone, the near store
always wins (on a 5,000-order Paris day ``estimate`` gave the stores and dark stores
~2,800 orders where route-aware sourcing gives them ~760).

:func:`shared_route_costs` prices each (order, node) the way route-aware sourcing prices
the first stop of an empty vehicle (``LiveRoutes.amortize_stops``), without routes:
the vehicle's fixed cost and its stem (node to customer and back, at the type's cost per
km and per hour) shared by the stops such a route carries, plus the order's own leg
inside its route (the mean distance to its nearest neighbours among the day's
deliveries), with the node's cheapest feasible vehicle type. Vectorised over orders and
fleet groups, O(orders x groups + orders log orders): the decomposition's network-wide
first pass uses it on 50,000 orders (:mod:`optimizer.scale.decompose`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from optimizer.model import Scenario, Service, VehicleType
from optimizer.sourcing.reach import Reach, Stage

KM_PER_DEG_LAT = 111.32  # mean length of a degree of latitude
# Stops per vehicle and hour of shift its fixed cost and stem are shared by (capped by
# what one load of the average basket fills: a van ~100, a cargo bike ~15). Calibrated
# against the monolithic plan (the brief of issue 15, item 6): decomposed 5,000-order
# days (parts planned one after another, 2026-12-04, loaded machine) cost, against the
# monolithic plan of the same day, seed 7: +0.65 % at 6/h (route-aware sourcing's
# ~10 minutes a stop), -0.9 % at 9/h, -1.2 % at 12/h, +0.6 % with no shift cap (load
# only); seed 3: -0.2 % at 9/h, -0.25 % at 12/h. At 12/h an 8-hour van shares its
# fixed cost and stem over ~96 stops, about one full load.
STOPS_PER_HOUR = 12.0
# Neighbours averaged for an order's own leg inside its route's cluster: a route visits
# its stop's nearest few customers, not only the nearest one.
LEG_NEIGHBOURS = 3


def average_basket(scenario: Scenario) -> tuple[float, float]:
    """The day's average delivered basket: (kg, litres); (1, 1) without deliveries."""
    delivery = [o for o in scenario.orders if o.service is not Service.CLICK_COLLECT]
    if not delivery:
        return 1.0, 1.0
    kg = float(np.mean([scenario.weight_kg(o) for o in delivery]))
    return kg, float(np.mean([scenario.volume_l(o) for o in delivery]))


def stops_per_route(vt: VehicleType, shift_h: float, stops_per_hour: float,
                    basket: tuple[float, float]) -> float:  # fmt: skip
    """Stops one vehicle of type ``vt`` carries in a shift of ``shift_h`` hours: the fewer
    of what the shift allows at ``stops_per_hour`` and what one load of the average
    ``basket`` (kg, litres) fills; at least one."""
    kg, litres = basket
    return max(1.0, min(stops_per_hour * shift_h, vt.capacity_kg / max(kg, 1e-9),
                        vt.capacity_l / max(litres, 1e-9)))  # fmt: skip


def leg_km(scenario: Scenario, order_ids: list[str]) -> np.ndarray:
    """Per delivery order, the mean flat distance (km) to its ``LEG_NEIGHBOURS`` nearest
    other deliveries: its own leg in a route through its neighbourhood."""
    orders = [scenario.orders_by_id[o] for o in order_ids]
    if len(orders) < 2:
        return np.zeros(len(orders))
    lat = np.array([o.lat for o in orders])
    lon = np.array([o.lon for o in orders])
    xy = np.column_stack(
        [lon * KM_PER_DEG_LAT * math.cos(math.radians(float(lat.mean()))), lat * KM_PER_DEG_LAT]
    )
    k = min(LEG_NEIGHBOURS, len(orders) - 1)
    distance, _ = cKDTree(xy).query(xy, k=k + 1)  # the first is the order itself
    return distance[:, 1:].mean(axis=1)


def shared_route_costs(
    scenario: Scenario,
    reach: Reach,
    node_ids: list[str],
    stage: np.ndarray | None = None,
    stops_per_hour: float = STOPS_PER_HOUR,
) -> np.ndarray:
    """(O_delivery, N) EUR: an order's share of a route from each node, with its cheapest
    feasible fleet group there (inf where none is; ``stage``: ``reach.stage`` unless
    given, e.g. ``reach.parcel_stage``); rows as ``reach.order_ids``."""
    stage = reach.stage if stage is None else stage
    column = {n: j for j, n in enumerate(node_ids)}
    cost = np.full((len(reach.order_ids), len(node_ids)), np.inf)
    own_km = leg_km(scenario, reach.order_ids)
    basket = average_basket(scenario)
    for g, group in enumerate(reach.groups):
        vt = scenario.vehicle_types[group.vehicle_type_id]
        per_km = vt.cost_per_km_eur + vt.cost_per_hour_eur / vt.speed_kmh
        shift_h = max(0, group.latest_end_s - group.earliest_start_s) / 3600
        stops = stops_per_route(vt, shift_h, stops_per_hour, basket)
        stem_km = 2 * reach.distance_m[:, g] / 1000
        c = (vt.fixed_cost_eur + stem_km * per_km) / stops + own_km * per_km
        c = np.where(stage[:, g] == Stage.FEASIBLE, c, np.inf)
        j = column[group.node_id]
        cost[:, j] = np.minimum(cost[:, j], c)
    return cost
