"""The plan on a map (folium): nodes, zones, routes coloured per vehicle (along the streets
on road travel, credited to OpenStreetMap), stops with ETAs.

Every scenario text (ids, names, reasons) goes through :func:`optimizer.io.html_text.text`:
folium and Leaflet show tooltips, popups and layer names as HTML."""

from __future__ import annotations

import json

import folium
from branca.element import MacroElement
from jinja2 import Template

from optimizer.io.html_text import text
from optimizer.model import Plan, Route, Scenario, ZoneRule
from optimizer.travel.route_lines import route_lines

# A qualitative palette (ColorBrewer Set1 + Dark2), cycled over vehicles.
PALETTE = [
    "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#666666",
]  # fmt: skip
NODE_ICON = {"warehouse": "industry", "urban_hub": "cubes", "dark_store": "archive",
             "store": "shopping-cart", "micro_hub": "bicycle"}  # fmt: skip
ZONE_COLOUR = {ZoneRule.LIMITED_TRAFFIC: "#d7301f", ZoneRule.LOW_EMISSION: "#41ab5d"}


def plan_map(scenario: Scenario, plan: Plan) -> folium.Map:
    """The plan's map: zones, nodes, one layer per route, and the unassigned orders."""
    lats = [o.lat for o in scenario.orders] or [n.lat for n in scenario.nodes.values()]
    lons = [o.lon for o in scenario.orders] or [n.lon for n in scenario.nodes.values()]
    m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    _zones_layer(scenario).add_to(m)
    _nodes_layer(scenario).add_to(m)
    lines = route_lines(scenario, plan.routes)
    for k, (route, line) in enumerate(zip(plan.routes, lines.lonlat, strict=True)):
        _route_layer(scenario, route, line, PALETTE[k % len(PALETTE)]).add_to(m)
    if lines.credit:
        _Credit(lines.credit).add_to(m)
    if plan.unassigned:
        _unassigned_layer(scenario, plan).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return m


def _hhmm(scenario: Scenario, seconds: int) -> str:
    return f"{scenario.settings.to_datetime(seconds):%H:%M}"


def _zones_layer(scenario: Scenario) -> folium.FeatureGroup:
    zones = folium.FeatureGroup(name="zones")
    for zone in scenario.zones:
        folium.GeoJson(
            zone.geometry.__geo_interface__,
            style_function=lambda _, c=ZONE_COLOUR[zone.rule]: {
                "color": c,
                "weight": 2,
                "fillOpacity": 0.06,
            },
            tooltip=f"{text(zone.name)} ({text(zone.rule)})",
        ).add_to(zones)
    return zones


def _nodes_layer(scenario: Scenario) -> folium.FeatureGroup:
    nodes = folium.FeatureGroup(name="nodes")
    for node in scenario.nodes.values():
        folium.Marker(
            [node.lat, node.lon],
            tooltip=f"{text(node.name)} ({text(node.kind)})",
            icon=folium.Icon(color="black", icon=NODE_ICON[node.kind], prefix="fa"),
        ).add_to(nodes)
    return nodes


class _Credit(MacroElement):
    """A line in the map's attribution (Leaflet's ``addAttribution``): whose data the
    routes were drawn from."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.credit }});"
        "{% endmacro %}"
    )

    def __init__(self, credit: str):
        super().__init__()
        self._name = "Credit"
        self.credit = json.dumps(text(credit), ensure_ascii=False)  # JS string, escaped HTML


def _route_layer(
    scenario: Scenario, route: Route, line: list[list[float]], colour: str
) -> folium.FeatureGroup:
    """A route's layer: its line (``[lon, lat]`` pairs from the node and back; dashed for
    bikes), and its stops with slot and ETA."""
    hhmm = lambda s: _hhmm(scenario, s)  # noqa: E731
    group = folium.FeatureGroup(name=f"{text(route.vehicle_id)} ({len(route.stops)} stops)")
    folium.PolyLine(
        [[lat, lon] for lon, lat in line],
        color=colour,
        weight=3 if route.mode == "van" else 2,
        dash_array=None if route.mode == "van" else "6 4",
        tooltip=(
            f"{text(route.vehicle_id)}: {hhmm(route.start_s)}-{hhmm(route.end_s)}, "
            f"{route.distance_m / 1000:.1f} km, {route.cost_eur:.2f} EUR"
        ),
    ).add_to(group)
    for seq, stop in enumerate(route.stops, start=1):
        # A pickup's stop key is its return id: shown with the return's slot.
        order = scenario.orders_by_id.get(stop.order_id) or scenario.returns_by_id[stop.return_id]
        service = "return pickup" if stop.is_pickup else order.service
        folium.CircleMarker(
            [stop.lat, stop.lon],
            radius=4,
            color=colour,
            fill=True,
            fill_opacity=0.9,
            popup=folium.Popup(
                f"<b>{text(stop.order_id)}</b> ({text(service)})<br>"
                f"{text(route.vehicle_id)}, stop {seq}<br>"
                f"slot {hhmm(order.slot_start_s)}-{hhmm(order.slot_end_s)}<br>"
                f"ETA {hhmm(stop.arrival_s)}, service {hhmm(stop.service_start_s)}",
                max_width=260,
            ),
        ).add_to(group)
    return group


def _unassigned_layer(scenario: Scenario, plan: Plan) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=f"unassigned ({len(plan.unassigned)})")
    for u in plan.unassigned:
        order = scenario.orders_by_id[u.order_id]
        folium.CircleMarker(
            [order.lat, order.lon], radius=5, color="#000000", fill=True,
            fill_color="#ffffff", popup=folium.Popup(
                f"<b>{text(u.order_id)}</b> unassigned: {text(u.code)}<br>"
                f"{text(u.reason)}", max_width=300),
        ).add_to(group)  # fmt: skip
    return group
