"""Moderation pages: what a decision changed, so it can be undone and audited.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        # The activity's approved version before and after: undo restores the former.
        batch_op.add_column(sa.Column("before_version_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("after_version_id", sa.Integer(), nullable=True))
        # The item's lock_version right after the decision: undo only if nothing happened since.
        batch_op.add_column(sa.Column("lock_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("undo_of_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        batch_op.drop_column("undo_of_id")
        batch_op.drop_column("lock_version")
        batch_op.drop_column("after_version_id")
        batch_op.drop_column("before_version_id")
