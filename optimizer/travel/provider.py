"""The travel model's interface: matrices of distance and duration between points.

A provider answers for one :class:`Profile` (a vehicle mode and its speed). The solver
and the checker only ever see integer numpy matrices, so a road-network provider
(a networkx street graph, an OSRM or Valhalla server) plugs in by implementing
:meth:`TravelProvider.matrices` and :meth:`TravelProvider.table`, and nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from optimizer.model import Mode, VehicleType


@dataclass(frozen=True)
class Profile:
    """How a vehicle moves: its mode (which network it uses) and average speed."""

    mode: Mode
    speed_kmh: float

    @classmethod
    def of(cls, vehicle_type: VehicleType) -> Profile:
        return cls(mode=vehicle_type.mode, speed_kmh=vehicle_type.speed_kmh)


class TravelProvider(Protocol):
    def matrices(
        self, lat: np.ndarray, lon: np.ndarray, profile: Profile
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(distance_m, duration_s)``, two ``(n, n)`` int64 matrices between
        the ``n`` points given by ``lat``/``lon`` (degrees, WGS 84)."""
        ...

    def table(
        self,
        from_lat: np.ndarray,
        from_lon: np.ndarray,
        to_lat: np.ndarray,
        to_lon: np.ndarray,
        profile: Profile,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(distance_m, duration_s)``, two ``(m, n)`` int64 matrices from ``m``
        origins to ``n`` destinations (for a few nodes to many customers)."""
        ...
