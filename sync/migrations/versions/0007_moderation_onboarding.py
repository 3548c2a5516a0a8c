"""Moderator onboarding by e-mail link, notification preferences and absence.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("moderators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_weekday", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("away_until", sa.Date(), nullable=True))
    op.create_table(
        "moderator_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("municipalities", JSON, nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("motivation", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("moderator_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderator_requests")),
    )
    op.create_index(op.f("ix_moderator_requests_email"), "moderator_requests", ["email"])
    op.create_index(op.f("ix_moderator_requests_ip"), "moderator_requests", ["ip"])
    op.create_table(
        "action_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("moderator_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["moderator_requests.id"],
                                name=op.f("fk_action_tokens_request_id_moderator_requests"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["moderator_id"], ["moderators.id"],
                                name=op.f("fk_action_tokens_moderator_id_moderators"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_action_tokens_token_hash")),
    )
    op.create_index(op.f("ix_action_tokens_request_id"), "action_tokens", ["request_id"])
    op.create_index(op.f("ix_action_tokens_moderator_id"), "action_tokens", ["moderator_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_action_tokens_moderator_id"), table_name="action_tokens")
    op.drop_index(op.f("ix_action_tokens_request_id"), table_name="action_tokens")
    op.drop_table("action_tokens")
    op.drop_index(op.f("ix_moderator_requests_ip"), table_name="moderator_requests")
    op.drop_index(op.f("ix_moderator_requests_email"), table_name="moderator_requests")
    op.drop_table("moderator_requests")
    with op.batch_alter_table("moderators", schema=None) as batch_op:
        batch_op.drop_column("away_until")
        batch_op.drop_column("digest_weekday")
