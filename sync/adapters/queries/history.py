"""Reading the daily history: snapshot days, publication periods, and what they are built from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain import catalogue as cat


def public_versions(conn: sa.Connection, ids: Iterable[int] | None = None) -> Iterator[Any]:
    """Rows of id, state, municipality_nis and data: the approved version (what was public),
    else the latest synced one; by id."""
    a, v = t.activities, t.activity_versions
    version = sa.func.coalesce(a.c.approved_version_id, a.c.current_version_id)
    query = (sa.select(a.c.id, a.c.state, a.c.municipality_nis, v.c.data)
             .join(v, v.c.id == version).order_by(a.c.id))
    if ids is None:
        yield from conn.execute(query)
        return
    wanted = sorted(set(ids))
    for i in range(0, len(wanted), 500):  # bounded IN lists on both databases
        yield from conn.execute(query.where(a.c.id.in_(wanted[i:i + 500])))


def standing_versions(conn: sa.Connection) -> Sequence[Any]:
    """Rows of id, state, municipality_nis and data of each activity as it now stands: the
    approved version when published, else the latest synced one."""
    a, v = t.activities, t.activity_versions
    version = sa.case((a.c.state == cat.PUBLISHED,
                       sa.func.coalesce(a.c.approved_version_id, a.c.current_version_id)),
                      else_=sa.func.coalesce(a.c.current_version_id, a.c.approved_version_id))
    return conn.execute(sa.select(a.c.id, a.c.state, a.c.municipality_nis, v.c.data)
                        .join(v, v.c.id == version)).all()


def published_or_unpublished(conn: sa.Connection, lo: datetime, hi: datetime) -> set[int]:
    """Activities a moderator published or unpublished in [lo, hi)."""
    d = t.decision_log
    return set(conn.execute(
        sa.select(d.c.activity_id).where(
            d.c.at >= lo, d.c.at < hi,
            sa.or_(d.c.after_state == cat.PUBLISHED, d.c.before_state == cat.PUBLISHED))
    ).scalars())


def latest_day(conn: sa.Connection, before: date | None = None) -> date | None:
    """The last snapshot day (before `before`)."""
    h = t.history_days
    query = sa.select(sa.func.max(h.c.day))
    if before is not None:
        query = query.where(h.c.day < before)
    return conn.execute(query).scalar()


def first_day(conn: sa.Connection) -> date | None:
    return conn.execute(sa.select(sa.func.min(t.history_days.c.day))).scalar()


def days(conn: sa.Connection, lo: date, hi: date) -> list[tuple[date, dict[str, int]]]:
    """Snapshot days from `lo` to `hi` with their totals."""
    h = t.history_days
    return [(r.day, dict(r.totals)) for r in conn.execute(
        sa.select(h.c.day, h.c.totals).where(h.c.day >= lo, h.c.day <= hi).order_by(h.c.day))]


def live_periods(conn: sa.Connection, since: date) -> dict[int, tuple[int, date]]:
    """Per activity, the period (id, last day) that reaches `since` or later."""
    p = t.publication_periods
    return {r.activity_id: (r.id, r.last_day) for r in conn.execute(
        sa.select(p.c.id, p.c.activity_id, p.c.last_day).where(p.c.last_day >= since))}


def periods(conn: sa.Connection) -> Sequence[Any]:
    """Every recorded period: activity_id, first_day, last_day."""
    p = t.publication_periods
    return conn.execute(sa.select(p.c.activity_id, p.c.first_day, p.c.last_day)).all()


def publication_decisions(conn: sa.Connection) -> Sequence[Any]:
    """The decision log in order: activity_id, before_state, after_state, at."""
    d = t.decision_log
    return conn.execute(sa.select(d.c.activity_id, d.c.before_state, d.c.after_state, d.c.at)
                        .order_by(d.c.at, d.c.id)).all()


def states(conn: sa.Connection, ids: Iterable[int]) -> dict[int, tuple[str, datetime | None]]:
    """Per activity, its state and when it last changed."""
    a = t.activities
    return {r.id: (r.state, r.updated_at) for r in conn.execute(
        sa.select(a.c.id, a.c.state, a.c.updated_at).where(a.c.id.in_(sorted(ids))))}
