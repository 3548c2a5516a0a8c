"""Mapping workers: a sync that hands new documents to worker processes stores exactly what a
sync that maps them itself stores; a broken worker costs time, never a record."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import Cursor
from samplefeed.generator import generate_events
from sync.adapters import tables as t
from sync.bootstrap import map_uitdatabank
from sync.domain.activity import MappingOutcome
from sync.domain.region import Region
from sync.service.mapping_pool import MappingPool
from sync.service.sync_source import Parked, RunResult, SyncService, sync_source
from sync.service.unit_of_work import UnitOfWork
from tests.builders import Clock, StaticConnector, changed, make_event


class MainMapper:
    """The mapping as the sync's own process runs it, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, raw: Any, region: Region, as_of: datetime) -> MappingOutcome:
        self.calls += 1
        return map_uitdatabank(raw, region, as_of)


def _die(raw: Any, region: Region, as_of: datetime) -> MappingOutcome:
    os._exit(3)  # a worker that crashes on its first document


def feed() -> list[dict[str, Any]]:
    docs = generate_events(420, seed=3)
    docs[5] = changed(docs[5], calendarType="sometimes")  # a mapping error
    docs[6] = changed(docs[6], labels=["geen taalicoon"])  # skipped
    docs[7] = changed(docs[7], workflowStatus="DELETED")  # skipped
    docs += [make_event(9001), make_event(9001, title="Tweede versie",  # twice in a page
                                          modified="2026-11-21T10:00:00+00:00")]
    return docs


def run(engine: Engine, region: Region, source: str, mapper: MainMapper,
        pool: MappingPool | None, docs: list[dict[str, Any]], clock: Clock,
        canonical: bool = False, pages: list[list[Any]] | None = None) -> RunResult:
    """`canonical`: pages carry their documents' bytes, as the real connector's do (what the
    workers map is then parked as bytes in the page); `pages`: receives the pages as read."""
    service = SyncService(source, region, mapper, clock, mapping_version="v1", pool=pool)
    read = [docs[i:i + 150] for i in range(0, len(docs), 150)]
    if pages is not None:
        pages.extend(read)
    return sync_source(lambda: UnitOfWork(engine),
                       StaticConnector(read, reencodable=True, canonical=canonical),
                       service, kind="full", start_cursor=Cursor())


def stored(engine: Engine, source: str) -> dict[str, Any]:
    """Everything a run stored for `source`, without ids."""
    a, v, r, f, k = (t.activities, t.activity_versions, t.review_items, t.sync_failures,
                     t.skipped_events)
    with engine.connect() as conn:
        ids = {row.id: row.source_id for row in conn.execute(
            sa.select(a.c.id, a.c.source_id).where(a.c.source == source))}
        return {
            "activities": sorted(
                tuple(row) for row in conn.execute(
                    sa.select(*[c for c in a.c if c.name not in (
                        "id", "source", "current_version_id", "approved_version_id")])
                    .where(a.c.source == source))),
            # The JSON as the database holds it (SQLite: the text, byte for byte).
            "versions": sorted(
                (ids[row.activity_id], row.number, row.content_hash, str(row.data))
                for row in conn.execute(sa.select(
                    v.c.activity_id, v.c.number, v.c.content_hash,
                    sa.cast(v.c.data, sa.Text).label("data")).where(v.c.activity_id.in_(ids)))),
            "items": sorted((ids[row.activity_id], row.kind, row.status, row.municipality_nis)
                            for row in conn.execute(sa.select(r).where(r.c.activity_id.in_(ids)))),
            "failures": sorted((row.source_id, row.stage, row.error, row.raw_payload)
                               for row in conn.execute(sa.select(f).where(f.c.source == source))),
            "skipped": sorted((row.source_id, row.reason, row.modified, row.raw_fingerprint)
                              for row in conn.execute(sa.select(k).where(k.c.source == source))),
        }


@pytest.mark.parametrize("canonical", [False, True])
def test_workers_store_what_the_sync_stores_itself(
        engine: Engine, region: Region, canonical: bool) -> None:
    docs = feed()
    alone, helped = MainMapper(), MainMapper()
    pool = MappingPool(map_uitdatabank, region, workers=2, min_documents=50)
    itself = run(engine, region, "itself", alone, None, docs, Clock(), canonical)
    pages: list[list[Any]] = []
    with_pool = run(engine, region, "workers", helped, pool, docs, Clock(), canonical, pages)
    assert with_pool.counts == itself.counts
    assert itself.counts.failed == 1 and itself.counts.skipped and itself.counts.created > 300
    assert alone.calls == len(docs)
    # The workers mapped the new documents of the pages after the first (mapped by the sync
    # while they start); the sync itself also the twice-seen pair and what was over already
    # (created without a review item, one by one).
    first = 150
    assert helped.calls < first + len(docs) // 10
    assert len(docs) - first - 4 <= pool.handed <= len(docs) - first
    assert stored(engine, "workers") == stored(engine, "itself")
    assert pool.closed  # the workers stop with the run
    # New documents (the workers' and the first page's) stay in their page as bytes only,
    # when it has them: not parsed while the page waits for its insert.
    parked = {r.source_id for page in pages for r in page if type(r) is Parked}
    with engine.connect() as conn:
        created = set(conn.execute(sa.select(t.activities.c.source_id).where(
            t.activities.c.source == "workers")).scalars())
    assert parked <= created
    assert len(parked) >= pool.handed if canonical else not parked


@pytest.mark.parametrize("canonical", [False, True])
def test_a_broken_worker_costs_time_not_a_record(
        engine: Engine, region: Region, canonical: bool) -> None:
    docs = feed()
    itself = run(engine, region, "itself", MainMapper(), None, docs, Clock(), canonical)
    helped = MainMapper()
    pool = MappingPool(_die, region, workers=1, min_documents=50)
    broken = run(engine, region, "broken", helped, pool, docs, Clock(), canonical)
    assert broken.counts == itself.counts and broken.status == itself.status
    assert helped.calls == len(docs)  # all mapped by the sync itself (parked ones read back)
    assert stored(engine, "broken") == stored(engine, "itself")


def test_small_pages_and_rereads_start_no_worker(engine: Engine, region: Region) -> None:
    docs = generate_events(120, seed=4)
    pool = MappingPool(map_uitdatabank, region, workers=1, min_documents=200)
    run(engine, region, "small", MainMapper(), pool, docs, Clock())
    assert pool.handed == 0 and pool.started is False
    big = MappingPool(map_uitdatabank, region, workers=1, min_documents=50)
    run(engine, region, "small", MainMapper(), big, docs, Clock())  # all known now
    assert big.handed == 0 and big.started is False


def test_pages_that_were_not_strict_json_stay_in_the_sync(engine: Engine, region: Region) -> None:
    """A body only the standard library could read (NaN) does not survive orjson: the sync
    maps it itself."""
    docs = generate_events(120, seed=5)
    pool = MappingPool(map_uitdatabank, region, workers=1, min_documents=50)
    service = SyncService("lenient", region, MainMapper(), Clock(), mapping_version="v1",
                          pool=pool)
    result = sync_source(lambda: UnitOfWork(engine), StaticConnector([docs]), service,
                         kind="full", start_cursor=Cursor())
    assert result.counts.fetched == 120 and pool.handed == 0 and not pool.started


def test_the_composition_root_gives_workers_only_the_real_mapping(
        engine: Engine, region: Region, tmp_path: Any, monkeypatch: Any) -> None:

    from mappings.uitdatabank import DocumentMapper
    from sync import bootstrap
    from tests.support.apps import make_app

    app = make_app(tmp_path, engine, region)
    catalogue = app.config.catalogue
    app.config = app.config.model_copy(update={
        "catalogue": catalogue.model_copy(update={"mapping_workers": 2})})
    pool = app.mapping_pool()
    assert pool is not None and pool.workers == 2 and isinstance(pool.mapper, DocumentMapper)
    assert app.sync_service(app.config.sources[0]).pool is not None
    # A stand-in for the mapping (a test's) is not what a worker would run: no workers.
    monkeypatch.setattr(bootstrap, "map_uitdatabank", MainMapper())
    assert app.mapping_pool() is None
    monkeypatch.undo()
    app.config = app.config.model_copy(update={
        "catalogue": catalogue.model_copy(update={"mapping_workers": 0})})
    assert app.mapping_pool() is None


def test_a_failing_look_ahead_leaves_the_page_to_the_sync(
        engine: Engine, region: Region, tmp_path: Any) -> None:
    """The hand-over's read of the catalogue fails (here: a database that cannot be opened):
    the workers get nothing and the sync maps and stores the page itself."""
    unreachable = sa.create_engine(f"sqlite:///{tmp_path}/missing/folder/x.sqlite3")

    class LookAheadFails(UnitOfWork):
        def read_only(self) -> UnitOfWork:
            return UnitOfWork(unreachable).read_only()

    docs = generate_events(150, seed=6)
    pool = MappingPool(map_uitdatabank, region, workers=1, min_documents=50)
    helped = MainMapper()
    service = SyncService("lookahead", region, helped, Clock(), mapping_version="v1",
                          pool=pool)
    result = sync_source(lambda: LookAheadFails(engine),
                         StaticConnector([docs], reencodable=True), service, kind="full",
                         start_cursor=Cursor())
    assert result.status == "succeeded" and result.counts.fetched == 150
    assert pool.handed == 0 and helped.calls == 150


def test_documents_of_a_page_that_was_not_strict_json_stay_parsed(
        engine: Engine, region: Region) -> None:
    # Its bytes need not read back as the documents (a NaN the standard library parsed is
    # written as null): what is mapped again must be the document itself.
    docs = generate_events(60, seed=6)
    page = list(docs)
    service = SyncService("lenient", region, MainMapper(), Clock(), mapping_version="v1")
    result = sync_source(lambda: UnitOfWork(engine),
                         StaticConnector([page], reencodable=False, canonical=True), service,
                         kind="full", start_cursor=Cursor())
    assert result.counts.created > 0
    assert not any(type(r) is Parked for r in page)
