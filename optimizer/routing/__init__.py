"""Routing: one interface (arrays in, routes out), one module per engine."""

from optimizer.routing.ortools_engine import OrToolsEngine
from optimizer.routing.problem import (
    NO_STOP_LIMIT,
    BreakResult,
    RouteResult,
    RoutingEngine,
    RoutingProblem,
    RoutingResult,
)
from optimizer.routing.pyvrp_engine import PyVrpEngine

ENGINES = {"ortools": OrToolsEngine, "pyvrp": PyVrpEngine}

__all__ = [
    "BreakResult",
    "ENGINES",
    "NO_STOP_LIMIT",
    "OrToolsEngine",
    "RouteResult",
    "RoutingEngine",
    "RoutingProblem",
    "RoutingResult",
]
