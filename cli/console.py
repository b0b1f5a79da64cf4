"""What every command shares: the consoles, ``fail`` (an error line and an exit code),
``load`` (a scenario or a failure naming what is wrong with it), the progress bar and
the KPI table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code`` (shared by every command)."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load(scenario_dir: Path):
    """The scenario in ``scenario_dir``, or :func:`fail` naming what is wrong with it."""
    from optimizer.io import ScenarioError, load_scenario

    try:
        scenario = load_scenario(scenario_dir)
    except ScenarioError as exc:
        fail(str(exc))
    warn(scenario.warnings)
    return scenario


# Warnings shown one by one before the rest are counted: a day on the wrong extract
# names every address, and the first twenty say what is wrong.
SHOWN_WARNINGS = 20


def warn(warnings: list[str]) -> None:
    """What the reader accepted but the planner should read (an address far from the
    streets, say), on stderr; the first :data:`SHOWN_WARNINGS`, then how many more."""
    for text in warnings[:SHOWN_WARNINGS]:
        errors.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)
    if len(warnings) > SHOWN_WARNINGS:
        errors.print(f"[yellow]warning:[/] and {len(warnings) - SHOWN_WARNINGS} more like these")


@contextmanager
def progress_bar(doing: str, first: str = "") -> Iterator[Callable[[float, str], None]]:
    """A transient bar on stderr, ``doing`` in bold before what is being done; yields the
    ``progress(fraction, message)`` callback the core reports to."""
    with Progress(
        TextColumn(f"[bold]{doing}[/] {{task.description}}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task(first, total=1.0)
        yield lambda f, msg: bar.update(task, completed=f, description=msg)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MB."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children, psutil.Process().memory_info().rss / 1024) / 1024


def print_kpis(kpis: dict) -> None:
    """The plan's KPIs as a table on stdout."""
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
