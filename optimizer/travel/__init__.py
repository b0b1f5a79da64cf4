"""Travel model: distance and duration matrices per vehicle profile."""

from optimizer.travel.great_circle import GreatCircle
from optimizer.travel.provider import Profile, TravelProvider

__all__ = ["GreatCircle", "Profile", "TravelProvider"]
