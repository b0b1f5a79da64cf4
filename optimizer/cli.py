"""The ``lastmile`` command line: plan a day, check a plan, generate a city day, design
the network."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import psutil
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="lastmile: fulfilment node choice and routing for electric vans and cargo bikes.",
)
console = Console()
errors = Console(stderr=True)


# Every file of the scenario format (docs/scenario-format.md), optional ones included.
SCENARIO_FILES = (
    "scenario.yaml", "nodes.csv", "vehicle_types.csv", "fleet.csv", "catalogue.csv",
    "stock.csv", "orders.csv", "order_lines.csv", "inbound.csv", "postcodes.csv",
    "service_times.csv", "returns.csv", "return_lines.csv", "zones.geojson",
)  # fmt: skip


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code`` (shared by every command)."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load(scenario_dir: Path):
    """The scenario in ``scenario_dir``, or :func:`fail` naming what is wrong with it."""
    from optimizer.io import ScenarioError, load_scenario

    try:
        return load_scenario(scenario_dir)
    except ScenarioError as exc:
        fail(str(exc))


@app.command()
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
    from optimizer.check import check_plan
    from optimizer.io.plan_files import plan_to_dict, routes_geojson, to_json, write_plan_files
    from optimizer.io.plan_map import plan_map
    from optimizer.kpis import plan_kpis
    from optimizer.planning import PlanParams, plan_day
    from optimizer.scale.decompose import DECOMPOSE_ABOVE_ORDERS
    from optimizer.sourcing import SourcingParams

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
    with Progress(
        TextColumn("[bold]planning[/] {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task("sourcing", total=1.0)
        say = lambda f, msg: bar.update(task, completed=f, description=msg)  # noqa: E731
        if decompose is None:
            decompose = scheduler is not None or len(sc.orders) > DECOMPOSE_ABOVE_ORDERS
        tree_mb = 0.0  # the dask workers' memory, when decomposed on a local cluster
        if decompose:
            result, tree_mb = _plan_decomposed(sc, params, workers, scheduler, part_orders,
                                               part_time_limit, say)  # fmt: skip
        else:
            result = plan_day(sc, params, progress=say)
    kpis = plan_kpis(sc, result)
    kpis["peak_rss_mb"] = round(max(_peak_rss_mb(), tree_mb), 1)
    document = plan_to_dict(sc, result, kpis)
    report = check_plan(sc, json.loads(to_json(document)))
    try:
        written = write_plan_files(
            out,
            {
                "plan.json": to_json(document),
                "kpis.json": to_json(kpis),
                "routes.geojson": to_json(routes_geojson(sc, result)),
                "map.html": plan_map(sc, result).get_root().render(),
            },
        )
    except OSError as exc:
        fail(f"cannot write the plan: {exc}")
    _print_kpis(kpis)
    console.print(
        f"plan written to [bold]{written}[/] (plan.json, kpis.json, routes.geojson, map.html)"
    )
    if not report.ok:
        for v in report.violations:
            errors.print(f"[red]violation[/] {v.code}: {v.message}", highlight=False)
        fail(f"the checker found {len(report.violations)} violations in this plan", code=1)
    console.print("checker: [green]no violation[/]")


def _plan_decomposed(sc, params, workers, scheduler, part_orders, part_time_limit, progress):
    """The day planned part by part on dask (a local cluster, or ``scheduler``'s), and
    the peak memory of this process with its local dask workers, MB."""
    from optimizer.scale import ScaleParams
    from optimizer.scale.distributed import cluster_client, plan_decomposed
    from optimizer.scale.memory import PeakRss

    try:
        scale = ScaleParams(part_orders=part_orders, part_time_limit_s=part_time_limit)
    except ValueError as exc:
        fail(str(exc))
    try:
        with PeakRss() as rss, cluster_client(workers, scheduler) as client:
            plan, _ = plan_decomposed(sc, client, params, scale, progress=progress)
    except OSError as exc:  # no scheduler answers at that address
        fail(f"cannot reach the dask scheduler {scheduler}: {exc}")
    return plan, rss.mb


@app.command()
def check(
    scenario: Annotated[Path, typer.Argument(help="scenario folder")],
    plan_json: Annotated[Path, typer.Argument(help="plan.json to verify")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print the recomputed KPIs as JSON")
    ] = False,
) -> None:
    """Verify a plan against the scenario alone; non-zero exit on any violation."""
    from optimizer.check import check_plan
    from optimizer.check.read import PlanFileError, read_plan_file

    sc = load(scenario)
    try:
        document = read_plan_file(plan_json)
    except PlanFileError as exc:
        fail(str(exc))
    report = check_plan(sc, document)
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
        _print_kpis(report.kpis)
        if report.ok:
            console.print("checker: [green]no violation[/]")
    if not report.ok:
        if not as_json:
            errors.print(f"[bold red]{len(report.violations)} violations[/]")
        raise typer.Exit(1)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="folder to write the scenario into")],
    orders: Annotated[int, typer.Option(help="number of orders", min=1)] = 600,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    date: Annotated[str, typer.Option(help="the day, YYYY-MM-DD")] = "2026-11-24",
    stock_scale: Annotated[
        float,
        typer.Option(help="multiplies every node's stock depth; below 1: a scarce day", min=0.01),
    ] = 1.0,
    force: Annotated[
        bool, typer.Option(help="replace the scenario in an existing folder (its files removed)")
    ] = False,
) -> None:
    """Generate a seeded Paris day (nodes, fleet scaled to the orders, stock, orders, zones).
    An existing non-empty ``--out`` folder (the shipped ``data/paris``, say) is refused
    unless ``--force``; an existing file always."""
    from data.generator import generate as make
    from data.generator import write

    if out.exists() or out.is_symlink():
        if not out.is_dir():
            fail(f"--out {out} exists and is not a folder; give a folder to write the day into")
        if any(out.iterdir()) and not force:
            fail(
                f"--out {out} exists and is not empty; choose another folder, or add --force "
                "to replace the scenario in it (its scenario files are removed)"
            )
    try:
        scenario = make(orders=orders, seed=seed, date=date, stock_scale=stock_scale)
    except ValueError as exc:
        fail(str(exc))
    try:
        if force and out.is_dir():
            # No file of the day replaced may mix into the new one (an optional
            # service_times.csv, say); files of no scenario (a README) stay.
            for name in SCENARIO_FILES:
                (out / name).unlink(missing_ok=True)
        write(scenario, out)
    except OSError as exc:
        fail(f"cannot write the day into {out}: {exc.strerror or exc}")
    console.print(f"wrote a {orders}-order Paris day (seed {seed}) to [bold]{out}[/]")


@app.command()
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
    import time
    from datetime import date as Date

    import numpy as np

    from optimizer.io.candidates import CandidatesError, load_candidates
    from optimizer.io.design_days import generated_days
    from optimizer.io.network_map import network_map
    from optimizer.io.plan_files import to_json, write_plan_files
    from optimizer.network import (
        DesignParams,
        aggregate_demand,
        day_volumes,
        design_networks,
    )
    from optimizer.network.demand import delivery_points
    from optimizer.network.design import comparison_csv, comparison_markdown
    from optimizer.planning import PlanParams
    from optimizer.workflows.replay import COMPARISON_COLUMNS, ReplayParams, replay

    files = ("comparison.csv", "comparison.md", "design.json", "map.html")
    if out.exists() and (
        not out.is_dir() or any(p.name not in files for p in out.iterdir())
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
        replayed = generated_days(base, calendar)
        points = [delivery_points(d) for d in replayed]
        demand = aggregate_demand(
            np.concatenate([p[0] for p in points]), np.concatenate([p[1] for p in points]), days
        )
        proposal = design_networks(base, sites, demand, params)
    except ValueError as exc:
        fail(str(exc))
    console.print(
        f"{len(proposal.networks)} networks to replay on {days} days "
        f"({', '.join(n.name for n in proposal.networks)})"
        + "".join(f"; {a} proposes {b}'s network" for a, b in proposal.same_as.items())
    )
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]replaying[/] {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=1.0)
        reports = replay(
            replayed,
            proposal.networks,
            proposal.existing,
            replay_params,
            progress=lambda f, msg: bar.update(task, completed=f, description=msg),
        )
    replay_s = time.perf_counter() - started
    rows = [r.row() for r in reports]
    summary = {
        "days": [{"date": c.day.isoformat(), "orders": c.orders, "seed": c.seed} for c in calendar],
        "routing_time_limit_s": time_limit,
        "replay_s": round(replay_s, 1),
        "models": {
            name: {
                "objective": round(r.objective, 3),
                "optimal": r.optimal,
                "open": [proposal.sites[j].site_id for j in r.open_sites],
            }
            for name, r in proposal.results.items()
        },
        "same_as": proposal.same_as,
        "networks": rows,
    }
    markdown = (
        f"# Network comparison\n\n{days} generated days from {start} "
        f"({', '.join(str(c.orders) for c in calendar)} orders), routing {time_limit:g} s "
        f"per day; replay took {replay_s:.0f} s.\n\n"
        + comparison_markdown(rows, COMPARISON_COLUMNS)
    )
    try:
        written = write_plan_files(
            out,
            {
                "comparison.csv": comparison_csv(rows, COMPARISON_COLUMNS),
                "comparison.md": markdown,
                "design.json": to_json(summary),
                "map.html": network_map(proposal).get_root().render(),
            },
        )
    except OSError as exc:
        fail(f"cannot write the comparison: {exc}")
    table = Table(title="networks", title_justify="left")
    shown = ("network", "sites", "cost_per_drop_eur", "co2_g_per_order", "bike_share_pct",
             "otif_pct", "express_slot_pct", "vans_needed", "bikes_needed")  # fmt: skip
    for column in shown:
        table.add_column(column, justify="left" if column == "network" else "right")
    for row in rows:
        table.add_row(*(f"{row[c]:,.2f}" if isinstance(row[c], float) else str(row[c])
                        for c in shown))  # fmt: skip
    console.print(table)
    console.print(
        f"replay: {replay_s:.0f} s; written to [bold]{written}[/] "
        "(comparison.csv, comparison.md, design.json, map.html)"
    )
    if any(r.checker_violations for r in reports):
        fail("the checker found violations in replayed plans (see comparison.csv)", code=1)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MB."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children, psutil.Process().memory_info().rss / 1024) / 1024


def _print_kpis(kpis: dict) -> None:
    table = Table(title="KPIs", show_header=False, title_justify="left")
    table.add_column("kpi", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("orders", f"{kpis['orders_total']}"),
        ("routed / collected / unassigned",
         f"{kpis['orders_routed']} / {kpis['orders_collected']} / {kpis['orders_unassigned']}"),
        ("split orders / parcels shipped",
         f"{kpis.get('orders_split', 0)} / {kpis.get('parcels_shipped', '-')}"),
        ("served, % of deliverable",
         f"{kpis['served_deliverable_pct']:.1f} % of {kpis['orders_deliverable']}"),
        ("on time, % of routed", f"{kpis['on_time_pct']:.1f} %"),
        ("cost", f"{kpis['cost_eur']:,.2f} EUR (handling {kpis['handling_cost_eur']:,.2f})"),
        ("CO2", f"{kpis['co2_g'] / 1000:,.2f} kg"),
        ("vehicles used", f"{kpis['vehicles_used']}"),
    ]  # fmt: skip
    if kpis.get("returns_total"):
        rows.insert(3, ("returns picked up / unassigned",
                        f"{kpis.get('returns_routed', '-')} / {kpis.get('returns_unassigned', '-')}"
                        f" of {kpis['returns_total']}"))  # fmt: skip
    for mode, km in kpis["distance_km_by_mode"].items():
        cost = kpis["route_cost_eur_by_mode"].get(mode, 0.0)
        used = kpis["vehicles_used_by_mode"].get(mode, 0)
        rows.append((f"  {mode}", f"{used} vehicles, {km:,.1f} km, {cost:,.2f} EUR"))
    for code, n in kpis["unassigned_by_reason"].items():
        rows.append((f"  unassigned: {code}", f"{n}"))
    if "solve_s" in kpis:
        rows.append(("solve time", f"{kpis['solve_s']:.1f} s"))
    if "peak_rss_mb" in kpis:
        rows.append(("peak memory", f"{kpis['peak_rss_mb']:.0f} MB"))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


from optimizer.bench.cli import bench_app  # noqa: E402

app.add_typer(bench_app, name="bench")

if __name__ == "__main__":
    app()
