"""Re-reads that map only what changed: when the next date is over, and skipped documents'
fingerprints.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_occurrence_over", sa.DateTime(), nullable=True))
    # Until a re-read says when it is over, a next date counts as over once it began (the
    # rule before this revision): such activities are mapped again once and then settle.
    op.execute("UPDATE activities SET next_occurrence_over = next_occurrence "
               "WHERE next_occurrence IS NOT NULL")
    with op.batch_alter_table("skipped_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch rebuild of `activities` would drop the
    # table its foreign keys point at.
    op.execute("ALTER TABLE skipped_events DROP COLUMN raw_fingerprint")
    op.execute("ALTER TABLE activities DROP COLUMN next_occurrence_over")
