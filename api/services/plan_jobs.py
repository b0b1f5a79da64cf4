"""Plan jobs: the daily plan run in the background for ``/v1/plans``
(:mod:`api.routes.plans`).

Jobs run one at a time. Each runs in a child process of its own, supervised by one
thread of the service: OR-Tools holds the GIL while it solves, and a plan solved in the
service's process would stall every other request for seconds. The child sends its
progress back, which the supervisor writes to ``plan_jobs``; cancelling a running job
kills the child and its solver processes at once, and a result that arrives after a
cancel is discarded.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Select, select, update
from sqlalchemy.orm import defer

from api.db import Database
from api.errors import ApiError, message, problem_item
from api.models import PlanJob, utcnow
from api.schemas.plans import PlanJobOut
from api.services.order_events import announce_collections
from api.services.outbox import announce
from optimizer.io import Problem, ScenarioError, load_scenario
from optimizer.model import Scenario
from optimizer.processes import die_with_parent

log = logging.getLogger("lastmile.api.plans")

ACTIVE = ("queued", "running")  # what a cancel stops
# A checked plan being made the checkout's (routes, or a later day's capacity): too late
# to cancel (409), and done once published.
PUBLISHING = "publishing"
# Share of the progress bar the routing takes; the rest is KPIs, checker and map.
ROUTING_SHARE = 0.9
# forkserver: children are forked from a small single-threaded server, never from the
# threaded service (fork in a threaded process can deadlock the child).
_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
CONTEXT = multiprocessing.get_context(_START_METHOD)
# What a plan child imports, loaded once in the fork server instead of in every child.
PRELOAD = [
    "api.services.plan_jobs",
    "optimizer.planning",
    "optimizer.check",
    "optimizer.io.plan_map",
    "optimizer.workflows.plan",
]


# -- the seam for the day's confirmed orders ---------------------------------------------


def scenario_for_plan(app_state: Any, scenario_dir: Path, day: date | None = None) -> Scenario:
    """The scenario a plan job plans. For the service's own folder: the day served (or
    ``day``), i.e. the folder re-dated to it with the orders confirmed at checkout for it
    and those carried into it, and, for the day served, the stock as the checkout holds
    it (counts from ``PUT /v1/stock`` less holds and later days' orders). For another
    folder: its orders, plus the orders confirmed through the checkout **for that
    scenario's date** (each shipping from the node it was promised from) when it is a
    later day's folder of the same network (an eco slot or a click & collect of a later
    day joins that day's plan, never today's). Called from the job's supervisor thread.
    Raises :class:`optimizer.io.ScenarioError`.
    """
    served = Path(scenario_dir) == app_state.settings.scenario
    checkout = getattr(app_state, "checkout", None)
    if served and checkout is not None:
        return checkout.scenario_of_day(day, live_stock=True)
    scenario = app_state.scenario if served else load_scenario(scenario_dir)
    if checkout is None:
        return scenario
    if not served and scenario.settings.date <= checkout.scenario.settings.date:
        return scenario  # another network, or an earlier day: its own orders only
    confirmed = checkout.confirmed_orders(scenario.settings.date)
    problems = [
        Problem(str(scenario_dir), None, None,
                f"order {o.order_id} confirmed at checkout for {scenario.settings.date} "
                f"needs {what} {value}, which this scenario lacks")
        for o in confirmed
        for what, value, known in (
            [("node", n, scenario.nodes) for n in (o.collect_node_id, o.ship_from_node_id) if n]
            + [("SKU", x.sku, scenario.catalogue) for x in o.lines]
        )
        if value not in known
    ]  # fmt: skip
    if problems:
        raise ScenarioError(scenario_dir, problems)
    return replace(scenario, orders=scenario.orders + confirmed) if confirmed else scenario


# -- running jobs ------------------------------------------------------------------------


class PlanRunner:
    """Runs plan jobs one at a time; ``app.state.plans`` holds one.

    Parameters
    ----------
    db
        Where jobs, their progress and their results are kept.
    app_state
        Passed to :func:`scenario_for_plan`.
    """

    def __init__(self, db: Database, app_state: Any):
        self.db = db
        self.app_state = app_state
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lastmile-plan")
        self._lock = threading.Lock()
        self._children: dict[str, multiprocessing.process.BaseProcess] = {}
        self._mine: set[str] = set()
        self._closing = False
        if _START_METHOD == "forkserver":
            CONTEXT.set_forkserver_preload(PRELOAD)

    def fail_interrupted(self) -> None:
        """At startup: jobs a previous run of the service left queued or running failed.
        (Plan jobs run inside the service process: run one service process per database.)"""
        self._fail_active(None)

    def submit(self, scenario_dir: Path, time_limit_s: float, day: date | None = None) -> PlanJob:
        """Queue a job (of ``day``: a later day of the served folder, see
        :func:`check_date`); it runs after the jobs queued before it."""
        if self._closing:
            raise RuntimeError("the service is shutting down")
        job = PlanJob(
            id=str(uuid.uuid4()),
            status="queued",
            progress=0.0,
            message="queued",
            scenario_dir=str(scenario_dir),
            time_limit_s=time_limit_s,
            service_date=None if day is None else day.isoformat(),
            created_at=utcnow(),
        )
        with self.db.transaction() as session:
            session.add(job)
        with self._lock:
            self._mine.add(job.id)
            self._executor.submit(self._run, job.id)
        return job

    def cancel(self, job_id: str) -> PlanJob | None:
        """Cancel a queued or running job (a finished one is left as it is)."""
        with self.db.transaction() as session:
            job = session.scalars(_one(job_id).with_for_update()).one_or_none()
            if job is None:
                return None
            if job.status in ACTIVE:
                job.status, job.finished_at, job.message = "cancelled", utcnow(), "cancelled"
        with self._lock:
            child = self._children.get(job_id)
        if child is not None:
            _kill(child)
        return job

    def shutdown(self) -> None:
        """Stop: kill the running child, drop queued jobs, mark this runner's jobs failed."""
        with self._lock:
            self._closing = True
            children = list(self._children.values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for child in children:
            _kill(child)
        self._executor.shutdown(wait=True)
        if self._mine:
            self._fail_active(self._mine)

    # -- the supervisor thread --

    def _run(self, job_id: str) -> None:
        try:
            self._run_job(job_id)
        except Exception:
            log.exception("plan job %s failed", job_id)
            self._update_running(
                job_id, status="failed", finished_at=utcnow(), error="internal error"
            )

    def _run_job(self, job_id: str) -> None:
        with self.db.transaction() as session:
            job = session.scalars(_one(job_id).with_for_update()).one_or_none()
            if job is None or job.status != "queued":
                return  # cancelled while queued
            job.status, job.started_at, job.message = "running", utcnow(), "loading the scenario"
            scenario_dir, time_limit_s = Path(job.scenario_dir), job.time_limit_s
            day = None if job.service_date is None else date.fromisoformat(job.service_date)
        try:
            scenario = scenario_for_plan(self.app_state, scenario_dir, day)
        except (ScenarioError, OSError) as exc:
            self._update_running(job_id, status="failed", finished_at=utcnow(), error=str(exc))
            return
        outcome = self._plan_in_child(job_id, scenario, time_limit_s)
        if outcome is None:
            return  # cancelled
        kind, payload = outcome
        if kind == "done":
            ok = payload["checker_ok"]
            if ok:
                # Before the job reads done: whoever sees it done (or gets plan.published)
                # finds the checkout already selling on it. A cancel from here on is 409.
                if not self._update_running(job_id, status=PUBLISHING, message="publishing"):
                    log.info("plan job %s was cancelled while running: result discarded", job_id)
                    return
                self._publish(scenario_dir, scenario, payload["plan_json"])
            stored = self._update_running(
                job_id,
                from_status=PUBLISHING if ok else "running",
                status="done",
                progress=1.0,
                finished_at=utcnow(),
                message="done" if ok else f"done; the checker found: {payload['violations']}",
                checker_ok=ok,
                plan_json=payload["plan_json"],
                kpis_json=payload["kpis_json"],
                geojson=payload["geojson"],
                map_html=payload["map_html"],
                announced={"plan_id": job_id, "plan_url": f"/v1/plans/{job_id}"} if ok else None,
            )
            if not stored:
                log.info("plan job %s was cancelled while running: result discarded", job_id)
        else:
            self._update_running(job_id, status="failed", finished_at=utcnow(), error=payload)

    def _publish(self, scenario_dir: Path, scenario: Scenario, plan_json: str) -> None:
        """A checked plan of the served folder and day becomes the checkout's routes; one
        of a later day sets what the checkout may still sell on that day."""
        checkout = getattr(self.app_state, "checkout", None)
        if checkout is None or scenario_dir != self.app_state.settings.scenario:
            return
        from optimizer.io.plan_files import plan_from_dict

        try:
            plan = plan_from_dict(scenario, json.loads(plan_json))
            if scenario.settings.date > checkout.day:
                checkout.plan_later_day(scenario, plan)
            else:
                checkout.publish(scenario, plan, plan_json)
        except Exception:  # the plan is stored; the checkout keeps its routes meanwhile
            log.exception("publishing the plan's routes to the checkout failed")

    def _plan_in_child(
        self, job_id: str, scenario: Scenario, time_limit_s: float
    ) -> tuple[str, Any] | None:
        """Plan in a child process; ``("done", results)``, ``("failed", why)``, or None
        when the job was cancelled meanwhile."""
        receiver, sender = CONTEXT.Pipe(duplex=False)
        child = CONTEXT.Process(
            target=plan_process,
            args=(scenario, time_limit_s, sender),
            name=f"lastmile-plan-{job_id[:8]}",
        )
        with self._lock:
            if self._closing:
                return ("failed", "the service stopped before the job finished")
            child.start()
            self._children[job_id] = child
        sender.close()
        ended = False  # the child sent its outcome and is exiting by itself
        try:
            while True:
                if not receiver.poll(0.5):
                    if child.is_alive():
                        continue
                    if not receiver.poll(0):
                        return self._died(job_id, child)
                try:
                    message = receiver.recv()
                except EOFError:
                    return self._died(job_id, child)
                if message[0] != "progress":
                    ended = True
                    return message
                if not self._update_running(job_id, progress=message[1], message=message[2]):
                    return None  # cancelled (here or by another process)
        finally:
            with self._lock:
                self._children.pop(job_id, None)
            child.join(2.0 if ended else 0)
            _kill(child)
            child.join()
            receiver.close()

    def _died(self, job_id: str, child) -> tuple[str, str] | None:
        child.join(1)
        if self._closing:
            return ("failed", "the service stopped before the job finished")
        if not self._still_running(job_id):
            return None
        return ("failed", f"the planning process ended unexpectedly (exit code {child.exitcode})")

    def _still_running(self, job_id: str) -> bool:
        with self.db.transaction(write=False) as session:
            found = session.scalar(select(PlanJob.status).where(PlanJob.id == job_id))
        return found == "running"

    def _update_running(
        self,
        job_id: str,
        announced: dict | None = None,
        from_status: str = "running",
        **values: Any,
    ) -> bool:
        """Update a job if it is still running (or in ``from_status``: a conditional
        update, so a cancel that came first wins); False if it is not, e.g. it was
        cancelled. ``announced``: the data of the ``plan.published`` webhook written with
        the update."""
        statement = (
            update(PlanJob)
            .where(PlanJob.id == job_id, PlanJob.status == from_status)
            .values(**values)
        )
        with self.db.transaction() as session:
            updated = session.execute(statement).rowcount > 0
            if updated and announced is not None:
                now = self.app_state.clock.now()
                announce(session, "plan.published", announced, now)
                doc = json.loads(values["plan_json"])
                link = self.app_state.tracking.tracking_url
                announce_collections(session, doc, now, link)
            return updated

    def _fail_active(self, ids: set[str] | None) -> None:
        """Queued, running or publishing jobs (of ``ids``, or all) failed: the service
        stopped."""
        statement = (
            update(PlanJob)
            .where(PlanJob.status.in_((*ACTIVE, PUBLISHING)))
            .values(
                status="failed",
                finished_at=utcnow(),
                error="the service stopped before the job finished",
            )
        )
        if ids is not None:
            statement = statement.where(PlanJob.id.in_(sorted(ids)))
        with self.db.transaction() as session:
            session.execute(statement)


def _one(job_id: str) -> Select:
    return select(PlanJob).where(PlanJob.id == job_id)


def _kill(child) -> None:
    """Kill a plan child and its solver processes (its own session, see plan_process)."""
    if child.pid is None or child.exitcode is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        child.kill()  # not yet a group leader, or no process groups on this platform


def plan_process(scenario: Scenario, time_limit_s: float, sender: Connection) -> None:
    """Body of a plan child: plan the day, send progress, then the results."""
    if hasattr(os, "setsid"):
        os.setsid()  # its own process group: cancel kills it and its solvers together
    die_with_parent()  # the service killed (-9): this plan and its solvers go with it
    if "fork" in multiprocessing.get_all_start_methods():
        # This process is single-threaded: plan_day's solver pool can fork from it (fast,
        # modules already loaded) rather than start a fork server of its own.
        multiprocessing.set_start_method("fork", force=True)
    from optimizer.planning import PlanParams
    from optimizer.workflows.plan import artefacts, plan_and_check

    shown = 0.0

    def progress(fraction: float, message: str) -> None:
        nonlocal shown  # plan_day's retry round starts again from 0: keep the bar monotone
        shown = max(shown, ROUTING_SHARE * fraction)
        sender.send(("progress", shown, message))

    try:
        # plan_and_check says "checking the plan, drawing the map" at ROUTING_SHARE.
        run = plan_and_check(scenario, PlanParams(time_limit_s=time_limit_s), progress)
        files = artefacts(scenario, run)
        results = {
            "checker_ok": run.report.ok,
            "violations": "; ".join(str(v) for v in run.report.violations[:5]),
            "plan_json": files["plan.json"],
            "kpis_json": files["kpis.json"],
            "geojson": files["routes.geojson"],
            "map_html": files["map.html"],
        }
        sender.send(("done", results))
    except Exception as exc:
        traceback.print_exc()  # the service's log; the client gets one line
        sender.send(("failed", f"planning failed: {type(exc).__name__}: {exc}"))
    finally:
        sender.close()


# -- what the routes ask of the jobs -----------------------------------------------------


def check_scenario(given: str, served: Path) -> Path:
    """The scenario folder ``given`` resolved, if it loads; else 422 with every problem."""
    try:
        scenario_dir = Path(given).resolve()
        if scenario_dir != served:
            load_scenario(scenario_dir)
    except ScenarioError as exc:
        problems = exc.problems
    except (OSError, ValueError) as exc:  # e.g. a name too long for the file system
        why = getattr(exc, "strerror", None) or str(exc)
        problems = [Problem(given, None, None, f"cannot read: {why}")]
    else:
        return scenario_dir
    raise ApiError(
        422,
        [
            problem_item(
                str(p),
                ("body", "scenario"),
                "scenario_problem",
                {"file": p.file, "line": p.line, "column": p.column},
            )
            | {"input": given}
            for p in problems
        ],
    )


def check_date(day: date | None, scenario_dir: Path, app_state: Any) -> date | None:
    """The later day a plan job plans: None for the day served; 422 for a day before it
    or beyond the promise's horizon, and for a date with another scenario folder."""
    checkout = getattr(app_state, "checkout", None)
    if day is None:
        return None
    if checkout is None:
        why = "plans a later day of the checkout's, and this service runs none"
    elif scenario_dir != app_state.settings.scenario:
        why = "plans a later day of the service's own scenario: leave out scenario"
    else:
        horizon = checkout.params.eco_horizon_days
        last = checkout.day + timedelta(days=horizon)
        if checkout.day <= day <= last:
            return None if day == checkout.day else day
        why = (
            f"must be from {checkout.day.isoformat()} (the day served) to "
            f"{last.isoformat()} (the promise's horizon of {horizon} days)"
        )
    raise ApiError(422, [problem_item(f"date {why}", ("body", "date"), "date_out_of_range")
                         | {"input": day.isoformat()}])  # fmt: skip


def job_status(db: Database, job_id: str) -> PlanJobOut:
    """A job as answered with its results (404 if there is none)."""
    query = _one(job_id).options(defer(PlanJob.geojson), defer(PlanJob.map_html))
    with db.transaction(write=False) as session:
        job = found(session.scalars(query).one_or_none())
        return job_out(job, with_results=True)


def cancel_job(runner: PlanRunner, job_id: str) -> PlanJobOut:
    """Cancel a job (:meth:`PlanRunner.cancel`): 404 if there is none, 409 if it ended."""
    job = found(runner.cancel(job_id))
    if job.status != "cancelled":
        raise message(409, f"the job is {job.status}; nothing to cancel")
    return job_out(job, with_results=False)


def job_result(db: Database, job_id: str, column: Literal["geojson", "map_html"]) -> str:
    """A done job's stored ``column`` (404 if there is no job, 409 if it is not done)."""
    query = select(PlanJob.status, getattr(PlanJob, column)).where(PlanJob.id == job_id)
    with db.transaction(write=False) as session:
        row = session.execute(query).one_or_none()
    if row is None:
        raise message(404, "no plan job with this id")
    if row[0] != "done":
        raise message(409, f"the job is {row[0]}; no plan")
    return row[1]


def found(job: PlanJob | None) -> PlanJob:
    """``job``, or 404 if there is none."""
    if job is None:
        raise message(404, "no plan job with this id")
    return job


def job_out(job: PlanJob, *, with_results: bool) -> PlanJobOut:
    """The answer for ``job``; its plan and KPIs only ``with_results`` and once done."""
    done = with_results and job.status == "done"
    return PlanJobOut(
        id=job.id,
        status=job.status,
        progress=job.progress,
        message=job.message,
        scenario=job.scenario_dir,
        date=job.service_date,
        time_limit_s=job.time_limit_s,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
        checker_ok=job.checker_ok,
        kpis=json.loads(job.kpis_json) if done and job.kpis_json else None,
        plan=json.loads(job.plan_json) if done and job.plan_json else None,
    )
