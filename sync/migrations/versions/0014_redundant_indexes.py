"""Two indexes every write paid for and no query needs: `activities.state` is the first column of
three other indexes, and `activity_versions.activity_id` of the unique (activity_id, number).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_activities_state", table_name="activities")
    op.drop_index("ix_activity_versions_activity_id", table_name="activity_versions")


def downgrade() -> None:
    op.create_index("ix_activity_versions_activity_id", "activity_versions", ["activity_id"])
    op.create_index("ix_activities_state", "activities", ["state"])
