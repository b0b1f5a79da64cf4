"""Customer notifications: a subscription's ETA threshold (``order.eta_changed``), what
was last told about an order (``order_notices``) and back-in-stock alerts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(
            sa.Column("eta_moved_min", sa.Integer(), nullable=False, server_default="15")
        )
    op.create_table(
        "order_notices",
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("told_at", when, nullable=False),
        sa.PrimaryKeyConstraint("topic", "order_id", name="pk_order_notices"),
    )
    op.create_table(
        "back_in_stock_alerts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("postcode", sa.String(16), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("notified_at", when, nullable=True),
        sa.Column("event_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_back_in_stock_alerts"),
    )
    for column in ("sku", "status"):
        op.create_index(f"ix_back_in_stock_alerts_{column}", "back_in_stock_alerts", [column])


def downgrade() -> None:
    op.drop_table("back_in_stock_alerts")
    op.drop_table("order_notices")
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("eta_moved_min")
