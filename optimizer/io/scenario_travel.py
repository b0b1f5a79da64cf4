"""The scenario's street network: built (or read from its cache) when ``scenario.yaml``
says ``travel: {provider: road, osm: FILE}``, and the addresses it cannot reach closely.

The network comes from :func:`optimizer.io.road_cache.load_road_travel` (parsed once,
cached beside the extract, keyed by its hash and the profile rules). Every node, order and
return is snapped to the network of each mode of the fleet; one farther than
:data:`~optimizer.travel.road.SNAP_WARNING_M` gets a warning naming it (the planner
checks its coordinates): the plan goes on, the straight leg to the street counted as
driven (see :mod:`optimizer.travel.road`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimizer.io.problems import Problem
from optimizer.io.road_cache import load_road_travel
from optimizer.io.scenario_settings import SETTINGS_FILE
from optimizer.model import Scenario, Service, TravelKind
from optimizer.travel.road import NETWORK_OF_MODE, SNAP_WARNING_M, RoadTravel


def road_travel(scenario: Scenario, folder: Path, problems: list[Problem]) -> RoadTravel | None:
    """The street network ``scenario.settings.travel`` names (None for great-circle);
    an extract that cannot be read or holds no street adds a problem instead."""
    settings = scenario.settings.travel
    if settings.provider is not TravelKind.ROAD or settings.osm_file is None:
        return None
    try:
        travel = load_road_travel(folder / settings.osm_file)
    except Exception as error:  # noqa: BLE001 - a broken extract is bad input, reported
        message = f"not a readable OpenStreetMap extract ({settings.osm_file}): {error}"
        problems.append(Problem(SETTINGS_FILE, None, "travel.osm", message))
        return None
    modes = {scenario.vehicle_types[f.vehicle_type_id].mode for f in scenario.fleet}
    missing = sorted({NETWORK_OF_MODE[m] for m in modes} - set(travel.networks))
    if missing:
        message = f"the extract has no {' or '.join(missing)} street network for the fleet"
        problems.append(Problem(SETTINGS_FILE, None, "travel.osm", message))
        return None
    return travel


def snap_warnings(scenario: Scenario, travel: RoadTravel) -> list[str]:
    """One sentence per node, order or return farther than ``SNAP_WARNING_M`` from the
    street network of a mode of the fleet, naming it and the distance."""
    places = (
        [(f"node {n.node_id}", n.lat, n.lon) for n in scenario.nodes.values()]
        + [
            (f"order {o.order_id}", o.lat, o.lon)
            for o in scenario.orders
            if o.service is not Service.CLICK_COLLECT
        ]
        + [(f"return {r.return_id}", r.lat, r.lon) for r in scenario.returns]
    )
    if not places:
        return []
    lat = np.array([p[1] for p in places], dtype=float)
    lon = np.array([p[2] for p in places], dtype=float)
    modes = sorted({scenario.vehicle_types[f.vehicle_type_id].mode for f in scenario.fleet})
    far: dict[int, list[str]] = {}
    for network in sorted({NETWORK_OF_MODE[m] for m in modes}):
        mode = next(m for m in modes if NETWORK_OF_MODE[m] == network)
        _, snap_m = travel.snap(lat, lon, mode)
        for k in np.flatnonzero(snap_m > SNAP_WARNING_M):
            far.setdefault(int(k), []).append(f"{snap_m[k]:,.0f} m from the {network} streets")
    return [
        f"{places[k][0]} is {' and '.join(far[k])} (more than {SNAP_WARNING_M:,.0f} m): "
        "check its coordinates; the gap is counted as driven"
        for k in sorted(far)
    ]
