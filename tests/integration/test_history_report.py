"""Daily snapshots, publication history and the annual report over a period (both databases)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.adapters import tables as t
from sync.adapters.region_file import load_region
from sync.bootstrap import map_uitdatabank
from sync.domain.activity import ACTIVITY_TYPES, NormalisedActivity
from sync.domain.region import Region
from sync.service import history, report
from sync.service.review import APPROVE, CONFIRM, decide_review
from sync.service.unit_of_work import UnitOfWork
from tests.builders import changed, event_id, make_event
from tests.support.apps import add_moderator, approve_open, sync_docs
from tests.support.clock import NOW

ROOT = Path(__file__).resolve().parents[2]


@cache
def _region() -> Region:
    return load_region(ROOT / "config" / "westhoek_municipalities.json")

# The annual report: 223 activities, counts per type in the catalogue's order.
ANNUAL_COUNTS = (5, 13, 28, 121, 26, 14, 3, 14, 50, 15)
ANNUAL_PERCENTAGES = (2.24, 5.83, 12.56, 54.26, 11.66, 6.28, 1.35, 6.28, 22.42, 6.73)


def insert_published(conn: sa.Connection, n: int, types: list[str], levels: list[int],
                     nis: str = "33011", organiser: str | None = None) -> int:
    """A published activity row with its approved version, as the sync and a moderator leave
    it; the report reads nothing else of it."""
    a, v = t.activities, t.activity_versions
    # A whole stored version as the mapping writes it; the report reads these fields of it.
    mapped = map_uitdatabank(make_event(n, title=f"Activiteit {n}"), _region(), NOW)
    assert isinstance(mapped, NormalisedActivity)
    data = mapped.to_dict()
    data.update(activity_types=types, language_levels=levels)
    data["place"].update(nis=nis, municipality="Ieper")
    data["organizer"] = {"id": organiser or f"org-{n % 40}", "name": {"nl": "Vzw"}}
    aid = conn.execute(a.insert().values(
        source="uitdatabank", source_id=f"id-{n}", state="published", municipality_nis=nis,
        title=f"Activiteit {n}", content_hash=f"{n:064d}", created_at=NOW, updated_at=NOW,
    )).inserted_primary_key[0]
    vid = conn.execute(v.insert().values(activity_id=aid, number=1, content_hash=f"{n:064d}",
                                         data=data, created_at=NOW)).inserted_primary_key[0]
    conn.execute(a.update().where(a.c.id == aid).values(current_version_id=vid,
                                                         approved_version_id=vid))
    return int(aid)


def annual_mentions() -> list[list[str]]:
    """223 activities whose types give exactly the annual report's counts: mention k goes to
    activity k mod 223, so 66 activities get a second (always different) type."""
    mentions = [name for name, n in zip(ACTIVITY_TYPES, ANNUAL_COUNTS, strict=True)
                for _ in range(n)]
    out: list[list[str]] = [[] for _ in range(223)]
    for k, name in enumerate(mentions):
        out[k % 223].append(name)
    assert all(len(set(x)) == len(x) for x in out)
    return out


def test_the_annual_report_table_comes_back(engine: Engine, region: Region):
    with engine.begin() as conn:
        for n, types in enumerate(annual_mentions()):
            insert_published(conn, n, types, [n % 4 + 1])
        history.take_snapshot(conn, NOW)
    with engine.connect() as conn:
        r = report.build(conn, region, date(2026, 1, 1), date(2026, 12, 31), NOW)
    assert r.total == 223
    assert [s.label for s in r.types] == list(ACTIVITY_TYPES)
    assert tuple(s.count for s in r.types) == ANNUAL_COUNTS
    assert tuple(s.percentage for s in r.types) == ANNUAL_PERCENTAGES
    assert r.type_mentions == 289
    md = report.to_markdown(r)
    assert "| Ontmoeting | 121 | 54,26 % |" in md
    assert "| Buddywerking | 5 | 2,24 % |" in md
    assert "| **Totaal** | **223** | **100,00 %** |" in md
    doc = r.to_json()
    ontmoeting = next(s for s in doc["activity_types"] if s["key"] == "Ontmoeting")
    assert ontmoeting == {"key": "Ontmoeting", "label": "Ontmoeting", "count": 121,
                          "percentage": 54.26}
    csv_lines = report.to_csv(r).splitlines()
    assert "activity_type,Ontmoeting,Ontmoeting,121,54.26" in csv_lines
    assert "activity_type,total,Totaal,223,100.00" in csv_lines


def counts(conn: sa.Connection, day: date) -> list[tuple[Any, ...]]:
    c = t.history_counts
    return [tuple(r) for r in conn.execute(
        sa.select(c.c.municipality_nis, c.c.activity_type, c.c.language_level, c.c.state,
                  c.c.count).where(c.c.day == day).order_by(*c.c))]


def periods(conn: sa.Connection) -> list[tuple[str, date, date]]:
    p, a = t.publication_periods, t.activities
    return [tuple(r) for r in conn.execute(
        sa.select(a.c.source_id, p.c.first_day, p.c.last_day).join(a, a.c.id == p.c.activity_id)
        .order_by(a.c.source_id, p.c.first_day))]


@pytest.fixture
def synced(engine: Engine, region: Region) -> Engine:
    sync_docs(engine, region, [
        make_event(1),  # Ieper, Cursus, level 1
        make_event(2, event_type="0.3.1.0.1", labels=("twee taaliconen", "drie taaliconen")),
        make_event(3, postal_code="8970", locality="Poperinge"),  # stays pending
    ])
    approve_open(engine, 1, 2)
    return engine


def test_snapshot_counts_every_combination_and_is_idempotent_per_day(synced: Engine):
    with synced.begin() as conn:
        first = history.take_snapshot(conn, NOW)
    with synced.begin() as conn:
        again = history.take_snapshot(conn, NOW + timedelta(hours=5))
        rows = counts(conn, date(2026, 11, 25))
        assert periods(conn) == [(event_id(1), date(2026, 11, 25), date(2026, 11, 25)),
                                 (event_id(2), date(2026, 11, 25), date(2026, 11, 25))]
        assert conn.execute(sa.select(sa.func.count()).select_from(t.history_days)).scalar() == 1
    assert first.totals == again.totals == {"pending": 1, "public": 2, "published": 2}
    assert (first.periods_opened, again.periods_opened, again.periods_extended) == (2, 0, 0)
    # Event 2 is Cursus + Workshop at levels 2 and 3: four rows, one activity.
    assert rows == [
        ("33011", "Cursus", "1", "published", 1),
        ("33011", "Cursus", "2", "published", 1),
        ("33011", "Cursus", "3", "published", 1),
        ("33011", "Workshop", "2", "published", 1),
        ("33011", "Workshop", "3", "published", 1),
        ("33021", "Cursus", "1", "pending", 1),
    ]


def test_periods_follow_publication_across_days(synced: Engine, region: Region):
    day = NOW
    with synced.begin() as conn:
        history.take_snapshot(conn, day)
    # Day 2: nothing changes. Day 3: the daemon was down. Day 4: event 1 is deleted at the
    # source and the withdrawal confirmed; event 3 approved.
    with synced.begin() as conn:
        history.take_snapshot(conn, day + timedelta(days=1))
    deleted = changed(make_event(1), workflowStatus="DELETED", modified="2026-11-28T09:00:00+00:00")
    later = day + timedelta(days=3)
    sync_docs(synced, region, [deleted])
    with UnitOfWork(synced) as uow:
        r = t.review_items
        for item in uow.connection.execute(sa.select(r.c.id, r.c.kind)
                                           .where(r.c.status == "open")).all():
            decide_review(uow, item.id, CONFIRM if item.kind == "withdrawn" else APPROVE,
                          moderator="mod@westhoek.be", now=later)
        uow.commit()
    with synced.begin() as conn:
        history.take_snapshot(conn, later)
        got = periods(conn)
    assert got == [
        # Withdrawn by the sync on day 4, before the snapshot: public until day 2.
        (event_id(1), date(2026, 11, 25), date(2026, 11, 26)),
        # The missed day 3 does not split a period.
        (event_id(2), date(2026, 11, 25), date(2026, 11, 28)),
        (event_id(3), date(2026, 11, 28), date(2026, 11, 28)),
    ]
    with synced.connect() as conn:
        only_day_4 = report.build(conn, region, date(2026, 11, 28), date(2026, 11, 28), later)
        whole = report.build(conn, region, date(2026, 11, 1), date(2026, 11, 30), later)
    assert only_day_4.total == 2 and whole.total == 3
    assert [(m.label, m.active, m.new, m.end_public, m.end_pending)
            for m in whole.months] == [("november 2026", 3, 3, 2, 0)]


def test_a_snapshot_cannot_rewrite_the_past(synced: Engine):
    with synced.begin() as conn:
        history.take_snapshot(conn, NOW + timedelta(days=2))
    with synced.begin() as conn, pytest.raises(history.HistoryError, match="2026-11-27"):
        history.take_snapshot(conn, NOW)


def test_before_the_first_snapshot_the_decision_log_tells(synced: Engine, region: Region):
    """No snapshot yet: the approvals of 25 November make the activities count."""
    with synced.connect() as conn:
        r = report.build(conn, region, date(2026, 11, 1), date(2026, 11, 30), NOW)
        before = report.build(conn, region, date(2026, 10, 1), date(2026, 10, 31), NOW)
    assert r.total == 2 and before.total == 0
    assert r.first_snapshot is None and r.derived_before == date(2026, 11, 26)


def test_report_counts_places_organisations_and_moderators(synced: Engine, region: Region):
    add_moderator(synced, "ann@ieper.be", "33011")
    with synced.begin() as conn:
        history.take_snapshot(conn, NOW)
    with synced.connect() as conn:
        r = report.build(conn, region, date(2026, 11, 25), date(2026, 11, 25), NOW)
    ieper = next(m for m in r.municipalities if m.name == "Ieper")
    assert (ieper.activities, ieper.percentage, ieper.moderators) == (2, 100.0, ["ann@ieper.be"])
    assert [m.name for m in r.with_activities] == ["Ieper"]
    assert [m.name for m in r.with_account] == ["Ieper"] and len(r.without_account) == 16
    assert r.organisations == 1
    assert [(s.key, s.count) for s in r.levels] == [("1", 1), ("2", 1), ("3", 1), ("4", 0)]
    doc = r.to_json()
    json.dumps(doc)  # serialisable as is
    assert doc["municipalities_with_activities"] == 1


def test_a_period_ending_before_it_starts_is_refused(engine: Engine, region: Region):
    with engine.connect() as conn, pytest.raises(report.ReportError, match="before it starts"):
        report.build(conn, region, date(2026, 2, 1), date(2026, 1, 1), NOW)
