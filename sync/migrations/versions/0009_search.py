"""Public search index: search_documents, SQLite FTS5 or a PostgreSQL GIN index, backfilled.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from sync.domain.search_text import body

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FTS = "search_fts"


def _texts(data: Any) -> list[str]:
    if isinstance(data, str):  # SQLite hands JSON back as text here
        data = json.loads(data)
    return [str(x) for key in ("title", "description_text")
            for x in (data.get(key) or {}).values() if x]


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("activity_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"],
                                name=op.f("fk_search_documents_activity_id_activities")),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_search_documents")),
    )
    op.create_index("ix_activities_published_stamp", "activities",
                    ["state", "approved_version_id", "id", "updated_at"])
    if op.get_bind().dialect.name == "sqlite":
        # External content: the words live once, in search_documents; triggers keep the
        # FTS5 index in step with every insert, update and delete.
        # prefix: short word starts ("taa") are what people type; indexed, they stay cheap.
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(body, content='search_documents', "
                   "content_rowid='activity_id', tokenize='unicode61 remove_diacritics 2', "
                   "prefix='2 3 4')")
        op.execute(f"CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
                   f"INSERT INTO {FTS}(rowid, body) VALUES (new.activity_id, new.body); END")
        op.execute(f"CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, body) "
                   f"VALUES ('delete', old.activity_id, old.body); END")
        op.execute(f"CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, body) "
                   f"VALUES ('delete', old.activity_id, old.body); "
                   f"INSERT INTO {FTS}(rowid, body) VALUES (new.activity_id, new.body); END")
    else:
        op.execute("CREATE INDEX ix_search_documents_body ON search_documents "
                   "USING gin (to_tsvector('simple'::regconfig, body))")
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT a.id, a.approved_version_id, v.data FROM activities a "
        "JOIN activity_versions v ON v.id = a.approved_version_id "
        "WHERE a.state = 'published'"))
    docs = [{"a": r[0], "v": r[1], "b": body(_texts(r[2]))} for r in rows]
    if docs:
        conn.execute(sa.text("INSERT INTO search_documents (activity_id, version_id, body) "
                             "VALUES (:a, :v, :b)"), docs)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_documents_ai", "search_documents_ad", "search_documents_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_documents_body")
    op.drop_index("ix_activities_published_stamp", table_name="activities")
    op.drop_table("search_documents")
