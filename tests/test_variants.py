"""Lead times per configured variant (issue 18, item 1): a sofa customised in store
(fabric, armrests) is one made-to-order SKU whose lines carry their configuration; a
variant's lead time (``lead_times.csv`` rows with ``variant``) sets when its goods are
in, for the promise, the days-ahead plan and the checker, and bad variants are listed
with file, line and column."""

from __future__ import annotations

import dataclasses

import pytest

from optimizer.io import load_scenario
from optimizer.io.plan_files import plan_from_dict, plan_to_dict
from optimizer.kpis import plan_kpis
from optimizer.model import OrderLine, Service, variant_options, variant_problem
from optimizer.planning import PlanParams, plan_day
from optimizer.workflows.plan_days import plan_days
from tests.factory import H, order
from tests.test_lead_times import ask, days_of, furniture_day, furniture_files
from tests.test_scenario_loading import problems_of, write_scenario

VELVET = "fabric=velvet;arms=slim"
DAY_S = 24 * H


def with_rules(sc, rules, nodes=("HUB",)):
    """``sc`` with variant rules of the SOFA at ``nodes``: ``{options: days}``."""
    table = tuple((variant_options(v), d) for v, d in rules.items())
    return dataclasses.replace(sc, variant_lead_times={(n, "SOFA"): table for n in nodes})


def test_a_variant_s_lead_time_is_its_longest_matching_rule_else_the_sku_s():
    sc = with_rules(furniture_day(lead_days=4), {"fabric=velvet": 10, "arms=slim": 6})
    assert sc.lead_time_days("HUB", "SOFA") == 4
    assert sc.lead_time_days("HUB", "SOFA", "fabric=linen") == 4
    assert sc.lead_time_days("HUB", "SOFA", "arms=slim; fabric=linen") == 6
    assert sc.lead_time_days("HUB", "SOFA", " arms=slim ;fabric=velvet") == 10  # both: longest
    assert sc.lead_time_days("HUB", "SOFA", "Fabric = Velvet") == 10  # however it is typed
    assert sc.line_lead_time_days("HUB", OrderLine("SOFA", 1, VELVET)) == 10
    assert sc.lead_time_days("STORE", "SOFA", VELVET) == 4  # the rules are the hub's


def test_the_promise_offers_a_velvet_sofa_from_its_own_lead_time():
    """Express is from the day after the goods are in: linen (4 days) from day 5, velvet
    (10 days) from day 11, each line's variant counted."""
    sc = with_rules(furniture_day(lead_days=4, lead_times={("STORE", "SOFA"): 10}),
                    {"fabric=velvet": 10})  # fmt: skip
    linen = ask(sc, lines=[OrderLine("SOFA", 1, "fabric=linen")])
    velvet = ask(sc, lines=[OrderLine("SOFA", 1, VELVET)])
    assert days_of(linen, Service.EXPRESS)[0] == 5
    assert days_of(velvet, Service.EXPRESS)[0] == 11
    assert velvet.lines[0].lead_time_days == 10
    late = with_rules(sc, {"fabric=velvet": 30}, nodes=("HUB", "STORE"))
    why = ask(late, lines=[OrderLine("SOFA", 1, VELVET)]).unavailable[Service.EXPRESS]
    assert "ready in 30 days" in why and "horizon of 21 days" in why


def test_variants_and_their_lead_times_load_from_the_folder(tmp_path):
    files = furniture_files()
    for line in files["order_lines.csv"]:
        line["variant"] = ""
    files["order_lines.csv"][0]["variant"] = " fabric=velvet; arms=slim "
    files["lead_times.csv"] = [
        {"node_id": "HUB1", "sku": "SKU-C", "lead_time_days": 2, "variant": ""},
        {"node_id": "HUB1", "sku": "SKU-A", "lead_time_days": 9, "variant": "fabric=velvet"},
        {"node_id": "HUB1", "sku": "SKU-C", "lead_time_days": 5, "variant": "colour=red"},
    ]
    sc = load_scenario(write_scenario(tmp_path / "day", files))
    (first, *_) = sc.orders_by_id["O1"].lines
    assert first == OrderLine("SKU-A", 2, "fabric=velvet; arms=slim")
    assert sc.lead_time_days("HUB1", "SKU-A", first.variant) == 9
    assert sc.lead_time_days("STORE1", "SKU-A", first.variant) == 4  # the catalogue's
    assert sc.lead_time_days("HUB1", "SKU-C", "colour=red") == 5
    assert sc.lead_time_days("HUB1", "SKU-C") == 2


def test_bad_variants_are_listed_with_file_line_and_column(tmp_path):
    files = furniture_files()
    for line in files["order_lines.csv"]:
        line["variant"] = ""
    files["order_lines.csv"][1]["variant"] = "fabric=velvet\x07"
    files["order_lines.csv"][2]["variant"] = "x" * 201
    files["order_lines.csv"][3]["variant"] = " ; ; "
    files["lead_times.csv"] = [
        {"node_id": "HUB1", "sku": "SKU-C", "lead_time_days": 2, "variant": ""},
        # SKU-B is stocked: a variant never makes it made to order
        {"node_id": "HUB1", "sku": "SKU-B", "lead_time_days": 9, "variant": "fabric=velvet"},
        {"node_id": "HUB1", "sku": "SKU-A", "lead_time_days": 9, "variant": "fabric=velvet"},
        {"node_id": "HUB1", "sku": "SKU-A", "lead_time_days": 7, "variant": "fabric=velvet "},
    ]
    problems = problems_of(write_scenario(tmp_path / "d", files))
    found = {(p.file, p.line, p.column): p.message for p in problems}
    assert "control characters" in found["order_lines.csv", 3, "variant"]
    assert "at most 200 characters" in found["order_lines.csv", 4, "variant"]
    assert "options name=value" in found["order_lines.csv", 5, "variant"]
    assert "'SKU-B' is not made to order at node 'HUB1'" in found["lead_times.csv", 3, "variant"]
    assert "duplicate lead time" in found["lead_times.csv", 5, "variant"]
    assert "first on line 4" in found["lead_times.csv", 5, "variant"]


@pytest.mark.parametrize(
    "variant, ok",
    [
        ("fabric=velvet", True),
        ("", True),
        (" Fabric = Velvet ; arms=slim; ", True),
        ("a;b", False),
        ("velvet", False),
        ("=", False),
        ("fabric=", False),
        (";", False),
        ("a=1\nb=2", False),
    ],  # fmt: skip
)
def test_what_a_variant_may_be(variant, ok):
    assert (variant_problem(variant) is None) is ok


def test_a_plan_keeps_each_line_s_variant_for_the_crew(tmp_path):
    sofa = order("S1", 48.852, 2.372, [("SOFA", 1)], service=Service.ECO, slot=(8, 12))
    sofa = dataclasses.replace(sofa, lines=(OrderLine("SOFA", 1, VELVET),))
    sc = furniture_day(lead_days=4, orders=[sofa])
    plan = plan_day(sc, PlanParams(time_limit_s=1, workers=1))
    document = plan_to_dict(sc, plan, plan_kpis(sc, plan))
    (stop,) = [s for r in document["routes"] for s in r["stops"]]
    assert stop["lines"] == [{"sku": "SOFA", "qty": 1, "variant": VELVET}]
    read = plan_from_dict(sc, document)
    assert read.routes[0].stops[0].order_id == "S1"


def test_days_ahead_wait_for_a_variant_s_goods_without_ready_at():
    """An order of day 12 for a velvet sofa (10 days) without ``ready_at`` is ready on
    day 10 (the scenario's day plus the variant's lead time), a linen one on day 4."""
    velvet = order("V1", 48.852, 2.372, [("SOFA", 1)], service=Service.ECO, slot=(8, 12))
    velvet = dataclasses.replace(
        velvet, lines=(OrderLine("SOFA", 1, VELVET),), slot_start_s=11 * DAY_S + 8 * H,
        slot_end_s=11 * DAY_S + 12 * H,
    )  # fmt: skip
    linen = dataclasses.replace(
        velvet, order_id="L1", lines=(OrderLine("SOFA", 1, "fabric=linen"),)
    )
    sc = furniture_day(lead_days=4, orders=[velvet, linen])
    sc = with_rules(sc, {"fabric=velvet": 10}, nodes=("HUB", "STORE"))
    result = plan_days(sc, 12, PlanParams(time_limit_s=1, workers=1))
    last = result.days[-1].scenario
    assert last.orders_by_id["V1"].ready_s == (10 - 11) * DAY_S  # day 10, from day 12's midnight
    assert last.orders_by_id["L1"].ready_s == (4 - 11) * DAY_S
    assert result.ok


def test_the_longest_option_id_the_promise_can_make_can_be_held():
    """100 lines of 64-character SKUs with 200-character variants, made to order, its
    allocation carried: the option id fits the hold's field and body limits."""
    import json

    from api.limits import body_limit_bytes
    from api.schemas.checkout import MAX_OPTION_ID_CHARS
    from api.services.checkout.promise import OptionCodec

    sku, node, variant = "S" * 64, "N" * 64, "v=" + "x" * 198
    payload = {
        "la": -89.123456, "lo": -179.123456, "l": [[sku, 999, variant]] * 100, "st": 10**6,
        "x": 7_258_118_400, "n": node, "p": 99_999.99, "sd": "2026-12-04", "rd": 366,
        "al": [[sku, 999, node, None]] * 100, "s": "express", "a": 10**7, "b": 10**7,
        "m": "cargo_bike", "c": 99_999.9, "d": 366, "t": node, "td": 10**7, "r": 10**7,
    }  # fmt: skip
    option_id = OptionCodec(b"k" * 32).encode(payload)
    assert len(option_id) <= MAX_OPTION_ID_CHARS
    body = json.dumps({"option_id": option_id, "channel": "web", "customer_id": "c" * 64})
    assert len(body) <= body_limit_bytes("POST", "/v1/holds")


def test_an_order_carried_to_the_next_day_keeps_its_variants():
    from api.services.days import _carried

    sofa = order("V1", 48.852, 2.372, [("SOFA", 1)], service=Service.ECO, slot=(8, 12))
    sofa = dataclasses.replace(sofa, lines=(OrderLine("SOFA", 1, VELVET), OrderLine("BOOK", 2)))
    assert _carried(sofa, None)["lines"] == [["SOFA", 1, VELVET], ["BOOK", 2]]
    parcel = [{"sku": "SOFA", "qty": 1, "variant": VELVET}]  # a parcel left, as plan.json has it
    assert _carried(sofa, parcel)["lines"] == [["SOFA", 1, VELVET]]
