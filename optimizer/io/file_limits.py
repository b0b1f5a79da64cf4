"""Reading a file from outside within a size limit, checked before it is read whole.

Every reader of a file someone else wrote (a scenario folder, a ``plan.json`` to check,
a candidate-site file, the API keys file, a VRPTW instance) reads it through
:func:`read_bytes_within` or :func:`read_text_within`: the file's size is checked
before a byte is read, and the read itself stops one byte past the limit, so a file that
grows meanwhile, a pipe or a device (``/dev/zero``) cannot exhaust the machine either.
Beyond its limit a file is a :class:`FileTooLargeError` naming the file and the limit.

The scenario folder's limits are the scenario reader's (``MAX_FILE_BYTES`` and rows per
file); the others are here. All are documented in docs/scenario-format.md (Size limits).
"""

from __future__ import annotations

import os
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB

# A checked plan.json (``lastmile check``): a day of the planner's 100,000 orders makes
# a plan.json of about 130 MB (about 1.3 KB per order: its stop, assignment and lines).
MAX_PLAN_JSON_BYTES = 256 * MIB
# Candidate sites for ``lastmile design``: a city has hundreds; 4 MiB is some 40,000.
MAX_CANDIDATES_BYTES = 4 * MIB
# The service's API keys file (LASTMILE_API_KEYS_FILE): thousands of keys fit in 1 MiB.
MAX_KEYS_FILE_BYTES = 1 * MIB
# A VRPTW instance, solution or BKS table (the largest Gehring-Homberger instance, 1,000
# customers, is about 80 KB).
MAX_VRPTW_FILE_BYTES = 16 * MIB


def shown_size(size_bytes: int) -> str:
    """``size_bytes`` for a person: ``"1.5 MiB"``, ``"512 KiB"`` or ``"300 bytes"``."""
    if size_bytes >= MIB:
        return f"{size_bytes / MIB:.3g} MiB"
    if size_bytes >= KIB:
        return f"{size_bytes / KIB:.3g} KiB"
    return f"{size_bytes} bytes"


class FileTooLargeError(ValueError):
    """A file beyond its reader's limit: ``path``, ``size_bytes`` (None when the file
    said it was smaller, or has no size, and held more) and ``limit_bytes``."""

    def __init__(self, path: str | Path, size_bytes: int | None, limit_bytes: int, what: str):
        self.path = Path(path)
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
        self.what = what
        size = "more" if size_bytes is None else shown_size(size_bytes)
        super().__init__(
            f"{self.path}: the file is {size}, beyond the limit of {shown_size(limit_bytes)} "
            f"for {what}"
        )


def read_bytes_within(path: str | Path, limit_bytes: int, what: str = "this file") -> bytes:
    """The bytes of ``path``, at most ``limit_bytes`` of them, or :class:`FileTooLargeError`
    (``what`` names the kind of file in its message). The size is checked before reading;
    the read stops one byte past the limit. ``OSError`` (missing, unreadable) is raised."""
    with open(path, "rb") as fh:
        size_bytes = os.fstat(fh.fileno()).st_size
        if size_bytes > limit_bytes:
            raise FileTooLargeError(path, size_bytes, limit_bytes, what)
        data = fh.read(limit_bytes + 1)
    if len(data) > limit_bytes:  # it grew, or it is a pipe or a device
        raise FileTooLargeError(path, None, limit_bytes, what)
    return data


def read_text_within(
    path: str | Path, limit_bytes: int, what: str = "this file", encoding: str = "utf-8"
) -> str:
    """:func:`read_bytes_within` decoded (``UnicodeDecodeError`` raised when it is not
    ``encoding``)."""
    return read_bytes_within(path, limit_bytes, what).decode(encoding)
