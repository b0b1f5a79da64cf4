"""Networks on a map (folium): demand, candidate sites, and per network its open sites
and their catchments (the demand points nearest, by bike, to each open site).

Every scenario text (site ids and names, network names) goes through
:func:`optimizer.io.html_text.text`: Leaflet shows tooltips and layer names as HTML."""

from __future__ import annotations

import folium
import numpy as np
import shapely

from optimizer.io.html_text import text
from optimizer.io.plan_map import NODE_ICON, PALETTE
from optimizer.network.apply import Network
from optimizer.network.design import Design


def catchments(design: Design, network: Network) -> np.ndarray:
    """Per demand point, the index (into ``design.sites``) of the nearest open site."""
    opened = set(network.opened_ids)
    closed = set(network.closed)
    is_open = np.array(
        [(s.existing and s.site_id not in closed) or s.site_id in opened for s in design.sites]
    )
    dist = np.where(is_open[None, :], design.distance_km, np.inf)
    return np.argmin(dist, axis=1)


def network_map(design: Design, networks: list[Network] | None = None) -> folium.Map:
    """Demand circles, candidates in grey, and one layer per network (the first shown)."""
    networks = networks if networks is not None else design.networks
    demand = design.demand
    lats = list(demand.lat) + [s.lat for s in design.sites]
    lons = list(demand.lon) + [s.lon for s in design.sites]
    m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])

    points = folium.FeatureGroup(name="demand (orders/day)")
    for la, lo, w in zip(demand.lat, demand.lon, demand.orders_per_day, strict=True):
        folium.CircleMarker(
            [la, lo], radius=float(2 + 2 * np.sqrt(w)), color="#555555", weight=1,
            fill=True, fill_opacity=0.3, tooltip=f"{w:.1f} orders/day",
        ).add_to(points)  # fmt: skip
    points.add_to(m)
    candidates = folium.FeatureGroup(name="candidate sites")
    for s in design.sites:
        if not s.existing:
            folium.CircleMarker(
                [s.lat, s.lon], radius=5, color="#999999", fill=True,
                tooltip=f"candidate {text(s.site_id)}: {text(s.name)} ({text(s.kind)}), "
                f"{s.cost_per_day_eur:,.0f} EUR/day, {s.capacity_orders_per_day} orders/day",
            ).add_to(candidates)  # fmt: skip
    candidates.add_to(m)

    for k, network in enumerate(networks):
        group = folium.FeatureGroup(name=f"network {text(network.name)}", show=k == 0)
        nearest = catchments(design, network)
        for idx, j in enumerate(np.unique(nearest)):
            site = design.sites[j]
            colour = PALETTE[idx % len(PALETTE)]
            members = np.flatnonzero(nearest == j)
            hull = shapely.MultiPoint(
                np.column_stack([demand.lon[members], demand.lat[members]])
            ).convex_hull.buffer(0.002)
            load = demand.orders_per_day[members].sum()
            folium.GeoJson(
                hull.__geo_interface__,
                style_function=lambda _, c=colour: {"color": c, "weight": 1, "fillOpacity": 0.15},
                tooltip=f"{text(site.site_id)}: {load:.0f} orders/day nearest by bike",
            ).add_to(group)
        for s in design.sites:
            if (s.existing and s.site_id not in network.closed) or s.site_id in network.opened_ids:
                state = "opened" if not s.existing else "kept"
                folium.Marker(
                    [s.lat, s.lon],
                    tooltip=f"{text(network.name)}: {text(s.name)} ({text(s.kind)}, {state})",
                    icon=folium.Icon(
                        color="green" if not s.existing else "black",
                        icon=NODE_ICON.get(str(s.kind), "circle"),
                        prefix="fa",
                    ),
                ).add_to(group)
        group.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m
