"""The database: engine, sessions, migrations. SQLite file by default, PostgreSQL by URL.

Concurrency contract (what code writing shared state may rely on):

* ``db.transaction()`` opens a write transaction. On SQLite it starts with
  ``BEGIN IMMEDIATE``: it takes the database's write lock at once, so concurrent writers
  queue (up to ``busy_timeout``) instead of failing halfway, and what a transaction read
  cannot change before it commits. On PostgreSQL it is an ordinary READ COMMITTED
  transaction: lock the rows you will change (``select(...).with_for_update()``, which
  SQLite ignores, being already serialized) or use conditional updates
  (``UPDATE ... WHERE qty >= :n``) and check ``rowcount``.
* ``db.transaction(write=False)`` is for reads: a plain ``BEGIN`` on SQLite (WAL readers
  never wait for the writer), the same transaction on PostgreSQL.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# How long a SQLite writer waits for the write lock before "database is locked", in ms.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key: two processes starting together migrate one after the other.
MIGRATION_LOCK = 0x6C6D_0001
_READ_ONLY = "lastmile_read_only"  # execution option: plain BEGIN on SQLite
# The state folder and its files (the SQLite database, the secret): their owner's only.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3 (the driver we ship)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``, set up for concurrent use (see the module docstring)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        make_private_dir(Path(database).parent)
        private_file(Path(database))
    engine = create_engine(url, connect_args={"check_same_thread": False})

    # SQLAlchemy's documented pysqlite recipe: take BEGIN over from the sqlite3 module,
    # which would otherwise begin late (at the first write) and never BEGIN IMMEDIATE.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: no corruption on crash
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_private_dir(path: Path) -> None:
    """Create the state folder ``path`` (and its parents) readable by its owner only
    (0700). A folder that exists is left as it is: it may be shared (``/tmp``)."""
    if not path.exists():
        path.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
        path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
        # Like a virtualenv: the service's state never shows up in `git status`.
        (path / ".gitignore").write_text("*\n", encoding="utf-8")


def private_file(path: Path) -> None:
    """Make the SQLite database ``path`` readable by its owner only (0600): created so
    before SQLite opens it (its ``-wal`` and ``-shm`` files take the database's mode),
    or, made by an earlier version with the umask's mode, tightened if it is ours."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        for each in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
            tighten(each)
    else:
        os.close(fd)


def tighten(path: Path) -> None:
    """Drop the group's and others' permissions of ``path`` if it exists and is ours."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    ours = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
    if ours and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def alembic_config(connection=None) -> Config:
    """Alembic's configuration, built in code (no alembic.ini at run time)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic ``upgrade``), in one transaction."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        command.upgrade(alembic_config(connection), revision)


class Database:
    """The service's engine and sessions; ``app.state.db`` holds one.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://user:pw@host/db``).
    """

    def __init__(self, url: str):
        self.engine = create_db_engine(url)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed on leaving, rolled back on an exception."""
        factory = self._writer if write else self._reader
        with factory.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
