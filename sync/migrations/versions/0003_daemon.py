"""Schema changes reserved for the daemon (issue 3: outbox claiming, notifications).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
