"""Travel model: distance and duration matrices per vehicle profile.

One provider per module behind :class:`TravelProvider` (VROOM's ``routing/`` wrappers):
:mod:`great_circle` (crow-fly x a detour factor, the default), :mod:`road` (the
OpenStreetMap street network, one per mode). :func:`travel_of` gives the one a scenario
names, so the plan, the checker, the promise, the ETAs and the re-plan all travel alike.
"""

from optimizer.model import Scenario, TravelKind
from optimizer.travel.great_circle import GreatCircle
from optimizer.travel.provider import Profile, TravelProvider

__all__ = ["GreatCircle", "Profile", "TravelProvider", "travel_of"]


def travel_of(scenario: Scenario) -> TravelProvider:
    """The travel provider the scenario's ``travel`` settings name: its street network
    (built by the reader) for ``road``, else great-circle with the scenario's detour
    factors. A road scenario built in code without its network is a ValueError."""
    settings = scenario.settings.travel
    if settings.provider is TravelKind.ROAD:
        if scenario.road_travel is None:
            raise ValueError(
                "the scenario plans on roads but carries no street network: "
                "load it with optimizer.io.scenario_reader.load_scenario."
            )
        return scenario.road_travel
    return GreatCircle(settings.detour_factor)
