"""Travel model: distance and duration matrices per vehicle profile.

One provider per module behind :class:`TravelProvider` (VROOM's ``routing/`` wrappers):
:mod:`great_circle` (crow-fly x a detour factor, the default), :mod:`road` (the
OpenStreetMap street network, one per mode). :func:`travel_of` gives the one a scenario
names, so the plan, the checker, the promise, the ETAs and the re-plan all travel alike.
"""

from optimizer.model import Scenario, TravelKind
from optimizer.travel.great_circle import GreatCircle
from optimizer.travel.provider import Profile, TravelProvider
from optimizer.travel.time_of_day import (
    DEFAULT,
    FREE_FLOW,
    HourFactors,
    SpeedProfile,
    TimedLegs,
    TimedTravel,
    free_flow,
    speed_profile,
)

__all__ = [
    "DEFAULT",
    "FREE_FLOW",
    "GreatCircle",
    "HourFactors",
    "Profile",
    "SpeedProfile",
    "TimedLegs",
    "TimedTravel",
    "TravelProvider",
    "free_flow",
    "speed_profile",
    "travel_of",
]


def travel_of(scenario: Scenario) -> TravelProvider:
    """The travel provider the scenario's ``travel`` settings name: its street network
    (built by the reader) for ``road``, else great-circle with the scenario's detour
    factors; driven with the hours of ``time_of_day`` (:class:`TimedTravel`) when the
    settings name some. A road scenario built in code without its network is a
    ValueError."""
    provider = _free_flow_of(scenario)
    hours = scenario.settings.travel.time_of_day
    if not hours:
        return provider
    speed = SpeedProfile({mode: HourFactors(tuple(f)) for mode, f in hours.items()})
    return TimedTravel(provider, speed)


def _free_flow_of(scenario: Scenario) -> TravelProvider:
    settings = scenario.settings.travel
    if settings.provider is TravelKind.ROAD:
        if scenario.road_travel is None:
            raise ValueError(
                "the scenario plans on roads but carries no street network: "
                "load it with optimizer.io.scenario_reader.load_scenario."
            )
        return scenario.road_travel
    return GreatCircle(settings.detour_factor)
