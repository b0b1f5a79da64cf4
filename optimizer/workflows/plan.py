"""Plan, check and write: the day planned, its KPIs, its ``plan.json`` and the
independent checker's verdict on that file, and the files an edge writes or stores.

Every edge that plans a day (``lastmile plan``, the service's plan jobs, the network
replay, the benchmarks) runs this one pipeline: the checker always reads the plan as
``plan.json`` says it (the text parsed back), never the planner's objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optimizer.check import CheckReport, check_plan
from optimizer.io.plan_files import plan_to_dict, routes_geojson, to_json
from optimizer.io.plan_json import read_plan_file
from optimizer.io.plan_map import plan_map
from optimizer.kpis import plan_kpis
from optimizer.model import Plan, Scenario
from optimizer.planning import PlanParams, plan_day
from optimizer.scale import ScaleParams
from optimizer.scale.distributed import cluster_client, plan_decomposed
from optimizer.scale.memory import PeakRss
from optimizer.travel import TravelProvider

Progress = Callable[[float, str], None]

# What an edge is told between the routing and the rest (KPIs, checker, map).
CHECKING = "checking the plan, drawing the map"


@dataclass(frozen=True)
class PlanRun:
    """A planned day: the plan, its KPIs, ``plan.json`` as a document and as text, and
    the checker's report on that text."""

    plan: Plan
    kpis: dict
    document: dict
    plan_json: str
    report: CheckReport


def plan_document(
    scenario: Scenario, plan: Plan, extra_kpis: dict | None = None
) -> tuple[dict, dict]:
    """The plan's KPIs (with ``extra_kpis``, a measured peak memory say) and its
    ``plan.json`` document (docs/plan-format.md)."""
    kpis = plan_kpis(scenario, plan)
    kpis.update(extra_kpis or {})
    return kpis, plan_to_dict(scenario, plan, kpis)


def checked(
    scenario: Scenario,
    plan: Plan,
    travel: TravelProvider | None = None,
    extra_kpis: dict | None = None,
    check_against: Scenario | None = None,
) -> PlanRun:
    """A plan made: its KPIs and ``plan.json``, checked by the independent checker on
    the text (against ``check_against``, default ``scenario``: the day it serves)."""
    kpis, document = plan_document(scenario, plan, extra_kpis)
    plan_json = to_json(document)
    report = check_plan(check_against or scenario, json.loads(plan_json), travel)
    return PlanRun(plan=plan, kpis=kpis, document=document, plan_json=plan_json, report=report)


def plan_and_check(
    scenario: Scenario,
    params: PlanParams | None = None,
    progress: Progress | None = None,
    travel: TravelProvider | None = None,
) -> PlanRun:
    """Plan the day (:func:`optimizer.planning.plan_day`), then :func:`checked`;
    ``progress`` hears the routing, then :data:`CHECKING` at 1.0."""
    plan = plan_day(scenario, params, travel, progress=progress)
    if progress is not None:
        progress(1.0, CHECKING)
    return checked(scenario, plan, travel)


def plan_in_parts(
    scenario: Scenario,
    params: PlanParams,
    scale: ScaleParams,
    workers: int,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> tuple[Plan, float]:
    """The day cut into regions planned apart on dask (a local cluster of ``workers``, or
    ``scheduler``'s), and the peak memory of this process with its local dask workers,
    MB. ``OSError`` when no scheduler answers at that address."""
    with PeakRss() as rss, cluster_client(workers, scheduler) as client:
        plan, _ = plan_decomposed(scenario, client, params, scale, progress=progress)
    return plan, rss.mb


def artefacts(scenario: Scenario, run: PlanRun) -> dict[str, str]:
    """The plan's files as text, by name: ``plan.json``, ``kpis.json``, ``routes.geojson``
    and ``map.html`` (written at once by :func:`optimizer.io.plan_files.write_plan_files`,
    or stored by the service)."""
    return {
        "plan.json": run.plan_json,
        "kpis.json": to_json(run.kpis),
        "routes.geojson": to_json(routes_geojson(scenario, run.plan)),
        "map.html": plan_map(scenario, run.plan).get_root().render(),
    }


def check_plan_file(scenario: Scenario, path: str | Path) -> CheckReport:
    """The checker's report on a ``plan.json`` file (``lastmile check``); raises
    :class:`optimizer.io.plan_json.PlanFileError` when the file is no JSON plan."""
    return check_plan(scenario, read_plan_file(path))
