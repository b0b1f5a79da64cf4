"""``lastmile bench ...``: speed and quality figures. The drivers are beside this module
(:mod:`cli.bench_vrptw`, :mod:`cli.bench_sourcing`, :mod:`cli.bench_scale`,
:mod:`cli.bench_promise`); the commands here parse, run one and print its figures."""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import console, errors
from optimizer.scale import ScaleParams

bench_app = typer.Typer(help="benchmarks: speed and quality figures")

# What `lastmile bench vrptw` solves with unless told: the engine with the smallest
# mean gap measured on Solomon at 10 s and G&H 400 at 60 s (see the commit adding it).
DEFAULT_ENGINE = "pyvrp"


def expand_instances(items: list[str]) -> list[Path]:
    """Paths, globs and comma-separated lists of either, in order, without repeats."""
    out: list[Path] = []
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            if not part:
                continue
            if glob.has_magic(part):
                matches = sorted(glob.glob(part))
                if not matches:
                    raise ValueError(f"{part}: matches no file")
                found = [Path(m) for m in matches]
            elif Path(part).is_file():
                found = [Path(part)]
            else:
                raise ValueError(f"{part}: no such file")
            out += [p for p in found if p not in out]
    if not out:
        raise ValueError("no instance given")
    return out


@bench_app.command()
def vrptw(
    instances: Annotated[
        list[str],
        typer.Option(help="instance files or globs (repeatable, or comma-separated)"),
    ],
    time_limit: Annotated[float, typer.Option(help="seconds per instance", min=0.1)] = 10.0,
    engine: Annotated[str, typer.Option(help="routing engine")] = DEFAULT_ENGINE,
    workers: Annotated[
        int, typer.Option(help="instances solved at once, one process each", min=1)
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Solomon / Gehring-Homberger VRPTW: distance, vehicles and gap to the DIMACS BKS."""
    from cli.bench_vrptw import run

    try:
        paths = expand_instances(instances)
        result = run(
            paths,
            engine,
            time_limit,
            workers,
            on_done=lambda r: errors.print(
                f"{r.name}: {'feasible' if r.feasible else '[red]infeasible[/]'}, "
                f"{r.distance:.1f}, gap {_pct(r.gap_pct)}",
                highlight=False,
            ),
        )
    except (ValueError, OSError) as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return
    table = Table(title=f"VRPTW, {engine}, {time_limit:g} s per instance", title_justify="left")
    for name in ("instance", "feasible", "vehicles", "distance", "gap", "solve s", "peak MB"):
        table.add_column(name, justify="left" if name == "instance" else "right")
    for r in result.instances:
        table.add_row(
            r.name,
            "yes" if r.feasible else "[red]no[/]",
            str(r.vehicles),
            f"{r.distance:.1f}",
            _pct(r.gap_pct),
            f"{r.solve_s:.1f}",
            f"{r.peak_rss_mb:.0f}",
        )
    console.print(table)
    feasible = sum(r.feasible for r in result.instances)
    console.print(
        f"mean gap {_pct(result.mean_gap_pct)} to the DIMACS BKS; "
        f"feasible {feasible}/{len(result.instances)}"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} %"


@bench_app.command()
def sourcing(
    orders: Annotated[int, typer.Option(help="orders of the generated big day", min=1)] = 5000,
    seed: Annotated[int, typer.Option(help="seed of the generated big day")] = 7,
    time_limit: Annotated[float, typer.Option(help="routing seconds per plan", min=1)] = 60.0,
    engine: Annotated[str, typer.Option(help="routing engine")] = "pyvrp",
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Route-aware node choice vs nearest node and cheapest handling, on the Paris day
    and a generated big day, same routing time: cost, km, CO2, vehicles, served."""
    from cli.bench_sourcing import run

    paris = Path(__file__).resolve().parents[1] / "data" / "paris"
    say = (lambda m: None) if as_json else (lambda m: errors.print(f"[dim]{m}...[/]"))
    figures = run(paris, orders, seed, time_limit, engine, progress=say)
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    table = Table(title=f"sourcing policies, {time_limit:.0f} s routing, {engine}")
    for column in ("day", "policy", "cost EUR", "km", "CO2 kg", "vehicles", "served", "checker"):
        table.add_column(column, justify="left" if column in ("day", "policy") else "right")
    for day in figures["days"]:
        for policy, f in day["policies"].items():
            table.add_row(day["name"], policy, f"{f['cost_eur']:,.2f}", f"{f['distance_km']:,.1f}",
                          f"{f['co2_g'] / 1000:,.2f}", str(f["vehicles"]), str(f["served"]),
                          "ok" if f["checker_ok"] else "VIOLATIONS")  # fmt: skip
    console.print(table)


@bench_app.command()
def scale(
    orders: Annotated[str, typer.Option(help="day sizes, comma-separated")] = "5000,20000,50000",
    workers: Annotated[str, typer.Option(help="dask worker counts, comma-separated")] = "1,2",
    seed: Annotated[int, typer.Option(help="seed of the generated days")] = 7,
    part_orders: Annotated[
        int, typer.Option(help="orders to route per part at most", min=1)
    ] = ScaleParams.part_orders,
    time_limit: Annotated[
        float,
        typer.Option(
            help="routing seconds of a part of --part-orders orders (smaller parts pro rata)",
            min=0.1,
        ),
    ] = ScaleParams.part_time_limit_s,
    engine: Annotated[str, typer.Option(help="routing engine")] = "pyvrp",
    scheduler: Annotated[
        str | None, typer.Option(help="existing dask scheduler, e.g. tcp://host:8786")
    ] = None,
    penalty: Annotated[
        bool, typer.Option(help="also plan the smallest day monolithically, same routing time")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Big days decomposed on dask: time, peak memory (workers included), served,
    checker and cost per size and worker count; the decomposition's cost penalty."""
    from cli.bench_scale import run

    try:
        sizes = _counts(orders, "--orders")
        counts = _counts(workers, "--workers")
        params = ScaleParams(part_orders=part_orders, part_time_limit_s=time_limit)
    except ValueError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    say = lambda m: errors.print(f"[dim]{m}[/]", highlight=False)  # noqa: E731
    try:
        result = run(sizes, counts, seed, params, engine, scheduler, penalty, progress=say)
    except OSError as exc:  # no scheduler at that address
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    table = Table(
        title=f"decomposed planning, {engine}, parts of <= {part_orders} orders, "
        f"{time_limit:g} s routing per part",
        title_justify="left",
    )
    for column in (
        "orders",
        "workers",
        "parts",
        "wall s",
        "peak MB",
        "served",
        "checker",
        "cost EUR",
    ):
        table.add_column(column, justify="right")
    for r in result["runs"]:
        checker = "ok" if r["checker_ok"] else "VIOLATIONS"
        cells = (
            r["orders"],
            r["workers"],
            r["parts"],
            f"{r['wall_s']:.1f}",
            f"{r['peak_rss_mb']:.0f}",
            r["served"],
            checker,
            f"{r['cost_eur']:,.2f}",
        )
        table.add_row(*map(str, cells))
    console.print(table)
    if "penalty" in result:
        p = result["penalty"]
        console.print(
            f"decomposition penalty on {p['orders']} orders: cost {p['cost_penalty_pct']:+.2f} % "
            f"({p['decomposed']['cost_eur']:,.2f} vs {p['monolithic']['cost_eur']:,.2f} EUR "
            f"monolithic), served {p['served_difference']:+d}"
        )


def _counts(text: str, option: str) -> list[int]:
    """``"5000,20000"`` -> ``[5000, 20000]``; positive integers only."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} {text!r}: comma-separated positive integers") from None
    if not values or any(v < 1 for v in values):
        raise ValueError(f"{option} {text!r}: comma-separated positive integers")
    return values


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
    from cli.bench_promise import run

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
