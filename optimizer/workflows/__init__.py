"""Workflows: the only code that composes the core for an edge (the CLI, the service,
the benchmarks): plan, check and write (:mod:`plan`), re-plan and check (:mod:`replan`),
design a network (:mod:`design`, over the days of :mod:`design_days`) and replay it
over days (:mod:`replay`).

Only this layer imports both the solver packages and the checker (``tests/test_layout.py``).
"""

from optimizer.workflows.design import DesignRun, Proposal, design_and_replay
from optimizer.workflows.design_days import generated_days
from optimizer.workflows.plan import (
    PlanRun,
    artefacts,
    check_plan_file,
    checked,
    plan_and_check,
    plan_document,
)
from optimizer.workflows.replan import ReplanRun, replan_and_check
from optimizer.workflows.replay import NetworkReport, ReplayParams, replay, replay_day

__all__ = [
    "DesignRun",
    "NetworkReport",
    "PlanRun",
    "Proposal",
    "ReplanRun",
    "ReplayParams",
    "artefacts",
    "check_plan_file",
    "checked",
    "design_and_replay",
    "generated_days",
    "plan_and_check",
    "plan_document",
    "replan_and_check",
    "replay",
    "replay_day",
]
