"""Days to replay: the seeded generator's days over a calendar, run on a base network.

The generator (``data/generator.py``) writes a scenario folder; it is read back with the
scenario reader (so a generated day is validated like any other) from a temporary folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from optimizer.io.scenario_reader import load_scenario
from optimizer.model import Scenario
from optimizer.network.apply import rebase_day
from optimizer.network.demand import DemandDay


def generated_days(base: Scenario, calendar: list[DemandDay]) -> list[Scenario]:
    """One generated day per calendar entry (its volume, seed and date), each with its
    orders and stock but ``base``'s network (:func:`optimizer.network.rebase_day`)."""
    from data.generator import generate, write

    out = []
    for entry in calendar:
        generated = generate(orders=entry.orders, seed=entry.seed, date=entry.day.isoformat())
        with tempfile.TemporaryDirectory(prefix="lastmile-day-") as tmp:
            write(generated, Path(tmp))
            day = load_scenario(tmp)
        out.append(rebase_day(day, base))
    return out
