"""``lastmile plan``: plan the day, write its files, run the checker on plan.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, errors, fail, load, peak_rss_mb, print_kpis, progress_bar


def plan(
    scenario: Annotated[Path, typer.Argument(help="scenario folder (see docs/scenario-format.md)")],
    out: Annotated[
        Path, typer.Option(help="folder for plan.json, kpis.json, routes.geojson, map.html")
    ] = Path("plan"),
    time_limit: Annotated[
        float, typer.Option(help="routing time budget in seconds", min=0.1)
    ] = 30.0,
    engine: Annotated[str, typer.Option(help="routing engine: pyvrp or ortools")] = "pyvrp",
    workers: Annotated[
        int, typer.Option(help="processes solving nodes (or dask workers solving parts)", min=1)
    ] = 2,
    decompose: Annotated[
        bool | None,
        typer.Option(
            help="cut the day into regions planned apart on dask "
            "[default: above 10,000 orders, or with --scheduler]"
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="existing dask scheduler to run the parts on (tcp://host:8786)"),
    ] = None,
    part_orders: Annotated[
        int, typer.Option(help="decomposed: orders to route per part at most", min=1)
    ] = 1500,
    part_time_limit: Annotated[
        float, typer.Option(help="decomposed: routing seconds per part of --part-orders", min=0.1)
    ] = 6.0,
    max_split: Annotated[
        int | None,
        typer.Option(
            help="most nodes a basket may ship from, a parcel each; 1: never split "
            "[default: the scenario's max_split, 2]",
            min=1,
        ),
    ] = None,
    split_penalty: Annotated[
        float | None,
        typer.Option(
            help="EUR per parcel beyond the first [default: the scenario's split_penalty_eur, 4]",
            min=0.0,
        ),
    ] = None,
) -> None:
    """Plan the day: choose a node per order, build routes, write the plan files.
    Big days are cut into regions planned apart on dask (see README, Scale-out)."""
    from optimizer.io.plan_files import write_plan_files
    from optimizer.planning import PlanParams, plan_day
    from optimizer.scale import ScaleParams
    from optimizer.scale.decompose import DECOMPOSE_ABOVE_ORDERS
    from optimizer.sourcing import SourcingParams
    from optimizer.workflows.plan import artefacts, checked, plan_in_parts

    sc = load(scenario)
    try:
        params = PlanParams(
            time_limit_s=time_limit,
            engine=engine,
            workers=workers,
            sourcing=SourcingParams(max_split=max_split, split_penalty_eur=split_penalty),
        )
    except ValueError as exc:
        fail(str(exc))
    if decompose is None:
        decompose = scheduler is not None or len(sc.orders) > DECOMPOSE_ABOVE_ORDERS
    tree_mb = 0.0  # the dask workers' memory, when decomposed on a local cluster
    with progress_bar("planning", "sourcing") as say:
        if decompose:
            try:
                scale = ScaleParams(part_orders=part_orders, part_time_limit_s=part_time_limit)
            except ValueError as exc:
                fail(str(exc))
            try:
                result, tree_mb = plan_in_parts(sc, params, scale, workers, scheduler, say)
            except OSError as exc:  # no scheduler answers at that address
                fail(f"cannot reach the dask scheduler {scheduler}: {exc}")
        else:
            result = plan_day(sc, params, progress=say)
    run = checked(sc, result, extra_kpis={"peak_rss_mb": round(max(peak_rss_mb(), tree_mb), 1)})
    try:
        written = write_plan_files(out, artefacts(sc, run))
    except OSError as exc:
        fail(f"cannot write the plan: {exc}")
    print_kpis(run.kpis)
    console.print(
        f"plan written to [bold]{written}[/] (plan.json, kpis.json, routes.geojson, map.html)"
    )
    if not run.report.ok:
        for v in run.report.violations:
            errors.print(f"[red]violation[/] {v.code}: {v.message}", highlight=False)
        fail(f"the checker found {len(run.report.violations)} violations in this plan", code=1)
    console.print("checker: [green]no violation[/]")
