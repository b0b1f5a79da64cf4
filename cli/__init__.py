"""The ``lastmile`` command line, the project's first edge: one module per command or
command group, each calling the workflows (:mod:`optimizer.workflows`) or the service;
every command is registered here, none by importing a module."""

import typer

from cli import check, design, generate, plan, serve, simulate
from cli.bench import bench_app
from cli.keys import keys_app
from cli.report import report_app

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="lastmile: fulfilment node choice and routing for electric vans and cargo bikes.",
)
app.command()(plan.plan)
app.command()(check.check)
app.command()(generate.generate)
app.command()(design.design)
app.add_typer(bench_app, name="bench")
app.command()(serve.serve)
app.command()(simulate.simulate)
app.add_typer(report_app, name="report")
app.add_typer(keys_app, name="keys")
