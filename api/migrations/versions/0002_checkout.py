"""Checkout: the day's live routes and free stock, holds, confirmed orders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "day_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("initialized_at", when, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_day_state"),
    )
    op.create_table(
        "stock_levels",
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("committed", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "sku", name="pk_stock_levels"),
    )
    op.create_index("ix_stock_levels_changed_at", "stock_levels", ["changed_at"])
    op.create_table(
        "vehicle_routes",
        sa.Column("vehicle_id", sa.String(128), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("stops_json", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("vehicle_id", name="pk_vehicle_routes"),
    )
    op.create_index("ix_vehicle_routes_node_id", "vehicle_routes", ["node_id"])
    op.create_index("ix_vehicle_routes_changed_at", "vehicle_routes", ["changed_at"])
    op.create_table(
        "holds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("confirm_key", sa.String(200), nullable=True),
        sa.Column("option_json", sa.Text(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("vehicle_id", sa.String(128), nullable=True),
        sa.Column("lines_json", sa.Text(), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
        sa.UniqueConstraint("idempotency_key", name="uq_holds_idempotency_key"),
        sa.UniqueConstraint("confirm_key", name="uq_holds_confirm_key"),
        sa.UniqueConstraint("order_id", name="uq_holds_order_id"),
    )
    op.create_index("ix_holds_status", "holds", ["status"])
    op.create_index("ix_holds_expires_at", "holds", ["expires_at"])
    op.create_table(
        "day_orders",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("order_json", sa.Text(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_day_orders"),
        sa.UniqueConstraint("hold_id", name="uq_day_orders_hold_id"),
    )


def downgrade() -> None:
    for table in ("day_orders", "holds", "vehicle_routes", "stock_levels", "day_state"):
        op.drop_table(table)
