import time

import numpy as np
import pytest

from optimizer.model import Mode
from optimizer.travel import GreatCircle, Profile
from optimizer.travel.great_circle import DETOUR_FACTOR

VAN = Profile(Mode.VAN, 18.0)
BIKE = Profile(Mode.CARGO_BIKE, 15.0)
# Notre-Dame de Paris and the Eiffel Tower: 4.10 km apart on the sphere.
NOTRE_DAME = (48.85296, 2.34990)
EIFFEL = (48.85837, 2.29448)


def test_great_circle_distance_of_a_known_pair_times_the_detour_factor():
    lat = np.array([NOTRE_DAME[0], EIFFEL[0]])
    lon = np.array([NOTRE_DAME[1], EIFFEL[1]])
    distance_m, duration_s = GreatCircle().matrices(lat, lon, VAN)
    expected = 4100 * DETOUR_FACTOR[Mode.VAN]
    assert distance_m[0, 1] == pytest.approx(expected, rel=0.01)
    assert duration_s[0, 1] == int(np.ceil(distance_m[0, 1] * 3.6 / 18.0))


def test_matrices_are_symmetric_with_zero_diagonal_and_integer():
    rng = np.random.default_rng(3)
    lat, lon = 48.85 + rng.normal(0, 0.03, 50), 2.35 + rng.normal(0, 0.05, 50)
    distance_m, duration_s = GreatCircle().matrices(lat, lon, BIKE)
    assert distance_m.dtype == np.int64 and duration_s.dtype == np.int64
    assert np.all(np.diag(distance_m) == 0)
    assert np.abs(distance_m - distance_m.T).max() <= 1
    assert np.all(distance_m[~np.eye(50, dtype=bool)] > 0)


def test_bikes_ride_shorter_detours_than_vans_drive():
    lat = np.array([NOTRE_DAME[0], EIFFEL[0]])
    lon = np.array([NOTRE_DAME[1], EIFFEL[1]])
    van_m, _ = GreatCircle().matrices(lat, lon, VAN)
    bike_m, _ = GreatCircle().matrices(lat, lon, BIKE)
    assert bike_m[0, 1] < van_m[0, 1]


def test_table_agrees_with_the_square_matrix():
    rng = np.random.default_rng(4)
    lat, lon = 48.85 + rng.normal(0, 0.03, 30), 2.35 + rng.normal(0, 0.05, 30)
    full_m, full_s = GreatCircle().matrices(lat, lon, VAN)
    part_m, part_s = GreatCircle().table(lat[:3], lon[:3], lat, lon, VAN)
    assert np.abs(part_m - full_m[:3]).max() <= 1
    assert np.abs(part_s - full_s[:3]).max() <= 1


def test_2000_points_build_in_well_under_a_second():
    rng = np.random.default_rng(5)
    lat, lon = 48.85 + rng.normal(0, 0.03, 2000), 2.35 + rng.normal(0, 0.05, 2000)
    started = time.perf_counter()
    GreatCircle().matrices(lat, lon, VAN)
    assert time.perf_counter() - started < 2.0  # measured ~0.3 s here; slack for slow CI


def test_nonsense_is_refused():
    with pytest.raises(ValueError, match="speed_kmh"):
        GreatCircle().matrices(np.zeros(2), np.zeros(2), Profile(Mode.VAN, 0.0))
    with pytest.raises(ValueError, match="detour factor"):
        GreatCircle({Mode.VAN: 0.5})
