"""Later days' capacity (issue 18, item 4): seconds per crew pool in a slot of a later
day (``slot_crew_capacity``: a crew of two, a tail lift), and the date a plan job plans
(``plan_jobs.service_date``: a later day's plan sets that day's capacity).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slot_crew_capacity",
        sa.Column("service_date", sa.String(10), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("slot_start_s", sa.Integer(), nullable=False),
        sa.Column("need", sa.String(80), nullable=False),
        sa.Column("slot_end_s", sa.Integer(), nullable=False),
        sa.Column("capacity_s", sa.Integer(), nullable=False),
        sa.Column("taken_s", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "service_date", "node_id", "slot_start_s", "need", name="pk_slot_crew_capacity"
        ),
    )
    op.create_index("ix_slot_crew_capacity_changed_at", "slot_crew_capacity", ["changed_at"])
    with op.batch_alter_table("plan_jobs") as batch:
        batch.add_column(sa.Column("service_date", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_jobs") as batch:
        batch.drop_column("service_date")
    op.drop_table("slot_crew_capacity")
