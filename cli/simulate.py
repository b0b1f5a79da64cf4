"""``lastmile simulate``: days on the road driven through the API
(:mod:`cli.simulation`), with what every order became and the checker's verdicts."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli.console import errors, fail, load


def simulate(
    scenario: Annotated[Path, typer.Argument(help="scenario folder (the service serves it)")],
    seed: Annotated[int, typer.Option(help="seed of every random draw", min=0)] = 1,
    new_orders: Annotated[int, typer.Option(help="checkouts during the day", min=0)] = 20,
    plan_time_limit: Annotated[float, typer.Option(help="morning plan budget, s", min=1)] = 20.0,
    replan_time_limit: Annotated[float, typer.Option(help="routing budget per re-plan, s")] = 2.0,
    policy: Annotated[
        str, typer.Option(help="failed deliveries: auto|retry_later_slot|click_and_collect")
    ] = "auto",
    days: Annotated[int, typer.Option(help="consecutive days to simulate", min=1, max=60)] = 1,
    start: Annotated[
        str | None,
        typer.Option(help="first day, YYYY-MM-DD (default: today in the scenario's time zone)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Simulate days through the API: plan, drive with random delays and failures, a
    breakdown, new checkouts, re-plans; then the next day (what was not delivered is
    carried over). Print what every order became and the checker's verdict on every plan
    version, per day. The scenario folder is the template of each day."""
    from cli.simulation import SimParams, SimulationError, to_json
    from cli.simulation import simulate as run

    if policy not in ("auto", "retry_later_slot", "click_and_collect"):
        fail(
            f"--policy {policy!r} not understood; one of auto, retry_later_slot, click_and_collect"
        )
    if replan_time_limit <= 0:
        fail("--replan-time-limit must be > 0")
    template = load(scenario)
    if start is None:  # the edge reads the machine's clock, once
        first = datetime.now(template.settings.tz).date()
    else:
        try:
            first = date.fromisoformat(start)
        except ValueError:
            fail(f"--start {start!r} is not a date YYYY-MM-DD")
    say = (lambda m: None) if as_json else (lambda m: errors.print(f"[dim]{m}...[/]"))
    try:
        figures = run(
            scenario,
            SimParams(
                seed=seed,
                new_orders=new_orders,
                plan_time_limit_s=plan_time_limit,
                replan_time_limit_s=replan_time_limit,
                policy=policy,
                days=days,
                start=first,
            ),
            progress=say,
        )
    except SimulationError as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(to_json(figures))
    else:
        for day in figures.get("days", [figures]):
            for key, value in day.items():
                typer.echo(f"{key:>24}: {value}")
            typer.echo("")
    if not figures["checker_ok"] or not figures["replans_checker_ok"] or figures["orders_open"]:
        raise typer.Exit(1)
