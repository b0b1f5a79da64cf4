"""Days that roll and one live truth.

An order not delivered by the end of its day is carried into the next day's plan: a
``day_orders`` row of the next day with no hold, the day it comes from and why. A
vehicle the current plan version has taken off the road (broken down) sells nothing:
``vehicle_routes.available``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("day_orders") as batch:
        batch.alter_column("hold_id", existing_type=sa.String(36), nullable=True)
        batch.add_column(sa.Column("carried_from", sa.String(10), nullable=True))
        batch.add_column(sa.Column("carried_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("vehicle_routes") as batch:
        batch.add_column(
            sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("vehicle_routes") as batch:
        batch.drop_column("available")
    # Code of revision 0005 knows only orders confirmed at checkout: carried ones go.
    op.execute(sa.text("DELETE FROM day_orders WHERE hold_id IS NULL"))
    with op.batch_alter_table("day_orders") as batch:
        batch.drop_column("carried_reason")
        batch.drop_column("carried_from")
        batch.alter_column("hold_id", existing_type=sa.String(36), nullable=False)
