"""Network design: models propose networks for the days to come, and replayed days
through the planner judge them (``lastmile design``).

Two steps, so that an edge can say what it will replay before the replay's long wait:
:func:`propose` (the days made, their demand, the models' networks) and
:func:`replay_proposal` (every network replayed on every day, the comparison's files).
:func:`design_and_replay` runs both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.io.network_map import network_map
from optimizer.io.plan_files import to_json
from optimizer.model import Scenario
from optimizer.network import DesignParams, aggregate_demand, design_networks
from optimizer.network.demand import DemandDay, delivery_points
from optimizer.network.design import Design, comparison_csv, comparison_markdown
from optimizer.network.sites import Site
from optimizer.workflows.design_days import MakeDay, generated_days
from optimizer.workflows.replay import (
    COMPARISON_COLUMNS,
    NetworkReport,
    Progress,
    ReplayParams,
    replay,
)

# The files of a comparison, in the order they are written.
DESIGN_FILES = ("comparison.csv", "comparison.md", "design.json", "map.html")


@dataclass(frozen=True)
class Proposal:
    """The days to replay (made on the base network) and the models' proposal."""

    calendar: list[DemandDay]
    days: list[Scenario]
    design: Design


@dataclass(frozen=True)
class DesignRun:
    """The networks replayed: one report per network, its comparison rows, the replay's
    wall time (s) and the comparison's files as text, by name (:data:`DESIGN_FILES`)."""

    reports: list[NetworkReport]
    rows: list[dict]
    replay_s: float
    files: dict[str, str]

    @property
    def checker_violations(self) -> int:
        """Violations the checker found in all replayed plans."""
        return sum(r.checker_violations for r in self.reports)


def propose(
    base: Scenario,
    sites: list[Site],
    calendar: list[DemandDay],
    make_day: MakeDay,
    params: DesignParams,
) -> Proposal:
    """The calendar's days made by ``make_day`` on ``base``'s network, their delivery
    points as demand, and the networks the models propose for it. ``ValueError`` when
    the models refuse."""
    replayed = generated_days(base, calendar, make_day)
    points = [delivery_points(d) for d in replayed]
    demand = aggregate_demand(
        np.concatenate([p[0] for p in points]),
        np.concatenate([p[1] for p in points]),
        len(calendar),
    )
    return Proposal(calendar, replayed, design_networks(base, sites, demand, params))


def replay_proposal(
    proposal: Proposal, params: ReplayParams, progress: Progress | None = None
) -> DesignRun:
    """Every proposed network replayed on every day; the comparison's files."""
    design = proposal.design
    started = time.perf_counter()
    reports = replay(proposal.days, design.networks, design.existing, params, progress=progress)
    replay_s = time.perf_counter() - started
    rows = [r.row() for r in reports]
    files = {
        "comparison.csv": comparison_csv(rows, COMPARISON_COLUMNS),
        "comparison.md": _markdown(proposal, params, rows, replay_s),
        "design.json": to_json(_summary(proposal, params, rows, replay_s)),
        "map.html": network_map(design).get_root().render(),
    }
    return DesignRun(reports, rows, replay_s, files)


def design_and_replay(
    base: Scenario,
    sites: list[Site],
    calendar: list[DemandDay],
    make_day: MakeDay,
    params: DesignParams,
    replay_params: ReplayParams,
    progress: Progress | None = None,
) -> tuple[Proposal, DesignRun]:
    """:func:`propose`, then :func:`replay_proposal`."""
    proposal = propose(base, sites, calendar, make_day, params)
    return proposal, replay_proposal(proposal, replay_params, progress)


def _summary(proposal: Proposal, params: ReplayParams, rows: list[dict], replay_s: float) -> dict:
    """design.json: the days, the models' results, the networks' rows."""
    design = proposal.design
    return {
        "days": [
            {"date": c.day.isoformat(), "orders": c.orders, "seed": c.seed}
            for c in proposal.calendar
        ],
        "routing_time_limit_s": params.plan.time_limit_s,
        "replay_s": round(replay_s, 1),
        "models": {
            name: {
                "objective": round(r.objective, 3),
                "optimal": r.optimal,
                "open": [design.sites[j].site_id for j in r.open_sites],
            }
            for name, r in design.results.items()
        },
        "same_as": design.same_as,
        "networks": rows,
    }


def _markdown(proposal: Proposal, params: ReplayParams, rows: list[dict], replay_s: float) -> str:
    """comparison.md: what was replayed, then the comparison table."""
    calendar = proposal.calendar
    return (
        f"# Network comparison\n\n{len(calendar)} generated days from "
        f"{calendar[0].day.isoformat()} "
        f"({', '.join(str(c.orders) for c in calendar)} orders), routing "
        f"{params.plan.time_limit_s:g} s per day; replay took {replay_s:.0f} s.\n\n"
        + comparison_markdown(rows, COMPARISON_COLUMNS)
    )
