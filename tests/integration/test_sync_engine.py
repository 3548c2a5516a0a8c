"""The sync engine against a real database: versions, queues, withdrawals, failures, resume."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import Cursor, TransientSourceError
from sync.adapters import tables as t
from sync.bootstrap import map_uitdatabank
from sync.domain.activity import NormalisedActivity
from sync.domain.region import Region
from sync.service.review import APPROVE, decide_review
from sync.service.sync_source import SyncService, sync_source
from sync.service.unit_of_work import UnitOfWork
from tests.builders import StaticConnector, changed, event_id, make_event, on_dates
from tests.support.clock import NOW, clock


@pytest.fixture
def run(engine: Engine, region: Region) -> Callable[..., Any]:
    def _run(pages: list[list[Any]], mapper: Any = map_uitdatabank, **kw: Any) -> Any:
        service = SyncService("uitdatabank", region, mapper, clock)
        return sync_source(lambda: UnitOfWork(engine), StaticConnector(pages, **kw), service)

    return _run


def count(engine: Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return conn.execute(query).scalar_one()


def open_items(engine: Engine) -> list[Any]:
    r, a = t.review_items, t.activities
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(r.c.id, r.c.kind, r.c.municipality_nis, r.c.reason, a.c.source_id)
            .join(a, a.c.id == r.c.activity_id).where(r.c.status == "open").order_by(r.c.id)))


def activity(engine: Engine, n: int) -> Any:
    a = t.activities
    with engine.connect() as conn:
        return conn.execute(sa.select(a).where(a.c.source_id == event_id(n))).one()


def test_first_sync_fills_the_queue_of_each_municipality(run, engine):
    docs = [make_event(1), make_event(2, postal_code="8600", locality="Diksmuide"),
            make_event(3, postal_code="8970", locality="Poperinge")]
    result = run([docs[:2], docs[2:]])
    assert result.status == "succeeded"
    assert result.counts.to_json() == {"fetched": 3, "created": 3, "updated": 0, "unchanged": 0,
                                       "withdrawn": 0, "skipped": {}, "failed": 0}
    items = open_items(engine)
    assert [(i.kind, i.municipality_nis) for i in items] == [
        ("new", "33011"), ("new", "32003"), ("new", "33021")]
    assert count(engine, t.activity_versions) == 3
    assert count(engine, t.outbox, t.outbox.c.topic == "activity.discovered") == 3
    assert activity(engine, 1).state == "pending"


def test_resync_of_unchanged_data_changes_nothing(run, engine):
    docs = [make_event(1), make_event(2)]
    run([docs])
    before = [count(engine, tb) for tb in (t.activity_versions, t.review_items, t.outbox)]
    # Same content, newer `modified` (a touch): still nothing new.
    result = run([[changed(d, modified="2026-11-21T10:00:00+00:00") for d in docs]])
    assert result.counts.unchanged == 2 and result.counts.created == 0
    assert [count(engine, tb) for tb in (t.activity_versions, t.review_items, t.outbox)] == before


def test_changed_event_supersedes_its_open_review_item(run, engine):
    doc = make_event(1)
    run([[doc]])
    first = open_items(engine)
    result = run([[changed(doc, name={"nl": "Praatcafé (nieuwe titel)"},
                           modified="2026-11-21T10:00:00+00:00")]])
    assert result.counts.updated == 1
    items = open_items(engine)
    assert len(items) == 1 and items[0].id != first[0].id
    assert items[0].kind == "new"  # never approved: still a first review
    r = t.review_items
    with engine.connect() as conn:
        old = conn.execute(sa.select(r).where(r.c.id == first[0].id)).one()
    assert old.status == "superseded" and old.superseded_by_id == items[0].id
    assert count(engine, t.activity_versions) == 2


def test_published_activity_that_changes_stays_published_at_approved_version(run, engine):
    doc = make_event(1)
    run([[doc]])
    item = open_items(engine)[0]
    with UnitOfWork(engine) as uow:
        decide_review(uow, item.id, APPROVE, moderator="an@ieper.be", now=NOW)
        uow.commit()
    approved = activity(engine, 1)
    assert approved.state == "published"
    run([[changed(doc, name={"nl": "Andere titel"}, modified="2026-11-22T10:00:00+00:00")]])
    after = activity(engine, 1)
    assert after.state == "published"
    assert after.approved_version_id == approved.approved_version_id
    assert after.current_version_id != after.approved_version_id
    assert [i.kind for i in open_items(engine)] == ["changed"]
    assert count(engine, t.outbox, t.outbox.c.topic == "activity.changed") == 1


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ({"workflowStatus": "DELETED"}, "deleted"),
        ({"workflowStatus": "REJECTED"}, "rejected"),
        ({"status": {"type": "Unavailable"}}, "cancelled"),
        ({"labels": ["geen taalicoon meer"]}, "no_language_icon"),
    ],
)
def test_deleted_rejected_cancelled_or_unlabelled_event_is_withdrawn(run, engine, mutation,
                                                                     reason):
    doc = make_event(1)
    run([[doc]])
    result = run([[changed(doc, modified="2026-11-21T10:00:00+00:00", **mutation)]])
    assert result.counts.withdrawn == 1
    a = activity(engine, 1)
    assert (a.state, a.withdrawn_reason) == ("withdrawn", reason)
    items = open_items(engine)
    assert [(i.kind, i.reason) for i in items] == [("withdrawn", reason)]
    assert count(engine, t.outbox, t.outbox.c.topic == "activity.withdrawn") == 1
    # Seeing the same withdrawal again queues nothing more.
    again = run([[changed(doc, modified="2026-11-21T10:00:00+00:00", **mutation)]])
    assert again.counts.withdrawn == 0 and again.counts.skipped == {reason: 1}
    assert len(open_items(engine)) == 1


def test_move_out_of_the_region_withdraws_and_move_back_reopens(run, engine):
    doc = make_event(1)
    run([[doc]])
    run([[changed(make_event(1, postal_code="3000", locality="Leuven"),
                  modified="2026-11-21T10:00:00+00:00")]])
    assert activity(engine, 1).withdrawn_reason == "outside_region"
    result = run([[changed(doc, modified="2026-11-22T10:00:00+00:00")]])
    assert result.counts.updated == 1
    assert activity(engine, 1).state == "pending"
    assert [i.kind for i in open_items(engine)] == ["new"]


def test_events_outside_scope_are_skipped_with_a_reason_not_failed(run, engine):
    docs = [make_event(1, labels=()), make_event(2, postal_code="9000", locality="Gent"),
            make_event(3, workflow_status="DELETED"), make_event(4)]
    result = run([docs])
    assert result.status == "succeeded"
    assert result.counts.skipped == {"deleted": 1, "no_language_icon": 1, "outside_region": 1}
    assert result.counts.created == 1 and result.counts.failed == 0


def test_malformed_item_becomes_a_failure_with_its_raw_payload(run, engine):
    bad = make_event(2)
    bad["name"] = 42
    result = run([[make_event(1), bad, "not even an object", make_event(3)]])
    assert result.status == "partial"
    assert result.counts.created == 2 and result.counts.failed == 2
    f = t.sync_failures
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(f).order_by(f.c.id)))
    assert [(r.stage, r.status, r.source_id) for r in rows] == [
        ("map", "open", event_id(2)), ("map", "open", None)]
    assert json.loads(rows[0].raw_payload)["name"] == 42
    assert "name" in rows[0].error
    assert json.loads(rows[1].raw_payload) == "not even an object"


def test_store_failure_is_recorded_and_the_page_goes_on(run, engine):
    def mapper(raw: Any, region: Region, as_of: datetime) -> Any:
        act = map_uitdatabank(raw, region, as_of)
        if isinstance(act, NormalisedActivity) and act.source_id == event_id(2):
            # A value the database refuses (NOT NULL): stands for any storage error.
            return dataclasses.replace(act, place=dataclasses.replace(act.place, nis=None))
        return act

    result = run([[make_event(1), make_event(2), make_event(3)]], mapper=mapper)
    assert result.status == "partial"
    assert (result.counts.created, result.counts.failed) == (2, 1)
    f = t.sync_failures
    with engine.connect() as conn:
        row = conn.execute(sa.select(f)).one()
    assert row.stage == "store" and row.source_id == event_id(2)
    assert count(engine, t.activities) == 2


def test_interrupted_run_keeps_committed_pages_and_resumes(run, engine, region):
    pages = [[make_event(i, modified=f"2026-11-20T10:00:0{i}+00:00")] for i in range(1, 6)]
    with pytest.raises(KeyboardInterrupt):
        run(pages, fail_after=3, error=KeyboardInterrupt())
    assert count(engine, t.activities) == 3
    r = t.sync_runs
    with engine.connect() as conn:
        status, error = conn.execute(sa.select(r.c.status, r.c.error)).one()
        cursor = conn.execute(sa.select(t.source_state.c.cursor)).scalar_one()
    assert status == "failed" and "interrupted" in error
    assert Cursor.from_json(cursor).modified == "2026-11-20T10:00:03+00:00"
    result = run(pages)  # a static connector re-serves everything: idempotence does the rest
    assert (result.counts.created, result.counts.unchanged) == (2, 3)
    assert count(engine, t.activities) == 5 and count(engine, t.review_items) == 5


def test_source_error_fails_the_run_with_its_message(run, engine):
    result = run([[make_event(1)], [make_event(2)]], fail_after=1,
                 error=TransientSourceError("GET /events failed 6 times: HTTP 503"))
    assert result.status == "failed" and "HTTP 503" in result.error
    assert count(engine, t.activities) == 1  # the first page is kept


def test_two_versions_of_one_event_in_a_page_end_at_the_last(run, engine):
    deleted = make_event(1, workflow_status="DELETED", modified="2026-11-20T10:00:00+00:00")
    back = make_event(1, title="Terug gepubliceerd", modified="2026-11-20T10:00:05+00:00")
    result = run([[deleted, make_event(2), back]])
    assert (result.counts.created, result.counts.skipped) == (2, {"deleted": 1})
    assert activity(engine, 1).state == "pending"
    assert activity(engine, 1).title == "Terug gepubliceerd"
    # And the other way round: published, then deleted within the same page.
    result = run([[make_event(3, modified="2026-11-21T10:00:00+00:00"),
                   make_event(3, workflow_status="DELETED", modified="2026-11-21T10:00:09+00:00")]])
    assert (result.counts.created, result.counts.withdrawn) == (1, 1)
    assert activity(engine, 3).state == "withdrawn"


def test_a_large_page_is_stored_in_bulk_and_later_rows_get_fresh_ids(run, engine):
    # Large enough for PostgreSQL's COPY path; titles that its text format must escape.
    title = "Praatcafé {} — 'quote\" back\\slash \\N"
    first = run([[make_event(n, title=title.format(n)) for n in range(1, 41)]])
    assert first.counts.created == 40
    # Written one by one afterwards (an event twice in a page): no id taken twice.
    again = run([[make_event(41, modified="2026-11-21T10:00:00+00:00"),
                  make_event(41, title="Tweede", modified="2026-11-21T10:00:05+00:00")]])
    assert (again.counts.created, again.counts.updated) == (1, 1)
    a, v = t.activities, t.activity_versions
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(a.c.source_id, a.c.title, a.c.next_occurrence, v.c.activity_id, a.c.id,
                      v.c.data).join(v, v.c.id == a.c.current_version_id)).all()
    assert len(rows) == 41 and all(r.activity_id == r.id for r in rows)
    by_id = {r.source_id: r for r in rows}
    first_row = by_id[event_id(1)]
    assert first_row.title == title.format(1) == first_row.data["title"]["nl"]
    assert first_row.next_occurrence == datetime(2027, 2, 1, 17, 0, tzinfo=UTC)
    assert by_id[event_id(41)].data["title"]["nl"] == "Tweede"
    assert len(open_items(engine)) == 41
    assert count(engine, t.outbox) == 42  # 41 discovered, 1 changed


def test_the_changed_events_of_a_page_cost_the_same_statements_however_many(run, engine):
    run([[make_event(n) for n in range(1, 61)]])
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def change(numbers: range, minute: int) -> int:
        statements.clear()
        modified = f"2026-11-21T10:{minute:02d}:00+00:00"
        result = run([[make_event(n, title=f"Nieuw {minute}", modified=modified)
                       for n in numbers]])
        assert result.counts.updated == len(numbers)
        return len(statements)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        # Both pages large enough for the same bulk method (PostgreSQL COPYs from 16 rows).
        few, many = change(range(1, 21), 1), change(range(21, 61), 2)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert few == many
    for n in (1, 60):
        assert activity(engine, n).title.startswith("Nieuw")
    items = open_items(engine)
    assert len(items) == 60 and {i.kind for i in items} == {"new"}
    assert count(engine, t.activity_versions) == 120
    assert count(engine, t.outbox, t.outbox.c.topic == "activity.changed") == 60


def test_unchanged_event_whose_date_passed_moves_its_next_occurrence_only(engine, region):
    doc = on_dates(make_event(1),
                   ("2026-12-01T18:00:00+01:00", "2026-12-01T20:00:00+01:00"),
                   ("2027-01-05T18:00:00+01:00", "2027-01-05T20:00:00+01:00"))
    counts = []
    for now in (NOW, datetime(2026, 12, 10, tzinfo=UTC)):
        service = SyncService("uitdatabank", region, map_uitdatabank, lambda now=now: now)
        result = sync_source(lambda: UnitOfWork(engine), StaticConnector([[doc]]), service)
        counts.append(result.counts)
        with engine.connect() as conn:
            nxt = conn.execute(sa.select(t.activities.c.next_occurrence)).scalar_one()
        assert nxt == (datetime(2026, 12, 1, 17, tzinfo=UTC) if now == NOW
                       else datetime(2027, 1, 5, 17, tzinfo=UTC))
    assert counts[1].unchanged == 1
    assert count(engine, t.activity_versions) == 1 and count(engine, t.review_items) == 1
