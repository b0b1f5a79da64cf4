"""ETAs from a vehicle's fix, on small routes checked by hand.

The travel model of most tests is a grid: 60 s per 0.001 degree of |dlat| + |dlon|, so
every figure below can be checked on paper. One test checks that, with the real travel
model and no event, the ETAs are the plan's own schedule.
"""

import numpy as np
import pytest

from optimizer.live import Fix, Waypoint, at_stop, estimate, eta_window
from optimizer.model import Mode
from optimizer.travel import GreatCircle, Profile

BIKE = Profile(Mode.CARGO_BIKE, 15.0)


class Grid:
    """60 s per 0.001 degree of Manhattan distance (a test travel model)."""

    def table(self, from_lat, from_lon, to_lat, to_lon, profile):
        d = np.abs(np.subtract.outer(from_lat, to_lat)) + np.abs(
            np.subtract.outer(from_lon, to_lon)
        )
        duration = np.rint(d * 60_000).astype(np.int64)
        return duration * 10, duration

    def matrices(self, lat, lon, profile):
        return self.table(lat, lon, lat, lon, profile)


H = 3600


def stop(order_id, lat, slot_start_s, slot_end_s, service_s=120):
    return Waypoint(order_id, lat, 2.0, slot_start_s, slot_end_s, service_s)


# Node at lat 48.000; stops 5, 10 and 15 minutes further north.
ROUTE = [
    stop("A", 48.005, 9 * H, 11 * H),
    stop("B", 48.010, 9 * H, 11 * H),
    stop("C", 48.015, 10 * H, 10 * H + 1800),
]
HOME = Waypoint(None, 48.000, 2.0, 0, None, 0)


def test_from_the_node_at_departure_the_schedule_waits_for_slots_and_adds_service_times():
    etas = estimate(ROUTE + [HOME], Fix(48.000, 2.0, 9 * H), Grid(), BIKE)
    # A: 9:00 + 5 min = 9:05, served until 9:07. B: 9:07 + 5 = 9:12, until 9:14.
    # C: 9:14 + 5 = 9:19, waits for 10:00, until 10:02. Home: 10:02 + 15 = 10:17.
    assert [(e.order_id, e.arrival_s, e.service_start_s, e.departure_s) for e in etas] == [
        ("A", 9 * H + 300, 9 * H + 300, 9 * H + 420),
        ("B", 9 * H + 720, 9 * H + 720, 9 * H + 840),
        ("C", 9 * H + 1140, 10 * H, 10 * H + 120),
        (None, 10 * H + 1020, 10 * H + 1020, 10 * H + 1020),
    ]
    assert not any(e.late for e in etas)


def test_a_position_seen_late_moves_every_later_stop_and_flags_the_slot_it_breaks():
    # At 10:20 the bike is halfway between B and C (it served B): C is 2.5 min away.
    etas = estimate(ROUTE[2:], Fix(48.0125, 2.0, 10 * H + 1200), Grid(), BIKE)
    (c,) = etas
    assert c.arrival_s == 10 * H + 1350  # 10:22:30
    assert c.service_start_s == c.arrival_s and c.departure_s == c.arrival_s + 120
    assert not c.late  # the slot ends at 10:30
    # Seen at the same place at 10:30: 2.5 min past the slot's end.
    (c,) = estimate(ROUTE[2:], Fix(48.0125, 2.0, 10 * H + 1800), Grid(), BIKE)
    assert c.arrival_s == 10 * H + 1950 and c.late and c.late_s == 150


def test_a_reported_delay_holds_the_vehicle_where_it_is():
    fix = Fix(48.000, 2.0, 9 * H, busy_until_s=9 * H + 1800)  # 30 min stuck at the node
    a, b, c = estimate(ROUTE, fix, Grid(), BIKE)
    assert (a.arrival_s, b.arrival_s) == (9 * H + 2100, 9 * H + 2520)
    # C: 9:42 + 5 min = 9:47: still waits for 10:00, the delay is absorbed.
    assert c.arrival_s == 9 * H + 2940 and c.service_start_s == 10 * H and not c.late


def test_a_vehicle_at_a_stop_leaves_after_the_slot_opens_and_the_service_time():
    early = stop("C", 48.015, 10 * H, 10 * H + 1800, service_s=300)
    fix = at_stop(early, 9 * H + 3000)  # arrived 9:50, waits to 10:00, serves 5 min
    assert fix.leaves_s == 10 * H + 300
    (home,) = estimate([HOME], fix, Grid(), BIKE)
    assert home.arrival_s == 10 * H + 300 + 900


def test_a_return_to_the_node_between_trips_waits_for_the_next_trips_departure():
    reload = Waypoint(None, 48.000, 2.0, 12 * H, None, 0)
    second = stop("D", 48.005, 12 * H, 13 * H)
    etas = estimate([ROUTE[0], reload, second], Fix(48.0, 2.0, 9 * H), Grid(), BIKE)
    assert [e.arrival_s for e in etas] == [9 * H + 300, 9 * H + 720, 12 * H + 300]
    assert etas[1].departure_s == 12 * H


def test_no_waypoint_left_gives_no_eta():
    assert estimate([], Fix(48.0, 2.0, 0), Grid(), BIKE) == []


def test_with_the_plans_travel_model_and_no_event_the_etas_are_the_plans_schedule():
    # A schedule built the way the plan builds it (travel, wait for the slot, serve).
    travel = GreatCircle()
    points = [(48.8566, 2.3522), (48.8606, 2.3376), (48.8530, 2.3499), (48.8462, 2.3372)]
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    _, duration = travel.matrices(lat, lon, BIKE)
    slots = [(9 * H, 10 * H), (9 * H, 9 * H + 600), (11 * H, 13 * H)]
    clock, planned = 8 * H, []
    for k, (start, _end) in enumerate(slots, start=1):
        arrival = clock + int(duration[k - 1, k])
        clock = max(arrival, start) + 180
        planned.append(arrival)
    waypoints = [
        Waypoint(f"O{k}", points[k][0], points[k][1], s, e, 180)
        for k, (s, e) in enumerate(slots, start=1)
    ]
    etas = estimate(waypoints, Fix(points[0][0], points[0][1], 8 * H), travel, BIKE)
    assert [e.arrival_s for e in etas] == planned


def test_the_eta_window_widens_with_the_stops_ahead_up_to_half_an_hour_each_side():
    assert eta_window(10 * H, 0) == (10 * H - 600, 10 * H + 600)
    assert eta_window(10 * H, 3) == (10 * H - 960, 10 * H + 960)
    assert eta_window(10 * H, 50) == (10 * H - 1800, 10 * H + 1800)
    with pytest.raises(ValueError, match="stops_ahead"):
        eta_window(0, -1)


def test_waypoints_refuse_a_negative_service_time_or_a_slot_ending_before_it_starts():
    with pytest.raises(ValueError, match="service_s"):
        Waypoint("X", 48.0, 2.0, 0, 10, -1)
    with pytest.raises(ValueError, match="slot end"):
        Waypoint("X", 48.0, 2.0, 10, 5, 0)
