"""``lastmile bench ...``: speed and quality figures. The drivers are beside this module
(:mod:`cli.bench_vrptw`, :mod:`cli.bench_sourcing`, :mod:`cli.bench_scale`,
:mod:`cli.bench_promise`, :mod:`cli.bench_domain`); the commands here parse, run one
and print its figures."""

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
def domain(
    scenario: Annotated[
        list[Path] | None,
        typer.Option(help="scenario folders (repeatable; default: the peers' shared day)"),
    ] = None,
    orders: Annotated[
        str, typer.Option(help="sizes of the generated days, comma-separated ('': none)")
    ] = "600,2000",
    seeds: Annotated[str, typer.Option(help="seeds of the generated days (and raw PyVRP)")] = "1",
    time_limit: Annotated[
        float | None,
        typer.Option(
            help="seconds per plan, each (default 30 up to 1,000 orders, 60 above)", min=1
        ),
    ] = None,
    detour: Annotated[
        float, typer.Option(help="road km per crow-fly km, every mode (the peers': 1.3)", min=1)
    ] = 1.3,
    workers: Annotated[int, typer.Option(help="lastmile plan's processes", min=1)] = 2,
    shared: Annotated[
        bool, typer.Option(help="without --scenario, measure the peers' shared day too")
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option(help="keep each plan's plan.json and kpis.json in OUT/<day>/<solver>"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """lastmile against raw PyVRP on the peers' Paris-like day and generated days of its
    kind, same time and travel, both priced by the checker: cost, unserved, objective
    (cost + 1,000 EUR per unserved order), and the ratio lastmile / raw PyVRP."""
    from cli.bench_domain import days_to_measure, run
    from optimizer.io import ScenarioError

    say = lambda m: errors.print(f"[dim]{m}[/]", highlight=False)  # noqa: E731
    folders = scenario or []
    problems = [f"--scenario {p}: no such folder" for p in folders if not p.is_dir()]
    try:
        sizes = _counts(orders, "--orders") if orders.strip() else []
        seed_list = _seeds(seeds)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        errors.print("[bold red]error:[/] " + "; ".join(problems), highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    days = days_to_measure(folders, sizes, seed_list, note=say, shared=shared)
    if not days:
        errors.print("[bold red]error:[/] no day to measure", highlight=False)
        raise typer.Exit(2)
    try:
        result = run(days, time_limit, detour, workers, progress=say, out_dir=out)
    except (ScenarioError, ValueError, OSError) as exc:  # a bad day, or one raw PyVRP cannot model
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    _domain_table(result)


def _seeds(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``; integers >= 0, at least one."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--seeds {text!r}: comma-separated integers >= 0") from None
    if not values or any(v < 0 for v in values):
        raise ValueError(f"--seeds {text!r}: comma-separated integers >= 0")
    return values


def _domain_table(result: dict) -> None:
    table = Table(
        title=f"lastmile vs raw PyVRP, detour {result['detour']:g}; objective = cost + "
        "1,000 EUR per unserved order",
        title_justify="left",
    )
    columns = ("day", "orders", "limit s", "solver", "cost EUR", "unserved", "objective EUR",
               "checker", "wall s", "ratio")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("day", "solver") else "right")
    for day in result["days"]:
        for who, label in (("lastmile", "lastmile"), ("raw_pyvrp", "raw PyVRP")):
            f = day[who]
            first = who == "lastmile"
            table.add_row(
                day["day"] if first else "",
                str(day["orders"]) if first else "",
                f"{day['time_limit_s']:g}" if first else "",
                label,
                f"{f['cost_eur']:,.2f}",
                str(f["unserved"]),
                f"{f['objective_eur']:,.2f}",
                "ok" if f["checker_ok"] else f"[red]{f['violations']} violations[/]",
                f"{f['wall_s']:.1f}",
                f"{day['ratio']:.4f}" if first else "",
            )
    console.print(table)
    s = result["summary"]
    if s["days"]:
        console.print(
            f"ratio lastmile / raw PyVRP: mean {s['mean_ratio']:.4f}, worst {s['worst_ratio']:.4f} "
            f"over {s['days']} day(s); load average at start {result['load_avg']}"
        )


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


@bench_app.command()
def travel(
    osm: Annotated[Path, typer.Option(help="an OpenStreetMap extract (.osm.pbf)")],
    points: Annotated[int, typer.Option(help="addresses in the matrix", min=1)] = 2000,
    seed: Annotated[int, typer.Option(help="seed of the addresses drawn")] = 0,
    cache_dir: Annotated[
        Path | None, typer.Option(help="where the networks are cached (default: beside it)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Road travel on a street extract: build (cold), cache-hit load and a points x points
    matrix per mode, with peak memory and how far the addresses snap."""
    from optimizer.workflows.bench_travel import bench_travel

    if not osm.is_file():
        errors.print(f"[red]--osm {osm}: no such file[/]")
        raise typer.Exit(2)
    try:
        figures = bench_travel(osm, points=points, seed=seed, cache_dir=cache_dir)
    except (ValueError, OSError, RuntimeError) as exc:
        errors.print(f"[red]{osm}: {exc}[/]")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    table = Table(title=f"road travel on {osm.name}: {points:,} points (seed {seed})")
    rows = ("nodes", "edges", "cold_s", "cached_load_s", "matrix_s", "matrix_cpu_s",
            "matrix_peak_mb", "snap_median_m", "snaps_over_warning")  # fmt: skip
    table.add_column("figure")
    for name in figures["modes"]:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row, *(f"{mode.get(row, '')}" for mode in figures["modes"].values()))
    console.print(table)
    console.print(
        f"parse {figures['parse_s']} s (shared by the modes); a second plan's cache hit "
        f"{figures['cache_hit_all_modes_s']} s; process peak {figures['process_peak_rss_mb']} MB"
    )
