"""The ``lastmile`` command: the core's commands (``optimizer.cli``) plus the service's
(``serve``, ``bench promise``, ``report otif``, ``keys``). It lives at the edge because it starts
the service and reads its database; the core never imports ``api``."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.keys_cli import keys_app
from api.report_cli import report_app
from optimizer.bench.cli import bench_app
from optimizer.cli import app, errors, fail, load

__all__ = ["app"]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    scenario: Annotated[
        Path | None,
        typer.Option(help="scenario folder to serve [default: data/paris, or LASTMILE_SCENARIO]"),
    ] = None,
) -> None:
    """Start the HTTP service (SQLite in .lastmile/ unless LASTMILE_DATABASE_URL is set)."""
    import uvicorn
    from pydantic import ValidationError

    from api.app import create_app
    from api.auth import KeyConfigError, configured_keys
    from api.settings import Settings

    try:
        settings = Settings(**({"scenario": scenario} if scenario else {}))
        configured_keys(settings)
    except (ValidationError, KeyConfigError) as exc:
        fail(f"bad LASTMILE_* setting: {exc}")
    load(settings.scenario)
    uvicorn.run(create_app(settings), host=host, port=port)


@bench_app.command()
def promise(
    requests: Annotated[int, typer.Option(help="promise requests timed", min=10)] = 500,
    clients: Annotated[int, typer.Option(help="clients racing for the last units", min=2)] = 200,
    baskets: Annotated[int, typer.Option(help="checkouts replayed for promise kept", min=1)] = 150,
    plan_time_limit: Annotated[float, typer.Option(help="routing budget per plan, s")] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Checkout promise: latency in-process and over HTTP, throughput, a race for the last
    units (holds_oversold must be 0), and the share of promises kept by the day's plan."""
    from api.bench_promise import run

    say = (lambda m: None) if as_json else (lambda m: errors.print(f"[dim]{m}...[/]"))
    figures = run(
        requests=requests,
        race_clients=clients,
        replay_baskets=baskets,
        plan_time_limit_s=plan_time_limit,
        progress=say,
    )
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    else:
        for key, value in figures.items():
            typer.echo(f"{key:>24}: {value}")


@app.command()
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
    from api.simulate import SimParams, SimulationError, to_json
    from api.simulate import simulate as run

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


app.add_typer(report_app, name="report")
app.add_typer(keys_app, name="keys")

if __name__ == "__main__":
    app()
