"""The Alembic migrations build exactly the schema the code's tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sync.adapters.tables import metadata


def test_migrated_schema_matches_the_table_definitions(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_quick_schema_check_agrees_with_alembic(engine):
    from alembic.script import ScriptDirectory

    from sync.adapters import migrate

    script_head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert migrate.head() == script_head
    assert migrate.current(engine) == script_head  # the fixture migrated it
