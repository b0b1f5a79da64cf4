"""The independent checker: does a plan hold, re-derived from the scenario alone?

It reads ``plan.json`` as parsed JSON, not the solver's Python objects, so it checks
exactly what the planner wrote, and it shares no code with the solvers: only the model
(:mod:`optimizer.model`) and the travel model (:mod:`optimizer.travel`). A malformed
plan never makes it raise: a missing key or an unreadable value is a violation like
any other, with a message a planner understands.

Times in the plan are ISO 8601 datetimes with a UTC offset; inside the checker they are
seconds since local midnight of the scenario's day, like everywhere in the core.
"""

from optimizer.check.checker import CheckReport, Violation, check_plan

__all__ = ["CheckReport", "Violation", "check_plan"]
