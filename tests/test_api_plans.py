"""Plan jobs over HTTP: submit, progress, plan + KPIs + checker, GeoJSON, map, cancel,
and every kind of bad request answered with a 4xx (a fuzzer finds no 5xx)."""

import shutil
import time
import uuid

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

import api.services.plan_jobs
from api.app import create_app
from data.generator import generate, write
from optimizer.io import Problem, ScenarioError
from tests.api_support import PLANNER_KEY, keyed, quick_start, service_settings
from tests.api_support import service_fixture as _service_fixture

PLANNER = keyed(PLANNER_KEY)
FINISHED = ("done", "failed", "cancelled")

# quick_start: the service's own day has one order and plans with a 1 s default budget.
client = _service_fixture(backends=("sqlite",), quick_start=True)
both_backends = _service_fixture(quick_start=True)


@pytest.fixture(scope="module")
def small_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("day") / "paris-60"
    write(generate(60, 5), out)
    return out


def submit(client, **body):
    response = client.post("/v1/plans", json=body, headers=PLANNER)
    assert response.status_code == 202, response.text
    return response.json()


def wait_for(client, job_id, statuses=FINISHED, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(f"/v1/plans/{job_id}", headers=PLANNER).json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout_s} s"
        time.sleep(0.1)


def test_a_plan_job_runs_to_done_with_its_plan_kpis_checker_geojson_and_map(
    both_backends, small_day
):
    client = both_backends
    response = client.post(
        "/v1/plans", json={"scenario": str(small_day), "time_limit_s": 2}, headers=PLANNER
    )
    assert response.status_code == 202
    queued = response.json()
    assert queued["status"] in ("queued", "running") and queued["progress"] == 0.0
    assert response.headers["location"] == f"/v1/plans/{queued['id']}"

    progress = [queued["progress"]]
    while (job := client.get(response.headers["location"], headers=PLANNER).json())[
        "status"
    ] not in FINISHED:
        progress.append(job["progress"])
        time.sleep(0.1)
    assert job["status"] == "done", job["error"]
    assert progress == sorted(progress) and job["progress"] == 1.0
    assert job["checker_ok"] is True and job["error"] is None
    assert job["scenario"] == str(small_day) and job["time_limit_s"] == 2.0
    assert job["started_at"] <= job["finished_at"]
    assert job["plan"]["format"] == "lastmile-plan/1"
    assert len(job["plan"]["assignments"]) == 60
    assert job["kpis"]["orders_total"] == 60
    assert job["kpis"] == job["plan"]["kpis"]

    geojson = client.get(f"/v1/plans/{job['id']}/routes.geojson", headers=PLANNER)
    assert geojson.status_code == 200
    assert geojson.headers["content-type"] == "application/geo+json"
    assert geojson.json()["type"] == "FeatureCollection"
    assert {f["properties"]["kind"] for f in geojson.json()["features"]} >= {"node", "route"}

    page = client.get(f"/v1/plans/{job['id']}/map", headers=PLANNER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "leaflet" in page.text.lower()
    assert page.headers["content-security-policy"].startswith("sandbox")  # an origin of its own


def test_cancel_a_queued_job_and_a_running_one_and_the_next_job_still_runs(client, small_day):
    first = submit(client, scenario=str(small_day), time_limit_s=20)  # cancelled running
    second = client.post("/v1/plans", headers=PLANNER).json()  # no body: the defaults
    served = client.app.state.settings.scenario
    assert second["scenario"] == str(served) and second["time_limit_s"] == 1.0
    assert second["status"] == "queued"  # one job at a time
    wait_for(client, first["id"], statuses=("running",))

    cancelled = client.post(f"/v1/plans/{second['id']}/cancel", headers=PLANNER)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    for result in ("routes.geojson", "map"):  # nothing to show yet
        assert client.get(f"/v1/plans/{first['id']}/{result}", headers=PLANNER).status_code == 409
    cancelled = client.post(f"/v1/plans/{first['id']}/cancel", headers=PLANNER)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/v1/plans/{first['id']}/cancel", headers=PLANNER)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"

    # The running plan was stopped, not waited for (it had 20 s): the next job runs now.
    third = submit(client, scenario=str(small_day), time_limit_s=1)
    assert wait_for(client, third["id"], timeout_s=15)["status"] == "done"
    first_after = wait_for(client, first["id"])
    assert first_after["status"] == "cancelled" and first_after["plan"] is None
    assert wait_for(client, second["id"])["started_at"] is None  # never ran
    assert client.get(f"/v1/plans/{first['id']}/map", headers=PLANNER).status_code == 409
    done = client.post(f"/v1/plans/{third['id']}/cancel", headers=PLANNER)
    assert done.status_code == 409 and "done" in done.json()["detail"]


def test_a_scenario_that_fails_to_load_when_the_job_runs_fails_the_job_with_every_problem(
    client, small_day, monkeypatch
):
    problems = [
        Problem("orders.csv", 3, "lat", "expected a number"),
        Problem("fleet.csv", None, None, "the file is missing"),
    ]

    def broken(app_state, scenario_dir, day=None):
        raise ScenarioError(scenario_dir, problems)

    monkeypatch.setattr(api.services.plan_jobs, "scenario_for_plan", broken)
    job = wait_for(client, submit(client, scenario=str(small_day))["id"])
    assert job["status"] == "failed" and job["plan"] is None
    assert "orders.csv, line 3, column lat: expected a number" in job["error"]
    assert "fleet.csv: the file is missing" in job["error"]


def test_a_broken_scenario_is_refused_at_submission_with_every_problem(client, small_day, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_day, broken)
    (broken / "fleet.csv").unlink()
    orders = (broken / "orders.csv").read_text().splitlines()
    orders[2] = orders[2].replace(",", ",x", 1)
    (broken / "orders.csv").write_text("\n".join(orders) + "\n")

    response = client.post("/v1/plans", json={"scenario": str(broken)}, headers=PLANNER)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("body", "scenario")}
    assert sorted((d["ctx"]["file"], d["ctx"]["line"], d["ctx"]["column"]) for d in detail) == [
        ("fleet.csv", None, None),
        ("orders.csv", 3, "lat"),
    ]
    missing = client.post("/v1/plans", json={"scenario": str(tmp_path / "nope")}, headers=PLANNER)
    assert missing.status_code == 422 and "not found" in missing.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"time_limit_s": 0.5}, ["body", "time_limit_s"]),
        ({"time_limit_s": 601}, ["body", "time_limit_s"]),
        ({"time_limit_s": "soon"}, ["body", "time_limit_s"]),
        ({"scenario": ""}, ["body", "scenario"]),
        ({"scenario": 7}, ["body", "scenario"]),
        ({"time_limit": 5}, ["body", "time_limit"]),
        ([1, 2], ["body"]),
    ],
)
def test_malformed_plan_requests_are_422_with_the_field_path(client, body, loc):
    response = client.post("/v1/plans", json=body, headers=PLANNER)
    assert response.status_code == 422
    assert loc in [d["loc"] for d in response.json()["detail"]]


def test_unparseable_json_and_a_malformed_job_id_are_422(client):
    response = client.post(
        "/v1/plans",
        content=b'{"time_limit_s": 3',
        headers=PLANNER | {"content-type": "application/json"},
    )
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"
    response = client.get("/v1/plans/not-a-uuid", headers=PLANNER)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "job_id"]


@pytest.mark.parametrize(
    "method, suffix",
    [("get", ""), ("post", "/cancel"), ("get", "/routes.geojson"), ("get", "/map")],
)
def test_unknown_job_ids_are_404(client, method, suffix):
    response = client.request(method, f"/v1/plans/{uuid.uuid4()}{suffix}", headers=PLANNER)
    assert response.status_code == 404
    assert response.json() == {"detail": "no plan job with this id"}


# -- a fuzzer over the plans endpoints: no 5xx, and answers as documented ------------------


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    """A service of its own: schemathesis starts it (lifespan) and we stop it."""
    tmp = tmp_path_factory.mktemp("fuzz")
    yield create_app(service_settings(f"sqlite:///{tmp / 'lastmile.db'}", tmp, **quick_start(tmp)))
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()


@pytest.fixture
def fuzz_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


fuzz = schemathesis.pytest.from_fixture("fuzz_schema")


@fuzz.include(path_regex="^/v1/plans").parametrize()
@hypothesis.settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_fuzzed_plan_requests_get_no_5xx_and_answers_the_spec_documents(case):
    # Every default check (no 5xx, documented status codes, content types and response
    # schemas, bad data refused, auth enforced) but one: a scenario path that fits the
    # schema may still name no scenario folder, and that is a 422.
    case.call_and_validate(headers=PLANNER, excluded_checks=[positive_data_acceptance])


def test_a_later_days_plan_whose_confirmed_orders_need_what_the_scenario_lacks_names_it(
    client, tmp_path, monkeypatch
):
    """Issue 13, item 9: the problems of a later day's folder that lacks a node or SKU of
    an order confirmed for it fail the job with those problems, not "internal error"."""
    from optimizer.model import Order, OrderLine, Service

    tomorrow = tmp_path / "tomorrow"
    write(generate(5, 3, date="2026-11-25"), tomorrow)
    ghost = Order(
        order_id="W-GHOST", lat=48.85, lon=2.35, service=Service.CLICK_COLLECT,
        slot_start_s=10 * 3600, slot_end_s=12 * 3600, service_time_s=60,
        lines=(OrderLine(sku="NO-SUCH-SKU", qty=1),), collect_node_id="NO-SUCH-NODE",
    )  # fmt: skip
    checkout = client.app.state.checkout
    monkeypatch.setattr(checkout, "confirmed_orders", lambda day=None: [ghost])
    job = wait_for(client, submit(client, scenario=str(tomorrow))["id"])
    assert job["status"] == "failed", job
    assert job["error"] != "internal error"
    assert f"scenario {tomorrow.resolve()} has 2 problems" in job["error"]
    assert "needs node NO-SUCH-NODE, which this scenario lacks" in job["error"]
    assert "needs SKU NO-SUCH-SKU, which this scenario lacks" in job["error"]
