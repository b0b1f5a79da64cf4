"""Tracking: vehicle events, tracked vehicles and orders (live ETAs, promised vs actual).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "tracking_events",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("vehicle_id", sa.String(128), nullable=True),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", when, nullable=False),
        sa.Column("received_at", when, nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("delay_s", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_tracking_events"),
    )
    for column in ("plan_id", "vehicle_id", "order_id"):
        op.create_index(f"ix_tracking_events_{column}", "tracking_events", [column])
    op.create_table(
        "tracked_vehicles",
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("vehicle_id", sa.String(128), nullable=False),
        sa.Column("vehicle_type_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("node_lat", sa.Float(), nullable=False),
        sa.Column("node_lon", sa.Float(), nullable=False),
        sa.Column("trip_starts_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trip", sa.Integer(), nullable=False),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.Column("last_seen_at", when, nullable=True),
        sa.Column("busy_until_at", when, nullable=True),
        sa.Column("back_at", when, nullable=True),
        sa.Column("updated_at", when, nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "vehicle_id", name="pk_tracked_vehicles"),
    )
    op.create_table(
        "tracked_orders",
        sa.Column("plan_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("vehicle_id", sa.String(128), nullable=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("trip", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("service_s", sa.Integer(), nullable=False),
        sa.Column("slot_start_at", when, nullable=False),
        sa.Column("slot_end_at", when, nullable=False),
        sa.Column("planned_arrival_at", when, nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("eta_at", when, nullable=True),
        sa.Column("eta_at_departure", when, nullable=True),
        sa.Column("stops_ahead", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("arrived_at", when, nullable=True),
        sa.Column("done_at", when, nullable=True),
        sa.Column("failure_reason", sa.String(16), nullable=True),
        sa.Column("updated_at", when, nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "order_id", name="pk_tracked_orders"),
    )
    op.create_index("ix_tracked_orders_order_id", "tracked_orders", ["order_id"])
    op.create_index("ix_tracked_orders_vehicle_id", "tracked_orders", ["vehicle_id"])


def downgrade() -> None:
    op.drop_table("tracked_orders")
    op.drop_table("tracked_vehicles")
    op.drop_table("tracking_events")
