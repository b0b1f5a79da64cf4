"""Reading a ``plan.json`` someone gave (``lastmile check``): within its size limit,
strict UTF-8 JSON, an object. What the object holds is the checker's business
(:mod:`optimizer.check.read` reads it into its records and reports, never raises)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optimizer.io.file_limits import MAX_PLAN_JSON_BYTES, FileTooLargeError, read_bytes_within


class PlanFileError(ValueError):
    """A ``plan.json`` that cannot be read as a JSON object; the message names the file."""


def _not_a_json_number(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def read_plan_file(path: str | Path) -> dict:
    """``plan.json`` parsed, for :func:`optimizer.check.check_plan`; a :class:`PlanFileError`
    saying why not when the file is missing or unreadable, beyond
    :data:`optimizer.io.file_limits.MAX_PLAN_JSON_BYTES` (checked before it is read), not
    UTF-8, not strict JSON (``NaN``, ``Infinity``), nested too deeply, or not an object.
    What the JSON holds is the checker's business: it reports, never raises."""
    path = Path(path)
    try:
        data = read_bytes_within(path, MAX_PLAN_JSON_BYTES, "a plan.json")
    except FileTooLargeError as exc:
        raise PlanFileError(f"{exc} (see docs/plan-format.md)") from None
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_not_a_json_number)
    except UnicodeDecodeError as exc:
        raise PlanFileError(
            f"{path}: not a readable JSON plan (not UTF-8 at byte {exc.start})"
        ) from None
    except RecursionError:
        raise PlanFileError(f"{path}: not a readable JSON plan (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, NaN, an integer of over 4,300 digits
        raise PlanFileError(f"{path}: not a readable JSON plan ({exc})") from None
    if not isinstance(document, dict):
        raise PlanFileError(f"{path}: a plan is a JSON object, not a {type(document).__name__}")
    return document
