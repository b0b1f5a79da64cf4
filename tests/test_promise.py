"""The checkout promise on small hand-checked days."""

import numpy as np
import pytest

from optimizer.insertion import LiveRoutes
from optimizer.model import FleetEntry, Inbound, OrderLine, Plan, Service
from optimizer.promise import LiveStop, PromiseEngine
from optimizer.travel import GreatCircle
from tests.factory import H, scenario

NEAR_HUB = (48.852, 2.372)
IN_CENTRE = (48.860, 2.350)
FAR_AWAY = (48.700, 2.000)  # ~30 km out: beyond a cargo bike's 60 km round trip? (2 x 36 km)
BOOK = [OrderLine("BOOK", 1)]


def engine(sc, stops=None, now_s=6 * H):
    live = LiveRoutes(sc, GreatCircle(), now_s)
    for vehicle_id, stop_list in (stops or {}).items():
        for stop in stop_list:
            live.insert(vehicle_id, len(live.vehicles[vehicle_id].stops), stop)
    return PromiseEngine(sc, live)


def slots(result, service):
    return [(o.slot_start_s // H, o.slot_end_s // H) for o in result.options
            if getattr(o, "service", None) is service]  # fmt: skip


def hub_only(*entries):
    return scenario([], fleet=list(entries), stock={("HUB", "BOOK"): 5, ("HUB", "SOFA"): 1})


def test_a_slot_taken_by_a_long_stop_is_not_offered_but_later_ones_are():
    sc = hub_only(FleetEntry("HUB", "bike", 1, 8 * H, 16 * H))
    # The bike must be 2 km away at exactly 10:00 and stays there until 12:02.
    busy = LiveStop("X", 48.868, 2.372, 10 * H, 10 * H, 2 * H + 120, 1, 1)
    result = engine(sc, {"HUB/bike/1": [busy]}).promise(BOOK, *NEAR_HUB, now_s=6 * H)
    offered = slots(result, Service.EXPRESS)
    assert (10, 12) not in offered
    assert (8, 10) in offered and (12, 14) in offered
    # 14-16: the bike's shift ends at 16:00, still feasible with a short ride
    assert all(end <= 16 for _, end in offered)


def test_a_full_vehicle_offers_no_slot():
    sc = hub_only(FleetEntry("HUB", "bike", 1, 8 * H, 16 * H))
    heavy = LiveStop("X", 48.851, 2.371, 8 * H, 20 * H, 60, 124.8, 10)
    result = engine(sc, {"HUB/bike/1": [heavy]}).promise(BOOK, *NEAR_HUB, now_s=6 * H)
    assert slots(result, Service.EXPRESS) == []


def test_a_van_only_basket_in_the_limited_traffic_zone_gets_no_delivery_slot():
    sc = hub_only(
        FleetEntry("HUB", "van", 1, 7 * H, 15 * H), FleetEntry("HUB", "bike", 1, 8 * H, 16 * H)
    )
    result = engine(sc).promise([OrderLine("SOFA", 1)], *IN_CENTRE, now_s=6 * H)
    assert not [o for o in result.options if hasattr(o, "vehicle_id")]
    # the book in the same place goes by bike
    book = engine(sc).promise(BOOK, *IN_CENTRE, now_s=6 * H)
    assert {o.mode for o in book.options if hasattr(o, "mode")} == {"cargo_bike"}


def test_green_is_offered_only_where_a_bike_reaches():
    sc = hub_only(
        FleetEntry("HUB", "van", 1, 7 * H, 15 * H), FleetEntry("HUB", "bike", 1, 8 * H, 16 * H)
    )
    near = engine(sc).promise(BOOK, *NEAR_HUB, now_s=6 * H)
    assert slots(near, Service.GREEN)
    far = engine(sc).promise(BOOK, *FAR_AWAY, now_s=6 * H)
    assert slots(far, Service.GREEN) == []
    assert slots(far, Service.EXPRESS)  # a van still goes there
    assert {o.mode for o in far.options if hasattr(o, "mode")} == {"van"}


def test_slots_that_end_before_picking_is_done_are_not_offered():
    sc = hub_only(FleetEntry("HUB", "van", 1, 7 * H, 20 * H))
    result = engine(sc).promise(BOOK, *NEAR_HUB, now_s=11 * H)
    assert min(start for start, _ in slots(result, Service.EXPRESS)) >= 10
    assert all(o.eta_start_s >= 12 * H for o in result.options if hasattr(o, "eta_start_s"))


def test_out_of_stock_lines_say_when_inbound_stock_makes_them_promisable():
    sc = hub_only(FleetEntry("HUB", "van", 1, 7 * H, 15 * H))
    sc.inbound.append(Inbound("HUB", "TV", 2, 30 * H))
    result = engine(sc).promise([OrderLine("TV", 1), OrderLine("BOOK", 1)], *NEAR_HUB, now_s=6 * H)
    assert result.options == []
    tv, book = result.lines
    assert not tv.in_stock and tv.earliest_s == 31 * H
    assert book.in_stock


def test_click_and_collect_is_offered_at_a_nearby_store_with_stock():
    sc = scenario([], stock={("STORE", "BOOK"): 1})
    result = engine(sc).promise(BOOK, 48.869, 2.331, now_s=8 * H)
    (collect,) = [o for o in result.options if not hasattr(o, "vehicle_id")]
    assert collect.node_id == "STORE" and collect.ready_by_s == 10 * H  # opens 9:00 + 1 h


def test_every_offered_insertion_keeps_the_route_feasible():
    sc = hub_only(
        FleetEntry("HUB", "van", 2, 7 * H, 15 * H), FleetEntry("HUB", "bike", 2, 8 * H, 16 * H)
    )
    eng = engine(sc)
    rng = np.random.default_rng(7)
    for k in range(40):
        lat, lon = 48.85 + rng.normal(0, 0.01), 2.37 + rng.normal(0, 0.015)
        result = eng.promise(BOOK, lat, lon, now_s=6 * H)
        delivery = [o for o in result.options if hasattr(o, "vehicle_id") and o.day == 0]
        if not delivery:
            continue
        pick = delivery[rng.integers(len(delivery))]
        stop = LiveStop(f"N{k}", lat, lon, pick.slot_start_s, pick.slot_end_s,
                        result.service_time_s, 0.5, 2)  # fmt: skip
        eng.live.insert(pick.vehicle_id, pick.position, stop)
        vehicle = eng.live.vehicles[pick.vehicle_id]
        eng.live.gaps()
        assert vehicle.feasible
        i = vehicle.stops.index(stop) + 1
        assert pick.slot_start_s <= vehicle.departure_s[i] - stop.service_s <= pick.slot_end_s


def test_prices_follow_marginal_cost_within_bounds():
    from optimizer.promise import PromiseParams, price_eur

    p = PromiseParams()
    assert price_eur(7.9, 6.0, p) == pytest.approx(7.9)
    assert price_eur(7.9, 10.0, p) == pytest.approx(9.9)
    assert price_eur(7.9, 500.0, p) == pytest.approx(15.8)
    assert price_eur(7.9, 0.0, p) == pytest.approx(4.9)


def test_the_planned_day_takes_its_stock_and_fills_its_routes():
    sc = hub_only(FleetEntry("HUB", "van", 1, 7 * H, 15 * H))
    plan = Plan(scenario_name="x", sources={})
    eng = PromiseEngine.from_plan(sc, plan, GreatCircle())
    assert eng.free[eng.node_index["HUB"], eng.sku_index["BOOK"]] == 5
    eng.take("HUB", [OrderLine("BOOK", 5)])
    result = eng.promise(BOOK, *NEAR_HUB, now_s=6 * H)
    assert result.options == [] and result.lines[0].in_stock is False


def test_a_route_that_must_leave_before_the_order_is_picked_takes_no_more_stops():
    sc = hub_only(FleetEntry("HUB", "bike", 1, 8 * H, 16 * H))
    early = LiveStop("X", 48.868, 2.372, 9 * H, 9 * H + 1800, 300, 1, 1)
    eng = engine(sc, {"HUB/bike/1": [early]})
    # At 07:00 the book is picked by 08:00, the bike can still leave with it.
    assert slots(eng.promise(BOOK, *NEAR_HUB, now_s=7 * H), Service.EXPRESS)
    # At 08:45 it would be picked at 09:45: the bike must have left for its 09:00 stop.
    assert slots(eng.promise(BOOK, *NEAR_HUB, now_s=8 * H + 2700), Service.EXPRESS) == []
    # Asked again earlier, it is offered again: nothing was recomputed for the clock.
    assert slots(eng.promise(BOOK, *NEAR_HUB, now_s=7 * H), Service.EXPRESS)


# -- click & collect by the store shuttle or inbound stock; eco on later days -------------

DAY = 24 * H
AT_STORE = (48.869, 2.331)


def collects(result):
    return [o for o in result.options if not hasattr(o, "vehicle_id")]


def test_a_store_without_the_stock_offers_collect_by_shuttle_ready_after_the_next_run():
    # HUB holds the book, STORE does not. At 08:00 the hub picks by 09:00 (opens 07:00,
    # 1 h before departure); the 07:00 shuttle has gone, the 13:00 one is in at 15:00,
    # the basket is on the shelf 30 min later. Price: 0 + 0.5 x 2.00 EUR of shuttle.
    sc = scenario([], stock={("HUB", "BOOK"): 1})
    (collect,) = collects(engine(sc).promise(BOOK, *AT_STORE, now_s=8 * H))
    assert collect.node_id == "STORE" and collect.transfer_from_node_id == "HUB"
    assert collect.transfer_departs_s == 13 * H and collect.stock_arrives_s == 15 * H
    assert collect.ready_by_s == 15 * H + 1800 and collect.day == 0
    assert collect.price_eur == 1.0
    assert collect.allocation == (("BOOK", 1, "HUB", None),)  # the stock is taken at HUB


def test_a_shuttle_that_cannot_be_in_before_the_store_closes_is_offered_on_the_next_day_only():
    from dataclasses import replace

    from optimizer.promise import PromiseParams

    sc = scenario([], stock={("HUB", "BOOK"): 1})
    # The store closes at 14:30: the 13:00 run would be in at 15:00, after it closes.
    sc.nodes["STORE"] = replace(sc.nodes["STORE"], closes_s=14 * H + 1800)
    (collect,) = collects(engine(sc).promise(BOOK, *AT_STORE, now_s=8 * H))
    # Tomorrow's 07:00 run is in at 09:00, when the store opens: ready 09:30 tomorrow.
    assert collect.transfer_departs_s == DAY + 7 * H
    assert collect.ready_by_s == DAY + 9 * H + 1800 and collect.day == 1
    today_only = PromiseEngine(
        sc, LiveRoutes(sc, GreatCircle()), PromiseParams(collect_horizon_days=0)
    )
    assert collects(today_only.promise(BOOK, *AT_STORE, now_s=8 * H)) == []


def test_inbound_stock_arriving_at_the_store_makes_a_later_collect():
    sc = scenario([], stock={("HUB", "BOOK"): 1})
    sc.inbound.append(Inbound("STORE", "TV", 2, 15 * H))
    result = engine(sc).promise([OrderLine("TV", 1)], *AT_STORE, now_s=8 * H)
    (collect,) = collects(result)
    # in at 15:00, picked in 1 h: ready 16:00 at the store, nothing by shuttle
    assert collect.node_id == "STORE" and collect.transfer_from_node_id is None
    assert collect.ready_by_s == 16 * H and collect.stock_arrives_s == 15 * H
    assert collect.allocation == (("TV", 1, "STORE", 15 * H),)
    # a TV arriving after the store closes (20:00) is for tomorrow: ready at 10:00
    sc.inbound[:] = [Inbound("STORE", "TV", 2, 21 * H)]
    (collect,) = collects(engine(sc).promise([OrderLine("TV", 1)], *AT_STORE, now_s=8 * H))
    assert collect.ready_by_s == DAY + 10 * H


def test_eco_is_offered_on_the_next_days_with_places_from_the_fleet():
    sc = hub_only(
        FleetEntry("HUB", "van", 2, 7 * H, 15 * H), FleetEntry("HUB", "bike", 1, 8 * H, 16 * H)
    )
    eng = engine(sc)
    # 08-12: 2 vans x 4 h + the bike 4 h = 12 vehicle-hours x 4 drops x 0.5 = 24 places;
    # 12-16: 2 x 3 h + 4 h = 10 -> 20; 16-20: nobody works.
    assert eng.future_capacity("HUB", 8 * H, 12 * H) == 24
    assert eng.future_capacity("HUB", 12 * H, 16 * H) == 20
    assert eng.future_capacity("HUB", 16 * H, 20 * H) == 0
    later = [o for o in eng.promise(BOOK, *NEAR_HUB, now_s=8 * H).options
             if getattr(o, "day", 0) > 0]  # fmt: skip
    assert [(o.day, o.slot_start_s - o.day * DAY, o.slot_end_s - o.day * DAY) for o in later] == [
        (1, 8 * H, 12 * H), (1, 12 * H, 16 * H), (2, 8 * H, 12 * H), (2, 12 * H, 16 * H)
    ]  # fmt: skip
    assert all(o.service is Service.ECO and o.node_id == "HUB" for o in later)
    assert all(1.9 <= o.price_eur + (1.0 if o.recommended else 0) <= 7.8 for o in later)


def test_a_full_later_slot_is_not_offered():
    sc = hub_only(FleetEntry("HUB", "bike", 1, 8 * H, 16 * H))
    eng = engine(sc)
    eng.set_places_left(1, "HUB", 8 * H, 0)
    assert eng.places_left(1, "HUB", 8 * H) == 0 and eng.places_left(1, "HUB", 12 * H) == 8
    options = eng.promise(BOOK, *NEAR_HUB, now_s=8 * H).options
    later = [(o.day, o.slot_start_s % DAY) for o in options if getattr(o, "day", 0) > 0]
    assert (1, 8 * H) not in later and (1, 12 * H) in later and (2, 8 * H) in later


def _kind(option) -> Service:
    return getattr(option, "service", Service.CLICK_COLLECT)


def test_asking_for_some_services_answers_exactly_their_options_of_the_full_promise():
    sc = scenario([], stock={("HUB", "BOOK"): 5, ("STORE", "BOOK"): 1})
    full = engine(sc).promise(BOOK, *AT_STORE, now_s=8 * H)
    # The full answer has every kind: collect, express, green, eco today and on later days.
    assert {_kind(o) for o in full.options} == set(Service)
    assert any(getattr(o, "day", 0) > 0 for o in full.options)
    for asked in ([Service.EXPRESS], [Service.ECO], [Service.CLICK_COLLECT, Service.GREEN], []):
        answer = engine(sc).promise(BOOK, *AT_STORE, now_s=8 * H, services=asked)
        assert answer.options == [o for o in full.options if _kind(o) in asked]
        assert answer.lines == full.lines
