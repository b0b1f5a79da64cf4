"""Personal data (issue 17, item 1): the contacts of orders, returns and holds, apart
from the orders (``customer_contacts``), and a back-in-stock alert's customer id, its
contact erasable (nullable).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_contacts",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("ref_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "ref_id", name="pk_customer_contacts"),
    )
    op.create_index("ix_customer_contacts_customer_id", "customer_contacts", ["customer_id"])
    with op.batch_alter_table("back_in_stock_alerts") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(64), nullable=True))
        batch.create_index("ix_back_in_stock_alerts_customer_id", ["customer_id"])
        batch.alter_column("contact", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # An erased alert has no contact left: it cannot go back under NOT NULL as it was.
    op.execute("UPDATE back_in_stock_alerts SET contact = '' WHERE contact IS NULL")
    with op.batch_alter_table("back_in_stock_alerts") as batch:
        batch.alter_column("contact", existing_type=sa.Text(), nullable=False)
        batch.drop_index("ix_back_in_stock_alerts_customer_id")
        batch.drop_column("customer_id")
    op.drop_table("customer_contacts")
