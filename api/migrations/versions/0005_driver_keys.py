"""Driver keys: an API key scoped to vehicles (``api_keys.vehicle_ids``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("vehicle_ids", sa.Text(), nullable=True))


def downgrade() -> None:
    # Code of revision 0004 knows no driver role: its keys go (their scope with them).
    op.execute(sa.text("DELETE FROM api_keys WHERE role = 'driver'"))
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("vehicle_ids")
