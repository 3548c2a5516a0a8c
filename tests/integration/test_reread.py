"""A re-read of documents we already mapped costs no mapping; what changed is still mapped."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import Cursor, source_id_of
from connectors.documents import fingerprint_of
from sync.adapters import tables as t
from sync.bootstrap import map_uitdatabank
from sync.domain.activity import MappingOutcome, hash_of
from sync.domain.region import Region
from sync.service import review_view
from sync.service.sync_source import SyncService, sync_source
from tests.builders import Clock, StaticConnector, changed, make_event, on_dates
from tests.support.apps import make_app


class CountingMapper:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, raw: Any, region: Region, as_of: datetime) -> MappingOutcome:
        self.calls.append(str(raw["@id"]).rsplit("/", 1)[-1])
        return map_uitdatabank(raw, region, as_of)


def service(app: Any, mapper: CountingMapper, version: str) -> SyncService:
    return SyncService(app.config.sources[0].name, app.region, mapper, app.clock,
                       mapping_version=version, review_diff=review_view.diff)


def full(app: Any, svc: SyncService, docs: list[dict[str, Any]], canonical: bool = False) -> Any:
    # `canonical`: the page carries its documents' bytes as the real connector's pages do, and
    # their fingerprints are then made while pages are read (`SyncService.prepare`).
    return sync_source(app.uow, StaticConnector([docs], canonical=canonical), svc, kind="full",
                       start_cursor=Cursor())


def versions(engine: Engine) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(t.activity_versions)
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize("canonical", [False, True])
def test_a_full_reread_maps_only_what_changed_or_what_time_moved(
        engine: Engine, region: Region, tmp_path: Path, canonical: bool) -> None:
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    soon = make_event(1, start="2026-11-26T18:00:00+01:00", end="2026-11-26T20:00:00+01:00")
    later = make_event(2)
    third = make_event(3)
    mapper = CountingMapper()
    first = full(app, service(app, mapper, "v1"), [soon, later, third], canonical)
    assert first.counts.created == 3 and len(mapper.calls) == 3
    stored = versions(engine)

    # Nothing changed: nothing is mapped, all three count as unchanged, no new version.
    mapper.calls.clear()
    again = full(app, service(app, mapper, "v1"), [soon, later, third], canonical)
    assert mapper.calls == []
    assert again.counts.unchanged == 3 and again.counts.fetched == 3
    assert versions(engine) == stored

    # One document changed at the source: only that one is mapped (and gets a version).
    mapper.calls.clear()
    edited = changed(third, name={"nl": "Nieuwe titel"}, modified="2026-11-21T10:00:00+00:00")
    result = full(app, service(app, mapper, "v1"), [soon, later, edited], canonical)
    assert mapper.calls == [edited["@id"].rsplit("/", 1)[-1]]
    assert result.counts.updated == 1 and result.counts.unchanged == 2

    # The first event's date passed: its stored next date is behind, so it is mapped again.
    clock.advance(days=2)
    mapper.calls.clear()
    full(app, service(app, mapper, "v1"), [soon, later, edited], canonical)
    assert mapper.calls == [source_id_of(soon["@id"])]

    # A new mapping version re-maps everything once, quietly (no version where nothing a
    # moderator sees changed), and the next re-read is cheap again.
    mapper.calls.clear()
    before = versions(engine)
    bumped = full(app, service(app, mapper, "v2"), [later, edited], canonical)
    assert len(mapper.calls) == 2 and bumped.counts.unchanged == 2
    assert versions(engine) == before
    mapper.calls.clear()
    full(app, service(app, mapper, "v2"), [later, edited], canonical)
    assert mapper.calls == []


def _states(engine: Engine, *docs: dict[str, Any]) -> list[str]:
    a = t.activities
    with engine.connect() as conn:
        state = dict(conn.execute(sa.select(a.c.source_id, a.c.state)).all())
    return [state[source_id_of(doc["@id"])] for doc in docs]


@pytest.mark.parametrize("canonical", [False, True])
def test_an_activity_that_is_over_is_not_mapped_again_while_its_document_stays(
        engine: Engine, region: Region, tmp_path: Path, canonical: bool) -> None:
    """Most of a catalogue with history is over: when an activity leaves the catalogue
    follows from its document alone, so the same document, mapped the same way, stays
    expired."""
    clock = Clock()  # 2026-11-25 07:00 UTC
    app = make_app(tmp_path, engine, region, now=clock)
    # Concerts (a course series would leave at its start).
    past = make_event(1, start="2026-11-01T18:00:00+01:00", end="2026-11-01T20:00:00+01:00",
                      event_type="0.50.4.0.0")
    soon = make_event(2, start="2026-11-26T18:00:00+01:00", end="2026-11-26T20:00:00+01:00",
                      event_type="0.50.4.0.0")
    mapper = CountingMapper()
    first = full(app, service(app, mapper, "v1"), [past, soon], canonical)
    assert first.counts.created == 2 and _states(engine, past, soon) == ["expired", "pending"]

    mapper.calls.clear()
    again = full(app, service(app, mapper, "v1"), [past, soon], canonical)
    assert mapper.calls == [] and again.counts.unchanged == 2

    # The second one is over now: mapped once, to take it out of the catalogue; then settled.
    clock.advance(days=2)
    mapper.calls.clear()
    full(app, service(app, mapper, "v1"), [past, soon], canonical)
    assert mapper.calls == [source_id_of(soon["@id"])]
    assert _states(engine, past, soon) == ["expired", "expired"]
    mapper.calls.clear()
    settled = full(app, service(app, mapper, "v1"), [past, soon], canonical)
    assert mapper.calls == [] and settled.counts.unchanged == 2

    # Moved to a later date at the source: mapped, and back in the queue.
    mapper.calls.clear()
    moved = changed(past, startDate="2027-03-01T18:00:00+01:00",
                    endDate="2027-03-01T20:00:00+01:00", availableTo="2027-03-01T20:00:00+01:00",
                    modified="2026-11-26T10:00:00+00:00")
    back = full(app, service(app, mapper, "v1"), [moved, soon], canonical)
    assert mapper.calls == [source_id_of(past["@id"])] and back.counts.updated == 1
    assert _states(engine, past, soon) == ["pending", "expired"]
    # Another mapping reads every document again, those that are over too.
    mapper.calls.clear()
    full(app, service(app, mapper, "v2"), [moved, soon], canonical)
    assert len(mapper.calls) == 2


def test_rows_fingerprinted_in_another_form_are_mapped_once_quietly(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    """Rows stored before the raw text kept the source's key order carry the fingerprint of
    the sorted text: the first re-read maps them again, without a version or a review item,
    and stores the new fingerprint; the next re-read is cheap again."""
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    docs = [make_event(1), make_event(2, start="2026-11-01T18:00:00+01:00",
                                         end="2026-11-01T20:00:00+01:00", event_type="0.50.4.0.0")]
    mapper = CountingMapper()
    full(app, service(app, mapper, "v1"), docs, canonical=True)
    a, r = t.activities, t.review_items
    with engine.begin() as conn:
        for doc in docs:
            old = fingerprint_of(json.dumps(doc, sort_keys=True, ensure_ascii=False,
                                            separators=(",", ":")).encode())
            conn.execute(a.update().where(a.c.source_id == source_id_of(doc["@id"]))
                         .values(raw_fingerprint=old))
        items = conn.execute(sa.select(sa.func.count()).select_from(r)).scalar_one()
    stored = versions(engine)

    mapper.calls.clear()
    again = full(app, service(app, mapper, "v1"), docs, canonical=True)
    assert len(mapper.calls) == 2 and again.counts.unchanged == 2
    assert versions(engine) == stored
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(r)).scalar_one() == items
    mapper.calls.clear()
    full(app, service(app, mapper, "v1"), docs, canonical=True)
    assert mapper.calls == []


def test_orjson_hash_is_byte_identical_to_the_standard_library() -> None:
    def reference(data: dict[str, Any]) -> str:
        content = {k: v for k, v in data.items()
                   if k not in ("modified", "next_occurrence", "next_occurrence_over")}
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    as_of = Clock()()
    from tests.builders import make_event as ev
    region_docs = [ev(n, title=title) for n, title in enumerate(
        ["Koffie & klap", "Ça va? Ünïcödé — 🎭", 'quote " and \\ back', "2e verdieping"])]
    samples: list[dict[str, Any]] = []
    from sync.adapters.region_file import load_region
    region = load_region(Path(__file__).resolve().parents[2] / "config"
                         / "westhoek_municipalities.json")
    for doc in region_docs:
        act = map_uitdatabank(doc, region, as_of)
        samples.append(act.to_dict())  # type: ignore[union-attr]
    samples += [
        {"price": 12.5, "z": 1, "a": [0.1, 1e16, 1e22, 123456789.123, -0.5, 3.0]},
        {"tiny": 1e-05, "tinier": 0.00012, "nested": {"b": None, "a": True, "c": "\u00e9"}},
        {"big": 2**70, "keys": {"é": 1, "e": 2, "E": 3}, "modified": "x"},
        {"ctl": "line\nbreak\ttab\u2028sep\u0001"},
    ]
    for data in samples:
        assert hash_of(data) == reference(data)


def _stored_next(engine: Engine) -> list[tuple[Any, Any]]:
    a = t.activities
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(a.c.next_occurrence, a.c.next_occurrence_over).order_by(a.c.id))]


def under_way_then_next_week() -> dict[str, Any]:
    """A date under way at the test clock's start (25 November, 07:30-20:00 Brussels), then one
    a week later."""
    return on_dates(make_event(1),
                    ("2026-11-25T07:30:00+01:00", "2026-11-25T20:00:00+01:00"),
                    ("2026-12-02T18:00:00+01:00", "2026-12-02T20:00:00+01:00"))


def test_a_date_under_way_is_not_mapped_again_until_it_is_over(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    """A date that began but is not over stays the next date: a re-read does not map the
    document again, nor does the housekeeping move it, until it is over."""
    from sync.service.expiry import expire_and_refresh

    clock = Clock()  # 2026-11-25 07:00 UTC
    app = make_app(tmp_path, engine, region, now=clock)
    days = under_way_then_next_week()
    # A date without an end lasts its (Brussels) day.
    # (A concert: a course series without `availableTo` would leave at its start.)
    no_end = make_event(2, start="2026-11-25T07:00:00+01:00", end="", event_type="0.50.4.0.0")
    no_end.pop("endDate")
    no_end.pop("availableTo")
    mapper = CountingMapper()
    full(app, service(app, mapper, "v1"), [days, no_end])
    assert _stored_next(engine) == [
        (datetime(2026, 11, 25, 6, 30, tzinfo=UTC), datetime(2026, 11, 25, 19, 0, tzinfo=UTC)),
        (datetime(2026, 11, 25, 6, 0, tzinfo=UTC), datetime(2026, 11, 25, 23, 0, tzinfo=UTC)),
    ]

    clock.advance(hours=10)  # 17:00 UTC: both began, neither is over
    mapper.calls.clear()
    again = full(app, service(app, mapper, "v1"), [days, no_end])
    assert mapper.calls == [] and again.counts.unchanged == 2
    assert expire_and_refresh(app.uow, clock()).next_dates_moved == 0

    clock.advance(hours=2, minutes=30)  # 19:30 UTC: the first date of `days` is over
    assert expire_and_refresh(app.uow, clock()).next_dates_moved == 1
    assert _stored_next(engine)[0] == (datetime(2026, 12, 2, 17, 0, tzinfo=UTC),
                                       datetime(2026, 12, 2, 19, 0, tzinfo=UTC))
    mapper.calls.clear()
    full(app, service(app, mapper, "v1"), [days, no_end])
    assert mapper.calls == []  # the housekeeping moved it on: settled again


def test_a_reread_maps_the_moved_date_when_no_housekeeping_ran(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    days = under_way_then_next_week()
    mapper = CountingMapper()
    full(app, service(app, mapper, "v1"), [days])
    clock.advance(hours=13)  # 20:00 UTC: the first date is over
    mapper.calls.clear()
    result = full(app, service(app, mapper, "v1"), [days])
    assert len(mapper.calls) == 1 and result.counts.unchanged == 1
    assert _stored_next(engine) == [(datetime(2026, 12, 2, 17, 0, tzinfo=UTC),
                                     datetime(2026, 12, 2, 19, 0, tzinfo=UTC))]


@pytest.mark.parametrize("canonical", [False, True])
def test_a_skipped_document_read_again_unchanged_is_not_mapped_again(
        engine: Engine, region: Region, tmp_path: Path, canonical: bool) -> None:
    app = make_app(tmp_path, engine, region, now=Clock())
    cancelled = make_event(1, status="Unavailable")
    other = make_event(2, labels=("geen taalicoon",))
    mapper = CountingMapper()
    first = full(app, service(app, mapper, "v1"), [cancelled, other], canonical)
    assert len(mapper.calls) == 2
    assert first.counts.skipped == {"cancelled": 1, "no_language_icon": 1}

    mapper.calls.clear()
    again = full(app, service(app, mapper, "v1"), [cancelled, other], canonical)
    assert mapper.calls == []
    assert again.counts.skipped == first.counts.skipped and again.counts.fetched == 2

    # Changed at the source, or read by another mapping: mapped again.
    mapper.calls.clear()
    back = changed(cancelled, status={"type": "Available"},
                   modified="2026-11-21T10:00:00+00:00")
    result = full(app, service(app, mapper, "v1"), [back, other], canonical)
    assert len(mapper.calls) == 1 and result.counts.created == 1
    mapper.calls.clear()
    full(app, service(app, mapper, "v2"), [back, other], canonical)
    assert len(mapper.calls) == 2


def test_migration_0011_counts_a_next_date_as_over_once_it_began(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    """Rows from before 0011 keep the rule they had: their next date is over when it began."""
    from alembic import command

    from sync.adapters import migrate

    app = make_app(tmp_path, engine, region, now=Clock())
    full(app, service(app, CountingMapper(), "v1"), [make_event(1), make_event(2)])
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    migrate.upgrade(engine)
    stored = _stored_next(engine)
    assert len(stored) == 2 and all(nxt is not None and over == nxt for nxt, over in stored)
    with engine.connect() as conn:
        k = t.skipped_events
        assert conn.execute(sa.select(k.c.raw_fingerprint)).all() == []


def test_catalogue_entries_read_the_times_as_the_column_types_do(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    """`entries` reads the driver's rows itself: its times equal SQLAlchemy's typed read."""
    from sync.service.unit_of_work import UnitOfWork

    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    days = under_way_then_next_week()
    permanent = changed(make_event(2), calendarType="permanent")
    for key in ("startDate", "endDate", "availableTo"):
        permanent.pop(key)
    full(app, service(app, CountingMapper(), "v1"), [days, permanent, make_event(3)])
    a = t.activities
    with UnitOfWork(engine) as uow:
        typed = {r.source_id: r for r in uow.connection.execute(sa.select(a))}
        entries = uow.catalogue.entries(app.config.sources[0].name, list(typed))
    assert set(entries) == set(typed)
    for sid, entry in entries.items():
        row = typed[sid]
        assert (entry.visible_until, entry.next_occurrence_over) == (
            row.visible_until, row.next_occurrence_over)
        assert entry.next_occurrence == (row.next_occurrence.isoformat()
                                         if row.next_occurrence else None)
        assert (entry.id, entry.state, entry.raw_fingerprint) == (
            row.id, row.state, row.raw_fingerprint)
    assert any(e.visible_until is None for e in entries.values())  # the permanent one
    assert all(e.next_occurrence_over is None or e.next_occurrence_over.tzinfo is not None
               for e in entries.values())


def test_housekeeping_finds_what_is_over_and_what_began_without_an_end_known(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    from sync.service.unit_of_work import UnitOfWork

    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    full(app, service(app, CountingMapper(), "v1"),
         [make_event(1), make_event(2), make_event(3), make_event(4)])
    a = t.activities
    past, future = datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    with engine.begin() as conn:
        ids = [r.id for r in conn.execute(sa.select(a.c.id).order_by(a.c.id))]
        for aid, (nxt, over) in zip(ids, [(past, past), (past, future), (past, None),
                                          (future, None)], strict=True):
            conn.execute(a.update().where(a.c.id == aid).values(
                next_occurrence=nxt, next_occurrence_over=over))
    with UnitOfWork(engine) as uow:
        stale = uow.catalogue.stale_next_occurrences(clock(), 10)
    # Over; or begun with no end known (the rule before schema 0011). Not: under way.
    assert [aid for aid, _ in stale] == [ids[0], ids[2]]
