"""``lastmile design``: models propose networks, replayed days through the planner judge
them (:mod:`optimizer.workflows.design`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import console, fail, load, progress_bar

# The comparison's columns shown in the terminal.
SHOWN = ("network", "sites", "cost_per_drop_eur", "co2_g_per_order", "bike_share_pct",
         "otif_pct", "express_slot_pct", "vans_needed", "bikes_needed")  # fmt: skip


def design(
    scenario: Annotated[Path, typer.Argument(help="today's network: a scenario folder")],
    candidates: Annotated[
        Path, typer.Option(help="candidate sites CSV (see README, Network design)")
    ],
    out: Annotated[Path, typer.Option(help="folder for comparison.csv/.md, map.html")] = Path(
        "design"
    ),
    days: Annotated[int, typer.Option(help="generated days replayed per network", min=1)] = 5,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2026-11-23",
    orders: Annotated[
        int | None, typer.Option(help="orders on an average day [default: the scenario's]", min=1)
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the generated days")] = 1,
    time_limit: Annotated[
        float, typer.Option(help="routing budget per replayed day, seconds", min=0.1)
    ] = 10.0,
    new_sites: Annotated[int, typer.Option(help="sites maximal covering may add", min=0)] = 2,
    radius_km: Annotated[
        float, typer.Option(help="cargo-bike radius of maximal covering, km", min=0.1)
    ] = 3.0,
    workers: Annotated[int, typer.Option(help="processes per day's plan", min=1)] = 2,
) -> None:
    """Network design: models propose networks, replayed days through the planner judge them."""
    from datetime import date as Date

    from data.generator import write_calendar_day
    from optimizer.io.candidates import CandidatesError, load_candidates
    from optimizer.io.plan_files import write_plan_files
    from optimizer.network import DesignParams, day_volumes
    from optimizer.planning import PlanParams
    from optimizer.workflows.design import DESIGN_FILES, propose, replay_proposal
    from optimizer.workflows.replay import ReplayParams

    if out.exists() and (
        not out.is_dir() or any(p.name not in DESIGN_FILES for p in out.iterdir())
    ):  # refused now, not after the replay
        fail(f"{out} holds other files; write the comparison into an empty or previous one")
    base = load(scenario)
    try:
        sites = load_candidates(candidates)
        first = Date.fromisoformat(start)
    except CandidatesError as exc:
        fail(str(exc))
    except ValueError:
        fail(f"--start must be YYYY-MM-DD, got {start!r}")
    try:
        calendar = day_volumes(first, days, orders or max(1, len(base.orders)), seed=seed)
        params = DesignParams(new_sites=new_sites, cover_radius_km=radius_km)
        replay_params = ReplayParams(plan=PlanParams(time_limit_s=time_limit, workers=workers))
        proposal = propose(base, sites, calendar, write_calendar_day, params)
    except ValueError as exc:
        fail(str(exc))
    networks = proposal.design.networks
    console.print(
        f"{len(networks)} networks to replay on {days} days "
        f"({', '.join(n.name for n in networks)})"
        + "".join(f"; {a} proposes {b}'s network" for a, b in proposal.design.same_as.items())
    )
    with progress_bar("replaying") as say:
        run = replay_proposal(proposal, replay_params, progress=say)
    try:
        written = write_plan_files(out, run.files)
    except OSError as exc:
        fail(f"cannot write the comparison: {exc}")
    _print_networks(run.rows)
    console.print(
        f"replay: {run.replay_s:.0f} s; written to [bold]{written}[/] "
        "(comparison.csv, comparison.md, design.json, map.html)"
    )
    if run.checker_violations:
        fail("the checker found violations in replayed plans (see comparison.csv)", code=1)


def _print_networks(rows: list[dict]) -> None:
    table = Table(title="networks", title_justify="left")
    for column in SHOWN:
        table.add_column(column, justify="left" if column == "network" else "right")
    for row in rows:
        table.add_row(*(f"{row[c]:,.2f}" if isinstance(row[c], float) else str(row[c])
                        for c in SHOWN))  # fmt: skip
    console.print(table)
