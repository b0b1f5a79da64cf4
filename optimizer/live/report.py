"""Promise accuracy: promised vs actual per order, summed up by zone, mode and hour.

Pure: one :class:`Outcome` per routed order in, figures out. Definitions (the same in
docs/tracking.md):

* **OTIF** (on time in full), % of the orders with an outcome (delivered or failed):
  delivered (the whole order handed over: a ``delivered`` event; a failed attempt is
  not in full), the vehicle at the door no later than the slot's end and the handover no
  earlier than its start.
* **First-attempt rate**, % of the orders with an outcome: delivered at their first
  attempt (no failed attempt before, in this plan or an earlier one).
* **ETA error**, minutes: actual arrival at the door minus the ETA the customer had when
  the vehicle left with the order (the planned arrival if no departure was reported);
  p50 and p90 of its absolute value, and its mean (bias: > 0 is late).
* Orders without an outcome yet are counted as ``open`` and left out of the rates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """One routed order: what was promised, what happened. Times in seconds since the
    day's midnight.

    Parameters
    ----------
    zone
        Where (a postcode, see :mod:`optimizer.travel.zones`).
    mode
        The vehicle's mode.
    hour
        The hour of the planned arrival (0-23): when the delivery was due.
    status
        ``delivered``, ``failed`` or ``open`` (no final event yet).
    arrival_s
        When the vehicle got to the door (None if it has not).
    done_s
        When the delivery ended (delivered or failed; None if open).
    eta_s
        The ETA given when the vehicle left with the order, or the planned arrival.
    attempt
        1 for a first attempt, 2 after one failed attempt, ...
    planned_service_s, actual_service_s
        Time at the door planned, and measured from arrived to delivered (None if either
        event is missing, or the vehicle was early and may have waited for the slot).
    """

    order_id: str
    zone: str
    mode: str
    hour: int
    slot_start_s: int
    slot_end_s: int
    status: str
    arrival_s: int | None
    done_s: int | None
    eta_s: int | None
    attempt: int = 1
    planned_service_s: int = 0
    actual_service_s: int | None = None

    def __post_init__(self) -> None:
        if self.status not in ("delivered", "failed", "open"):
            raise ValueError(f"status {self.status!r} not understood.")
        if self.attempt < 1:
            raise ValueError(f"attempt {self.attempt} < 1 not understood.")

    @property
    def ended(self) -> bool:
        return self.status != "open"

    @property
    def on_time_in_full(self) -> bool:
        return (
            self.status == "delivered"
            and self.arrival_s is not None
            and self.arrival_s <= self.slot_end_s
            and self.done_s is not None
            and self.done_s >= self.slot_start_s
        )

    @property
    def eta_error_s(self) -> int | None:
        if self.arrival_s is None or self.eta_s is None:
            return None
        return self.arrival_s - self.eta_s


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 1)


def _minutes(values: np.ndarray, q: float) -> float | None:
    return None if values.size == 0 else round(float(np.percentile(values, q)) / 60.0, 1)


def summary(outcomes: Iterable[Outcome]) -> dict:
    """The figures of a group of orders (see the module docstring)."""
    outcomes = list(outcomes)
    ended = [o for o in outcomes if o.ended]
    errors = np.array([o.eta_error_s for o in outcomes if o.eta_error_s is not None], float)
    return {
        "orders": len(outcomes),
        "delivered": sum(o.status == "delivered" for o in outcomes),
        "failed": sum(o.status == "failed" for o in outcomes),
        "open": len(outcomes) - len(ended),
        "otif_pct": _pct(sum(o.on_time_in_full for o in ended), len(ended)),
        "first_attempt_pct": _pct(
            sum(o.status == "delivered" and o.attempt == 1 for o in ended), len(ended)
        ),
        "eta_error_p50_min": _minutes(np.abs(errors), 50),
        "eta_error_p90_min": _minutes(np.abs(errors), 90),
        "eta_bias_min": None if errors.size == 0 else round(float(errors.mean()) / 60.0, 1),
    }


def _by(outcomes: list[Outcome], key: Callable[[Outcome], str]) -> dict[str, dict]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[key(o)].append(o)
    return {k: summary(groups[k]) for k in sorted(groups)}


def otif_report(outcomes: Iterable[Outcome]) -> dict:
    """Overall figures, and the same by zone, by mode and by hour (``"09"``)."""
    outcomes = list(outcomes)
    return {
        "overall": summary(outcomes),
        "by_zone": _by(outcomes, lambda o: o.zone),
        "by_mode": _by(outcomes, lambda o: o.mode),
        "by_hour": _by(outcomes, lambda o: f"{o.hour:02d}"),
    }


# Fewer measured deliveries than this in a zone: its service time is not re-estimated
# (a median of a handful of doors says little). A planner's rule of thumb, tunable.
MIN_SAMPLES = 5


def service_time_factors(outcomes: Iterable[Outcome], min_samples: int = MIN_SAMPLES) -> list[dict]:
    """Per zone with at least ``min_samples`` measured deliveries: the median of actual /
    planned service time (``factor``, what the next plan multiplies the zone's service
    times by), with the medians in seconds and the sample count."""
    if min_samples < 1:
        raise ValueError(f"min_samples {min_samples} < 1 not understood.")
    samples: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for o in outcomes:
        if o.status == "delivered" and o.actual_service_s is not None and o.planned_service_s > 0:
            samples[o.zone].append((o.planned_service_s, o.actual_service_s))
    rows = []
    for zone in sorted(samples):
        pairs = np.array(samples[zone], dtype=float)
        if len(pairs) < min_samples:
            continue
        rows.append(
            {
                "zone": zone,
                "factor": round(float(np.median(pairs[:, 1] / pairs[:, 0])), 3),
                "samples": len(pairs),
                "planned_median_s": round(float(np.median(pairs[:, 0]))),
                "actual_median_s": round(float(np.median(pairs[:, 1]))),
            }
        )
    return rows
