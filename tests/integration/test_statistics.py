"""A run that fills the catalogue refreshes PostgreSQL's planner statistics as it grows (after a
bulk load they are missing, and each page's lookup by id then read the whole source)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from structlog.testing import capture_logs

from connectors.base import Cursor
from sync.bootstrap import App, map_uitdatabank
from sync.domain.region import Region
from sync.service import sync_source as sync_module
from sync.service.sync_source import SyncService, sync_source
from tests.builders import StaticConnector, make_event
from tests.support.apps import make_app


def _analyses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        rows = conn.execute(sa.text(
            "SELECT relname, analyze_count FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() "
            "AND relname IN ('activities', 'skipped_events')"))
        return {name: count for name, count in rows}


@pytest.fixture
def app(engine: Engine, region: Region, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """An app on PostgreSQL whose runs refresh the statistics from 4 created activities."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans these lookups by the index alone: nothing to refresh")
    monkeypatch.setattr(sync_module, "_ANALYSE_FROM", 4)
    app = make_app(tmp_path, engine, region)
    yield app
    app.close()


def _service(app: App) -> SyncService:
    return SyncService(app.config.sources[0].name, app.region, map_uitdatabank, app.clock)


def test_statistics_are_refreshed_each_time_the_run_doubled_the_catalogue(
        engine: Engine, app: App) -> None:
    service = _service(app)
    before = _analyses(engine)
    # Pages of 3 new activities: 3, 6, 9, 12, 15 created; refreshed at 6 and 12.
    pages = [[make_event(3 * p + i, modified=f"2026-11-20T10:00:{p:02d}+00:00")
              for i in range(3)] for p in range(5)]
    result = sync_source(app.uow, StaticConnector(pages), service, kind="full",
                         start_cursor=Cursor())
    assert result.counts.created == 15
    after = _analyses(engine)
    assert {name: after[name] - before.get(name, 0) for name in after} == {
        "activities": 2, "skipped_events": 2}

    # A re-read creates nothing: no refresh.
    sync_source(app.uow, StaticConnector(pages), service, kind="full", start_cursor=Cursor())
    assert _analyses(engine) == after


def test_a_table_held_by_another_session_costs_the_refresh_not_the_run(
        engine: Engine, app: App) -> None:
    service = _service(app)
    before = _analyses(engine)
    pages = [[make_event(i) for i in range(6)]]
    with engine.connect() as other, other.begin():
        # What a VACUUM or an index build takes: ANALYZE waits for it, a while, then gives up.
        other.execute(sa.text("LOCK TABLE activities IN SHARE UPDATE EXCLUSIVE MODE"))
        with capture_logs() as logs:
            result = sync_source(app.uow, StaticConnector(pages), service, kind="full",
                                 start_cursor=Cursor())
    assert (result.status, result.counts.created) == ("succeeded", 6)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "database statistics not refreshed"]
    assert _analyses(engine) == before
