"""The independent checker: verifies a plan against its scenario alone.

It shares no code with the solvers, only the model and the travel model.
"""

from optimizer.check.checker import CheckReport, Violation, check_plan

__all__ = ["CheckReport", "Violation", "check_plan"]
