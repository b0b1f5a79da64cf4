"""Solomon and Gehring-Homberger VRPTW instances, their BKS files, the DIMACS evaluation.

The DIMACS 2021 VRPTW convention (the one of the ``dimacs`` rows of ``bks.csv``): the
objective is the total distance only; each arc's length is the Euclidean distance
truncated to one decimal, travel time equals distance, a vehicle may wait before a
window opens and must be back at the depot by the depot's due date.

Everything here works in integers x10 (:data:`SCALE`): an arc of 12.37 is 123, a
ready time of 912 is 9120. Exact integer arithmetic makes the published costs of the
BKS route files reproducible to the decimal.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optimizer.io.file_limits import MAX_VRPTW_FILE_BYTES, read_text_within

SCALE = 10  # integer units per unit of the instance files (one decimal)


@dataclass(frozen=True)
class VrptwInstance:
    """One VRPTW instance as written in its file; index 0 is the depot.

    Parameters
    ----------
    name
        Instance name in the case of ``bks.csv`` (``C101``, ``RC1_4_1``).
    num_vehicles
        Most routes a solution may have (the file's ``NUMBER``).
    capacity
        Vehicle capacity, in the file's demand unit.
    x, y
        Integer coordinates, ``(N + 1,)``.
    demand, ready, due, service
        Demand, window start, window end and service time per location, ``(N + 1,)``;
        times in the file's unit (multiply by :data:`SCALE` for the DIMACS integers).
    """

    name: str
    num_vehicles: int
    capacity: int
    x: np.ndarray
    y: np.ndarray
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray

    @property
    def num_customers(self) -> int:
        return len(self.x) - 1

    def distance_x10(self) -> np.ndarray:
        """``(N + 1, N + 1)`` int64: Euclidean distance x10, truncated (DIMACS)."""
        dx = self.x[:, None] - self.x[None, :]
        dy = self.y[:, None] - self.y[None, :]
        squared = (dx * dx + dy * dy) * SCALE * SCALE
        # floor(10 * sqrt(d2)) == isqrt(100 * d2) exactly for integer coordinates;
        # the float root is only a first guess, corrected to the exact integer root.
        root = np.floor(np.sqrt(squared.astype(np.float64))).astype(np.int64)
        root -= root * root > squared
        root += (root + 1) * (root + 1) <= squared
        return root


@dataclass(frozen=True)
class BksRow:
    """A best-known solution: routes used and total distance (file units)."""

    vehicles: int
    distance: float


@dataclass
class Evaluation:
    """Routes re-evaluated in the DIMACS convention."""

    distance_x10: int
    vehicles: int
    violations: list[str] = field(default_factory=list)

    @property
    def distance(self) -> float:
        return self.distance_x10 / SCALE

    @property
    def feasible(self) -> bool:
        return not self.violations


def instance_name(path: Path) -> str:
    """``c1_4_1.txt`` -> ``C1_4_1``: the name ``bks.csv`` and the ``.sol`` files use."""
    return Path(path).stem.upper()


def read_instance(path: Path | str) -> VrptwInstance:
    """Read a Solomon / Gehring-Homberger text file (``VEHICLE`` and ``CUSTOMER`` blocks).
    ``ValueError`` for a file that is not one, or beyond
    :data:`optimizer.io.file_limits.MAX_VRPTW_FILE_BYTES` (checked before reading it)."""
    path = Path(path)
    text = read_text_within(path, MAX_VRPTW_FILE_BYTES, "a VRPTW instance", "ascii")
    lines = [line.split() for line in text.splitlines()]
    lines = [words for words in lines if words]
    try:
        vehicle_at = next(i for i, w in enumerate(lines) if w[0].upper() == "VEHICLE")
        num_vehicles, capacity = (int(w) for w in lines[vehicle_at + 2][:2])
        customer_at = next(i for i, w in enumerate(lines) if w[0].upper() == "CUSTOMER")
        rows = np.array(
            [[int(w) for w in words[:7]] for words in lines[customer_at + 2 :]], dtype=np.int64
        )
    except (StopIteration, ValueError, IndexError) as exc:
        raise ValueError(f"{path}: not a Solomon-format VRPTW instance ({exc})") from exc
    if rows.ndim != 2 or rows.shape[1] != 7 or not np.array_equal(rows[:, 0], np.arange(len(rows))):
        raise ValueError(f"{path}: customer rows must be numbered 0, 1, 2, ... with 7 columns")
    return VrptwInstance(
        name=instance_name(path),
        num_vehicles=num_vehicles,
        capacity=capacity,
        x=rows[:, 1],
        y=rows[:, 2],
        demand=rows[:, 3],
        ready=rows[:, 4],
        due=rows[:, 5],
        service=rows[:, 6],
    )


def read_solution(path: Path | str) -> tuple[list[list[int]], float | None]:
    """Read a VRPLIB ``.sol`` file: the routes (customer numbers) and its ``Cost`` line."""
    routes, cost = [], None
    text = read_text_within(path, MAX_VRPTW_FILE_BYTES, "a VRPTW solution", "ascii")
    for line in text.splitlines():
        if line.startswith("Route"):
            routes.append([int(c) for c in line.split(":", 1)[1].split()])
        elif line.startswith("Cost"):
            cost = float(line.split()[1])
    return routes, cost


def read_bks(path: Path | str, convention: str = "dimacs") -> dict[str, BksRow]:
    """The ``bks.csv`` rows of one convention (``dimacs`` by default), by instance name."""
    out = {}
    text = read_text_within(path, MAX_VRPTW_FILE_BYTES, "a best-known-solutions table")
    for row in csv.DictReader(io.StringIO(text, newline="")):
        if row["source-convention"].split(";", 1)[0] == convention:
            out[row["instance"]] = BksRow(int(row["vehicles"]), float(row["distance"]))
    return out


def evaluate(
    instance: VrptwInstance, routes: list[list[int]], distance: np.ndarray | None = None
) -> Evaluation:
    """Total DIMACS distance of ``routes`` and every rule they break.

    Checks: every customer exactly once, at most ``num_vehicles`` routes, the load of
    each route within the capacity, service starting within every window (waiting
    allowed), and every vehicle back at the depot by its due date.
    """
    dist = instance.distance_x10() if distance is None else distance
    ready, due = instance.ready * SCALE, instance.due * SCALE
    service = instance.service * SCALE
    routes = [r for r in routes if r]
    out = Evaluation(distance_x10=0, vehicles=len(routes))
    seen = np.zeros(instance.num_customers + 1, dtype=np.int64)
    for k, route in enumerate(routes, start=1):
        if min(route) < 1 or max(route) > instance.num_customers:
            out.violations.append(f"route {k}: customer number out of range")
            continue
        seen[route] += 1
        load = int(instance.demand[route].sum())
        if load > instance.capacity:
            out.violations.append(f"route {k}: load {load} > capacity {instance.capacity}")
        t, prev = int(ready[0]), 0
        for c in route:
            out.distance_x10 += int(dist[prev, c])
            begin = max(t + int(dist[prev, c]), int(ready[c]))
            if begin > due[c]:
                out.violations.append(
                    f"route {k}: customer {c} served at {begin / SCALE} > due {due[c] / SCALE}"
                )
            t, prev = begin + int(service[c]), c
        out.distance_x10 += int(dist[prev, 0])
        back = t + int(dist[prev, 0])
        if back > due[0]:
            out.violations.append(
                f"route {k}: back at the depot at {back / SCALE} > due {due[0] / SCALE}"
            )
    missing = np.flatnonzero(seen[1:] == 0) + 1
    twice = np.flatnonzero(seen[1:] > 1) + 1
    if len(missing):
        out.violations.append(f"{len(missing)} customers not visited (first: {missing[0]})")
    if len(twice):
        out.violations.append(f"{len(twice)} customers visited more than once (first: {twice[0]})")
    if len(routes) > instance.num_vehicles:
        out.violations.append(f"{len(routes)} routes > {instance.num_vehicles} vehicles")
    return out


def gap_pct(distance: float, bks: float) -> float:
    """Gap to the best-known distance, in % of it."""
    return 100.0 * (distance - bks) / bks
