"""The checkout promise: options and slots that the day's routes and stock can keep."""

from optimizer.insertion import Insertion, LiveRoutes, LiveStop  # moved down (issue 14)
from optimizer.promise.engine import (
    CollectOption,
    LineAvailability,
    Promise,
    PromiseEngine,
    PromiseParams,
    SlotOption,
    door_time_s,
    price_eur,
)

__all__ = [
    "CollectOption",
    "Insertion",
    "LineAvailability",
    "LiveRoutes",
    "LiveStop",
    "Promise",
    "PromiseEngine",
    "PromiseParams",
    "SlotOption",
    "door_time_s",
    "price_eur",
]
