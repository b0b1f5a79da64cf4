"""lastmile's core: the scenario in, a checked plan out, pure (arrays and dataclasses in,
results out; files, HTTP, databases and clocks belong to the edges, ``cli/`` and ``api/``).

The names a user of the core needs are importable from here, as PyVRP's are from
``pyvrp``: ``from optimizer import load_scenario, plan_day, PlanParams, check_plan``.
They load on first use (PEP 562), so importing one light module of the core does not
import the routing engines.
"""

from importlib import import_module

# Public name -> the module that defines it.
_PUBLIC = {
    # the scenario and the plan
    "Scenario": "optimizer.model",
    "Plan": "optimizer.model",
    "load_scenario": "optimizer.io.scenario_reader",
    "ScenarioError": "optimizer.io.problems",
    # the daily plan
    "PlanParams": "optimizer.planning",
    "plan_day": "optimizer.planning",
    "plan_kpis": "optimizer.kpis",
    "plan_to_dict": "optimizer.io.plan_files",
    "plan_from_dict": "optimizer.io.plan_files",
    # the independent checker
    "check_plan": "optimizer.check",
    "CheckReport": "optimizer.check",
    # the day under way
    "replan": "optimizer.live.replan",
    "LiveState": "optimizer.live.replan",
    "ReplanParams": "optimizer.live.replan",
    # the checkout promise
    "PromiseEngine": "optimizer.promise",
    "PromiseParams": "optimizer.promise",
    # travel
    "GreatCircle": "optimizer.travel",
    # the workflows an edge runs: plan, check and write; re-plan and check
    "PlanRun": "optimizer.workflows.plan",
    "plan_and_check": "optimizer.workflows.plan",
    "artefacts": "optimizer.workflows.plan",
    "replan_and_check": "optimizer.workflows.replan",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
    return getattr(import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
