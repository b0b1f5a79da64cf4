"""``lastmile report otif``: promise accuracy from the tracking tables of a database."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from cli.console import console, fail

report_app = typer.Typer(no_args_is_help=True, help="Reports on the day's operations.")


@report_app.command()
def otif(
    plan_id: Annotated[
        list[str] | None,
        typer.Option("--plan-id", help="a tracked plan job (repeat for several) [default: all]"),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="the service's database [default: LASTMILE_DATABASE_URL or .lastmile/]"),
    ] = None,
    service_times: Annotated[
        Path | None,
        typer.Option(help="write the re-estimated service times here (service_times.csv)"),
    ] = None,
    min_samples: Annotated[
        int, typer.Option(help="measured deliveries a zone needs for its service time", min=1)
    ] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """On time in full, first-attempt rate and ETA error (p50/p90, minutes) overall and by
    zone, mode and hour, from promised vs actual; service times per zone re-estimated
    from the arrived -> delivered events."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from api.db import Database
    from api.services.otif import ReportError, service_times_csv, tracked
    from api.settings import Settings
    from optimizer.live.report import otif_report, service_time_factors

    try:
        url = database_url or Settings().database_url
    except ValidationError as exc:
        fail(f"bad LASTMILE_* setting: {exc}")
    db = Database(url)
    try:
        found = tracked(db, plan_id or ())
    except ReportError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {str(exc).splitlines()[0]}")
    finally:
        db.dispose()
    report = otif_report(found.outcomes)
    report["returns"] = found.returns
    factors = service_time_factors(found.outcomes, min_samples)
    report["service_times"] = factors
    if service_times is not None:
        try:
            service_times.write_text(service_times_csv(factors), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {service_times}: {exc.strerror or exc}")
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    _print(report)
    if service_times is not None:
        console.print(f"service times of {len(factors)} zones written to {service_times}")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _print(report: dict) -> None:
    table = Table(
        title="Promise accuracy",
        title_justify="left",
        caption="OTIF and first attempt in % of the orders with an outcome; ETA error "
        "(|arrival - ETA|, p50 and p90) and bias in minutes",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("group", no_wrap=True, min_width=16)
    for name in ("orders", "dlvd", "fail", "open", "OTIF", "1st", "ETA p50", "p90", "bias"):
        table.add_column(name, justify="right", no_wrap=True)

    def row(name: str, f: dict) -> None:
        table.add_row(
            name, str(f["orders"]), str(f["delivered"]), str(f["failed"]), str(f["open"]),
            _cell(f["otif_pct"]), _cell(f["first_attempt_pct"]), _cell(f["eta_error_p50_min"]),
            _cell(f["eta_error_p90_min"]), _cell(f["eta_bias_min"]),
        )  # fmt: skip

    row("all", report["overall"])
    for key, label in (("by_zone", "zone"), ("by_mode", "mode"), ("by_hour", "hour")):
        table.add_section()
        for name, figures in report[key].items():
            row(f"{label} {name}", figures)
    # Ten columns: wider than the 80 characters rich assumes when the output is a file.
    (console if console.is_terminal else Console(width=110)).print(table)
    returns = report["returns"]
    if returns["routed"]:
        console.print(
            f"Returns (not orders, not in OTIF): {returns['picked_up']} picked up, "
            f"{returns['failed']} failed, {returns['open']} open of {returns['routed']} routed"
        )
    if report["service_times"]:
        times = Table(title="Service time per zone (arrived -> delivered)", title_justify="left")
        for name in ("zone", "samples", "planned median", "actual median", "factor"):
            times.add_column(name, justify="left" if name == "zone" else "right")
        for r in report["service_times"]:
            times.add_row(r["zone"], str(r["samples"]), f"{r['planned_median_s']} s",
                          f"{r['actual_median_s']} s", f"{r['factor']:g}")  # fmt: skip
        console.print(times)
