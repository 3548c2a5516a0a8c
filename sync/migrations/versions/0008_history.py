"""History, coverage and outreach (issue 13): daily snapshots for the coordinator's report.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen copies of the column types: a migration must not change when tables.py does.
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("totals", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_history_days")),
    )
    op.create_table(
        "history_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("municipality_nis", sa.String(8), nullable=False),
        sa.Column("activity_type", sa.String(32), nullable=False),
        sa.Column("language_level", sa.String(2), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "municipality_nis", "activity_type", "language_level",
                                "state", name=op.f("pk_history_counts")),
    )
    op.create_table(
        "publication_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"],
                                name=op.f("fk_publication_periods_activity_id_activities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_periods")),
        sa.UniqueConstraint("activity_id", "first_day",
                            name="uq_publication_periods_activity_id_first_day"),
    )
    op.create_index(op.f("ix_publication_periods_activity_id"), "publication_periods",
                    ["activity_id"])
    op.create_index(op.f("ix_publication_periods_last_day"), "publication_periods",
                    ["last_day"])
    op.create_table(
        "coverage_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("municipality_nis", sa.String(8), nullable=False),
        sa.Column("upcoming_events", sa.Integer(), nullable=False),
        sa.Column("with_taalicoon", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "municipality_nis", name=op.f("pk_coverage_counts")),
    )
    op.create_table(
        "outreach_organizers",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("organizer_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("upcoming_events", sa.Integer(), nullable=False),
        sa.Column("municipalities", JSONType, nullable=False),
        sa.Column("contact", JSONType, nullable=False),
        sa.Column("measured_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "organizer_id", name=op.f("pk_outreach_organizers")),
    )


def downgrade() -> None:
    op.drop_table("outreach_organizers")
    op.drop_table("coverage_counts")
    op.drop_index(op.f("ix_publication_periods_last_day"), table_name="publication_periods")
    op.drop_index(op.f("ix_publication_periods_activity_id"), table_name="publication_periods")
    op.drop_table("publication_periods")
    op.drop_table("history_counts")
    op.drop_table("history_days")
