"""The embedded travel model: great-circle distance times a detour factor per mode.

No network and no data download: good enough to plan a city day, and the default
until a street-network provider is configured.
"""

from __future__ import annotations

import numpy as np

from optimizer.model import Mode
from optimizer.travel.provider import Profile

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean Earth radius

# Road distance / great-circle distance. Urban circuity factors measured on real
# networks lie around 1.2-1.4 (Ballou, Rahardja & Sakai 2002, "Selected country
# circuity factors for road travel distance estimation", Transp. Res. A 36: 1.21-1.32
# for European networks; Boscoe et al. 2012 find ~1.4 for short urban trips). Vans
# follow one-way streets and ring roads (1.35); cargo bikes use contraflow cycle lanes
# and bus lanes in Paris (1.25); trikes are wider and avoid some of them (1.3).
DETOUR_FACTOR = {Mode.VAN: 1.35, Mode.CARGO_BIKE: 1.25, Mode.CARGO_TRIKE: 1.3}


class GreatCircle:
    """Haversine distance x detour factor; duration from the profile's average speed."""

    def __init__(self, detour_factor: dict[Mode, float] | None = None):
        self.detour_factor = dict(DETOUR_FACTOR)
        self.detour_factor.update(detour_factor or {})
        for mode, factor in self.detour_factor.items():
            if factor < 1.0:
                raise ValueError(f"detour factor {factor} for {mode} < 1 not understood.")

    def matrices(
        self, lat: np.ndarray, lon: np.ndarray, profile: Profile
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.table(lat, lon, lat, lon, profile)

    def table(
        self,
        from_lat: np.ndarray,
        from_lon: np.ndarray,
        to_lat: np.ndarray,
        to_lon: np.ndarray,
        profile: Profile,
    ) -> tuple[np.ndarray, np.ndarray]:
        if profile.speed_kmh <= 0:
            raise ValueError("speed_kmh <= 0 not understood.")
        # Unit vectors on the sphere: the chord between two points comes from one
        # matrix product, and the arc from the chord (exact great-circle distance,
        # several times faster than broadcasting trigonometry over all pairs).
        chord_sq = np.clip(
            2.0 - 2.0 * (_unit_vectors(from_lat, from_lon) @ _unit_vectors(to_lat, to_lon).T),
            0.0,
            4.0,
        )
        arc_m = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(chord_sq) / 2)
        distance_m = np.rint(arc_m * self.detour_factor[profile.mode]).astype(np.int64)
        return distance_m, duration_s(distance_m, profile.speed_kmh)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)


def duration_s(distance_m: np.ndarray, speed_kmh: float) -> np.ndarray:
    """Seconds to cover ``distance_m`` at ``speed_kmh``, rounded up to whole seconds."""
    return np.ceil(distance_m * 3.6 / speed_kmh).astype(np.int64)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Straight-line (great-circle) distance between two points, in km: for radii such as
    "stores within 5 km" or "the service area", not for travel."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return float(2 * EARTH_RADIUS_M / 1000 * np.arcsin(np.sqrt(min(1.0, h))))
