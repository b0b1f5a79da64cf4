"""Time of day: how much longer a leg takes at each hour of the local day, per mode.

A :class:`SpeedProfile` is pure data: for each mode, 24 duration factors (>= 1), one per
hour of the local day; a mode it does not name drives at free flow all day. The travel
providers give free-flow matrices; :meth:`HourFactors.arrival_s` turns a free-flow
duration and a departure time into an arrival, hour by hour (the model of Ichoua,
Gendreau & Potvin 2003, "Vehicle dispatching with time-dependent travel times", EJOR
144: the speed changes at the hour's boundary, not the leg's duration at its departure).
A leg departing at ``t`` covers free-flow seconds at the rate ``1 / factor(hour)``, so
its arrival is a continuous, strictly increasing function of ``t``: leaving later never
arrives earlier (FIFO), and rounding up to whole seconds keeps that.

:func:`travel_of` (in :mod:`optimizer.travel`) wraps the scenario's provider in
:class:`TimedTravel` when ``scenario.yaml`` names a profile (``travel: time_of_day:``);
:func:`speed_profile` gives the profile of any provider (:data:`FREE_FLOW` if none), so
every part that receives the travel model (the plan, the checker, the ETAs, the promise,
the re-plan) drives with the same hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from optimizer.model import Mode
from optimizer.travel.provider import Profile, TravelProvider

HOUR_S = 3600
HOURS = 24


@dataclass(frozen=True)
class HourFactors:
    """One mode's day: ``factors[h]`` multiplies a free-flow duration driven in hour ``h``
    (local time, 0-23; times past midnight wrap to the next day's same hour)."""

    factors: tuple[float, ...] = (1.0,) * HOURS

    def __post_init__(self) -> None:
        if len(self.factors) != HOURS:
            raise ValueError(f"{len(self.factors)} hourly factors, expected {HOURS}.")
        for h, f in enumerate(self.factors):
            if not (math.isfinite(f) and f >= 1.0):
                raise ValueError(f"factor {f} at hour {h:02d} < 1 not understood.")

    @property
    def is_flat(self) -> bool:
        return all(f == 1.0 for f in self.factors)

    def factor(self, t_s: int) -> float:
        """The factor of the hour holding ``t_s`` (seconds since local midnight)."""
        return self.factors[(t_s // HOUR_S) % HOURS]

    def arrival_s(self, depart_s: int, free_s: int) -> int:
        """When a leg of ``free_s`` free-flow seconds leaving at ``depart_s`` arrives:
        piecewise by hour, rounded up to a whole second."""
        if free_s <= 0:
            return depart_s
        t, left = float(depart_s), float(free_s)
        while True:
            f = self.factors[int(t // HOUR_S) % HOURS]
            boundary = (math.floor(t / HOUR_S) + 1) * HOUR_S
            reach = (boundary - t) / f  # free-flow seconds driven before the hour ends
            if left <= reach:
                # less a micro-second: 27.000000000000004 s is 27 s, not 28
                return math.ceil(t + left * f - 1e-6)
            left -= reach
            t = float(boundary)

    def duration_s(self, depart_s: int, free_s: int) -> int:
        """Seconds a leg of ``free_s`` free-flow seconds takes leaving at ``depart_s``."""
        return self.arrival_s(depart_s, free_s) - depart_s

    def worst(self, from_s: int, to_s: int) -> float:
        """The largest factor of the hours ``[from_s, to_s]`` touches (the whole day when
        the span is a day or more)."""
        if to_s - from_s >= HOURS * HOUR_S:
            return max(self.factors)
        first, last = from_s // HOUR_S, max(from_s, to_s) // HOUR_S
        return max(self.factors[h % HOURS] for h in range(first, last + 1))

    def worst_legs(self, from_s: np.ndarray, to_s: np.ndarray) -> np.ndarray:
        """``(m, n)`` factors: for a leg leaving no earlier than ``from_s[a]`` and arriving
        no later than ``to_s[b]``, the largest factor of the hours between (an empty span:
        the factor at ``from_s[a]``)."""
        span = 2 * HOURS  # a day's times run to 24:00, and a leg may end after it
        f = np.array([self.factors[h % HOURS] for h in range(span)])
        table = np.empty((span, span))
        for h in range(span):
            table[h, h:] = np.maximum.accumulate(f[h:])
            table[h, :h] = f[h]
        first = np.clip(np.asarray(from_s, dtype=np.int64) // HOUR_S, 0, span - 1)
        last = np.clip(np.asarray(to_s, dtype=np.int64) // HOUR_S, 0, span - 1)
        return table[first[:, None], last[None, :]]


FLAT = HourFactors()


@dataclass(frozen=True)
class SpeedProfile:
    """Per mode, the hours' duration factors; a mode not named drives at free flow."""

    by_mode: Mapping[Mode, HourFactors] = field(default_factory=dict)

    def of(self, mode: Mode) -> HourFactors:
        return self.by_mode.get(mode, FLAT)

    @property
    def is_flat(self) -> bool:
        return all(h.is_flat for h in self.by_mode.values())

    @classmethod
    def from_hours(cls, by_mode: Mapping[Mode, Mapping[tuple[int, int], float]]) -> SpeedProfile:
        """From ranges of hours: ``{Mode.VAN: {(7, 9): 1.35}}`` is x1.35 from 07:00 to
        09:00 (hours 7 and 8), x1 elsewhere."""
        out = {}
        for mode, ranges in by_mode.items():
            factors = [1.0] * HOURS
            for (start, end), f in ranges.items():
                for h in range(start, end):
                    factors[h] = float(f)
            out[mode] = HourFactors(tuple(factors))
        return cls(out)


FREE_FLOW = SpeedProfile()

# The shipped default (``time_of_day: default``). The travel models' speeds
# (VehicleType.speed_kmh, or the road network's tagged speeds) are read as the midday
# speed, so a factor is the ratio of an hour's travel time to midday's.
# - Vans. Source for the level: the TomTom Traffic Index (floating-car data, congestion
#   level = extra travel time over free flow) gives Paris a city-wide, all-day average
#   of 40 % in 2025 (44 % in 2024); its city pages show the usual weekday curve, with
#   the morning (about 07-09 h) and evening (about 16-19 h) peaks well above the average
#   and the night near free flow. The hourly figures below are an ASSUMPTION shaped
#   after that curve, not TomTom's numbers: peak travel time about 1.7x free flow and
#   midday about 1.3x, hence x1.35 in the peaks, x1.15 in their shoulders, x1 otherwise.
#   Calibrate them with the planner's own GPS traces (`lastmile report otif` gives the
#   ETA error by hour).
# - Cargo bikes: cycle lanes do not jam like streets; the slowdown is crowded lanes and
#   longer waits at junctions in the peaks. x1.05 there is an ASSUMPTION (no published
#   hourly figure for cargo bikes was found); trikes, wider and more often in the
#   traffic lane, x1.1 (also an assumption).
DEFAULT_HOURS: dict[Mode, dict[tuple[int, int], float]] = {
    Mode.VAN: {(7, 9): 1.35, (9, 10): 1.15, (15, 16): 1.15, (16, 19): 1.35, (19, 20): 1.15},
    Mode.CARGO_BIKE: {(7, 9): 1.05, (16, 19): 1.05},
    Mode.CARGO_TRIKE: {(7, 9): 1.1, (16, 19): 1.1},
}
DEFAULT = SpeedProfile.from_hours(DEFAULT_HOURS)


class TimedTravel:
    """A provider's free-flow matrices with the hours' factors to drive them with.

    ``matrices`` and ``table`` are the wrapped provider's (free flow); the durations of a
    given departure come from ``speed.of(mode).arrival_s``. Anything else (a road
    provider's own methods) is the wrapped provider's."""

    def __init__(self, inner: TravelProvider, speed: SpeedProfile):
        self.inner = inner
        self.speed = speed

    def matrices(
        self, lat: np.ndarray, lon: np.ndarray, profile: Profile
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.matrices(lat, lon, profile)

    def table(
        self,
        from_lat: np.ndarray,
        from_lon: np.ndarray,
        to_lat: np.ndarray,
        to_lon: np.ndarray,
        profile: Profile,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.table(from_lat, from_lon, to_lat, to_lon, profile)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("inner", "speed"):
            raise AttributeError(name)  # unpickling: not set yet
        return getattr(self.inner, name)


def speed_profile(travel: TravelProvider) -> SpeedProfile:
    """The hours ``travel`` drives with: a :class:`TimedTravel`'s, else free flow."""
    return travel.speed if isinstance(travel, TimedTravel) else FREE_FLOW


def free_flow(travel: TravelProvider) -> TravelProvider:
    """The provider under a :class:`TimedTravel` (itself otherwise): for what only the
    streets decide, such as where a route is drawn."""
    return travel.inner if isinstance(travel, TimedTravel) else travel


def conservative_legs_s(
    duration_s: np.ndarray, factors: HourFactors, leave_s: np.ndarray, arrive_s: np.ndarray
) -> np.ndarray:
    """``duration_s`` (free flow) of each leg ``a -> b`` at the worst hour between the
    earliest it can leave ``a`` (``leave_s[a]``) and the latest it may reach ``b``
    (``arrive_s[b]``), rounded up: the legs a feasible route drives never take longer."""
    return np.ceil(duration_s * factors.worst_legs(leave_s, arrive_s)).astype(np.int64)


def conservative_s(duration_s: np.ndarray, factors: HourFactors, from_s: int, to_s: int):
    """``duration_s`` (free flow) at the worst hour of ``[from_s, to_s]``, rounded up:
    no departure in that span takes longer (what the solver plans on)."""
    worst = factors.worst(from_s, to_s)
    if worst == 1.0:
        return duration_s
    return np.ceil(duration_s * worst).astype(np.int64)


class TimedLegs:
    """A free-flow duration matrix driven at one mode's hours: ``legs(a, b, depart_s)``
    is the seconds from ``a`` to ``b`` leaving at ``depart_s``."""

    def __init__(self, free_s: np.ndarray, hours: HourFactors):
        self.free_s = free_s
        self.hours = None if hours.is_flat else hours

    def __call__(self, a: int, b: int, depart_s: int) -> int:
        if self.hours is None:
            return int(self.free_s[a, b])
        return self.hours.duration_s(depart_s, int(self.free_s[a, b]))

    @classmethod
    def of(cls, travel: TravelProvider, free_s: np.ndarray, mode: Mode) -> TimedLegs:
        """The legs of ``free_s`` (from ``travel``) for a vehicle of ``mode``."""
        return cls(free_s, speed_profile(travel).of(mode))
