"""Planning days ahead (``lastmile plan --days N``) on a furniture retailer's fortnight
(``lastmile generate --kind furniture --days 14``): every day checker-clean, every order
accounted for, made-to-order sofas never out before they are ready, sofas on two-person
vans, stock carried from day to day, and bad inputs refused with the list of problems."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from data.furniture_generator import generate, write
from optimizer.io.plan_files import plan_from_dict
from optimizer.io.scenario_reader import load_scenario
from optimizer.planning import PlanParams
from optimizer.promise import PromiseParams
from optimizer.promise.capacity import slot_rooms
from optimizer.promise.engine import later_slots
from optimizer.workflows.plan_days import DaysError, plan_days, room_left

runner = CliRunner()
DAYS, ORDERS = 14, 15
TWO_PERSON = {"SOFA", "SOFA-CUSTOM", "WARDROBE", "BED", "TABLE", "OLD-SOFA"}


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write_rows(folder: Path, name: str, rows: list[dict[str, str]]) -> None:
    with open(folder / name, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def fortnight(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("furniture") / "fortnight"
    args = ["generate", "--kind", "furniture", "--days", str(DAYS), "--orders", str(ORDERS),
            "--seed", "3", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def planned(fortnight, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("plans") / "plan"
    args = ["plan", str(fortnight), "--days", str(DAYS), "--time-limit", "1", "--workers", "1",
            "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, result.output


def _plans(out: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "plan.json").read_text()) for p in sorted(out.iterdir())
            if p.is_dir()}  # fmt: skip


def test_the_fortnight_is_fourteen_days_of_orders_with_bulky_made_to_order_and_takebacks(
    fortnight,
):
    orders = _rows(fortnight, "orders.csv")
    assert len(orders) == DAYS * ORDERS
    dates = {o["slot_start"][:10] for o in orders}
    assert len(dates) == DAYS
    lines = _rows(fortnight, "order_lines.csv")
    skus = {x["sku"] for x in lines}
    assert {"SOFA-CUSTOM", "LAMP"} <= skus
    custom = {x["order_id"] for x in lines if x["sku"] == "SOFA-CUSTOM"}
    assert custom and all(o["ready_at"] for o in orders if o["order_id"] in custom)
    assert {r["kind"] for r in _rows(fortnight, "returns.csv")} == {"takeback"}
    types = {vt["vehicle_type_id"]: vt for vt in _rows(fortnight, "vehicle_types.csv")}
    assert types["van2"]["crew"] == "2" and types["van2"]["equipment"] == "tail_lift"
    assert {vt["mode"] for vt in types.values()} == {"van", "cargo_bike"}
    sc = load_scenario(fortnight)  # the reader takes the fortnight as one folder
    assert len(sc.orders) == DAYS * ORDERS


def test_the_same_seed_writes_the_same_files_and_another_differs(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        write(generate(orders=10, days=3, seed=seed), tmp_path / name)
    a, b, c = ((tmp_path / n / "orders.csv").read_bytes() for n in "abc")
    assert a == b and a != c


def test_every_day_is_planned_and_checker_clean(planned):
    out, output = planned
    summary = json.loads((out / "summary.json").read_text())
    assert summary["days_planned"] == DAYS and len(_plans(out)) == DAYS
    assert all(d["violations"] == 0 for d in summary["days"])
    assert f"no violation on any of the {DAYS} days" in output
    for day in summary["days"]:
        assert day["orders"] == ORDERS
        assert day["routed"] + day["collected"] + day["unassigned"] == ORDERS
        assert day["vehicles_used"] >= 1 and day["crew_used"] >= day["vehicles_used"]
    assert summary["not_planned"]["orders"] == 0


def test_each_day_says_what_the_checkout_could_still_sell_after_its_plan(fortnight, planned):
    """``room_left``: per node and slot, the places and crew hours the plan leaves free
    (what a later day's plan job sets in the service), never more than an empty day's,
    and less where the two-person vans work; printed per day."""
    out, output = planned
    summary = json.loads((out / "summary.json").read_text())
    sc = load_scenario(fortnight)
    p = PromiseParams.for_scenario(sc)
    empty = {
        (r.node_id, r.slot_start_s): r
        for r in slot_rooms(sc, later_slots(sc, p), p.future_capacity_share,
                            p.future_drops_per_vehicle_hour)
    }  # fmt: skip
    for day in summary["days"]:
        room = day["room_left"]
        assert room["places"] == sum(s["places"] for s in room["slots"])
        assert set(room["crew_hours"]) == {"crew:2", "equipment:tail_lift"}
        for slot in room["slots"]:
            start = int(slot["slot_start"][:2]) * 3600
            full = empty[slot["node_id"], start]
            assert 0 <= slot["places"] <= full.places
            assert slot["crew_hours"]["crew:2"] <= full.crew_s["crew:2"] / 3600
        assert room["crew_hours"]["crew:2"] < sum(r.crew_s["crew:2"] for r in empty.values()) / 3600
        assert f"left to sell: {room['places']} places" in " ".join(output.split())
    first = summary["days"][0]
    plan = plan_from_dict(sc, _plans(out)[first["date"]])
    assert first["room_left"] == room_left(sc, plan)  # the same figures from the plan file


def test_every_order_is_routed_collected_or_unassigned_with_a_reason_on_its_own_day(
    fortnight, planned
):
    out, _ = planned
    due = {o["order_id"]: o["slot_start"][:10] for o in _rows(fortnight, "orders.csv")}
    seen: dict[str, str] = {}
    for day, plan in _plans(out).items():
        assert plan["scenario"]["date"] == day
        ids = [s["order_id"] for r in plan["routes"] for s in r["stops"] if s["kind"] == "delivery"]
        ids += [c["order_id"] for c in plan["collections"]]
        assert all(u["reason"] for u in plan["unassigned"])
        ids += [u["order_id"] for u in plan["unassigned"]]
        for order_id in set(ids):
            assert order_id not in seen
            seen[order_id] = day
    assert seen == due


def test_made_to_order_sofas_never_leave_before_they_are_ready(fortnight, planned):
    out, _ = planned
    ready = {o["order_id"]: datetime.fromisoformat(o["ready_at"])
             for o in _rows(fortnight, "orders.csv") if o["ready_at"]}  # fmt: skip
    checked = 0
    for plan in _plans(out).values():
        for route in plan["routes"]:
            for stop in route["stops"]:
                if stop["order_id"] in ready:
                    assert datetime.fromisoformat(route["start"]) >= ready[stop["order_id"]]
                    checked += 1
    assert checked >= 1


def test_sofas_and_their_takebacks_go_on_two_person_tail_lift_vans(planned):
    out, _ = planned
    bulky_stops = 0
    for plan in _plans(out).values():
        for route in plan["routes"]:
            for stop in route["stops"]:
                if {x["sku"] for x in stop.get("lines", [])} & TWO_PERSON:
                    assert route["vehicle_type_id"] == "van2", stop["order_id"]
                    bulky_stops += 1
    assert bulky_stops >= DAYS


def test_orders_after_the_days_planned_are_counted_as_not_planned(fortnight, tmp_path):
    out = tmp_path / "plan"
    args = ["plan", str(fortnight), "--days", "1", "--time-limit", "1", "--workers", "1",
            "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["not_planned"]["orders"] == (DAYS - 1) * ORDERS
    assert f"not planned: {(DAYS - 1) * ORDERS} orders" in result.output


def test_stock_shipped_on_one_day_is_gone_the_next(tmp_path):
    folder = tmp_path / "two"
    write(generate(orders=12, days=2, seed=5), folder)
    lines = _rows(folder, "order_lines.csv")
    orders = {o["order_id"]: o["slot_start"][:10] for o in _rows(folder, "orders.csv")}
    first = min(orders.values())
    lamps = [x for x in lines if x["sku"] == "LAMP"]
    on_day1 = sum(int(x["qty"]) for x in lamps if orders[x["order_id"]] == first)
    assert on_day1 and len(lamps) > on_day1  # lamps on both days
    stock = _rows(folder, "stock.csv")
    for row in stock:
        if row["sku"] == "LAMP":
            row["qty"] = str(on_day1) if row["node_id"] == "WH" else "0"
    _write_rows(folder, "stock.csv", stock)
    result = plan_days(load_scenario(folder), 2, PlanParams(time_limit_s=1, workers=1))
    assert result.ok
    day1, day2 = result.days
    shipped = sum(x.qty for _, ls in day1.run.plan.shipments(day1.scenario) for x in ls
                  if x.sku == "LAMP")  # fmt: skip
    assert day2.scenario.stock[("WH", "LAMP")] == on_day1 - shipped
    if shipped == on_day1:
        lamp_orders = {x["order_id"] for x in lamps if orders[x["order_id"]] != first}
        reasons = {u.order_id: u.code for u in day2.run.plan.unassigned}
        assert all(str(reasons.get(o)) == "out_of_stock" for o in lamp_orders)


def test_a_plan_without_days_says_later_orders_need_days(tmp_path):
    folder = tmp_path / "two"
    write(generate(orders=6, days=2, seed=4), folder)
    args = [
        "plan",
        str(folder),
        "--time-limit",
        "1",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "p"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "6 orders and" in result.output and "plan the days" in result.output


def test_days_zero_is_refused_with_a_clear_message(fortnight, tmp_path):
    result = runner.invoke(app, ["plan", str(fortnight), "--days", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--days 0: plan from 1 to 366 days" in result.output
    assert "Traceback" not in result.output


def test_days_with_decompose_is_refused(fortnight, tmp_path):
    args = ["plan", str(fortnight), "--days", "2", "--decompose", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "neither --decompose nor --scheduler" in result.output


def test_an_early_order_and_goods_ready_too_late_are_all_listed(fortnight, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for p in fortnight.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    orders = _rows(folder, "orders.csv")
    early, late = orders[0], next(o for o in orders if o["ready_at"])
    for key in ("slot_start", "slot_end"):
        early[key] = early[key].replace("2026-11-24", "2026-11-20")
    late["ready_at"] = "2027-01-05T00:00:00+01:00"
    _write_rows(folder, "orders.csv", orders)
    returns = [r for r in _rows(folder, "returns.csv") if r["order_id"] != early["order_id"]]
    _write_rows(folder, "returns.csv", returns)
    result = runner.invoke(app, ["plan", str(folder), "--days", "3", "--out", str(tmp_path / "p")])
    assert result.exit_code == 2, result.output
    assert "cannot plan these days" in result.output
    assert f"order {early['order_id']!r} is due on 2026-11-20, before the scenario's day" in (
        result.output.replace("\n", " ")
    )
    assert f"order {late['order_id']!r}" in result.output
    assert "ready only at 2027-01-05" in result.output.replace("\n", " ")
    assert not (tmp_path / "p").exists()  # nothing planned, nothing written


def test_a_made_to_order_sofa_without_ready_at_waits_for_its_lead_time(fortnight):
    import dataclasses

    from optimizer.workflows.plan_days import _with_ready

    sc = load_scenario(fortnight)
    custom = [o for o in sc.orders if o.ready_s is not None]
    sc.orders = [dataclasses.replace(o, ready_s=None) for o in sc.orders]
    # Ordered on the scenario's day: the lead time of its fabric (linen 4 days, boucle 7,
    # velvet 10) ends at that day's midnight.
    ready = {o.order_id: o.ready_s for o in _with_ready(sc)}

    def lead_days(o):
        return max(sc.line_lead_time_days("WH", x) or 0 for x in o.lines)

    assert {lead_days(o) for o in custom} == {4, 7, 10}
    assert all(ready[o.order_id] == lead_days(o) * 86_400 for o in custom)
    early = sorted(o.order_id for o in custom if o.slot_start_s < ready[o.order_id])
    assert early  # some are due before it: each named
    with pytest.raises(DaysError) as caught:
        plan_days(sc, DAYS, PlanParams(time_limit_s=0.1, workers=1))
    named = [p for p in caught.value.problems if "ready only at" in p]
    assert len(named) == len(early) and all(repr(o) in " ".join(named) for o in early)


def test_generate_refuses_several_days_for_a_paris_day(tmp_path):
    result = runner.invoke(app, ["generate", "--days", "3", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "only --kind furniture generates several days" in result.output


def test_the_furniture_generator_lists_every_bad_argument():
    with pytest.raises(ValueError, match="orders 0.*days 0.*date 'x'"):
        generate(orders=0, days=0, date="x")
