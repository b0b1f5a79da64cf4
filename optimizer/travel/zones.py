"""Which postcode an address belongs to: the nearest postcode reference point.

The report groups promise accuracy by zone, and re-estimated service times are fed back
per zone; both use this one rule. Nearest by equirectangular distance (cos(latitude)
scaled longitude): exact enough to rank points inside a city, and vectorised.

It sits beside the travel model (it was ``optimizer/live/zones.py``) because the scenario
reader needs it too, and io must not import live operations.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optimizer.model import Place


def nearest_postcodes(
    lat: np.ndarray, lon: np.ndarray, places: Mapping[str, Place]
) -> list[str | None]:
    """The nearest place's postcode for each point (None for all if there is no place)."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if not places or lat.size == 0:
        return [None] * int(lat.size)
    codes = list(places)
    p_lat = np.array([places[c].lat for c in codes])
    p_lon = np.array([places[c].lon for c in codes])
    k = np.cos(np.radians(lat))[:, None]
    d2 = (lat[:, None] - p_lat[None, :]) ** 2 + ((lon[:, None] - p_lon[None, :]) * k) ** 2
    return [codes[i] for i in np.argmin(d2, axis=1)]
