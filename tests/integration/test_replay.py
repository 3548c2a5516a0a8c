"""Replaying failures against a real database: stored payload, refetch, idempotence, ignore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from samplefeed.server import FakeSapi3
from sync.adapters import tables as t
from sync.bootstrap import map_uitdatabank
from sync.domain.region import Region
from sync.service import replay
from sync.service.review import APPROVE, decide_review
from sync.service.sync_source import SyncService, sync_source
from sync.service.unit_of_work import UnitOfWork
from tests.builders import StaticConnector, changed, event_id, make_event
from tests.support.apps import failing_for, make_app
from tests.support.clock import NOW, clock

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "uitdatabank"


@pytest.fixture
def sync(engine: Engine, region: Region) -> Callable[..., Any]:
    def _sync(docs: list[Any], mapper: Any = map_uitdatabank) -> Any:
        service = SyncService(SOURCE, region, mapper, clock)
        return sync_source(lambda: UnitOfWork(engine), StaticConnector([docs]), service)

    return _sync


@pytest.fixture
def replayer(engine: Engine, region: Region) -> Callable[..., replay.ReplayReport]:
    def _replay(mapper: Any = map_uitdatabank, connector: Any = None,
                **select: Any) -> replay.ReplayReport:
        with UnitOfWork(engine) as uow:
            chosen = replay.select_failures(uow.connection, **select)
        services = {SOURCE: SyncService(SOURCE, region, mapper, clock)}
        connectors = {SOURCE: connector} if connector is not None else None
        return replay.replay_failures(lambda: UnitOfWork(engine), chosen, services,
                                      connectors=connectors)

    return _replay


def rows(engine: Engine, table: sa.Table, *where: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table).where(*where).order_by(table.c.id)))


def snapshot(engine: Engine) -> dict[str, Any]:
    return {tb.name: [tuple(r) for r in rows(engine, tb)]
            for tb in (t.activities, t.activity_versions, t.review_items, t.outbox,
                       t.sync_failures, t.sync_runs)}


def test_replay_maps_the_stored_payload_again_in_a_replay_run(sync, replayer, engine):
    first = sync([make_event(1), make_event(2, postal_code="8970", locality="Poperinge")],
                 mapper=failing_for(2))
    assert first.status == "partial"
    failure = rows(engine, t.sync_failures)[0]
    report = replayer(ids=[failure.id])  # the mapping is "fixed": today's code
    assert report.resolved == 1 and report.still_failing == 0
    [run] = report.runs
    assert run.status == "succeeded" and run.counts.created == 1 and run.counts.fetched == 1
    stored_run = rows(engine, t.sync_runs, t.sync_runs.c.id == run.run_id)[0]
    assert stored_run.kind == "replay" and stored_run.counts["created"] == 1
    after = rows(engine, t.sync_failures)[0]
    assert after.status == "resolved" and after.resolved_at == NOW
    assert after.resolution == f"replayed in run {run.run_id}: created"
    items = rows(engine, t.review_items)
    assert [(i.kind, i.municipality_nis) for i in items] == [("new", "33011"), ("new", "33021")]
    assert len(rows(engine, t.outbox, t.outbox.c.topic == "activity.discovered")) == 2


def test_still_failing_stays_open_with_one_more_attempt_and_no_second_row(sync, replayer, engine):
    sync([make_event(1)], mapper=failing_for(1))
    report = replayer(mapper=failing_for(1), all_open=True)
    assert report.still_failing == 1 and report.runs[0].status == "partial"
    [failure] = rows(engine, t.sync_failures)
    assert (failure.status, failure.attempts, failure.stage) == ("open", 2, "map")
    assert "event type has no activity type" in failure.error
    assert rows(engine, t.activities) == []


def test_replaying_twice_creates_nothing_twice(sync, replayer, engine):
    sync([make_event(1), make_event(2)], mapper=failing_for(1, 2))
    ids = [f.id for f in rows(engine, t.sync_failures)]
    assert replayer(all_open=True).resolved == 2
    before = snapshot(engine)
    again = replayer(all_open=True)
    assert again.items == [] and again.runs == []
    by_id = replayer(ids=ids)  # naming resolved failures again: reported, not replayed
    assert [i.outcome for i in by_id.items] == ["not_open", "not_open"] and by_id.runs == []
    assert snapshot(engine) == before


def test_replay_never_overrides_a_moderators_decision_on_an_unchanged_version(sync, replayer,
                                                                            engine):
    doc = make_event(1)
    sync([doc])
    [item] = rows(engine, t.review_items)
    with UnitOfWork(engine) as uow:
        decide_review(uow, item.id, APPROVE, moderator="an@ieper.be", now=NOW)
        uow.commit()
    published = rows(engine, t.activities)[0]
    # A touch (new `modified`, same content) hits the bug and is recorded as a failure.
    sync([changed(doc, modified="2026-11-21T10:00:00+00:00")], mapper=failing_for(1))
    report = replayer(all_open=True)
    assert [i.outcome for i in report.items] == ["unchanged"]
    after = rows(engine, t.activities)[0]
    assert (after.state, after.approved_version_id) == ("published",
                                                        published.approved_version_id)
    assert [(i.status, i.kind) for i in rows(engine, t.review_items)] == [("approved", "new")]
    assert len(rows(engine, t.activity_versions)) == 1


def test_replay_by_run_only_takes_that_runs_open_failures(sync, replayer, engine):
    r1 = sync([make_event(1)], mapper=failing_for(1))
    sync([make_event(2)], mapper=failing_for(2))
    report = replayer(run_id=r1.run_id)
    assert [i.source_id for i in report.items] == [event_id(1)]
    assert [f.status for f in rows(engine, t.sync_failures)] == ["resolved", "open"]


def test_unknown_ids_and_runs_are_errors_not_no_ops(sync, replayer, engine):
    sync([make_event(1)], mapper=failing_for(1))
    with pytest.raises(replay.NotFound, match="999"):
        replayer(ids=[1, 999])
    with pytest.raises(replay.NotFound, match="run 999"):
        replayer(run_id=999)
    with pytest.raises(replay.AdminError):
        replayer()  # nothing named
    assert rows(engine, t.sync_failures)[0].status == "open"


def test_ignore_closes_a_failure_with_its_reason(sync, replayer, engine):
    sync([make_event(1), make_event(2)], mapper=failing_for(1, 2))
    first, second = rows(engine, t.sync_failures)
    with UnitOfWork(engine) as uow:
        doc = replay.ignore_failure(uow, first.id, "test event of the organiser", NOW)
        uow.commit()
    assert doc["status"] == "ignored"
    assert doc["resolution"] == "ignored: test event of the organiser"
    with UnitOfWork(engine) as uow, pytest.raises(replay.NotOpen):
        replay.ignore_failure(uow, first.id, "again", NOW)
    with UnitOfWork(engine) as uow, pytest.raises(replay.NotFound):
        replay.ignore_failure(uow, 999, "x", NOW)
    report = replayer(all_open=True)
    assert [i.failure_id for i in report.items] == [second.id]
    assert rows(engine, t.sync_failures)[0].status == "ignored"


@pytest.fixture
def feed() -> Iterator[FakeSapi3]:
    with FakeSapi3([]) as fake:
        yield fake


def test_refetch_fetches_the_record_again_by_id(sync, replayer, engine, region, tmp_path, feed):
    broken = make_event(1)
    broken["name"] = 42  # the source sent garbage; it has been corrected there since
    sync([broken, make_event(2)])
    [failure] = rows(engine, t.sync_failures)
    assert failure.source_id == event_id(1)
    app = make_app(tmp_path, engine, region, base_url=feed.base_url)
    stored = replayer(ids=[failure.id])
    assert stored.still_failing == 1  # the stored payload is still garbage
    feed.add([make_event(1, title="Praatcafé (verbeterd)")])
    report = replayer(ids=[failure.id], connector=app.connector(app.config.source(SOURCE)))
    assert [i.outcome for i in report.items] == ["created"]
    act = rows(engine, t.activities, t.activities.c.source_id == event_id(1))[0]
    assert act.title == "Praatcafé (verbeterd)"
    after = rows(engine, t.sync_failures)[0]
    assert after.status == "resolved" and after.attempts == 2
    assert '"Praatcafé (verbeterd)"' in after.raw_payload  # the document that worked is kept
    app.close()


def test_refetch_of_an_event_the_source_no_longer_knows_stays_open(sync, replayer, engine,
                                                                   region, tmp_path, feed):
    broken = make_event(7)
    broken["name"] = 42
    sync([broken])
    app = make_app(tmp_path, engine, region, base_url=feed.base_url)
    report = replayer(all_open=True, connector=app.connector(app.config.source(SOURCE)))
    assert report.still_failing == 1
    failure = rows(engine, t.sync_failures)[0]
    assert failure.stage == "fetch" and "not known at the source" in failure.error
    assert failure.attempts == 2
    app.close()
