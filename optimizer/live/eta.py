"""ETAs of a vehicle's remaining stops, from where and when it was last seen.

Pure: the vehicle's remaining waypoints (stops and returns to its node between trips), its
last known position and time, and the travel model in; arrival, service and departure
times out, with the stops whose promised slot can no longer be kept flagged. Times are
seconds since local midnight of the day, as everywhere in the core.

The method is the plan's own schedule rule applied from the vehicle's fix instead of from
the morning's departure: travel from the fix to the next waypoint with the travel model
(the elapsed time is in the fix: a vehicle seen at the same place 20 minutes later is 20
minutes later for every stop after), wait for a slot that has not opened, serve for the
stop's service time, travel on; each leg at the speed of the hours it is driven in
when the travel model has a time of day (:mod:`optimizer.travel.time_of_day`). A stop
is late when the vehicle gets to the door after the slot's end (the plan's on-time
rule: service starts inside the slot).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.travel import Profile, TravelProvider, speed_profile


@dataclass(frozen=True)
class Waypoint:
    """Somewhere the vehicle still has to go.

    Parameters
    ----------
    order_id
        The order delivered there; None for a return to the vehicle's node (between two
        trips, or at the end of the day).
    lat, lon
        Where, degrees WGS 84.
    slot_start_s, slot_end_s
        The promised slot (seconds since midnight). Service waits for ``slot_start_s``;
        arriving after ``slot_end_s`` breaks the promise. For a node: the next trip's
        planned departure in ``slot_start_s`` (the vehicle does not leave earlier, its
        load is picked for then) and ``slot_end_s`` None.
    service_s
        Time at the door (or reloading at the node), seconds.
    """

    order_id: str | None
    lat: float
    lon: float
    slot_start_s: int
    slot_end_s: int | None
    service_s: int

    def __post_init__(self) -> None:
        if self.service_s < 0:
            raise ValueError(f"service_s {self.service_s} < 0 not understood.")
        if self.slot_end_s is not None and self.slot_end_s < self.slot_start_s:
            raise ValueError(f"slot end {self.slot_end_s} before its start not understood.")


@dataclass(frozen=True)
class Fix:
    """Where and when the vehicle was last known to be, and what it is doing there.

    Parameters
    ----------
    lat, lon
        Last known position, degrees.
    at_s
        When it was there (the event's time), seconds since midnight.
    busy_until_s
        The vehicle cannot move on before this time (a reported delay, or the service of
        a stop it has arrived at but not finished): ``max(at_s, busy_until_s)`` is when it
        leaves. None: it leaves at ``at_s``.
    """

    lat: float
    lon: float
    at_s: int
    busy_until_s: int | None = None

    @property
    def leaves_s(self) -> int:
        return self.at_s if self.busy_until_s is None else max(self.at_s, self.busy_until_s)


@dataclass(frozen=True)
class Eta:
    """The new schedule at one waypoint."""

    order_id: str | None
    arrival_s: int
    service_start_s: int  # max(arrival, slot start)
    departure_s: int
    late_s: int  # how far after the slot's end the vehicle arrives; 0 when in time

    @property
    def late(self) -> bool:
        """The promised slot can no longer be kept."""
        return self.late_s > 0


def estimate(
    waypoints: Sequence[Waypoint], fix: Fix, travel: TravelProvider, profile: Profile
) -> list[Eta]:
    """The schedule of ``waypoints``, visited in order from ``fix``.

    Parameters
    ----------
    waypoints
        The vehicle's remaining waypoints, in the order it will visit them.
    fix
        Its last known position and time.
    travel, profile
        The travel model and the vehicle's profile (mode and speed) the plan used.
    """
    if not waypoints:
        return []
    lat = np.array([fix.lat] + [w.lat for w in waypoints], dtype=np.float64)
    lon = np.array([fix.lon] + [w.lon for w in waypoints], dtype=np.float64)
    # Only consecutive legs are needed: one table from each point to the next.
    _, legs_s = travel.table(lat[:-1], lon[:-1], lat[1:], lon[1:], profile)
    leg_s = np.diagonal(legs_s)
    hours = speed_profile(travel).of(profile.mode)  # each leg at its hour's speed
    out: list[Eta] = []
    clock = fix.leaves_s
    for waypoint, travel_s in zip(waypoints, leg_s, strict=True):
        arrival = hours.arrival_s(clock, int(travel_s))
        start = max(arrival, waypoint.slot_start_s)
        departure = start + waypoint.service_s
        late = 0 if waypoint.slot_end_s is None else max(0, arrival - waypoint.slot_end_s)
        out.append(Eta(waypoint.order_id, arrival, start, departure, late))
        clock = departure
    return out


def at_stop(waypoint: Waypoint, arrived_s: int) -> Fix:
    """The fix of a vehicle that arrived at ``waypoint`` at ``arrived_s`` and is serving
    it: it leaves once the slot has opened and the service time has passed."""
    start = max(arrived_s, waypoint.slot_start_s)
    return Fix(waypoint.lat, waypoint.lon, arrived_s, busy_until_s=start + waypoint.service_s)


# Half-width of the ETA window shown to the customer: 10 minutes for the next stop, 2
# more per stop ahead of it, at most 30. A product choice, not a measurement; `lastmile
# report otif` measures the ETA error (p50/p90 by zone, mode and hour) to tune it with.
WINDOW_NEXT_S = 600
WINDOW_PER_STOP_S = 120
WINDOW_MAX_S = 1800


def eta_window(arrival_s: int, stops_ahead: int) -> tuple[int, int]:
    """The window ``(start_s, end_s)`` shown around an ETA with ``stops_ahead`` stops
    before it on the vehicle (0: it is the next stop)."""
    if stops_ahead < 0:
        raise ValueError(f"stops_ahead {stops_ahead} < 0 not understood.")
    half = min(WINDOW_MAX_S, WINDOW_NEXT_S + WINDOW_PER_STOP_S * stops_ahead)
    return arrival_s - half, arrival_s + half
