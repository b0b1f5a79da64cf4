"""``lastmile generate``: a seeded Paris day written as a scenario folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, fail

# Every file of the scenario format (docs/scenario-format.md), optional ones included.
SCENARIO_FILES = (
    "scenario.yaml", "nodes.csv", "vehicle_types.csv", "fleet.csv", "catalogue.csv",
    "stock.csv", "orders.csv", "order_lines.csv", "inbound.csv", "postcodes.csv",
    "service_times.csv", "returns.csv", "return_lines.csv", "zones.geojson",
)  # fmt: skip


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
