"""Skipped events: ids the mapping left out, so the nightly reconciliation need not fetch them.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skipped_events",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("modified", sa.String(32), nullable=True),
        sa.Column("mapping_version", sa.String(40), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "source_id", name=op.f("pk_skipped_events")),
    )


def downgrade() -> None:
    op.drop_table("skipped_events")
