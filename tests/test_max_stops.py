"""At most N stops per tour (``VehicleType.max_stops``): both engines, the re-plan's
problems, the checkout's insertion test and the checker hold a tour to it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from optimizer.check import check_plan
from optimizer.insertion import LiveRoutes, LiveStop
from optimizer.io.plan_files import plan_to_dict, to_json
from optimizer.kpis import plan_kpis
from optimizer.model import FleetEntry
from optimizer.planning import PlanParams, build_node_problem, plan_day
from optimizer.routing import NO_STOP_LIMIT
from optimizer.routing.ortools_engine import _Model as OrToolsModel
from optimizer.routing.pyvrp_engine import _Model as PyVrpModel
from optimizer.travel import GreatCircle
from tests.factory import H, order, scenario

# Five small orders east of the hub, outside the limited-traffic centre, wide slots.
DOORS = [(48.845, 2.375), (48.846, 2.380), (48.848, 2.385), (48.852, 2.384), (48.854, 2.378)]


def day(max_stops=None, vans=3, max_trips=1):
    sc = scenario(
        [
            order(f"O{k}", lat, lon, [("BOOK", 1)], slot=(9, 15))
            for k, (lat, lon) in enumerate(DOORS)
        ],
        fleet=[FleetEntry("HUB", "van", vans, 7 * H, 17 * H)],
    )
    van = replace(sc.vehicle_types["van"], max_stops=max_stops, max_trips=max_trips)
    return replace(sc, vehicle_types={**sc.vehicle_types, "van": van})


def planned(sc, engine):
    plan = plan_day(sc, PlanParams(time_limit_s=2, workers=1, engine=engine, joint=False))
    document = json.loads(to_json(plan_to_dict(sc, plan, plan_kpis(sc, plan))))
    return plan, document


def codes(sc, document):
    return [v.code for v in check_plan(sc, document).violations]


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_without_a_limit_one_van_serves_every_stop(engine):
    sc = day()
    plan, document = planned(sc, engine)
    assert not plan.unassigned and len(plan.routes) == 1
    assert codes(sc, document) == []


@pytest.mark.parametrize("engine", ["pyvrp", "ortools"])
def test_two_stops_a_tour_takes_three_vans_and_the_checker_agrees(engine):
    sc = day(max_stops=2)
    plan, document = planned(sc, engine)
    assert not plan.unassigned
    assert all(len(r.stops) <= 2 for r in plan.routes)
    assert len({r.vehicle_id for r in plan.routes}) == 3
    assert codes(sc, document) == []


def test_with_reloads_the_limit_holds_per_tour():
    """One van allowed three tours of two stops: PyVRP reloads it (the count starts over
    at each reload)."""
    sc = day(max_stops=2, vans=1, max_trips=3)
    plan, document = planned(sc, "pyvrp")
    assert not plan.unassigned
    assert [len(r.stops) for r in plan.routes] in ([2, 2, 1], [2, 1, 2], [1, 2, 2])
    assert codes(sc, document) == []


def test_the_checker_flags_a_tour_over_its_type_s_max_stops():
    """The one-van plan made without a limit, checked against a day whose vans make two
    stops a tour at most."""
    _, document = planned(day(), "pyvrp")
    report = check_plan(day(max_stops=2), document)
    (violation,) = [v for v in report.violations if v.code == "too_many_stops"]
    assert "makes 5 stops, over the van's 2 a tour" in violation.message


def test_the_node_problem_carries_the_limit_and_none_without_one():
    travel = GreatCircle()
    ids = [o.order_id for o in day().orders]
    assert build_node_problem(day(), travel, "HUB", ids).problem.vehicle_max_stops is None
    limited = replace(
        day(max_stops=2), fleet=[*day().fleet, FleetEntry("HUB", "bike", 1, 8 * H, 16 * H)]
    )
    p = build_node_problem(limited, travel, "HUB", ids).problem
    types = [v.vehicle_type_id for v in build_node_problem(limited, travel, "HUB", ids).vehicles]
    expected = [2 if t == "van" else NO_STOP_LIMIT for t in types]
    assert p.vehicle_max_stops.tolist() == expected


def test_each_engine_models_the_limit_itself_not_only_the_schedule_s_repair():
    """PyVRP: one more load dimension, each client 1, a van's capacity its limit;
    OR-Tools: a "stops" dimension (the schedule would also cut a longer tour, but the
    search must not count on it)."""
    ids = [o.order_id for o in day().orders]
    p = build_node_problem(day(max_stops=2), GreatCircle(), "HUB", ids).problem
    data = PyVrpModel(p).data
    assert all(vt.capacity[-1] == 2 for vt in data.vehicle_types())
    assert all(c.delivery[-1] == 1 for c in data.clients())
    assert "stops" in OrToolsModel(p).routing.GetAllDimensionNames()
    unlimited = build_node_problem(day(), GreatCircle(), "HUB", ids).problem
    assert len(PyVrpModel(unlimited).data.vehicle_types()[0].capacity) == 2
    assert "stops" not in OrToolsModel(unlimited).routing.GetAllDimensionNames()


def test_the_promise_inserts_nothing_into_a_tour_that_is_full():
    def live_with_two_stops(max_stops):
        sc = day(max_stops=max_stops, vans=1)
        live = LiveRoutes(sc, GreatCircle(), now_s=7 * H)
        (vehicle_id,) = live.vehicles
        for k, (lat, lon) in enumerate(DOORS[:2]):
            stop = LiveStop(f"O{k}", lat, lon, 9 * H, 15 * H, 300, 0.5, 2.0)
            live.insert(vehicle_id, k, stop)
        return live

    def insertion(live):
        lat, lon = DOORS[2]
        allowed = np.ones(len(live.vehicles), dtype=bool)
        return live.cheapest_insertions(lat, lon, 300, 0.5, 2.0, [(9 * H, 15 * H)], allowed)[0]

    assert insertion(live_with_two_stops(max_stops=2)) is None
    assert insertion(live_with_two_stops(max_stops=3)) is not None
    assert insertion(live_with_two_stops(max_stops=None)) is not None
