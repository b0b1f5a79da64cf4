"""Alembic environment: run by ``api.db.migrate`` with the connection it already holds."""

from __future__ import annotations

from alembic import context

from api.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through api.db.migrate(engine), which passes a connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
