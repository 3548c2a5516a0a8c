"""The whole pipeline (connector → mapping → store) against the fake SAPI3 server, per database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.uitdatabank import UitdatabankConnector
from mappings.taaliconen import QUERY_LABELS
from samplefeed.server import FakeSapi3, Fault
from sync.adapters import tables as t
from sync.adapters.tls import tls_context
from sync.bootstrap import map_uitdatabank
from sync.domain.region import Region
from sync.service.sync_source import RunResult, SyncService, sync_source
from sync.service.unit_of_work import UnitOfWork
from tests.builders import event_id, make_event
from tests.support.clock import NOW


def tie(n: int, second: str = "2026-11-20T10:00:00+00:00", start: int = 1) -> list[dict[str, Any]]:
    return [make_event(i, modified=second) for i in range(start, start + n)]


@pytest.fixture
def fake() -> Iterator[FakeSapi3]:
    with FakeSapi3(now=NOW) as server:
        yield server


class Pipeline:
    def __init__(self, engine: Engine, region: Region, fake: FakeSapi3) -> None:
        self.engine, self.region, self.fake = engine, region, fake
        self.sleeps: list[float] = []

    def run(self, limit: int = 5, window: int = 10000, **kw: Any) -> RunResult:
        client = httpx.Client(base_url=self.fake.base_url, timeout=5, verify=tls_context())
        connector = UitdatabankConnector(
            client, name="uitdatabank", postal_codes=self.region.postal_codes, limit=limit,
            labels=QUERY_LABELS,
            window=window, sleep=self.sleeps.append, backoff_initial=0, backoff_max=0,
            max_attempts=kw.pop("max_attempts", 6),
        )
        service = SyncService("uitdatabank", self.region, map_uitdatabank, lambda: NOW)
        try:
            return sync_source(lambda: UnitOfWork(self.engine), connector, service, **kw)
        finally:
            client.close()

    def source_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(t.activities.c.source_id)).scalars())

    def count(self, table: sa.Table) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.fixture
def pipeline(engine: Engine, region: Region, fake: FakeSapi3) -> Pipeline:
    return Pipeline(engine, region, fake)


def test_tie_across_page_boundaries_is_stored_once_each(pipeline, fake):
    fake.add(tie(12))
    result = pipeline.run(limit=5)
    assert result.counts.created == 12 and result.counts.fetched == 12
    assert sorted(pipeline.source_ids()) == sorted(event_id(i) for i in range(1, 13))
    # Later events in the same second, then an incremental run: only they are new.
    fake.add(tie(3, start=13))
    again = pipeline.run(limit=5)
    assert again.counts.created == 3 and again.counts.unchanged == 0
    assert pipeline.count(t.review_items) == 15


def test_more_matches_than_the_window_are_all_stored(pipeline, fake):
    # The 10 000 window scaled down (server and client agree on 60) keeps this fast on both
    # databases; the connector tests read a real 10 500-event feed against the real window.
    fake.window = 60
    fake.add([make_event(i, modified=f"2026-11-20T10:{i // 120:02d}:{(i // 2) % 60:02d}+00:00")
              for i in range(1, 201)])
    result = pipeline.run(limit=20, window=60)
    assert result.status == "succeeded" and result.counts.created == 200
    assert all(int(r["start"]) + int(r["limit"]) <= 60 for r in fake.requests)


def test_deletion_withdraws_and_availability_change_is_seen(pipeline, fake):
    fake.add(tie(4))
    pipeline.run()
    fake.delete(event_id(1))
    # Left the default results: its availableTo passed, so it leaves our catalogue by itself.
    fake.update(event_id(2), availableTo="2026-11-21T00:00:00+00:00")
    result = pipeline.run()
    assert (result.counts.withdrawn, result.counts.updated) == (1, 1)
    with pipeline.engine.connect() as conn:
        rows = conn.execute(sa.select(t.activities.c.source_id, t.activities.c.state))
        states = {r.source_id: r.state for r in rows}
    assert states[event_id(1)] == "withdrawn" and states[event_id(2)] == "expired"


def test_429_then_success_and_a_burst_of_500s(pipeline, fake):
    fake.add(tie(8))
    fake.faults = [Fault(status=429, retry_after="3"), Fault(status=500), Fault(status=502),
                   Fault(status=503), Fault(), Fault(status=500)]
    result = pipeline.run(limit=3)
    assert result.status == "succeeded" and result.counts.created == 8
    assert 3.0 in pipeline.sleeps


def test_source_that_keeps_failing_fails_the_run_and_the_next_run_resumes(pipeline, fake):
    fake.add(tie(6, second="2026-11-20T10:00:00+00:00"))
    fake.add(tie(6, second="2026-11-20T10:00:01+00:00", start=7))
    fake.faults = [Fault(), Fault(), Fault(status=503), Fault(status=503), Fault(status=503)]
    failed = pipeline.run(limit=4, max_attempts=3)
    assert failed.status == "failed" and "503" in (failed.error or "")
    kept = failed.counts.created
    assert 0 < kept < 12
    resumed = pipeline.run(limit=4)
    assert resumed.status == "succeeded"
    assert resumed.counts.created == 12 - kept
    assert len(set(pipeline.source_ids())) == 12 == pipeline.count(t.activities)


def test_malformed_item_among_good_ones_is_a_failure_and_the_run_goes_on(pipeline, fake):
    good = tie(5)
    broken = make_event(99, modified="2026-11-20T10:00:00+00:00")
    broken["calendarType"] = "sometimes"
    broken["startDate"] = "not a date"
    fake.add(good[:2] + [broken] + good[2:])
    result = pipeline.run(limit=2)
    assert result.status == "partial"
    assert (result.counts.created, result.counts.failed) == (5, 1)
    with pipeline.engine.connect() as conn:
        failure = conn.execute(sa.select(t.sync_failures)).one()
    assert failure.source_id == event_id(99) and failure.stage == "map"
    assert '"not a date"' in failure.raw_payload


def test_empty_page_in_the_middle_does_not_end_the_run_early(pipeline, fake):
    fake.add(tie(4, second="2026-11-20T10:00:00+00:00"))
    fake.add(tie(8, second="2026-11-20T10:00:05+00:00", start=5))
    fake.faults = [Fault(), Fault(empty_page=True), Fault(empty_page=True)]
    result = pipeline.run(limit=3)
    assert result.status == "succeeded" and result.counts.created == 12


def test_source_that_keeps_answering_empty_pages_fails_clearly_then_resumes(pipeline, fake):
    fake.add(tie(9))
    fake.faults = [Fault()] + [Fault(empty_page=True)] * 6
    failed = pipeline.run(limit=3)
    assert failed.status == "failed" and "totalItems" in (failed.error or "")
    resumed = pipeline.run(limit=3)
    assert resumed.status == "succeeded"
    assert pipeline.count(t.activities) == 9


def test_no_page_body_outlives_its_page(pipeline, fake):
    # httpx responses are reference cycles that keep their body; with automatic collection
    # off (a re-read maps too little to start a collection itself for dozens of pages), only
    # the connector breaking the cycle frees each page's body with its page.
    import gc

    fake.add(make_event(n) for n in range(1, 31))
    gc.collect()
    gc.disable()
    try:
        run = pipeline.run(limit=5)
        alive = [o for o in gc.get_objects() if isinstance(o, httpx.Response)]
    finally:
        gc.enable()
    assert run.status == "succeeded" and run.counts.fetched == 30
    assert len(alive) <= 1
