"""The daemon's parts: job registration, the stop flag, reconciliation, the source lock."""
# ruff: noqa: F811 - the `world` fixture imported from tests.support.mail is used as a parameter

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.base import Cursor
from connectors.uitdatabank import UitdatabankConnector, build_query
from mappings.taaliconen import QUERY_LABELS
from samplefeed.server import FakeSapi3
from sync.adapters import tables as t
from sync.adapters.locks import lock_key, source_lock, supports_locks, try_lock
from sync.bootstrap import App, map_uitdatabank
from sync.entrypoints.daemon import Daemon
from sync.service.reconcile import reconcile_source
from sync.service.sync_source import SyncService, sync_source
from sync.settings import AppConfig
from tests.builders import StaticConnector, changed, event_id
from tests.support.apps import ROOT, feed_app
from tests.support.mail import world as world  # noqa: F401 - the fixture
from tests.support.places import ieper, poperinge


def test_jobs_are_registered_from_the_config(world):
    config = AppConfig.model_validate({
        "region_file": str(ROOT / "config" / "westhoek_municipalities.json"),
        "sources": [
            {"name": "a", "connector": "uitdatabank", "base_url": "http://x", "interval_minutes": 7,
             "reconcile_cron": "30 2 * * *"},
            {"name": "b", "connector": "uitdatabank", "base_url": "http://y"},
            {"name": "off", "connector": "uitdatabank", "base_url": "http://z", "enabled": False},
        ],
        "notifications": {"digest_hour": 9},
        "daemon": {"relay_interval_seconds": 2, "misfire_grace_seconds": 120},
    })
    app = App(config=config, env=world.app.env, engine=world.engine, region=world.region)
    scheduler = BackgroundScheduler()
    Daemon(app, serve_web=False).register_jobs(scheduler)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"sync:a", "reconcile:a", "sync:b", "reconcile:b", "outbox:relay",
                         "notify:digest", "notify:reminders", "catalogue:housekeeping",
                         "history:snapshot", "history:coverage", "history:outreach"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == 120
    a = jobs["sync:a"].trigger
    assert isinstance(a, IntervalTrigger) and a.interval == timedelta(minutes=7)
    assert jobs["sync:b"].trigger.interval == timedelta(minutes=15)
    assert jobs["sync:a"].args == ("a",)
    rec = jobs["reconcile:a"].trigger
    assert isinstance(rec, CronTrigger) and str(rec.timezone) == "Europe/Brussels"
    assert {f.name: str(f) for f in rec.fields}["hour"] == "2"
    assert {f.name: str(f) for f in rec.fields}["minute"] == "30"
    assert {f.name: str(f) for f in jobs["reconcile:b"].trigger.fields}["hour"] == "3"
    assert jobs["outbox:relay"].trigger.interval == timedelta(seconds=2)
    digest = jobs["notify:digest"].trigger
    assert {f.name: str(f) for f in digest.fields}["hour"] == "9"
    assert str(digest.timezone) == "Europe/Brussels"
    fields = {f.name: str(f) for f in jobs["history:outreach"].trigger.fields}
    assert fields["day_of_week"] == "mon" and fields["hour"] == "5"


def test_a_stop_between_pages_commits_the_page_in_flight_and_the_next_run_resumes(world):
    stop = threading.Event()
    pages = [[ieper(1), ieper(2)], [ieper(3, modified="2026-11-20T11:00:00+00:00")],
             [ieper(4, modified="2026-11-20T12:00:00+00:00")]]

    class StopsAfterFirst(StaticConnector):
        def pages(self, cursor: Cursor) -> Any:
            for i, page in enumerate(super().pages(cursor)):
                if i == 1:
                    stop.set()  # SIGTERM arrives while page 2 is being fetched
                yield page

    service = SyncService("uitdatabank", world.region, map_uitdatabank, world.clock)
    first = sync_source(world.app.uow, StopsAfterFirst(pages), service, stop=stop)
    assert first.status == "failed" and first.error.startswith("stopped")
    assert first.counts.created == 2
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.activities)).scalar() == 2
        cursor = conn.execute(sa.select(t.source_state.c.cursor)).scalar_one()
    assert cursor["modified"] == "2026-11-20T10:00:00+00:00"
    rest = sync_source(world.app.uow, StaticConnector(pages[1:]), service)
    assert rest.status == "succeeded" and rest.counts.created == 2


def test_reconciliation_withdraws_what_vanished_or_moved_out_unseen(world):
    events = [ieper(n, modified=f"2026-11-20T10:00:{n:02d}+00:00") for n in range(1, 8)]
    with FakeSapi3(events) as fake:
        app = feed_app(world, fake)
        src = app.config.sources[0]
        service = app.sync_service(src)
        assert sync_source(app.uow, app.connector(src), service).counts.created == 7
        # The place moved out of the region, `modified` unchanged.
        moved = changed(fake.get(event_id(2)))
        moved["location"]["address"]["nl"].update(postalCode="8000", addressLocality="Brugge")
        fake.add([moved])
        # A hard delete: the source no longer knows the event at all.
        with fake._lock:
            del fake._events[event_id(3)]
        # An event moved into the region unseen by the cursor.
        fake.add([poperinge(9, modified="2026-11-01T10:00:00+00:00")])
        incremental = sync_source(app.uow, app.connector(src), service)
        assert incremental.counts.fetched == 0  # the cursor sees none of it
        result = reconcile_source(app.uow, app.connector(src), service)
    assert result.run.status == "succeeded" and result.missing == 2 and result.withdrawn == 2
    assert result.run.counts.created == 1  # the one that moved in
    with world.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(t.activities.c.source_id,
                                           t.activities.c.withdrawn_reason)
                                 .where(t.activities.c.state == "withdrawn")).all())
        run = conn.execute(sa.select(t.sync_runs).order_by(t.sync_runs.c.id.desc())).first()
    assert rows == {event_id(2): "outside_region", event_id(3): "vanished"}
    assert run.kind == "full" and run.counts["withdrawn"] == 2
    # Nothing left to find: a second reconciliation withdraws nothing.
    with FakeSapi3(fake.events()) as again:
        app2 = feed_app(world, again)
        src2 = app2.config.sources[0]
        again_result = reconcile_source(app2.uow, app2.connector(src2), app2.sync_service(src2))
        # The withdrawn ones are not missing again.
        assert again_result.withdrawn == 0 and again_result.missing == 0


def test_the_nightly_reconciliation_reads_ids_and_fetches_only_what_is_new(world):
    events = [ieper(n, modified=f"2026-11-20T10:00:{n:02d}+00:00") for n in range(1, 8)]
    with FakeSapi3(events) as fake:
        app = feed_app(world, fake)
        src = app.config.sources[0]
        sync_source(app.uow, app.connector(src), app.sync_service(src))
        with world.engine.connect() as conn:
            cursor = conn.execute(sa.select(t.source_state.c.cursor)).scalar_one()
        fake.add([poperinge(9, modified="2026-11-01T10:00:00+00:00")])  # unseen by the cursor
        fake.requests.clear()
        result = reconcile_source(app.uow, app.connector(src), app.sync_service(src))
        assert result.run.status == "succeeded" and result.missing == 0
        assert result.run.counts.created == 1 and result.run.counts.fetched == 1
        embedded = [r for r in fake.requests if r.get("embed") == "true"]
        assert [r["q"] for r in embedded] == [f"id:({event_id(9)})"]
        assert all("embed" not in r for r in fake.requests if r not in embedded)
        with world.engine.connect() as conn:  # the incremental cursor did not move
            assert conn.execute(sa.select(t.source_state.c.cursor)).scalar_one() == cursor
        # The weekly full one re-reads every document; none of them changed.
        fake.requests.clear()
        weekly = reconcile_source(app.uow, app.connector(src), app.sync_service(src), full=True)
        assert weekly.run.counts.fetched == 8 and weekly.run.counts.unchanged == 8
        assert all(r.get("embed") == "true" for r in fake.requests)


def test_the_nightly_reconciliation_does_not_fetch_what_the_sync_skipped(world):
    kept = [ieper(n, modified=f"2026-11-20T10:00:{n:02d}+00:00") for n in range(1, 4)]
    # Returned by the query, left out by the mapping: cancelled, and for schools only.
    cancelled = [ieper(n, status="Unavailable", modified=f"2026-11-20T10:00:{n:02d}+00:00")
                 for n in range(4, 7)]
    school = ieper(7, modified="2026-11-20T10:00:07+00:00")
    school["audience"] = {"audienceType": "education"}
    with FakeSapi3([*kept, *cancelled, school]) as fake:
        app = feed_app(world, fake)
        src = app.config.sources[0]
        first = sync_source(app.uow, app.connector(src), app.sync_service(src))
        assert first.counts.created == 3 and first.counts.skipped == {"cancelled": 3,
                                                                      "education": 1}
        fake.requests.clear()
        result = reconcile_source(app.uow, app.connector(src), app.sync_service(src))
        assert result.run.status == "succeeded" and result.missing == 0
        assert result.run.counts.fetched == 0
        assert [r for r in fake.requests if r.get("embed") == "true"] == []

        # A new mapping decides again: the skipped ones are fetched once, then known again.
        bumped = app.sync_service(src)
        bumped.mapping_version = "another mapping"
        fake.requests.clear()
        again = reconcile_source(app.uow, app.connector(src), bumped)
        assert again.run.counts.fetched == 4 and again.run.counts.skipped == {
            "cancelled": 3, "education": 1}
        assert reconcile_source(app.uow, app.connector(src), bumped).run.counts.fetched == 0

        # What the source no longer returns is forgotten.
        with fake._lock:
            del fake._events[event_id(4)]
        reconcile_source(app.uow, app.connector(src), bumped)
    with world.engine.connect() as conn:
        remembered = set(conn.execute(sa.select(t.skipped_events.c.source_id)).scalars())
    assert remembered == {event_id(5), event_id(6), event_id(7)}


def test_a_catalogue_beyond_the_window_lists_ids_postal_code_by_postal_code(world):
    # Seven known events cannot fit a window of five: the whole query is not asked first
    # (its first page would be thrown away); each postal code fits.
    events = [*(ieper(n, modified=f"2026-11-20T10:00:{n:02d}+00:00") for n in range(1, 5)),
              *(poperinge(n, modified=f"2026-11-20T10:00:{n:02d}+00:00") for n in range(5, 8))]
    with FakeSapi3(events, window=5) as fake:
        app = feed_app(world, fake)
        src = app.config.sources[0]
        sync_source(app.uow, app.connector(src), app.sync_service(src))
        fake.add([poperinge(9, modified="2026-11-01T10:00:00+00:00")])  # unseen by the cursor
        fake.requests.clear()
        connector = UitdatabankConnector(app.http_client(src), name=src.name, limit=3,
                                         postal_codes=app.region.postal_codes,
                                         labels=QUERY_LABELS, window=5, sleep=lambda _: None)
        result = reconcile_source(app.uow, connector, app.sync_service(src))
        assert result.run.status == "succeeded" and result.missing == 0
        assert result.run.counts.created == 1
        listed = {r["q"] for r in fake.requests if "embed" not in r}
        assert listed <= {build_query(QUERY_LABELS, [code]) for code in app.region.postal_codes}
        assert {build_query(QUERY_LABELS, [code]) for code in ("8900", "8970")} <= listed


def test_an_incomplete_reconciliation_withdraws_nothing(world):
    docs = [ieper(n, modified=f"2026-11-20T10:00:{n:02d}+00:00") for n in range(1, 5)]
    with FakeSapi3(docs) as fake:
        app = feed_app(world, fake)
        src = app.config.sources[0]
        sync_source(app.uow, app.connector(src), app.sync_service(src))
        stop = threading.Event()
        stop.set()
        result = reconcile_source(app.uow, app.connector(src), app.sync_service(src), stop=stop)
    assert result.withdrawn == 0 and result.run.status == "failed"


def test_lock_keys_are_stable_and_per_schema():
    assert lock_key("public", "source:a") == lock_key("public", "source:a")
    assert lock_key("public", "source:a") != lock_key("t_1", "source:a")
    assert -(2**63) <= lock_key("x", "y") < 2**63


def test_the_source_lock_lets_one_holder_in_at_a_time(world):
    if not supports_locks(world.engine):
        pytest.skip("SQLite: no advisory locks; the daemon runs as a single instance there")
    with try_lock(world.engine, source_lock("uitdatabank")) as first:
        assert first is True
        with try_lock(world.engine, source_lock("uitdatabank")) as second:
            assert second is False
        with try_lock(world.engine, source_lock("other")) as other:
            assert other is True
    with try_lock(world.engine, source_lock("uitdatabank")) as again:
        assert again is True


def test_a_daemon_skips_the_tick_when_another_instance_just_synced(world):
    with FakeSapi3([ieper(1)]) as fake:
        app = feed_app(world, fake)
        daemon = Daemon(app, serve_web=False)
        daemon.sync_job("uitdatabank")
        daemon.sync_job("uitdatabank")  # same tick on a second instance: skipped
        world.clock.advance(minutes=15)
        daemon.sync_job("uitdatabank")
    with world.engine.connect() as conn:
        runs = conn.execute(sa.select(sa.func.count()).select_from(t.sync_runs)).scalar_one()
    assert runs == 2
