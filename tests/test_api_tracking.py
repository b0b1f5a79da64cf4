"""Vehicle events and ETAs over HTTP, on the hand-checked plan of tracking_support
(SQLite and PostgreSQL): idempotent events, ETAs recomputed from each event, late stops
flagged, bad events refused with field paths, the order's tracking for the checkout and
the customer's token, the planner's live view."""

import json
from datetime import datetime

import pytest

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed
from tests.api_support import service_fixture as _service_fixture
from tests.tracking_support import hand_plan, store_done_plan, with_pickup

PLANNER = keyed(PLANNER_KEY)
CHECKOUT = keyed(CHECKOUT_KEY)

service = _service_fixture(quick_start=True)


@pytest.fixture
def day(service):
    scenario_dir = service.app.state.settings.scenario
    doc, facts = hand_plan(scenario_dir)
    plan_id = store_done_plan(service.app, scenario_dir, doc)
    return facts | {"plan_id": plan_id}


def post(client, day, event_id, kind, at, expect=201, **fields):
    body = {"event_id": f"{day['plan_id'][:8]}-{event_id}", "kind": kind,
            "plan_id": day["plan_id"], "occurred_at": day["at"](at), **fields}  # fmt: skip
    if kind != "collected":
        body.setdefault("vehicle_id", day["bike"])
    response = client.post("/v1/events", json=body, headers=PLANNER)
    assert response.status_code == expect, response.text
    return response.json()


def etas(result):
    return {s["order_id"]: (s["status"], s["eta"], s["late"]) for s in result["vehicle"]["stops"]}


def test_events_move_the_etas_of_the_remaining_stops_and_flag_the_slot_that_breaks(service, day):
    at = day["at"]
    out = post(service, day, "dep", "departed", "09:00")
    # From the node at 09:00 the ETAs are the plan's.
    assert etas(out) == {
        "A": ("out_for_delivery", at("09:05"), False),
        "B": ("out_for_delivery", at("09:12"), False),
        "C": ("out_for_delivery", at("09:19"), False),
    }
    assert out["vehicle"]["status"] == "en_route" and out["vehicle"]["back_at"] == at("10:17")

    # At A 3 minutes late, done at 09:12: B is 5 minutes on, at 09:17.
    post(service, day, "arr-a", "arrived", "09:08", order_id="A")
    out = post(service, day, "del-a", "delivered", "09:12", order_id="A")
    assert etas(out)["A"] == ("delivered", None, False)
    assert etas(out)["B"] == ("out_for_delivery", at("09:17"), False)
    post(service, day, "del-b", "delivered", "09:19", order_id="B")  # no arrived: fine

    # Stuck 40 minutes at 2.5 km from 09:25: C (500 m, 150 s on) at 10:07:30, in its slot.
    mid = {"lat": day["node"].lat + 2.5 * 0.0089932, "lon": day["node"].lon}
    out = post(service, day, "stuck", "delayed", "09:25", delay_s=2400, **mid)
    assert etas(out)["C"] == ("out_for_delivery", at("10:07:30"), False)
    # Still there at 10:35: C at 10:37:30, after its slot's end (10:30).
    out = post(service, day, "pos", "position", "10:35", **mid)
    status, eta, late = etas(out)["C"]
    assert (eta, late) == (at("10:37:30"), True)
    assert out["vehicle"]["late_stops"] == 1
    late_stop = next(s for s in out["vehicle"]["stops"] if s["order_id"] == "C")
    assert late_stop["late_by_s"] == 450

    tracking = service.get("/v1/orders/C/tracking", headers=CHECKOUT).json()
    assert tracking["status"] == "out_for_delivery" and tracking["late"] is True
    assert tracking["mode"] == "cargo_bike" and tracking["stops_before"] == 0
    assert tracking["promised_slot"] == {"start": at("10:00"), "end": at("10:30")}
    # The next stop's window: 10 minutes either side of the ETA.
    assert tracking["eta_window"] == {
        "start": at("10:27:30"),
        "end": at("10:47:30"),
    }

    out = post(service, day, "fail-c", "failed", "10:40", order_id="C", reason="nobody_home")
    assert etas(out)["C"] == ("failed", None, True)
    out = post(service, day, "home", "arrived", "10:55")
    assert out["vehicle"]["status"] == "done"
    assert (out["vehicle"]["stops_done"], out["vehicle"]["stops_total"]) == (3, 3)

    tracking = service.get("/v1/orders/C/tracking", headers=CHECKOUT).json()
    assert tracking["status"] == "failed" and tracking["failure_reason"] == "nobody_home"
    assert [h["kind"] for h in tracking["history"]] == ["departed", "delayed", "failed"]
    assert tracking["eta"] is None and tracking["done_at"] == at("10:40")


def test_an_event_id_sent_twice_counts_once_and_with_another_body_is_a_conflict(service, day):
    first = post(service, day, "dep", "departed", "09:00")
    again = post(service, day, "dep", "departed", "09:00", expect=200)
    assert again["duplicate"] is True and first["duplicate"] is False
    assert again["vehicle"] == first["vehicle"]
    # The same instant written with another offset is the same event.
    body = {"event_id": f"{day['plan_id'][:8]}-dep", "kind": "departed",
            "plan_id": day["plan_id"], "vehicle_id": day["bike"],
            "occurred_at": day["at"]("09:00").replace("T09", "T08")[:19] + "Z"}  # fmt: skip
    if day["tz"] == "+01:00":
        assert service.post("/v1/events", json=body, headers=PLANNER).status_code == 200
    conflict = post(service, day, "dep", "departed", "09:01", expect=409)
    assert conflict["detail"][0]["loc"] == ["body", "event_id"]
    post(service, day, "del-a", "delivered", "09:07", order_id="A")
    post(service, day, "del-a", "delivered", "09:07", order_id="A", expect=200)
    # One delivered event stored, the stop delivered once.
    live = service.get(f"/v1/plans/{day['plan_id']}/live", headers=PLANNER).json()
    bike = next(v for v in live["vehicles"] if v["vehicle_id"] == day["bike"])
    assert bike["stops_done"] == 1


@pytest.mark.parametrize(
    ("fields", "loc", "status"),
    [
        ({"plan_id": "no-such-plan"}, ["body", "plan_id"], 422),
        ({"vehicle_id": "NOPE/ebike/9"}, ["body", "vehicle_id"], 422),
        ({"order_id": "D"}, ["body", "order_id"], 422),  # on the other bike
        ({"order_id": "U"}, ["body", "order_id"], 422),  # unassigned
        ({"order_id": "ZZZ"}, ["body", "order_id"], 422),
    ],
)
def test_an_event_for_an_unknown_plan_vehicle_or_an_order_not_on_the_vehicle_is_refused(
    service, day, fields, loc, status
):
    body = {"event_id": f"bad-{loc[-1]}-{day['plan_id']}", "kind": "delivered",
            "plan_id": day["plan_id"], "vehicle_id": day["bike"], "order_id": "A",
            "occurred_at": day["at"]("09:07")} | fields  # fmt: skip
    response = service.post("/v1/events", json=body, headers=PLANNER)
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"] == loc


def test_malformed_events_get_422_with_the_field_path(service, day):
    base = {"event_id": "m1", "plan_id": day["plan_id"], "vehicle_id": day["bike"]}
    cases = [
        (base | {"kind": "failed", "order_id": "A", "occurred_at": day["at"]("09:07")}, "reason"),
        (base | {"kind": "position", "occurred_at": day["at"]("09:07"), "lat": 48.8}, "lat"),
        (base | {"kind": "delayed", "occurred_at": day["at"]("09:07"), "delay_s": -5}, "delay_s"),
        (base | {"kind": "departed", "occurred_at": "2026-11-24T09:00:00"}, "occurred_at"),
        (base | {"kind": "teleported", "occurred_at": day["at"]("09:07")}, "kind"),
        (base | {"kind": "departed", "occurred_at": "2031-01-01T09:00:00+00:00"}, "occurred_at"),
    ]
    for body, field in cases:
        response = service.post("/v1/events", json=body, headers=PLANNER)
        assert response.status_code == 422, (body, response.text)
        detail = response.json()["detail"]
        assert any(field in str(d["loc"]) + d["msg"] for d in detail), (field, detail)


def test_events_out_of_order_where_it_matters_are_conflicts(service, day):
    post(service, day, "del-a", "delivered", "09:07", order_id="A")
    conflict = post(service, day, "del-a2", "failed", "09:08", order_id="A",
                    reason="refused", expect=409)  # fmt: skip
    assert "already delivered" in conflict["detail"][0]["msg"]
    post(service, day, "arr-b", "arrived", "09:12", order_id="B")
    busy = post(service, day, "arr-c", "arrived", "09:20", order_id="C", expect=409)
    assert "still at order 'B'" in busy["detail"][0]["msg"]
    # A late position (older than the last fix) does not move the vehicle back.
    out = post(service, day, "old", "position", "09:01", lat=1.0, lon=1.0)
    assert out["vehicle"]["last_lat"] != 1.0


def test_click_and_collect_orders_are_collected_without_a_vehicle(service, day):
    assert service.get("/v1/orders/K/tracking", headers=CHECKOUT).json()["status"] == (
        "ready_for_collection"
    )
    post(service, day, "col", "collected", "10:20", order_id="K")
    tracking = service.get("/v1/orders/K/tracking", headers=CHECKOUT).json()
    assert tracking["status"] == "collected" and tracking["mode"] == "click_collect"
    post(service, day, "col2", "collected", "10:21", order_id="K", expect=409)


def test_tracking_needs_a_checkout_key_or_the_orders_token(service, day):
    assert service.get("/v1/orders/A/tracking").status_code == 401
    assert service.get("/v1/orders/A/tracking", headers=PLANNER).status_code == 403
    planned = service.get("/v1/orders/A/tracking", headers=CHECKOUT).json()
    assert planned["status"] == "planned" and planned["eta"] == day["at"]("09:05")
    url = planned["tracking_url"]
    token = url.split("token=")[1]
    assert service.get(f"/v1/orders/A/tracking?token={token}").json()["order_id"] == "A"
    assert service.get(f"/v1/orders/B/tracking?token={token}").status_code == 401
    assert service.get("/v1/orders/A/tracking?token=forged").status_code == 401
    assert service.get(url).status_code == 200  # the page itself
    unknown = service.get("/v1/orders/NOPE/tracking", headers=CHECKOUT)
    assert unknown.status_code == 404 and unknown.json()["detail"][0]["loc"] == [
        "path",
        "order_id",
    ]
    unassigned = service.get("/v1/orders/U/tracking", headers=CHECKOUT).json()
    assert unassigned["status"] == "unassigned" and "heavier" in unassigned["reason"]


def test_the_live_view_lists_every_vehicle_as_planned_before_the_first_event(service, day):
    live = service.get(f"/v1/plans/{day['plan_id']}/live", headers=PLANNER).json()
    assert live["tracked"] is False
    assert [v["vehicle_id"] for v in live["vehicles"]] == [day["bike"], day["other"]]
    assert live["vehicles"][0]["back_at"] == day["at"]("10:17")
    assert service.get("/v1/plans/nope/live", headers=PLANNER).status_code == 404
    assert service.get(f"/v1/plans/{day['plan_id']}/live", headers=CHECKOUT).status_code == 403


sqlite_only = _service_fixture(backends=("sqlite",), quick_start=True)


def test_on_a_real_plan_a_departure_on_time_gives_back_the_plans_own_arrivals(
    sqlite_only, tmp_path
):
    from data.generator import generate, write
    from tests.test_api_plans import wait_for

    client = sqlite_only
    day_dir = tmp_path / "paris-40"
    write(generate(40, 3), day_dir)
    job = client.post(
        "/v1/plans", json={"scenario": str(day_dir), "time_limit_s": 2}, headers=PLANNER
    ).json()
    plan = wait_for(client, job["id"], timeout_s=60)
    assert plan["status"] == "done", plan["error"]
    routes = plan["plan"]["routes"]
    assert routes
    checked = 0
    for k, route in enumerate(routes):
        first_trip = min(r["start"] for r in routes if r["vehicle_id"] == route["vehicle_id"])
        if route["start"] != first_trip:
            continue
        body = {"event_id": f"real-{k}", "kind": "departed", "plan_id": job["id"],
                "vehicle_id": route["vehicle_id"], "occurred_at": route["start"]}  # fmt: skip
        response = client.post("/v1/events", json=body, headers=PLANNER)
        assert response.status_code == 201, response.text
        stops = {s["order_id"]: s for s in response.json()["vehicle"]["stops"]}
        for planned in (s for r in routes if r["vehicle_id"] == route["vehicle_id"]
                        for s in r["stops"]):  # fmt: skip
            now = stops[planned["order_id"]]
            assert datetime.fromisoformat(now["eta"]) == datetime.fromisoformat(
                planned["arrival"]
            ), (route["vehicle_id"], planned["order_id"])
            assert now["late"] is False
            checked += 1
    assert checked == sum(len(r["stops"]) for r in routes)


def test_report_otif_from_the_database_and_service_times_the_next_plan_loads(
    service, day, tmp_path
):
    import shutil

    from typer.testing import CliRunner

    from cli import app
    from optimizer.io import load_scenario

    post(service, day, "dep", "departed", "09:00")
    post(service, day, "arr-a", "arrived", "09:06", order_id="A")
    post(service, day, "del-a", "delivered", "09:10", order_id="A")  # 240 s at the door
    post(service, day, "arr-b", "arrived", "09:15", order_id="B")
    post(service, day, "del-b", "delivered", "09:17", order_id="B")  # 120 s
    post(service, day, "fail-c", "failed", "10:40", order_id="C", reason="access")
    url = service.app.state.settings.database_url
    out = tmp_path / "service_times.csv"
    args = ["report", "otif", "--plan-id", day["plan_id"], "--database-url", url, "--json",
            "--min-samples", "1", "--service-times", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    overall = report["overall"]
    # A, B on time; C failed; D (the other bike, no event) open.
    assert (overall["orders"], overall["delivered"], overall["failed"], overall["open"]) == (
        4, 2, 1, 1,
    )  # fmt: skip
    assert overall["otif_pct"] == 66.7 and overall["first_attempt_pct"] == 66.7
    # ETA at departure vs at the door: A +1, B +3, C (10:40 less 2 min of service) +79 min.
    assert (overall["eta_error_p50_min"], overall["eta_error_p90_min"]) == (3.0, 63.8)
    assert overall["eta_bias_min"] == 27.7
    assert report["returns"] == {"routed": 0, "picked_up": 0, "failed": 0, "open": 0}
    assert list(report["by_mode"]) == ["cargo_bike"]
    assert list(report["by_hour"]) == ["09"]
    factors = {r["zone"]: r["factor"] for r in report["service_times"]}
    assert sorted(factors.values()) in ([1.5], [1.0, 2.0])
    # The written file is a valid service_times.csv for the next day's scenario.
    next_day = tmp_path / "next-day"
    shutil.copytree(service.app.state.settings.scenario, next_day)
    shutil.copy(out, next_day / "service_times.csv")
    load_scenario(next_day)

    # Every tracked plan of the database, as a table.
    table = CliRunner().invoke(app, ["report", "otif", "--database-url", url])
    assert table.exit_code == 0, table.output
    assert "Promise accuracy" in table.output and "mode cargo_bike" in table.output

    unknown = CliRunner().invoke(
        app, ["report", "otif", "--plan-id", "nope", "--database-url", url]
    )
    assert unknown.exit_code == 2 and "no plan job 'nope'" in unknown.output


def test_the_same_event_sent_by_several_clients_at_once_is_applied_once(service, day):
    from concurrent.futures import ThreadPoolExecutor

    body = {
        "event_id": f"race-{day['plan_id']}",
        "kind": "delivered",
        "plan_id": day["plan_id"],
        "vehicle_id": day["bike"],
        "order_id": "A",
        "occurred_at": day["at"]("09:07"),
    }
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(
            pool.map(
                lambda _: service.post("/v1/events", json=body, headers=PLANNER).status_code,
                range(8),
            )
        )
    assert codes == [200] * 7 + [201]
    tracking = service.get("/v1/orders/A/tracking", headers=CHECKOUT).json()
    assert [h["kind"] for h in tracking["history"]] == ["delivered"]


def test_a_vehicle_with_two_trips_goes_back_to_its_node_and_leaves_at_the_next_trips_start(
    service,
):
    scenario_dir = service.app.state.settings.scenario
    doc, facts = hand_plan(scenario_dir)
    at, bike = facts["at"], facts["bike"]
    first = doc["routes"][0]
    a = first["stops"][0]  # 1 km north: 5 min from the node
    second_trip = dict(first, start=at("11:00"), end=at("11:12"),
                       stops=[dict(a, order_id="E", arrival=at("11:05"), service_start=at("11:05"),
                                   departure=at("11:07"), slot_start=at("11:00"),
                                   slot_end=at("12:00"))])  # fmt: skip
    doc["routes"] = [dict(first, end=at("09:12"), stops=[a]), second_trip]
    doc["assignments"] = [
        {"order_id": "A", "status": "routed", "node_id": first["node_id"], "vehicle_id": bike},
        {"order_id": "E", "status": "routed", "node_id": first["node_id"], "vehicle_id": bike},
    ]
    day = facts | {"plan_id": store_done_plan(service.app, scenario_dir, doc)}

    out = post(service, day, "dep", "departed", "09:00")
    assert etas(out) == {
        "A": ("out_for_delivery", at("09:05"), False),
        "E": ("planned", at("11:05"), False),  # not on the trip that left
    }
    out = post(service, day, "del-a", "delivered", "09:40", order_id="A")
    # Back at the node at 09:45, out again at 11:00 as planned: E still at 11:05.
    assert etas(out)["E"] == ("planned", at("11:05"), False)
    out = post(service, day, "home", "arrived", "09:46")
    assert out["vehicle"]["status"] == "at_node"
    out = post(service, day, "dep2", "departed", "11:20")
    assert etas(out)["E"] == ("out_for_delivery", at("11:25"), False)
    assert out["vehicle"]["back_at"] == at("11:32")


@pytest.fixture
def pickup_day(service):
    """The hand plan with B the pickup of return R1 (bike 1: A, R1, C)."""
    scenario_dir = service.app.state.settings.scenario
    doc, facts = hand_plan(scenario_dir)
    plan_id = store_done_plan(service.app, scenario_dir, with_pickup(doc))
    return facts | {"plan_id": plan_id}


def test_a_pickup_ends_picked_up_and_the_next_stops_eta_moves_on(service, pickup_day):
    day, at = pickup_day, pickup_day["at"]
    post(service, day, "dep", "departed", "09:00")
    out = post(service, day, "del-a", "delivered", "09:07", order_id="A")
    kinds = {s["order_id"]: s["kind"] for s in out["vehicle"]["stops"]}
    assert kinds == {"A": "delivery", "R1": "pickup", "C": "delivery"}
    assert etas(out)["R1"] == ("out_for_delivery", at("09:12"), False)
    # Picked up 16 minutes late, at 09:30: C (1 km on, 300 s) is due at 09:35, not 09:19.
    out = post(service, day, "pick-r1", "picked_up", "09:30", order_id="R1")
    assert etas(out)["R1"] == ("picked_up", None, False)
    assert etas(out)["C"] == ("out_for_delivery", at("09:35"), False)
    assert (out["vehicle"]["stops_done"], out["vehicle"]["stops_total"]) == (2, 3)
    assert out["vehicle"]["last_lat"] == pytest.approx(next(
        s["lat"] for s in out["vehicle"]["stops"] if s["order_id"] == "R1"))  # fmt: skip
    tracking = service.get("/v1/orders/R1/tracking", headers=CHECKOUT).json()
    assert tracking["status"] == "picked_up" and tracking["service"] == "return_pickup"
    assert tracking["done_at"] == at("09:30") and tracking["eta"] is None
    assert [h["kind"] for h in tracking["history"]] == ["departed", "picked_up"]
    live = service.get(f"/v1/plans/{day['plan_id']}/live", headers=PLANNER).json()
    stop = next(s for s in live["vehicles"][0]["stops"] if s["order_id"] == "R1")
    assert (stop["kind"], stop["status"]) == ("pickup", "picked_up")
    # Done is done: another success or a failure of the same stop is a conflict.
    again = post(service, day, "pick-r1b", "picked_up", "09:31", order_id="R1", expect=409)
    assert "already picked_up" in again["detail"][0]["msg"]
    post(service, day, "fail-r1", "failed", "09:32", order_id="R1", reason="other", expect=409)


def test_delivered_on_a_pickup_and_picked_up_on_a_delivery_say_what_to_send(service, pickup_day):
    day = pickup_day
    wrong = post(service, day, "del-r1", "delivered", "09:14", order_id="R1", expect=422)
    (problem,) = wrong["detail"]
    assert problem["loc"] == ["body", "kind"]
    assert problem["msg"] == (
        "stop 'R1' is the pickup of a return: send kind 'picked_up', not 'delivered'"
    )
    wrong = post(service, day, "pick-a", "picked_up", "09:07", order_id="A", expect=422)
    assert wrong["detail"][0]["loc"] == ["body", "kind"]
    assert "send kind 'delivered', not 'picked_up'" in wrong["detail"][0]["msg"]
    # Nothing was applied: the stops are still open and take their right events.
    post(service, day, "pick-r1", "picked_up", "09:14", order_id="R1")
    post(service, day, "del-a", "delivered", "09:15", order_id="A")
    # An arrival at a pickup asks for its own event before the next stop.
    post(service, day, "arr-c", "arrived", "09:20", order_id="C")
    post(service, day, "del-c", "delivered", "10:02", order_id="C")


def test_a_picked_up_event_sent_twice_counts_once(service, pickup_day):
    day = pickup_day
    first = post(service, day, "pick", "picked_up", "09:14", order_id="R1")
    again = post(service, day, "pick", "picked_up", "09:14", order_id="R1", expect=200)
    assert again["duplicate"] is True and again["vehicle"] == first["vehicle"]
    conflict = post(service, day, "pick", "picked_up", "09:15", order_id="R1", expect=409)
    assert conflict["detail"][0]["loc"] == ["body", "event_id"]
    tracking = service.get("/v1/orders/R1/tracking", headers=CHECKOUT).json()
    assert [h["kind"] for h in tracking["history"]] == ["picked_up"]


def test_the_vehicle_at_a_pickup_is_told_to_send_picked_up_first(service, pickup_day):
    day = pickup_day
    post(service, day, "arr-r1", "arrived", "09:12", order_id="R1")
    busy = post(service, day, "arr-c", "arrived", "09:20", order_id="C", expect=409)
    assert "send its picked_up or failed event first" in busy["detail"][0]["msg"]


def test_a_picked_up_pickup_is_a_stop_served_for_the_replan_and_not_an_order_for_otif(
    service, pickup_day
):
    from api.models import PlanJob
    from api.services.otif import tracked
    from api.services.replan import live_state
    from api.services.tracking_state import Day

    day = pickup_day
    post(service, day, "dep", "departed", "09:00")
    post(service, day, "del-a", "delivered", "09:07", order_id="A")
    post(service, day, "pick-r1", "picked_up", "09:14", order_id="R1")
    db = service.app.state.db
    with db.transaction(write=False) as s:
        doc = json.loads(s.get(PlanJob, day["plan_id"]).plan_json)
        state = live_state(s, [day["plan_id"]], Day.of(doc), 9 * 3600 + 20 * 60, frozenset())
    (trip,) = state.trips[day["bike"]]
    assert [(f.order_id, f.outcome) for f in trip.stops] == [
        ("A", "delivered"), ("R1", "delivered"), ("C", "in_progress"),
    ]  # fmt: skip
    found = tracked(db, [day["plan_id"]])
    assert sorted(o.order_id for o in found.outcomes) == ["A", "C", "D"]  # R1 is not an order
    assert found.returns == {"routed": 1, "picked_up": 1, "failed": 0, "open": 0}
