"""Reading the public catalogue: published activities and the versions a moderator approved."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain import catalogue as cat

# Ids per IN (...) list: well under SQLite's bound-parameter limit.
CHUNK = 500


def _approved() -> sa.Select[Any]:
    a, v = t.activities, t.activity_versions
    return (sa.select(a.c.id, a.c.source, a.c.source_id, a.c.updated_at, v.c.data)
            .join(v, v.c.id == a.c.approved_version_id)
            .where(a.c.state == cat.PUBLISHED))


def published(conn: sa.Connection) -> Iterator[Any]:
    """Every published activity (id, source, source_id, updated_at, data of the approved
    version), by id."""
    yield from conn.execute(_approved().order_by(t.activities.c.id))


def one_published(conn: sa.Connection, activity_id: int) -> Any | None:
    return conn.execute(_approved().where(t.activities.c.id == activity_id)).one_or_none()


def versions_with_activity(conn: sa.Connection, version_ids: Sequence[int]) -> Iterator[Any]:
    """Versions by id with their activity's columns (id, source, source_id, updated_at, vid,
    data): what was approved then, even if the activity changed since."""
    a, v = t.activities, t.activity_versions
    for start in range(0, len(version_ids), CHUNK):
        yield from conn.execute(
            sa.select(a.c.id, a.c.source, a.c.source_id, a.c.updated_at,
                      v.c.id.label("vid"), v.c.data)
            .join(a, a.c.id == v.c.activity_id)
            .where(v.c.id.in_(version_ids[start:start + CHUNK])))


def published_stamp(conn: sa.Connection) -> tuple[Any, ...]:
    """Changes whenever the published set does: count, sums of ids and approved versions
    (versions only get newer ids, so an approval changes the sum even when the clock did not
    move), newest change."""
    a = t.activities
    return tuple(conn.execute(
        sa.select(sa.func.count(), sa.func.sum(a.c.approved_version_id),
                  sa.func.sum(a.c.id), sa.func.max(a.c.updated_at))
        .where(a.c.state == cat.PUBLISHED)).one())


def published_keys(conn: sa.Connection) -> list[tuple[int, int]]:
    """(activity id, approved version id) of every published activity, by id."""
    a = t.activities
    return [(r[0], r[1]) for r in conn.execute(
        sa.select(a.c.id, a.c.approved_version_id)
        .where(a.c.state == cat.PUBLISHED, a.c.approved_version_id.is_not(None))
        .order_by(a.c.id))]


def version_data(conn: sa.Connection, version_ids: Sequence[int]
                 ) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(activity id, version id, data) of the given versions."""
    v = t.activity_versions
    for start in range(0, len(version_ids), CHUNK):
        for r in conn.execute(sa.select(v.c.activity_id, v.c.id, v.c.data)
                              .where(v.c.id.in_(version_ids[start:start + CHUNK]))):
            yield r[0], r[1], dict(r[2])


def approved_data(conn: sa.Connection, activity_ids: Sequence[int]
                  ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(activity id, data of its approved version) of the given activities."""
    a, v = t.activities, t.activity_versions
    for start in range(0, len(activity_ids), CHUNK):
        for r in conn.execute(sa.select(a.c.id, v.c.data)
                              .join(v, v.c.id == a.c.approved_version_id)
                              .where(a.c.id.in_(activity_ids[start:start + CHUNK]))):
            yield r[0], dict(r[1])
