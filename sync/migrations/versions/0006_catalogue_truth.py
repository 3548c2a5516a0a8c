"""Catalogue truth: the raw document behind each activity, and when it leaves the catalogue.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        # The last raw SAPI3 document, so `remap` can apply today's rules without a refetch.
        batch_op.add_column(sa.Column("raw_document", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("raw_fingerprint", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("mapping_version", sa.String(40), nullable=True))
        # When the current version leaves the public catalogue (None: never); the daemon
        # moves activities past it to state `expired`.
        batch_op.add_column(sa.Column("visible_until", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_activities_visible_until", ["visible_until"])


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_visible_until")
        batch_op.drop_column("visible_until")
        batch_op.drop_column("mapping_version")
        batch_op.drop_column("raw_fingerprint")
        batch_op.drop_column("raw_document")
