"""Days to replay: generated days over a calendar, run on a base network.

A day is made by the caller's ``make_day`` (the seeded generator of ``data/generator.py``
at the CLI: the core imports no ``data``), which writes a scenario folder; it is read back
with the scenario reader (so a generated day is validated like any other) from a
temporary folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from optimizer.io.scenario_reader import load_scenario
from optimizer.model import Scenario
from optimizer.network.apply import rebase_day
from optimizer.network.demand import DemandDay

# Writes the scenario files of the calendar entry's day (its volume, seed and date) into
# the folder given.
MakeDay = Callable[[DemandDay, Path], None]


def generated_days(base: Scenario, calendar: list[DemandDay], make_day: MakeDay) -> list[Scenario]:
    """One day per calendar entry, made by ``make_day``, each with its orders and stock
    but ``base``'s network (:func:`optimizer.network.rebase_day`)."""
    out = []
    for entry in calendar:
        with tempfile.TemporaryDirectory(prefix="lastmile-day-") as tmp:
            make_day(entry, Path(tmp))
            day = load_scenario(tmp)
        out.append(rebase_day(day, base))
    return out
