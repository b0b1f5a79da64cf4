"""``python -m cli``: the ``lastmile`` command."""

from cli import app

app(prog_name="lastmile")
