"""Plan jobs' routes: ``/v1/plans`` runs the daily plan in the background (planner keys);
the jobs themselves are :mod:`api.services.plan_jobs`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response, status
from fastapi.responses import HTMLResponse

from api.auth import require_role
from api.deps import DbDep, PlanRunnerDep, SettingsDep
from api.errors import AUTH_RESPONSES, NOT_TEXT_RESPONSES, problem_responses
from api.schemas.plans import PlanJobOut, PlanRequest
from api.services import plan_jobs

NOT_FOUND = problem_responses({404: "No plan job with this id."}, "message")
NOT_DONE = problem_responses(
    {409: "The job has not produced a plan (or, to cancel, it has ended)."}, "message"
)
# The map runs Leaflet's scripts, in an opaque origin: no access to the service's.
MAP_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts allow-popups",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(
    prefix="/v1/plans",
    tags=["plans"],
    dependencies=[Depends(require_role("planner"))],
    responses=AUTH_RESPONSES,
)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanJobOut,
    response_model_exclude={"plan", "kpis"},
    responses=NOT_TEXT_RESPONSES,
)
def submit_plan(
    runner: PlanRunnerDep,
    settings: SettingsDep,
    response: Response,
    body: Annotated[PlanRequest | None, Body()] = None,
) -> PlanJobOut:
    """Plan the day in the background: the scenario's orders and the day's confirmed
    orders; or, with ``date``, a later day (its confirmed and carried orders), whose
    checked plan sets what the checkout may still sell on it. Poll ``GET
    /v1/plans/{id}`` for progress and the plan. A scenario folder that cannot be loaded
    is refused with 422 and every problem found in it, a date outside the promise's
    horizon with 422."""
    body = body or PlanRequest()
    scenario_dir = settings.scenario
    if body.scenario is not None:
        scenario_dir = plan_jobs.check_scenario(body.scenario, settings.scenario)
    day = plan_jobs.check_date(body.date, scenario_dir, runner.app_state)
    time_limit_s = settings.plan_time_limit_s if body.time_limit_s is None else body.time_limit_s
    job = runner.submit(scenario_dir, time_limit_s, day)
    response.headers["Location"] = f"/v1/plans/{job.id}"
    return plan_jobs.job_out(job, with_results=False)


@router.get("/{job_id}", response_model=PlanJobOut, responses=NOT_FOUND)
def get_plan(job_id: uuid.UUID, db: DbDep) -> PlanJobOut:
    """A job's status and progress; once done, the plan.json document, its KPIs and
    whether the independent checker found it sound."""
    return plan_jobs.job_status(db, str(job_id))


@router.post("/{job_id}/cancel", response_model=PlanJobOut, responses=NOT_FOUND | NOT_DONE)
def cancel_plan(job_id: uuid.UUID, runner: PlanRunnerDep) -> PlanJobOut:
    """Cancel a job. A queued job never runs; a running one is stopped at once and
    anything it would have produced is discarded. Cancelling a cancelled job is a no-op;
    a job that is done or failed cannot be cancelled (409)."""
    return plan_jobs.cancel_job(runner, str(job_id))


@router.get(
    "/{job_id}/routes.geojson",
    response_class=Response,
    responses={
        200: {
            "content": {"application/geo+json": {"schema": {"type": "object"}}},
            "description": "Nodes, routes (LineStrings) and stops (Points).",
        },
        **NOT_FOUND,
        **NOT_DONE,
    },
)
def get_routes_geojson(job_id: uuid.UUID, db: DbDep) -> Response:
    """The plan's nodes, routes and stops as GeoJSON."""
    text = plan_jobs.job_result(db, str(job_id), "geojson")
    return Response(text, media_type="application/geo+json")


@router.get(
    "/{job_id}/map",
    response_class=HTMLResponse,
    responses={200: {"description": "A folium (Leaflet) map."}, **NOT_FOUND, **NOT_DONE},
)
def get_map(job_id: uuid.UUID, db: DbDep) -> HTMLResponse:
    """The plan on a map: nodes, zones, one colour per vehicle, stops with their ETA.

    Its texts are escaped when the map is made (:mod:`optimizer.io.html_text`); the page
    is also sandboxed (``Content-Security-Policy: sandbox``: an origin of its own), so
    even a map stored before that cannot act as the service's origin."""
    return HTMLResponse(plan_jobs.job_result(db, str(job_id), "map_html"), headers=MAP_HEADERS)
