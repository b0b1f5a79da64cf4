"""Scenario text on the maps is shown as text: an id or a name from an OMS export never
becomes HTML or script in ``map.html`` (plans) or the network map."""

from __future__ import annotations

import re

import pytest

from optimizer.io.html_text import text
from optimizer.io.plan_map import plan_map
from optimizer.model import FleetEntry, Node, NodeKind, Zone, ZoneRule
from optimizer.planning import PlanParams, plan_day
from tests.factory import CENTRE, H, order, scenario

# Each payload runs script if a map puts it into HTML (or a JS template literal) raw.
HOSTILE_ORDER = "A<img src=x onerror=alert(1)>"
TEMPLATE_ORDER = "B${alert(2)}`+alert(22)+`\\"
HOSTILE_NODE_ID = "HUB<svg onload=alert(3)>"
HOSTILE_NODE_NAME = "Hub</script><script>alert(4)</script>"
HOSTILE_ZONE = "Centre<img src=y onerror=alert(5)>"
UNASSIGNED = "C<iframe srcdoc=alert(6)>"

# What would show the payloads unescaped: raw, or JSON-escaped inside a script (Leaflet
# shows a layer name, a tooltip and a popup as HTML).
RAW = re.compile(r"(<|\\u003c)(img|svg|iframe|script>alert)|\$\{alert|`\+alert", re.IGNORECASE)


def hostile_day():
    nodes = {
        HOSTILE_NODE_ID: Node(
            HOSTILE_NODE_ID,
            HOSTILE_NODE_NAME,
            NodeKind.URBAN_HUB,
            48.850,
            2.370,
            7 * H,
            21 * H,
            60,
            1.8,
        ),  # fmt: skip
    }
    sc = scenario(
        [
            order(HOSTILE_ORDER, 48.852, 2.372, [("BOOK", 1)]),
            order(TEMPLATE_ORDER, 48.851, 2.368, [("BOOK", 1)]),
            order(UNASSIGNED, 48.853, 2.371, [("SOFA", 5)]),  # more sofas than stock
        ],
        nodes=nodes,
        fleet=[FleetEntry(HOSTILE_NODE_ID, "van", 1, 7 * H, 15 * H)],
        stock={(HOSTILE_NODE_ID, "BOOK"): 10, (HOSTILE_NODE_ID, "SOFA"): 2},
    )
    sc.zones[:] = [Zone("ZTL", HOSTILE_ZONE, ZoneRule.LIMITED_TRAFFIC, CENTRE)]
    return sc


@pytest.mark.parametrize(
    "value, shown",
    [
        ("<b>&'\"", "&lt;b&gt;&amp;&#x27;&quot;"),
        ("${x}`\\", "&#36;{x}&#96;&#92;"),
        ("O00001", "O00001"),
    ],
)
def test_text_escapes_html_and_template_literals(value, shown):
    assert text(value) == shown


def test_the_plan_map_shows_hostile_ids_and_names_as_text():
    sc = hostile_day()
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1))
    assert {s.order_id for r in plan.routes for s in r.stops} == {HOSTILE_ORDER, TEMPLATE_ORDER}
    assert [u.order_id for u in plan.unassigned] == [UNASSIGNED]
    page = plan_map(sc, plan).get_root().render()
    found = RAW.findall(page)
    assert not found, found
    # ... and every text is still there, escaped.
    for value in (HOSTILE_ORDER, TEMPLATE_ORDER, HOSTILE_NODE_NAME, HOSTILE_ZONE, UNASSIGNED):
        assert text(value) in page, value


def test_the_network_map_shows_hostile_site_and_network_names_as_text():
    import numpy as np

    from optimizer.io.network_map import network_map
    from optimizer.network.apply import Network
    from optimizer.network.demand import DemandPoints
    from optimizer.network.design import Design
    from optimizer.network.sites import Site

    kept = Site(HOSTILE_NODE_ID, HOSTILE_NODE_NAME, NodeKind.URBAN_HUB, 48.85, 2.37, 900, 400,
                existing=True)  # fmt: skip
    new = Site(HOSTILE_ORDER, TEMPLATE_ORDER, NodeKind.MICRO_HUB, 48.86, 2.35, 90, 100)
    demand = DemandPoints(
        lat=np.array([48.851, 48.861]), lon=np.array([2.371, 2.351]),
        orders_per_day=np.array([10.0, 5.0]),
    )  # fmt: skip
    design = Design(
        sites=[kept, new],
        demand=demand,
        distance_km=np.array([[0.1, 2.0], [2.0, 0.1]]),
        networks=[Network(HOSTILE_ZONE, opened=(new,)), Network(UNASSIGNED)],
    )
    page = network_map(design).get_root().render()
    found = RAW.findall(page)
    assert not found, found
    for value in (HOSTILE_NODE_NAME, HOSTILE_ORDER, TEMPLATE_ORDER, HOSTILE_ZONE, UNASSIGNED):
        assert text(value) in page, value
