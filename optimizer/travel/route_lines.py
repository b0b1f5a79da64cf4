"""Where a plan's routes are drawn: each route's line from its node through its stops and
back, for ``routes.geojson`` and the map (:mod:`optimizer.io` writes it, this gives it).

On great-circle travel a route is drawn straight from stop to stop, as the model travels.
On the street network (:class:`~optimizer.travel.road.RoadTravel`) it is drawn along the
fastest paths its times and distances were measured on, so the line's length is the
route's ``distance_m``; the drawing then owes its data to OpenStreetMap (:data:`OSM_CREDIT`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from optimizer.model import Route, Scenario
from optimizer.travel import Profile, free_flow, travel_of
from optimizer.travel.road import RoadTravel

# The credit the ODbL asks of a work drawn from OpenStreetMap data (data/osm/README.md).
OSM_CREDIT = "© OpenStreetMap contributors (ODbL)"


@dataclass(frozen=True)
class RouteLines:
    """One line per route, in the routes' order: ``[lon, lat]`` pairs (GeoJSON's order),
    the node first and last; ``credit`` names whose data drew them (None: drawn straight)."""

    lonlat: list[list[list[float]]]
    credit: str | None


def route_lines(scenario: Scenario, routes: Sequence[Route]) -> RouteLines:
    """The lines of ``routes``, drawn as the scenario's travel provider travels."""
    travel = free_flow(travel_of(scenario))  # the streets, with or without hours
    points = [_points(scenario, route) for route in routes]
    if not isinstance(travel, RoadTravel):
        return RouteLines([[[lon, lat] for lat, lon in route] for route in points], None)
    lines: list[list[list[float]]] = [[] for _ in routes]
    for profile, indices in _by_profile(scenario, routes).items():
        # One batch per profile: every leg of its routes, so each source's tree is grown once.
        legs = np.array([leg for i in indices for leg in pairwise(points[i])])
        drawn = iter(travel.paths_lonlat(*legs.reshape(-1, 4).T, profile))
        for i in indices:
            lines[i] = _joined([next(drawn) for _ in range(len(points[i]) - 1)])
    return RouteLines(lines, OSM_CREDIT)


def _points(scenario: Scenario, route: Route) -> list[tuple[float, float]]:
    """``(lat, lon)`` of the route's node, its stops, the node."""
    node = scenario.nodes[route.node_id]
    stops = [(s.lat, s.lon) for s in route.stops]
    return [(node.lat, node.lon), *stops, (node.lat, node.lon)]


def _by_profile(scenario: Scenario, routes: Sequence[Route]) -> dict[Profile, list[int]]:
    groups: dict[Profile, list[int]] = {}
    for i, route in enumerate(routes):
        profile = Profile.of(scenario.vehicle_types[route.vehicle_type_id])
        groups.setdefault(profile, []).append(i)
    return groups


def _joined(legs: list[np.ndarray]) -> list[list[float]]:
    """The legs as one line: each leg starts where the last one ended; a point repeated
    (an address on its node, two stops at one door) is drawn once, yet a line keeps two."""
    line = np.concatenate([legs[0], *(leg[1:] for leg in legs[1:])])
    moved = np.r_[True, (line[1:] != line[:-1]).any(axis=1)]
    line = line[moved] if moved.sum() >= 2 else line[[0, -1]]
    return line.tolist()
