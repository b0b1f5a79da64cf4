"""What is wrong with a scenario: one :class:`Problem` per finding, all raised at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located as precisely as the file allows.

    Parameters
    ----------
    file
        The file's name inside the scenario folder (``orders.csv``), or the folder
        itself when it cannot be read.
    line
        1-based line in the file (a CSV header is line 1); None for the whole file.
    column
        The CSV column, the YAML key path (``services.eco.price_eur``) or the GeoJSON
        member (``features[2].properties.rule``); None for a whole line or file.
    message
        What is wrong, for the person who edits the file.
    """

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class ScenarioError(Exception):
    """A scenario that cannot be loaded, with every problem found in it."""

    def __init__(self, path: str | Path, problems: Iterable[Problem]):
        self.path = str(path)
        self.problems: list[Problem] = list(problems)
        super().__init__(self.path, self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"scenario {self.path} has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])
