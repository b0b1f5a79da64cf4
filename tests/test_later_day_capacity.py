"""What the checkout may sell on a later day (:mod:`optimizer.promise.capacity`): the
fleet's free time per slot, in places for any order and in seconds per crew pool for
bulky ones, from an empty day or from that day's plan."""

import pytest

from data.furniture_generator import generate, write
from optimizer.insertion import LiveRoutes
from optimizer.io import load_scenario
from optimizer.model import ItemNeeds, OrderLine, Plan, Route, Stop
from optimizer.planning import PlanParams, plan_day
from optimizer.promise import PromiseEngine, PromiseParams
from optimizer.promise.capacity import (
    BETWEEN_DROPS_S,
    busy_intervals,
    catalogue_needs,
    crew_claims,
    need_keys,
    slot_rooms,
)
from optimizer.travel import travel_of

MORNING = (8 * 3600, 12 * 3600)
HOUR = 3600


@pytest.fixture(scope="module")
def furniture(tmp_path_factory):
    """The furniture retailer's generated day: a warehouse (WH) with three two-person
    vans with a tail lift and one one-person van, 08:00-19:00, and a showroom with bikes."""
    folder = tmp_path_factory.mktemp("furniture") / "day"
    write(generate(40, 1, seed=3), folder)
    return load_scenario(folder)


def rooms(sc, plan=None, slots=(MORNING,)):
    p = PromiseParams.for_scenario(sc)
    found = slot_rooms(
        sc, list(slots), p.future_capacity_share, p.future_drops_per_vehicle_hour, plan
    )
    return {(r.node_id, r.slot_start_s): r for r in found}


def test_the_pools_are_the_catalogue_s_crews_and_equipment(furniture):
    assert catalogue_needs(furniture) == ["crew:2", "equipment:tail_lift"]
    assert need_keys(None) == []
    assert need_keys(ItemNeeds(crew=3, equipment=frozenset({"b", "a"}))) == [
        "crew:3", "equipment:a", "equipment:b",
    ]  # fmt: skip


def test_a_bulky_order_claims_its_door_time_and_drive_in_each_of_its_pools(furniture):
    sofa = crew_claims(furniture, [OrderLine("SOFA", 1)], 1500)
    assert sofa == [("crew:2", 1500 + BETWEEN_DROPS_S), ("equipment:tail_lift", 1500 + 480)]
    assert crew_claims(furniture, [OrderLine("WARDROBE", 1)], 600) == [("crew:2", 1080)]
    assert crew_claims(furniture, [OrderLine("LAMP", 2)], 300) == []
    assert crew_claims(furniture, [OrderLine("NOT-IN-CATALOGUE", 1)], 300) == []


def test_an_empty_day_s_room_is_a_share_of_the_fleet_s_hours(furniture):
    """08:00-12:00 at the warehouse: 4 vans x 4 h x 4 drops an hour x 0.5 = 32 places;
    crews: the 3 two-person vans' 12 h x 0.5 = 6 h; the showroom opens at 10:00."""
    room = rooms(furniture)
    assert room["WH", MORNING[0]].places == 32
    assert room["WH", MORNING[0]].crew_s == {"crew:2": 6 * HOUR, "equipment:tail_lift": 6 * HOUR}
    assert room["SHOW", MORNING[0]].places == 8  # 2 bikes x 2 h x 4 x 0.5
    assert room["SHOW", MORNING[0]].crew_s == {"crew:2": 0, "equipment:tail_lift": 0}
    engine = PromiseEngine(
        furniture, LiveRoutes(furniture, travel_of(furniture), vehicle_ids=set())
    )
    assert engine.future_capacity("WH", *MORNING) == 32  # one formula for both


def _route(vehicle_id, start_s, end_s, stops):
    return Route(
        vehicle_id=vehicle_id, vehicle_type_id="van2", node_id="WH", mode="van",
        start_s=start_s, end_s=end_s, stops=stops, distance_m=0, load_kg=0, load_l=0,
        cost_eur=0, co2_g=0,
    )  # fmt: skip


def _stop(arrival_s, service_start_s, departure_s):
    return Stop(
        order_id="O", lat=48.9, lon=2.3, arrival_s=arrival_s, service_start_s=service_start_s,
        departure_s=departure_s, distance_from_prev_m=0, load_kg=0, load_l=0,
    )  # fmt: skip


def test_a_route_is_busy_from_leaving_to_coming_back_except_its_waits():
    """Leaves 08:00, arrives 08:30 and waits for a 10:00 slot, serves until 10:30, back
    at 11:00: busy 08:00-08:30 and 10:00-11:00."""
    route = _route("V", 8 * HOUR, 11 * HOUR, [_stop(30600, 10 * HOUR, 37800)])
    plan = Plan(scenario_name="x", sources={}, routes=[route])
    assert busy_intervals(plan) == {"V": [(8 * HOUR, 30600), (10 * HOUR, 11 * HOUR)]}
    assert busy_intervals(None) == {}


def test_a_plan_leaves_its_free_time_to_sell(furniture):
    """One two-person van busy 08:00-11:00 (a wait of 1.5 h in it) leaves the morning
    2.5 h less of crew and of places."""
    van = next(
        v.vehicle_id for v in furniture.vehicles
        if furniture.vehicle_types[v.vehicle_type_id].crew == 2
    )  # fmt: skip
    route = _route(van, 8 * HOUR, 11 * HOUR, [_stop(30600, 10 * HOUR, 37800)])
    busy = rooms(furniture, Plan(scenario_name="x", sources={}, routes=[route]))
    morning = busy["WH", MORNING[0]]
    assert morning.crew_s["crew:2"] == int(0.5 * (12 - 1.5) * HOUR)  # 1.5 h of it busy
    assert morning.places == int(0.5 * 4 * (16 - 1.5))  # 29
    assert busy["SHOW", MORNING[0]] == rooms(furniture)["SHOW", MORNING[0]]


def test_the_day_s_own_plan_leaves_less_room_than_an_empty_day(furniture):
    plan = plan_day(furniture, PlanParams(time_limit_s=1.0))
    slots = [(8 * HOUR, 12 * HOUR), (12 * HOUR, 16 * HOUR), (16 * HOUR, 20 * HOUR)]
    empty, planned = rooms(furniture, slots=slots), rooms(furniture, plan, slots)
    assert set(empty) == set(planned)
    for key, room in planned.items():
        assert room.places <= empty[key].places
        for need, seconds in room.crew_s.items():
            assert 0 <= seconds <= empty[key].crew_s[need]
    crews = sum(r.crew_s["crew:2"] for r in planned.values())
    assert crews < sum(r.crew_s["crew:2"] for r in empty.values())  # the vans work


def test_a_sofa_is_not_offered_where_the_crews_time_is_sold_but_a_mattress_is(furniture):
    """With less crew time left than the sofa takes in the warehouse's morning slot of
    day 5, the made-to-order sofa has no option there; a mattress (one person) still
    has; other slots and days keep the sofa."""
    engine = PromiseEngine(
        furniture, LiveRoutes(furniture, travel_of(furniture), vehicle_ids=set())
    )
    at = (48.8600, 2.3400)

    def options(sku, day):
        found = engine.promise([OrderLine(sku, 1)], *at, now_s=7 * HOUR).options
        return {
            (o.node_id, o.slot_start_s - day * 86400)
            for o in found if getattr(o, "day", 0) == day and hasattr(o, "slot_start_s")
        }  # fmt: skip

    assert ("WH", MORNING[0]) in options("SOFA-CUSTOM", 5)
    assert ("WH", MORNING[0]) in options("MATTRESS", 5)
    sofa_s = engine.promise([OrderLine("SOFA-CUSTOM", 1)], *at, now_s=7 * HOUR).service_time_s
    engine.set_crew_left(5, "WH", MORNING[0], "crew:2", sofa_s + BETWEEN_DROPS_S - 1)
    assert ("WH", MORNING[0]) not in options("SOFA-CUSTOM", 5)
    assert ("WH", 12 * HOUR) in options("SOFA-CUSTOM", 5)
    assert ("WH", MORNING[0]) in options("SOFA-CUSTOM", 6)
    assert ("WH", MORNING[0]) in options("MATTRESS", 5)
    assert engine.crew_left(5, "WH", MORNING[0], "crew:2") == sofa_s + BETWEEN_DROPS_S - 1
    engine.set_crew_left(5, "WH", MORNING[0], "crew:2", sofa_s + BETWEEN_DROPS_S)
    assert ("WH", MORNING[0]) in options("SOFA-CUSTOM", 5)  # exactly enough is enough
