"""How vehicles move: their modes and the day's travel settings (``scenario.yaml``'s
``travel`` block); the providers that turn them into matrices are :mod:`optimizer.travel`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Mode(StrEnum):
    VAN = "van"
    CARGO_BIKE = "cargo_bike"
    CARGO_TRIKE = "cargo_trike"

    @property
    def is_bike(self) -> bool:
        return self in (Mode.CARGO_BIKE, Mode.CARGO_TRIKE)


class TravelKind(StrEnum):
    """Which travel model the day is planned on (``scenario.yaml``'s ``travel.provider``)."""

    GREAT_CIRCLE = "great_circle"  # crow-fly x a detour factor per mode (the default)
    ROAD = "road"  # the OpenStreetMap street network of ``travel.osm`` (one per mode)


@dataclass(frozen=True)
class TravelSettings:
    """The travel model of the day (``scenario.yaml``, ``travel:``).

    ``provider`` great_circle (the default) uses ``detour_factor`` per mode, where given
    (else :data:`optimizer.travel.great_circle.DETOUR_FACTOR`); road plans on the streets
    of the OpenStreetMap extract ``osm_file`` (a path relative to the scenario folder).
    The provider itself is built by the reader (:attr:`Scenario.road_travel`) and chosen
    by :func:`optimizer.travel.travel_of`. ``time_of_day``: per mode, 24 duration
    factors (>= 1), one per hour of the local day (empty: free flow all day, the
    default; see :mod:`optimizer.travel.time_of_day`).
    """

    provider: TravelKind = TravelKind.GREAT_CIRCLE
    osm_file: str | None = None
    detour_factor: dict[Mode, float] = field(default_factory=dict)
    time_of_day: dict[Mode, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self):
        if self.provider is TravelKind.ROAD and not self.osm_file:
            raise ValueError("travel provider road needs osm_file.")
        for mode, factor in self.detour_factor.items():
            if factor < 1.0:
                raise ValueError(f"detour factor {factor} for {mode} < 1 not understood.")
