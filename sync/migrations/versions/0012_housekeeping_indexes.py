"""Indexes for the housekeeping after every sync run: what is over, found without reading every
live activity.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_activities_state_until", "activities", ["state", "visible_until"])
    op.create_index("ix_activities_state_next", "activities",
                    ["state", "next_occurrence_over", "next_occurrence"])


def downgrade() -> None:
    op.drop_index("ix_activities_state_next", table_name="activities")
    op.drop_index("ix_activities_state_until", table_name="activities")
