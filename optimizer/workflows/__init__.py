"""Workflows: the only code that composes the core for an edge (the CLI, the service,
the benchmarks): plan, check and write; replay a network over days (:mod:`replay`).

Only this layer imports both the solver packages and the checker (``tests/test_layout.py``).
"""

from optimizer.workflows.replay import NetworkReport, ReplayParams, replay, replay_day

__all__ = ["NetworkReport", "ReplayParams", "replay", "replay_day"]
