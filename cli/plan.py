"""``lastmile plan``: plan the day, write its files, run the checker on plan.json; with
``--days N``, the next N days of a folder whose orders are dated on several days, each
day's files in ``<out>/<date>/`` and a summary of the days in ``<out>/summary.json``."""

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
    days: Annotated[
        int | None,
        typer.Option(
            help="plan the next N days from the scenario's day (orders dated on several "
            "days): <out>/<date>/ per day and <out>/summary.json; each day checked"
        ),
    ] = None,
) -> None:
    """Plan the day: choose a node per order, build routes, write the plan files.
    Big days are cut into regions planned apart on dask (see README, Scale-out).
    With ``--days N``, plan the next N days one after the other (see README, Planning
    days ahead)."""
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
    if days is not None:
        if decompose or scheduler is not None:
            fail("--days plans each day whole: it takes neither --decompose nor --scheduler")
        _plan_days(sc, days, params, out)
        return
    from optimizer.workflows.plan_days import later_days

    later_orders, later_returns = later_days(sc)
    if later_orders or later_returns:
        errors.print(
            f"[yellow]note[/] {later_orders} orders and {later_returns} returns are dated after "
            f"{sc.settings.date}: a plan of that day leaves them unassigned; plan the days "
            "one by one with --days N",
            highlight=False,
        )
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


def _plan_days(sc, days: int, params, out: Path) -> None:
    """``plan --days``: :func:`optimizer.workflows.plan_days.plan_days`, each day's files
    written, the days' table printed; exit 1 when a day is not checker-clean."""
    from optimizer.io.plan_files import to_json, write_plan_files
    from optimizer.workflows.plan import artefacts
    from optimizer.workflows.plan_days import DaysError, plan_days

    try:
        with progress_bar("planning", "day 1") as say:
            result = plan_days(sc, days, params, progress=say)
    except DaysError as exc:
        fail("cannot plan these days:\n" + "\n".join(f"  - {p}" for p in exc.problems))
    try:
        for day in result.days:
            write_plan_files(out / day.day.isoformat(), artefacts(day.scenario, day.run))
        (out / "summary.json").write_text(to_json(result.summary()), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the plans: {exc}")
    summary = result.summary()
    _print_days(summary)
    console.print(f"plans written to [bold]{out}[/]/<date>/ and {out / 'summary.json'}")
    bad = [d for d in result.days if not d.run.report.ok]
    for day in bad:
        for v in day.run.report.violations:
            errors.print(f"[red]violation[/] {day.day} {v.code}: {v.message}", highlight=False)
    if bad:
        fail(f"the checker found violations on {len(bad)} of {len(result.days)} days: "
             f"{', '.join(str(d.day) for d in bad)}", code=1)  # fmt: skip
    console.print(f"checker: [green]no violation[/] on any of the {len(result.days)} days")


def _room(room: dict) -> str:
    """What the checkout could still sell that day, in words."""
    words = {"crew": "a crew of", "equipment": "a"}
    crews = ", ".join(
        f"{h:g} h of {words[kind]} {value}"
        for (kind, _, value), h in ((k.partition(":"), h) for k, h in room["crew_hours"].items())
    )
    return f"; left to sell: {room['places']} places" + (f" ({crews})" if crews else "")


def _print_days(summary: dict) -> None:
    """The days' figures, a line each, the totals and what lies beyond the days."""
    for d in summary["days"]:
        types = " + ".join(f"{n} {t}" for t, n in d["vehicles_by_type"].items()) or "none"
        reasons = ", ".join(f"{n} {c}" for c, n in d["unassigned_by_reason"].items())
        verdict = (
            "[green]clean[/]" if not d["violations"] else f"[red]{d['violations']} violations[/]"
        )
        console.print(
            f"[bold]{d['date']}[/] {d['orders']} orders: {d['routed']} routed, "
            f"{d['collected']} collected, {d['unassigned']} unassigned"
            + (f" ({reasons})" if reasons else "")
            + f"; returns {d['returns_routed']}/{d['returns']}; vehicles {d['vehicles_used']} "
            f"({types}), crew {d['crew_used']}; {d['cost_eur']:,.2f} EUR; checker {verdict}"
            + _room(d["room_left"]),
            highlight=False,
        )
    t = summary["totals"]
    console.print(
        f"[bold]total[/] {summary['days_planned']} days, {t['orders']} orders: {t['routed']} "
        f"routed, {t['collected']} collected, {t['unassigned']} unassigned; returns "
        f"{t['returns_routed']}/{t['returns']}; {t['vehicles_used']} vehicle-days, "
        f"{t['crew_used']} crew-days; {t['cost_eur']:,.2f} EUR",
        highlight=False,
    )
    later = summary["not_planned"]
    if later["orders"] or later["returns"]:
        console.print(
            f"not planned: {later['orders']} orders and {later['returns']} returns dated "
            f"after the days planned ({later['from']} to {later['to']})"
        )
