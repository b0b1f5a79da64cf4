"""``lastmile generate``: a seeded Paris day written as a scenario folder (or, with
``--kind domain``, a day of the peers' Paris-like kind, :mod:`data.domain_generator`; with
``--kind furniture``, a furniture retailer's day or ``--days`` days,
:mod:`data.furniture_generator`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, fail

KINDS = ("paris", "domain", "furniture")
DEFAULT_ORDERS = 600  # a Paris day (data/generator.py BASE_ORDERS)
FURNITURE_ORDERS = 40  # a furniture day (data/furniture_generator.py BASE_ORDERS)


def generate(
    out: Annotated[Path, typer.Option(help="folder to write the scenario into")],
    orders: Annotated[
        int | None,
        typer.Option(
            help="number of orders (furniture: a day) [default: 600; furniture: 40]", min=1
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    date: Annotated[str, typer.Option(help="the day, YYYY-MM-DD")] = "2026-11-24",
    stock_scale: Annotated[
        float,
        typer.Option(help="multiplies every node's stock depth; below 1: a scarce day", min=0.01),
    ] = 1.0,
    force: Annotated[
        bool, typer.Option(help="replace the scenario in an existing folder (its files removed)")
    ] = False,
    osm: Annotated[
        Path | None,
        typer.Option(help="an OpenStreetMap extract: a day on its streets instead of Paris's"),
    ] = None,
    city: Annotated[
        str | None, typer.Option(help="with --osm: the city's name (default: the file's)")
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="with --osm: the city's IANA time zone")
    ] = "Europe/Paris",
    kind: Annotated[
        str,
        typer.Option(
            help="paris: the shipped day's city and catalogue; domain: the peers' "
            "Paris-like mixed-fleet day (lastmile bench domain); furniture: a furniture "
            "retailer's days (sofas made to order, two-person vans, take-backs)"
        ),
    ] = "paris",
    days: Annotated[
        int,
        typer.Option(
            help="furniture: days of orders from --date, one folder (plan them with "
            "lastmile plan --days)",
            min=1,
        ),
    ] = 1,
) -> None:
    """Generate a seeded Paris day (nodes, fleet scaled to the orders, stock, orders, zones),
    or with ``--osm`` a day on any OpenStreetMap extract's streets (nodes, zones and
    addresses placed from its street network; planned on roads).
    An existing non-empty ``--out`` folder (the shipped ``data/paris``, say) is refused
    unless ``--force``; an existing file always. ``--kind domain`` makes a day of the
    peers' kind (14 depots, e-vans and cargo bikes, every order free to ship from any
    depot; see ``lastmile bench domain``). ``--kind furniture`` makes a furniture
    retailer's ``--days`` days (``--orders`` a day) in one folder: a warehouse with
    two-person tail-lift vans, a showroom with bikes, sofas made to order, take-backs."""
    if kind not in KINDS:
        fail(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    if kind == "furniture":
        if osm is not None or stock_scale != 1.0:
            fail("--kind furniture takes neither --osm nor --stock-scale")
        _generate_furniture(out, orders or FURNITURE_ORDERS, days, seed, date, force)
        return
    if days != 1:
        fail(f"--days {days}: only --kind furniture generates several days")
    orders = orders or DEFAULT_ORDERS
    if kind == "domain":
        if osm is not None or stock_scale != 1.0:
            fail("--kind domain takes neither --osm nor --stock-scale (its stock never binds)")
        _generate_domain(out, orders, seed, date, force)
        return
    if osm is not None:
        _generate_on_streets(out, orders, seed, date, stock_scale, force, osm, city, timezone)
        return
    from data.generator import generate as make
    from data.generator import write

    _check_out(out, force)
    try:
        scenario = make(orders=orders, seed=seed, date=date, stock_scale=stock_scale)
    except ValueError as exc:
        fail(str(exc))
    try:
        write(scenario, out, replace=force)
    except OSError as exc:
        fail(f"cannot write the day into {out}: {exc.strerror or exc}")
    console.print(f"wrote a {orders}-order Paris day (seed {seed}) to [bold]{out}[/]")


def _check_out(out: Path, force: bool) -> None:
    """Refuse an ``--out`` that is a file, or a non-empty folder without ``--force``."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            fail(f"--out {out} exists and is not a folder; give a folder to write the day into")
        if any(out.iterdir()) and not force:
            fail(
                f"--out {out} exists and is not empty; choose another folder, or add --force "
                "to replace the scenario in it (its scenario files are removed)"
            )


def _generate_domain(out: Path, orders: int, seed: int, date: str, force: bool) -> None:
    from data.domain_generator import generate, write

    _check_out(out, force)
    try:
        day = generate(orders=orders, seed=seed, date=date)
    except ValueError as exc:
        fail(str(exc))
    try:
        write(day, out, replace=force)
    except OSError as exc:
        fail(f"cannot write the day into {out}: {exc.strerror or exc}")
    console.print(f"wrote a {orders}-order day of the peers' kind (seed {seed}) to [bold]{out}[/]")


def _generate_furniture(
    out: Path, orders: int, days: int, seed: int, date: str, force: bool
) -> None:
    from data.furniture_generator import generate, write

    _check_out(out, force)
    try:
        made = generate(orders=orders, days=days, seed=seed, date=date)
    except ValueError as exc:
        fail(str(exc))
    try:
        write(made, out, replace=force)
    except OSError as exc:
        fail(f"cannot write the days into {out}: {exc.strerror or exc}")
    console.print(
        f"wrote {days} furniture day(s) of {orders} orders (seed {seed}) from {date} to "
        f"[bold]{out}[/]"
        + (f"; plan them with lastmile plan {out} --days {days}" if days > 1 else "")
    )


def _generate_on_streets(
    out: Path,
    orders: int,
    seed: int,
    date: str,
    stock_scale: float,
    force: bool,
    osm: Path,
    city: str | None,
    timezone: str,
) -> None:
    """``generate --osm``: :func:`data.osm_generator.generate_from_osm`, its errors
    printed as they are (each names what is wrong)."""
    from data.osm_generator import generate_from_osm

    try:
        written = generate_from_osm(
            osm, orders, seed, out, force, city=city, date=date, timezone=timezone,
            stock_scale=stock_scale,
        )  # fmt: skip
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the day into {out}: {exc.strerror or exc}")
    console.print(
        f"wrote a {orders}-order day on the streets of {osm.name} (seed {seed}) to "
        f"[bold]{written}[/] (street data © OpenStreetMap contributors, ODbL 1.0)"
    )
