"""``lastmile check``: verify a plan.json against its scenario alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, errors, fail, load, print_kpis


def check(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    plan_json: Annotated[Path, typer.Argument(help="plan.json to verify")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print the recomputed KPIs as JSON")
    ] = False,
) -> None:
    """Verify a plan against the scenario alone; non-zero exit on any violation."""
    from optimizer.io.plan_json import PlanFileError
    from optimizer.workflows.plan import check_plan_file

    sc = load(scenario)
    try:
        report = check_plan_file(sc, plan_json)
    except PlanFileError as exc:
        fail(str(exc))
    if as_json:
        out = dict(report.kpis)
        out["checker_ok"] = report.ok
        out["violations"] = [
            {
                "code": v.code,
                "message": v.message,
                "order_id": v.order_id,
                "vehicle_id": v.vehicle_id,
            }
            for v in report.violations
        ]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        for v in report.violations:
            console.print(f"[red]violation[/] {v.code}: {v.message}", highlight=False)
        print_kpis(report.kpis)
        if report.ok:
            console.print("checker: [green]no violation[/]")
    if not report.ok:
        if not as_json:
            errors.print(f"[bold red]{len(report.violations)} violations[/]")
        raise typer.Exit(1)
