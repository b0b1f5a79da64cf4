"""Cut one node's day into sectors, and share the node between them.

A node whose orders alone are more than a part routes (the warehouse of a 50,000-order
day sources 3,000+) is cut like a sweep: its orders are sorted by their bearing from
the node and cut into ``k`` arcs of equal orders, starting after the widest empty arc
(:func:`sectors`); a node's routes are petals leaving it, so an arc keeps them whole.
Each sector becomes the node in its own part, with a share of what the node has, so
that the shares never add up to more than the whole:

- **fleet by reach**: per vehicle type, the vehicles are apportioned in proportion to the
  sector's orders that type may deliver (service, zones, items; a bike-only sector gets
  the bikes), and dealt in shift order so each sector gets early and late shifts alike
  (:func:`deal`);
- **stock**: per SKU, each sector first gets what its orders need (the network-wide
  sourcing found that stock for them), the rest in proportion to its orders;
- **picking**: likewise, its parcels first, the rest in proportion;
- **inbound** deliveries: each whole to the sector that needs the SKU most.

Pure: arrays and the model in, arrays and the model out; ties break by index.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from optimizer.model import FleetEntry, Node, Scenario, Vehicle

TAU = 2 * math.pi


def bearing(node: Node, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bearing (radians, east = 0, counter-clockwise) of each point seen from ``node``,
    on a local flat map."""
    east = (lon - node.lon) * math.cos(math.radians(node.lat))
    return np.arctan2(lat - node.lat, east)


def sectors(angle: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut points at bearings ``angle`` into ``k`` arcs of equal counts (within one),
    starting after the widest empty arc. Returns each point's sector (0..k-1) and the
    bearing each sector starts at (for :func:`sector_of`)."""
    n = len(angle)
    k = max(1, min(k, n))
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(1)
    ranked = np.lexsort((np.arange(n), np.mod(angle, TAU)))
    ordered = np.mod(angle[ranked], TAU)
    gaps = np.diff(np.r_[ordered, ordered[0] + TAU])
    start = (int(np.argmax(gaps)) + 1) % n
    ranked = np.roll(ranked, -start)
    labels = np.empty(n, dtype=int)
    labels[ranked] = np.arange(n) * k // n
    first = [int(ranked[np.searchsorted(labels[ranked], s)]) for s in range(k)]
    return labels, np.mod(angle[first], TAU)


def sector_of(angle: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The sector of points at bearings ``angle``, for sectors starting at ``starts``
    (as :func:`sectors` gives them, in order round the node)."""
    relative = np.mod(np.asarray(starts) - starts[0], TAU)
    at = np.mod(np.asarray(angle) - starts[0], TAU)
    return np.maximum(0, np.searchsorted(relative, at, side="right") - 1)


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` whole units shared in proportion to ``weights`` (largest remainders,
    ties to the lower index); equal shares when every weight is 0."""
    w = np.asarray(weights, dtype=float)
    if len(w) == 0:
        return np.zeros(0, dtype=int)
    if w.sum() <= 0:
        w = np.ones(len(w))
    exact = total * w / w.sum()
    out = np.floor(exact).astype(int)
    short = total - int(out.sum())
    order = np.lexsort((np.arange(len(w)), -(exact - out)))
    out[order[:short]] += 1
    return out


def share(total: int, need: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``total`` units shared: each its ``need`` first (in index order while they last),
    the rest by :func:`apportion` of ``weights``. Sums to ``total`` exactly."""
    need = np.asarray(need, dtype=int)
    out = np.zeros(len(need), dtype=int)
    left = int(total)
    for s, q in enumerate(need):
        out[s] = min(int(q), left)
        left -= out[s]
    return out + apportion(left, weights)


def deal(quotas: np.ndarray) -> np.ndarray:
    """The sector of each of ``sum(quotas)`` vehicles taken in shift order, sector ``s``
    getting ``quotas[s]`` of them, interleaved (Webster's order: the j-th vehicle of
    sector s comes at (j + 1/2) / quota) so every sector gets early and late shifts."""
    keys = sorted(((j + 0.5) / q, s) for s, q in enumerate(quotas) for j in range(int(q)))
    return np.array([s for _, s in keys], dtype=int)


def fleet_shares(
    scenario: Scenario, node_id: str, reach: dict[str, np.ndarray], k: int
) -> list[list[Vehicle]]:
    """The node's vehicles per sector: per type, apportioned by ``reach[type]`` (the
    sector's orders that type may deliver) and dealt in shift order."""
    out: list[list[Vehicle]] = [[] for _ in range(k)]
    by_type: dict[str, list[Vehicle]] = {}
    for v in scenario.vehicles:
        if v.node_id == node_id:
            by_type.setdefault(v.vehicle_type_id, []).append(v)
    for type_id, vehicles in by_type.items():
        ranked = sorted(vehicles, key=lambda v: (v.shift_start_s, v.shift_end_s))
        quotas = apportion(len(ranked), reach.get(type_id, np.zeros(k)))
        for v, s in zip(ranked, deal(quotas), strict=True):
            out[s].append(v)
    position = {v.vehicle_id: i for i, v in enumerate(scenario.vehicles)}
    return [sorted(vs, key=lambda v: position[v.vehicle_id]) for vs in out]


def fleet_rows(vehicles: list[Vehicle]) -> list[FleetEntry]:
    """Fleet rows for ``vehicles`` (in the scenario's order): runs of one node, type and
    shift become one row, so that the part's ``Scenario.vehicles`` lists them in the
    same order (their ids there are the part's own: see :func:`vehicle_names`)."""
    rows: list[FleetEntry] = []
    for v in vehicles:
        last = rows[-1] if rows else None
        key = (v.node_id, v.vehicle_type_id, v.shift_start_s, v.shift_end_s)
        if last is not None and key == (
            last.node_id,
            last.vehicle_type_id,
            last.shift_start_s,
            last.shift_end_s,
        ):
            rows[-1] = replace(last, count=last.count + 1)
        else:
            rows.append(FleetEntry(v.node_id, v.vehicle_type_id, 1, *key[2:]))
    return rows


def with_picking(node: Node, per_day: int) -> Node:
    """``node`` able to pick ``per_day`` parcels in its opening hours (its hourly rate
    lowered; half a parcel above so that rounding down gives ``per_day`` exactly)."""
    hours = max(0, node.closes_s - node.opens_s) / 3600
    if hours <= 0:
        return node
    return replace(node, pick_capacity_per_hour=(per_day + 0.5) / hours)
