"""Exact facility-location models, solved with OR-Tools MathOpt (SCIP by default).

Arrays in, a :class:`LocationResult` out. Demand point ``i`` brings ``weight[i]``
orders a day; site ``j`` may be forced open (``must_open``: today's stores and
warehouse, or today's network when closing is not allowed) or barred (``may_open``
False). Three models:

- :func:`facility_location`: capacitated facility location with fixed costs, minimising
  sites' cost per day + the cost of serving each order from its site (a demand point
  may be split between sites when capacity binds);
- :func:`p_median`: ``p`` sites minimising demand-weighted distance (Hakimi 1964,
  ReVelle & Swain 1970), every point served by its nearest open site;
- :func:`max_covering`: ``p`` sites maximising the demand within reach, e.g. a cargo-bike
  radius or an express-time budget (Church & ReVelle 1974).

All use the strong formulation (``x[i, j] <= y[j]`` per pair) and ask for proven
optimality (zero relative gap) within the time limit; ``optimal`` says whether it was
proven.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from ortools.math_opt.python import mathopt

SOLVERS = {
    "scip": mathopt.SolverType.GSCIP,
    "highs": mathopt.SolverType.HIGHS,
}


@dataclass(frozen=True)
class LocationResult:
    """A model's answer.

    Parameters
    ----------
    open
        Per site, whether it is open.
    assign
        Per demand point, the site that serves most of it (-1: none; in a covering
        model, the points left outside every open site's reach).
    objective
        The model's objective value (EUR per day, order-km per day, or orders per day
        covered).
    optimal
        Whether the solver proved optimality.
    solve_s
        Wall time of the solve.
    """

    open: np.ndarray
    assign: np.ndarray
    objective: float
    optimal: bool
    solve_s: float

    @property
    def open_sites(self) -> list[int]:
        return [int(j) for j in np.flatnonzero(self.open)]


def facility_location(
    weight: np.ndarray,
    serve_cost_eur: np.ndarray,
    fixed_cost_eur: np.ndarray,
    capacity: np.ndarray,
    must_open: np.ndarray | None = None,
    may_open: np.ndarray | None = None,
    time_limit_s: float = 60.0,
    solver: str = "scip",
) -> LocationResult:
    """Capacitated facility location with fixed costs.

    ``serve_cost_eur[i, j]`` is what one order of point ``i`` costs when served from site
    ``j`` (handling + delivery); ``inf`` where ``j`` may not serve ``i`` (out of reach).
    ``fixed_cost_eur[j]`` is site ``j``'s cost per day, ``capacity[j]`` its orders per day.
    Raises ``ValueError`` when no choice of sites can serve the demand.
    """
    weight, cost, must, may = _inputs(weight, serve_cost_eur, must_open, may_open)
    fixed = _vector(fixed_cost_eur, cost.shape[1], "fixed_cost_eur")
    cap = _vector(capacity, cost.shape[1], "capacity")
    usable = may | must
    serves = np.isfinite(cost) & usable[None, :]
    stranded = np.flatnonzero(~(serves | (weight[:, None] <= 0)).any(axis=1))
    if len(stranded):
        raise ValueError(
            f"{len(stranded)} demand points no site may serve (first: point {stranded[0]})."
        )
    if cap[usable].sum() + 1e-9 < weight.sum():
        raise ValueError(
            f"the sites that may open hold {cap[usable].sum():.0f} orders a day, the demand "
            f"is {weight.sum():.0f}."
        )
    model = mathopt.Model(name="capacitated facility location")
    y = _site_variables(model, must, may)
    x = [_shares(model, y, i, np.flatnonzero(serves[i])) for i in range(len(weight))]
    for i in np.flatnonzero(weight > 0):  # (a point without demand need not be served)
        _served_in_full(model, x[i])
    load: dict[int, list] = {}
    for i, j, var in _pairs(x):
        load.setdefault(j, []).append(weight[i] * var)
    for j, terms in load.items():
        model.add_linear_constraint(mathopt.LinearSum(terms) <= cap[j] * y[j])
    model.minimize(
        mathopt.LinearSum(fixed[j] * y[j] for j in range(len(y)))
        + mathopt.LinearSum(weight[i] * cost[i, j] * var for i, j, var in _pairs(x))
    )
    return _solve(model, y, time_limit_s, solver, _largest_share(x, cost.shape))


def p_median(
    weight: np.ndarray,
    distance: np.ndarray,
    p: int,
    must_open: np.ndarray | None = None,
    may_open: np.ndarray | None = None,
    time_limit_s: float = 60.0,
    solver: str = "scip",
) -> LocationResult:
    """Open exactly ``p`` sites (forced-open ones included) minimising
    ``sum_i weight[i] * distance[i, site of i]``; each point goes to one open site."""
    weight, dist, must, may = _inputs(weight, distance, must_open, may_open)
    _check_p(p, must, may)
    serves = np.isfinite(dist) & (may | must)[None, :]
    unserved = np.flatnonzero(~serves.any(axis=1))
    if len(unserved):
        raise ValueError(f"demand point {unserved[0]} has no site within a finite distance.")
    model = mathopt.Model(name="p-median")
    y = _site_variables(model, must, may)
    # Each point's "served in full" right after its shares: the order SCIP is given
    # decides between equally good answers, and this is the order p-median always had.
    x = []
    for i in range(len(weight)):
        x.append(_shares(model, y, i, np.flatnonzero(serves[i])))
        _served_in_full(model, x[i])
    model.add_linear_constraint(mathopt.LinearSum(y) == p)
    model.minimize(mathopt.LinearSum(weight[i] * dist[i, j] * v for i, j, v in _pairs(x)))
    return _solve(model, y, time_limit_s, solver, _largest_share(x, dist.shape))


def max_covering(
    weight: np.ndarray,
    covers: np.ndarray,
    p: int,
    must_open: np.ndarray | None = None,
    may_open: np.ndarray | None = None,
    time_limit_s: float = 60.0,
    solver: str = "scip",
) -> LocationResult:
    """Open at most ``p`` sites (forced-open ones included) maximising the demand weight
    of points that at least one open site covers (``covers[i, j]``: site ``j`` reaches
    point ``i`` within the radius or time budget)."""
    covers = np.asarray(covers, dtype=bool)
    weight, _, must, may = _inputs(weight, np.where(covers, 0.0, np.inf), must_open, may_open)
    _check_p(p, must, may, exact=False)
    model = mathopt.Model(name="maximal covering")
    y = _site_variables(model, must, may)
    z = [model.add_binary_variable(name=f"z_{i}") for i in range(len(weight))]
    for i in range(len(weight)):
        reach = [y[j] for j in np.flatnonzero(covers[i] & (may | must))]
        model.add_linear_constraint(z[i] <= mathopt.LinearSum(reach))
    model.add_linear_constraint(mathopt.LinearSum(y) <= p)
    model.maximize(mathopt.LinearSum(weight[i] * z[i] for i in range(len(weight))))
    return _solve(model, y, time_limit_s, solver, _first_cover(covers))


def covers_within(measure: np.ndarray, limit: float) -> np.ndarray:
    """``measure[i, j] <= limit``: e.g. bike km within a radius, seconds within a budget."""
    return np.asarray(measure) <= limit


# -- internals ---------------------------------------------------------------------------


def _vector(values, n: int, name: str) -> np.ndarray:
    out = np.asarray(values, dtype=float).ravel()
    if out.shape != (n,):
        raise ValueError(f"{name} must have one value per site ({n}), got {out.shape[0]}.")
    if np.any(out < 0) or not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite and >= 0.")
    return out


def _inputs(weight, matrix, must_open, may_open):
    weight = np.asarray(weight, dtype=float).ravel()
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != len(weight):
        raise ValueError(
            f"the matrix must be demand points x sites ({len(weight)} rows), got {matrix.shape}."
        )
    if np.any(weight < 0) or not np.all(np.isfinite(weight)):
        raise ValueError("demand weights must be finite and >= 0.")
    if np.any(matrix < 0):
        raise ValueError("costs and distances must be >= 0.")
    n = matrix.shape[1]
    must = np.zeros(n, dtype=bool) if must_open is None else np.asarray(must_open, dtype=bool)
    may = np.ones(n, dtype=bool) if may_open is None else np.asarray(may_open, dtype=bool)
    if must.shape != (n,) or may.shape != (n,):
        raise ValueError(f"must_open and may_open need one flag per site ({n}).")
    if np.any(must & ~may):
        raise ValueError("a site is both forced open and barred.")
    return weight, matrix, must, may


def _check_p(p: int, must: np.ndarray, may: np.ndarray, exact: bool = True) -> None:
    if p < max(1, int(must.sum())) or (exact and p > int(may.sum())):
        raise ValueError(
            f"p = {p} sites cannot be opened: {int(must.sum())} are forced open and "
            f"{int(may.sum())} may open."
        )


def _site_variables(model: mathopt.Model, must: np.ndarray, may: np.ndarray) -> list:
    y = []
    for j in range(len(must)):
        var = model.add_binary_variable(name=f"y_{j}")
        if must[j]:
            model.add_linear_constraint(var == 1)
        elif not may[j]:
            model.add_linear_constraint(var == 0)
        y.append(var)
    return y


def _shares(model: mathopt.Model, y: list, i: int, sites: np.ndarray) -> dict:
    """Point ``i``'s row of ``x``: per site ``j`` of ``sites``, the share of the point's
    demand that ``j`` serves, in [0, 1] and at most ``y[j]`` (the strong formulation)."""
    row = {}
    for j in sites:
        row[j] = model.add_variable(lb=0.0, ub=1.0, name=f"x_{i}_{j}")
        model.add_linear_constraint(row[j] <= y[j])
    return row


def _served_in_full(model: mathopt.Model, row: dict) -> None:
    """The point's shares sum to 1: all its demand is served."""
    model.add_linear_constraint(mathopt.LinearSum(row.values()) == 1.0)


def _pairs(x: list[dict]) -> Iterator[tuple[int, int, mathopt.Variable]]:
    """``(i, j, x[i][j])`` over every (point, site) pair that has a variable."""
    for i, row in enumerate(x):
        for j, var in row.items():
            yield i, j, var


def _solver(name: str) -> mathopt.SolverType:
    if name not in SOLVERS:
        raise ValueError(f"solver {name!r} not understood; one of {sorted(SOLVERS)}.")
    return SOLVERS[name]


def _params(time_limit_s: float) -> mathopt.SolveParameters:
    if time_limit_s <= 0:
        raise ValueError("time_limit_s <= 0 not understood.")
    return mathopt.SolveParameters(
        time_limit=timedelta(seconds=time_limit_s), relative_gap_tolerance=0.0,
        absolute_gap_tolerance=1e-9,
    )  # fmt: skip


def _require_solution(result) -> None:
    if result.termination.reason not in (
        mathopt.TerminationReason.OPTIMAL,
        mathopt.TerminationReason.FEASIBLE,
    ):
        raise ValueError(f"the model has no solution: {result.termination.reason.name.lower()}.")


# Which site serves each point, read from the solved model and the open sites.
Assignment = Callable[[mathopt.SolveResult, np.ndarray], np.ndarray]


def _solve(
    model: mathopt.Model, y: list, time_limit_s: float, solver: str, assignment: Assignment
) -> LocationResult:
    """Solve ``model`` to proven optimality within the time limit; the sites open are the
    ``y`` at 1, each point's site is ``assignment(result, open)``."""
    started = time.perf_counter()
    result = mathopt.solve(model, _solver(solver), params=_params(time_limit_s))
    _require_solution(result)
    is_open = np.array([result.variable_values(v) > 0.5 for v in y])
    assign = assignment(result, is_open)
    return LocationResult(
        open=is_open,
        assign=assign,
        objective=float(result.objective_value()),
        optimal=result.termination.reason == mathopt.TerminationReason.OPTIMAL,
        solve_s=time.perf_counter() - started,
    )


def _largest_share(x: list[dict], shape: tuple[int, int]) -> Assignment:
    """Each point's site is the one serving the largest share of it (-1: none)."""

    def assign(result: mathopt.SolveResult, is_open: np.ndarray) -> np.ndarray:
        pairs = list(_pairs(x))
        values = result.variable_values([var for _, _, var in pairs])
        share = np.zeros(shape)
        for (i, j, _), value in zip(pairs, values, strict=True):
            share[i, j] = value
        return np.where(share.max(axis=1) > 1e-6, np.argmax(share, axis=1), -1)

    return assign


def _first_cover(covers: np.ndarray) -> Assignment:
    """Each point's site is the first open site that covers it (-1: none)."""

    def assign(result: mathopt.SolveResult, is_open: np.ndarray) -> np.ndarray:
        cover = covers & is_open[None, :]
        return np.where(cover.any(axis=1), np.argmax(cover, axis=1), -1)

    return assign
