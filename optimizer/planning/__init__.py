"""The daily plan: sourcing, then routes per node, then a :class:`Plan`.

:func:`plan_day` (:mod:`.day`) runs the steps: source, build each node's routing
problem (:mod:`.problem`, the one scenario -> :class:`RoutingProblem` translation),
solve, keep the joint routes if better (:mod:`.joint`), retry what did not fit at
another node (:mod:`.retry`), and write the outcome (:mod:`.outcome`); split orders and
returns are routed as order-like stops (:mod:`.parcels`).
"""

from optimizer.planning.day import FIRST_ROUND_SHARE, PlanParams, plan_day
from optimizer.planning.joint import JOINT_MAX_ORDERS
from optimizer.planning.outcome import fleet_full_unassigned, to_routes
from optimizer.planning.problem import (
    JOINT,
    NodeProblem,
    Progress,
    VehicleArrays,
    build_node_problem,
    build_problem,
    vehicle_arrays,
)

__all__ = [
    "FIRST_ROUND_SHARE",
    "JOINT",
    "JOINT_MAX_ORDERS",
    "NodeProblem",
    "PlanParams",
    "Progress",
    "VehicleArrays",
    "build_node_problem",
    "build_problem",
    "fleet_full_unassigned",
    "plan_day",
    "to_routes",
    "vehicle_arrays",
]
