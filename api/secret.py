"""The server secret: it signs customers' tracking tokens and checkout option ids.

Where it lives, first found wins:

1. ``LASTMILE_SECRET`` (at least 32 characters): nothing is stored; every instance of a
   service given the same value signs alike.
2. With SQLite, the file ``secret`` in the state folder (``LASTMILE_STATE_DIR``), 0600,
   apart from the database, so a copy of the database does not carry it. A database of an
   earlier version held it in its ``kv`` table: that value moves to the file at the next
   start (links and option ids signed before keep working).
3. With PostgreSQL, the ``kv`` table, shared by every instance of the service and guarded
   by the database's own access control.

A new one is made at first start. :func:`rotate_secret` (``lastmile keys rotate-secret``)
replaces it: every tracking link and option id signed before stops working, and a running
service keeps the old one until it restarts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from api.db import PRIVATE_FILE_MODE, Database, make_private_dir, tighten
from api.models import KV
from api.settings import Settings
from optimizer.io.file_limits import KIB, read_text_within

SECRET_FILE = "secret"
KV_KEY = "server_secret"
SECRET_BYTES = 32
# The secret file holds 64 hex digits; anything far longer is not one (and not read).
MAX_SECRET_FILE_BYTES = 4 * KIB


class SecretError(RuntimeError):
    """The secret cannot be read or replaced (an unreadable file, or one set in the
    environment that the command cannot change)."""


def secret_path(settings: Settings) -> Path:
    """The secret file of a SQLite service: ``<state_dir>/secret``."""
    return settings.state_dir.resolve() / SECRET_FILE


def server_secret(db: Database, settings: Settings) -> bytes:
    """The secret, made at first start (see the module docstring for where it lives)."""
    if settings.secret is not None:
        return settings.secret.get_secret_value().encode("utf-8")
    with db.transaction() as session:  # on SQLite, one process at a time (BEGIN IMMEDIATE)
        legacy = session.get(KV, KV_KEY)
        if db.dialect != "sqlite":
            if legacy is None:
                legacy = KV(key=KV_KEY, value=secrets.token_hex(SECRET_BYTES))
                session.add(legacy)
            return bytes.fromhex(legacy.value)
        path = secret_path(settings)
        if path.exists():
            value = _read(path)
        else:
            value = legacy.value if legacy is not None else secrets.token_hex(SECRET_BYTES)
            _write(path, value)
        if legacy is not None:
            session.delete(legacy)  # now apart from the data
        return bytes.fromhex(value)


def rotate_secret(db: Database, settings: Settings) -> str:
    """Replace the secret with a new random one; return where it now lives. Outstanding
    tracking links and option ids stop working; a running service must restart."""
    if settings.secret is not None:
        raise SecretError(
            "the secret comes from LASTMILE_SECRET: set a new value there and restart the service"
        )
    value = secrets.token_hex(SECRET_BYTES)
    with db.transaction() as session:
        row = session.get(KV, KV_KEY)
        if db.dialect != "sqlite":
            if row is None:
                session.add(KV(key=KV_KEY, value=value))
            else:
                row.value = value
            return "the database's kv table"
        if row is not None:
            session.delete(row)
        path = secret_path(settings)
        _write(path, value)
        return str(path)


def _read(path: Path) -> str:
    tighten(path)
    try:
        value = read_text_within(path, MAX_SECRET_FILE_BYTES, "a server secret", "ascii").strip()
        bytes.fromhex(value)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SecretError(f"{path}: cannot read the server secret ({exc})") from exc
    if len(value) < 2 * 16:
        raise SecretError(f"{path}: the server secret is too short (at least 32 hex digits)")
    return value


def _write(path: Path, value: str) -> None:
    """Write the secret as 0600 from its creation, atomically (a temporary file renamed)."""
    make_private_dir(path.parent)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # a leftover staging file of another mode
        os.write(fd, (value + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(staging, path)
