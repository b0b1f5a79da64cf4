"""Re-plan and check: the rest of a tracked day routed again
(:func:`optimizer.live.replan.replan`), its KPIs and ``plan.json`` computed on the day
as the re-plan changed it, and the independent checker's verdict on that file."""

from __future__ import annotations

from typing import NamedTuple

from optimizer.live.replan import LiveState, ReplanParams, ReplanReport, replan
from optimizer.model import Plan, Scenario, with_order_changes
from optimizer.travel import TravelProvider
from optimizer.workflows.plan import PlanRun, checked


class ReplanRun(NamedTuple):
    """A re-plan made: the new plan's :class:`PlanRun`, what changed, and the day it
    serves (the scenario with the re-plan's order changes: its files are drawn on it)."""

    run: PlanRun
    report: ReplanReport
    day: Scenario


def replan_and_check(
    scenario: Scenario,
    plan: Plan,
    state: LiveState,
    params: ReplanParams | None = None,
    replan_of: str | None = None,
    travel: TravelProvider | None = None,
) -> ReplanRun:
    """Re-plan ``plan`` from ``state``; ``replan_of`` (the re-planned plan's id, when it
    has one) is written into the new plan.json. Raises
    :class:`optimizer.live.replan.ReplanError` when the state does not fit the plan."""
    new_plan, report = replan(scenario, plan, state, params, travel)
    if replan_of is not None:
        new_plan.replan["replan_of"] = replan_of
    day = with_order_changes(scenario, new_plan.order_changes)
    return ReplanRun(checked(day, new_plan, check_against=scenario), report, day)
