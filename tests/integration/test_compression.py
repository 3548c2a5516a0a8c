"""Schema 0013: on PostgreSQL with lz4 the versions' JSON and the raw documents are compressed
with lz4 (cheaper to write than pglz); SQLite has nothing to change. Both ways, and what is
stored reads back the same."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import Cursor
from sync.adapters import migrate
from sync.adapters import tables as t
from sync.bootstrap import map_uitdatabank
from sync.domain.region import Region
from sync.service.sync_source import SyncService, sync_source
from tests.builders import StaticConnector, changed, make_event
from tests.support.apps import make_app

COLUMNS = {("activity_versions", "data"), ("activities", "raw_document")}


def _compression(engine: Engine) -> dict[tuple[str, str], str] | None:
    """Each column's compression method ('' = the server's default); None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            # This test's schema only: parallel tests have schemas (and tables) of their own.
            "WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relname IN ('activity_versions', 'activities') "
            "AND a.attname IN ('data', 'raw_document')"))
        return {(r[0], r[1]): r[2] for r in rows if (r[0], r[1]) in COLUMNS}


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_documents_are_compressed_with_lz4_and_read_back_the_same(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    if engine.dialect.name == "postgresql":
        assert _compression(engine) == {c: "l" for c in COLUMNS}
    else:
        assert _compression(engine) is None
    app = make_app(tmp_path, engine, region)
    # Long enough to be compressed (rows over about 2 kB are).
    long_text = "Samen Nederlands oefenen tijdens een wandeling langs de IJzer. " * 80
    events = [changed(make_event(i), description={"nl": long_text}) for i in (1, 2)]
    service = SyncService(app.config.sources[0].name, app.region, map_uitdatabank, app.clock)
    sync_source(app.uow, StaticConnector([events]), service, kind="full", start_cursor=Cursor())
    with engine.connect() as conn:
        stored = conn.execute(sa.select(t.activity_versions.c.data)).scalars().all()
        raws = conn.execute(sa.select(t.activities.c.raw_document)).scalars().all()
    assert len(stored) == 2 and all(long_text.strip() in str(d) for d in stored)
    assert all(long_text in (raw or "") for raw in raws)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            methods = set(conn.execute(sa.text(
                "SELECT pg_column_compression(data) FROM activity_versions")).scalars())
        assert methods == {"lz4"}

    _downgrade(engine, "0012")
    if engine.dialect.name == "postgresql":
        assert _compression(engine) == {c: "" for c in COLUMNS}
    with engine.connect() as conn:  # still readable after the downgrade
        assert conn.execute(sa.select(t.activity_versions.c.data)).scalars().all() == stored
    migrate.upgrade(engine)
    if engine.dialect.name == "postgresql":
        assert _compression(engine) == {c: "l" for c in COLUMNS}
