"""Tracking a split order: its parcels are tracked one by one, the order by its last one."""

import pytest

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY, keyed
from tests.api_support import service_fixture as _service_fixture
from tests.tracking_support import hand_plan, store_done_plan

PLANNER = keyed(PLANNER_KEY)
CHECKOUT = keyed(CHECKOUT_KEY)

service = _service_fixture(quick_start=True)


@pytest.fixture
def day(service):
    """The hand plan with B (bike 1, 09:12) and D (bike 2, 09:05) the parcels S/1, S/2 of
    one split order S."""
    scenario_dir = service.app.state.settings.scenario
    doc, facts = hand_plan(scenario_dir)
    for route in doc["routes"]:
        for stop in route["stops"]:
            parcel = {"B": "S/1", "D": "S/2"}.get(stop["order_id"])
            if parcel:
                stop["order_id"], stop["parcel_id"] = "S", parcel
    doc["assignments"] = [a for a in doc["assignments"] if a["order_id"] not in ("B", "D")]
    doc["assignments"].append({
        "order_id": "S", "status": "routed", "node_id": None, "vehicle_id": None,
        "parcels": [
            {"parcel_id": "S/1", "node_id": facts["node"].node_id, "vehicle_id": facts["bike"]},
            {"parcel_id": "S/2", "node_id": facts["node"].node_id, "vehicle_id": facts["other"]},
        ],
    })  # fmt: skip
    plan_id = store_done_plan(service.app, scenario_dir, doc)
    return facts | {"plan_id": plan_id}


def test_a_split_order_is_tracked_by_its_last_parcel_and_each_parcel_takes_events(service, day):
    at = day["at"]
    response = service.get("/v1/orders/S/tracking", headers=CHECKOUT)
    assert response.status_code == 200, response.text
    planned = response.json()
    assert planned["order_id"] == "S/1" and planned["eta"] == at("09:12")
    body = {"event_id": f"{day['plan_id'][:8]}-s2", "kind": "delivered",
            "plan_id": day["plan_id"], "occurred_at": at("09:06"),
            "vehicle_id": day["other"], "order_id": "S/2"}  # fmt: skip
    response = service.post("/v1/events", json=body, headers=PLANNER)
    assert response.status_code == 201, response.text
    # A parcel is tracked on its own too (issue 13, item 10), its id as is or encoded.
    for path in ("/v1/orders/S/2/tracking", "/v1/orders/S%2F2/tracking"):
        parcel = service.get(path, headers=CHECKOUT)
        assert parcel.status_code == 200, parcel.text
        assert parcel.json()["order_id"] == "S/2" and parcel.json()["status"] == "delivered"
    link = parcel.json()["tracking_url"]
    assert link.startswith("/track/S%2F2?token=")
    assert service.get(link).status_code == 200
    token = link.split("token=")[1]
    assert service.get(f"/v1/orders/S/2/tracking?token={token}").status_code == 200
    assert service.get(f"/v1/orders/S/1/tracking?token={token}").status_code == 401
    assert service.get("/v1/orders/S/9/tracking", headers=CHECKOUT).status_code == 404
    tracked = service.get("/v1/orders/S/tracking", headers=CHECKOUT).json()
    assert tracked["order_id"] == "S/1" and tracked["status"] == "planned"
