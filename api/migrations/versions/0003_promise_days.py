"""Promise on later days: the date of a confirmed order, places per slot of a later day,
inbound stock a click & collect can be promised from.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("day_orders") as batch:
        batch.add_column(sa.Column("service_date", sa.String(10), nullable=True))
        batch.create_index("ix_day_orders_service_date", ["service_date"])
    op.create_table(
        "slot_capacity",
        sa.Column("service_date", sa.String(10), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("slot_start_s", sa.Integer(), nullable=False),
        sa.Column("slot_end_s", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("service_date", "node_id", "slot_start_s", name="pk_slot_capacity"),
    )
    op.create_index("ix_slot_capacity_changed_at", "slot_capacity", ["changed_at"])
    op.create_table(
        "inbound_stock",
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("arrives_at_s", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("committed", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "sku", "arrives_at_s", name="pk_inbound_stock"),
    )
    op.create_index("ix_inbound_stock_changed_at", "inbound_stock", ["changed_at"])


def downgrade() -> None:
    op.drop_table("inbound_stock")
    op.drop_table("slot_capacity")
    with op.batch_alter_table("day_orders") as batch:
        batch.drop_index("ix_day_orders_service_date")
        batch.drop_column("service_date")
