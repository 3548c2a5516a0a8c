"""The Alembic migrations build exactly the schema the code's tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sync.adapters.tables import PG_BODY_INDEX, SQLITE_FTS, metadata


def _declared(name, type_, parent_names):  # type: ignore[no-untyped-def]
    # The search index (migration 0009) has no declaration: SQLite's FTS5 table with its
    # shadow tables, PostgreSQL's GIN expression index.
    if type_ == "index":
        return name != PG_BODY_INDEX
    return not (type_ == "table" and name is not None and name.startswith(SQLITE_FTS))


def test_migrated_schema_matches_the_table_definitions(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _declared})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_the_quick_schema_check_agrees_with_alembic(engine):
    from alembic.script import ScriptDirectory

    from sync.adapters import migrate

    script_head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert migrate.head() == script_head
    assert migrate.current(engine) == script_head  # the fixture migrated it
