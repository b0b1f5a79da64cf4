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
        _make_state_dir(Path(database).parent)
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


def _make_state_dir(path: Path) -> None:
    if not path.exists():
        path.mkdir(parents=True)
        # Like a virtualenv: the service's state never shows up in `git status`.
        (path / ".gitignore").write_text("*\n", encoding="utf-8")


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
