"""Orders and returns by API (issue 17, items 1 and 2): a hold's channel and customer id,
the orders taken by ``POST /v1/orders`` and the returns taken by ``POST /v1/returns``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=True))
        batch.add_column(sa.Column("customer_id", sa.String(64), nullable=True))
        batch.create_index("ix_holds_customer_id", ["customer_id"])
    op.create_table(
        "api_orders",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_api_orders"),
        sa.UniqueConstraint("hold_id", name="uq_api_orders_hold_id"),
    )
    op.create_index("ix_api_orders_customer_id", "api_orders", ["customer_id"])
    op.create_table(
        "day_returns",
        sa.Column("return_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("service_date", sa.String(10), nullable=False),
        sa.Column("return_json", sa.Text(), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.PrimaryKeyConstraint("return_id", name="pk_day_returns"),
    )
    for column in ("order_id", "customer_id", "service_date"):
        op.create_index(f"ix_day_returns_{column}", "day_returns", [column])


def downgrade() -> None:
    op.drop_table("day_returns")
    op.drop_table("api_orders")
    with op.batch_alter_table("holds") as batch:
        batch.drop_index("ix_holds_customer_id")
        batch.drop_column("customer_id")
        batch.drop_column("channel")
