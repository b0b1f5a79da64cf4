"""Demand for network design: how many orders a day brings, and where they fall.

- :func:`day_volumes`: orders per day over a calendar, from a base volume, a weekday
  and a month factor and a little seeded noise (deterministic by seed);
- :func:`aggregate_demand`: the delivery addresses of several days binned into cells,
  each a demand point at the weighted centroid of its orders with its mean orders per
  day: what a facility-location model works on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from optimizer.model import Scenario, Service
from optimizer.network.sites import KM_PER_DEG_LAT

# Orders per weekday relative to the weekly mean (Monday first). Assumed shape, not a
# measured series: French online orders peak early in the week (weekend browsing turns
# into Monday orders, FEVAD's yearly "chiffres clés" on when French shoppers buy online)
# and home delivery is thinnest on Sunday (Sunday rest, Code du travail L3132-3).
WEEKDAY_FACTOR = (1.12, 1.06, 1.02, 1.00, 0.98, 0.92, 0.90)
# Orders per month relative to the yearly mean: the shape of FEVAD's monthly online
# sales (January sales, a summer trough, Black Friday in November, Christmas in
# December), rounded; again an assumption to replace with the retailer's own history.
MONTH_FACTOR = (1.00, 0.92, 0.96, 0.95, 0.95, 0.97, 0.92, 0.85, 0.98, 1.02, 1.15, 1.33)
# Day-to-day noise around the calendar's volume (relative standard deviation).
NOISE_SD = 0.04


@dataclass(frozen=True)
class DemandDay:
    """One day of the calendar and the orders it brings."""

    day: date
    orders: int
    seed: int


def day_volumes(
    start: date, days: int, base_orders: int, seed: int = 1, noise_sd: float = NOISE_SD
) -> list[DemandDay]:
    """``days`` consecutive days from ``start``: ``base_orders`` x weekday factor x month
    factor (normalised so November, the sample's month, has factor 1) x noise."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}.")
    if base_orders < 1:
        raise ValueError(f"base_orders must be at least 1, got {base_orders}.")
    rng = np.random.default_rng(seed)
    out = []
    november = MONTH_FACTOR[10]
    for k in range(days):
        day = start + timedelta(days=k)
        factor = WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1] / november
        noise = max(0.5, 1 + noise_sd * rng.standard_normal())
        out.append(
            DemandDay(day, max(1, int(round(base_orders * factor * noise))), seed * 1000 + k)
        )
    return out


@dataclass(frozen=True)
class DemandPoints:
    """Aggregated demand: point ``i`` at (``lat[i]``, ``lon[i]``) brings
    ``orders_per_day[i]`` delivery orders on an average day."""

    lat: np.ndarray
    lon: np.ndarray
    orders_per_day: np.ndarray

    def __len__(self) -> int:
        return len(self.lat)

    @property
    def total_per_day(self) -> float:
        return float(self.orders_per_day.sum())


def delivery_points(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Addresses of the day's orders that are delivered (not click & collect)."""
    orders = [o for o in scenario.orders if o.service is not Service.CLICK_COLLECT]
    return np.array([o.lat for o in orders]), np.array([o.lon for o in orders])


def aggregate_demand(
    lat: np.ndarray, lon: np.ndarray, days: int, cell_km: float = 1.0
) -> DemandPoints:
    """Bin order addresses (of ``days`` days together) into square cells of ``cell_km``;
    each non-empty cell becomes a point at its orders' centroid, weighted by orders/day."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if cell_km <= 0:
        raise ValueError("cell_km <= 0 not understood.")
    if days < 1:
        raise ValueError("days < 1 not understood.")
    if len(lat) == 0:
        empty = np.zeros(0)
        return DemandPoints(empty, empty, empty)
    cos = np.cos(np.radians(lat.mean()))
    gy = np.floor(lat * KM_PER_DEG_LAT / cell_km).astype(np.int64)
    gx = np.floor(lon * KM_PER_DEG_LAT * cos / cell_km).astype(np.int64)
    _, cell, count = np.unique(np.column_stack([gy, gx]), axis=0, return_inverse=True,
                               return_counts=True)  # fmt: skip
    cell = cell.ravel()
    c_lat = np.bincount(cell, weights=lat) / count
    c_lon = np.bincount(cell, weights=lon) / count
    return DemandPoints(np.round(c_lat, 6), np.round(c_lon, 6), count / days)
