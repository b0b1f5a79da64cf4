"""Every vehicle rule has one home: :func:`optimizer.planning.vehicle_arrays`.

In the spirit of PyVRP's ``op.supports(data)``: each :class:`VehicleType` field is either
turned into the engines' arrays by ``vehicle_arrays`` (changing it changes the arrays) or
listed in :data:`NOT_ROUTING` with the reason (changing it changes nothing there). A new
field that no array reads fails here, instead of being forgotten by one of the places that
build routing problems (the plan, the joint problem, the re-plan).
"""

import dataclasses

import numpy as np
import pytest
from factory import H, order, scenario
from shapely.geometry import Polygon

from optimizer.model import Mode, Service, Sku, VehicleType, Zone, ZoneRule
from optimizer.planning import VehicleArrays, vehicle_arrays
from optimizer.planning.problem import _basket
from optimizer.routing import RoutingProblem

NOT_ROUTING = {
    "vehicle_type_id": "a name: plans and the checker report it, no engine reads it",
    "co2_g_per_km": "reported (a route's co2_g, the KPIs, the promise's figures), never a "
    "constraint nor a cost the engines weigh",
}

# A low-emission square around the STORE, so zero_emission decides access there.
LEZ = Polygon([(2.325, 48.865), (2.335, 48.865), (2.335, 48.875), (2.325, 48.875)])


def day():
    orders = [
        order("A", 48.860, 2.350, [("BOOK", 2)]),  # inside the limited-traffic centre
        order("B", 48.870, 2.330, [("BOOK", 1)]),  # inside the low-emission zone
        order("C", 48.845, 2.380, [("SOFA", 1)]),  # a sofa: a van's size
        order("D", 48.845, 2.380, [("BOOK", 1)], service=Service.GREEN, slot=(12, 14)),
        order("E", 48.845, 2.380, [("WARDROBE", 1)]),  # takes a crew of two
        order("F", 48.845, 2.380, [("FRIDGE", 1)]),  # needs a tail lift
    ]
    sc = scenario(orders)
    zones = [*sc.zones, Zone("LEZ", "Low emission", ZoneRule.LOW_EMISSION, LEZ)]
    bulky = {
        "WARDROBE": Sku("WARDROBE", "Wardrobe", 60, 800, crew=2),
        "FRIDGE": Sku("FRIDGE", "Fridge", 70, 600, equipment=frozenset({"tail_lift"})),
    }
    return dataclasses.replace(sc, zones=zones, catalogue={**sc.catalogue, **bulky})


def arrays(sc) -> VehicleArrays:
    return vehicle_arrays(sc, sc.vehicles, [_basket(sc, o) for o in sc.orders])


def same(a: VehicleArrays, b: VehicleArrays) -> bool:
    for f in dataclasses.fields(VehicleArrays):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if x is None or y is None or x.shape != y.shape or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


def changed(value):
    """Another value of the field's kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, Mode):
        return Mode.CARGO_TRIKE if value is not Mode.CARGO_TRIKE else Mode.VAN
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 + 1
    if isinstance(value, str):
        return value + "-other"
    if value is None:
        return 1  # an optional limit, set
    if isinstance(value, frozenset):
        return value ^ {"tail_lift"}  # equipment: fitted, or taken off
    raise AssertionError(f"no other value for {value!r}: teach changed() this kind")


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(VehicleType)])
def test_every_vehicle_type_field_is_a_routing_array_or_said_not_to_be(name):
    sc = day()
    before = arrays(sc)
    van = sc.vehicle_types["van"]
    other = dataclasses.replace(van, **{name: changed(getattr(van, name))})
    types = {k: t for k, t in sc.vehicle_types.items() if k != "van"}
    types[other.vehicle_type_id] = other  # a new id: the fleet's vans take it
    fleet = [
        dataclasses.replace(e, vehicle_type_id=other.vehicle_type_id)
        if e.vehicle_type_id == "van"
        else e
        for e in sc.fleet
    ]
    after = arrays(dataclasses.replace(sc, vehicle_types=types, fleet=fleet))
    if name in NOT_ROUTING:
        assert same(before, after), f"{name} is listed as not a routing field, yet it is one"
    else:
        assert not same(before, after), (
            f"VehicleType.{name} changes no array of vehicle_arrays: turn it into one there "
            "(and into the RoutingProblem, the engines and a checker rule), or list it in "
            "NOT_ROUTING with the reason"
        )


def test_every_vehicle_field_of_the_routing_problem_comes_from_vehicle_arrays():
    """The re-plan's own addition (a vehicle out ends at its node) is the one exception."""
    sc = day()
    given = set(arrays(sc).routing_fields())
    vehicle_fields = {
        f.name
        for f in dataclasses.fields(RoutingProblem)
        if f.name.startswith("vehicle_") or f.name.startswith("break") or "_break_" in f.name
    }
    assert vehicle_fields - given == {"vehicle_end_location"}


def test_shifts_and_the_node_hours_are_the_vehicles_windows():
    sc = day()
    a = arrays(sc)
    hub_vans = [k for k, v in enumerate(sc.vehicles) if v.vehicle_type_id == "van"]
    assert all(a.earliest_start_s[k] == 7 * H and a.latest_end_s[k] == 15 * H for k in hub_vans)
    store_bike = next(k for k, v in enumerate(sc.vehicles) if v.node_id == "STORE")
    assert a.earliest_start_s[store_bike] == 9 * H and a.latest_start_s[store_bike] == 20 * H
