"""Click & collect by the store shuttle or from inbound stock, in the daily plan and the
independent checker (hand-checked small days)."""

import copy

import pytest

from optimizer.check import check_plan
from optimizer.io.plan_files import plan_from_dict, plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.model import Inbound, Order, OrderLine, Service
from optimizer.planning import PlanParams, plan_day
from tests.factory import H, scenario


def collect(order_id, sku, ready_s, source=None, departs_s=None):
    return Order(
        order_id=order_id, lat=48.869, lon=2.331, service=Service.CLICK_COLLECT,
        slot_start_s=ready_s, slot_end_s=20 * H, service_time_s=0,
        lines=(OrderLine(sku, 1),), collect_node_id="STORE",
        ship_from_node_id=source, transfer_departs_s=departs_s,
    )  # fmt: skip


def planned(sc):
    plan = plan_day(sc, PlanParams(time_limit_s=1))
    return plan, plan_to_dict(sc, plan, plan_kpis(sc, plan))


def codes(sc, document):
    return {v.code for v in check_plan(sc, document).violations}


@pytest.fixture
def transfer():
    """A book for the store, only the hub has it: the 13:00 shuttle, ready by 15:30."""
    sc = scenario([collect("C1", "BOOK", 15 * H + 1800, "HUB", 13 * H)],
                  stock={("HUB", "BOOK"): 1})  # fmt: skip
    return sc, *planned(sc)


def test_a_transfer_collection_is_planned_at_the_store_with_the_hubs_stock(transfer):
    sc, plan, document = transfer
    (c,) = document["collections"]
    assert (c["node_id"], c["transfer_from_node_id"]) == ("STORE", "HUB")
    assert c["transfer_departs"] == "2026-11-24T13:00:00+01:00"
    assert plan.sources["C1"] == "HUB" and not plan.unassigned
    assert check_plan(sc, document).ok
    again = plan_from_dict(sc, document).collections[0]
    assert (again.transfer_from_node_id, again.transfer_departs_s) == ("HUB", 13 * H)


@pytest.mark.parametrize(
    "change, why",
    [
        ({"ready_by": "2026-11-24T15:00:00+01:00"}, "before 15:30"),  # shuttle in, not shelved
        ({"transfer_departs": "2026-11-24T10:00:00+01:00"}, "no shuttle leaves at 10:00"),
        ({"transfer_from_node_id": "STORE"}, "not another node"),
        ({"transfer_departs": "2026-11-24T19:00:00+01:00"}, "after STORE closes"),
    ],
)
def test_the_checker_rejects_a_wrong_transfer(transfer, change, why):
    sc, _, document = transfer
    wrong = copy.deepcopy(document)
    wrong["collections"][0].update(change)
    found = [v for v in check_plan(sc, wrong).violations if v.code == "bad_transfer"]
    assert found and why in found[0].message


def test_the_checker_rejects_a_transfer_planned_from_the_stores_own_empty_stock(transfer):
    sc, _, document = transfer
    wrong = copy.deepcopy(document)
    for key in ("transfer_from_node_id", "transfer_departs"):
        del wrong["collections"][0][key]
    wrong["assignments"][0]["node_id"] = "STORE"
    assert {"bad_transfer", "stock_exceeded"} <= codes(sc, wrong)


def test_the_checker_counts_a_transfer_against_the_source_stock():
    sc = scenario([collect("C1", "BOOK", 15 * H + 1800, "HUB", 13 * H)],
                  stock={("HUB", "BOOK"): 1})  # fmt: skip
    _, document = planned(sc)
    sc.stock[("HUB", "BOOK")] = 0
    assert "stock_exceeded" in codes(sc, document)


def test_inbound_stock_at_the_store_serves_a_collection_ready_after_it_arrives():
    sc = scenario([collect("C1", "TV", 16 * H)], stock={})
    sc.inbound.append(Inbound("STORE", "TV", 1, 15 * H))
    plan, document = planned(sc)
    assert [c.order_id for c in plan.collections] == ["C1"] and check_plan(sc, document).ok
    early = copy.deepcopy(document)
    early["collections"][0]["ready_by"] = "2026-11-24T14:00:00+01:00"  # before the TV is in
    assert "stock_exceeded" in codes(sc, early)


def test_a_collection_before_its_inbound_arrives_is_unassigned_with_a_reason():
    sc = scenario([collect("C1", "TV", 14 * H)], stock={})
    sc.inbound.append(Inbound("STORE", "TV", 1, 15 * H))
    plan, document = planned(sc)
    (u,) = plan.unassigned
    assert u.code == "collect_node_no_stock" and check_plan(sc, document).ok
