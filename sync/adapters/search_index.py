"""The public search index: writes per activity, prefix-AND word matching per database."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.adapters import tables as t
from sync.domain import catalogue as cat
from sync.domain.search_text import body

_DOCS = t.search_documents
# Bumped by every index write in this process: a search here then rereads at once what is
# published instead of trusting its last look (PublicCatalogue.snapshot).
_local_writes = itertools.count(1)
_last_write = 0


def local_writes() -> int:
    """How many index writes this process has made (a generation number)."""
    return _last_write


def text_of(data: dict[str, Any]) -> str:
    """The indexed words of a stored version: titles and plain descriptions, all languages."""
    return body([str(x) for key in ("title", "description_text")
                 for x in (data.get(key) or {}).values() if x])


def index_activities(conn: Connection, activity_ids: Iterable[int]) -> None:
    """Bring the index rows of these activities in step with the catalogue, in the caller's
    transaction: the approved version's words while published, no row otherwise.

    Call it wherever an activity's state or approved version changes (approval, correction,
    undo, quiet approval, expiry, withdrawal); a stale row never matches in the meantime."""
    global _last_write
    ids = sorted(set(activity_ids))
    if not ids:
        return
    _last_write = next(_local_writes)
    a, v = t.activities, t.activity_versions
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = conn.execute(
            sa.select(a.c.id, a.c.approved_version_id, v.c.data)
            .join(v, v.c.id == a.c.approved_version_id)
            .where(a.c.id.in_(chunk), a.c.state == cat.PUBLISHED)).all()
        conn.execute(_DOCS.delete().where(_DOCS.c.activity_id.in_(chunk)))
        if rows:
            conn.execute(_DOCS.insert(), [
                {"activity_id": r.id, "version_id": r.approved_version_id,
                 "body": text_of(dict(r.data))} for r in rows])


def matching(conn: Connection, word: str) -> frozenset[int]:
    """Ids of the activities whose index row holds `word` as the start of a word (several
    words: intersect, as catalogue_query does with each word's matches kept). The row may be
    stale when a write path forgot to index: `unindexed` names those."""
    if not word:
        raise ValueError("nothing to match")
    if conn.dialect.name == "sqlite":
        # Words are letters and digits only (search_text.words): quoting cannot break out.
        expr = f'"{word}"*'
        # One row holding every id: Python's sqlite3 releases and retakes the GIL for each
        # row it steps through, and with eight requests in threads each retake can wait a
        # whole switch interval (5 ms) for the GIL; a common prefix matches thousands of rows.
        sql = f"SELECT group_concat(rowid) FROM {t.SQLITE_FTS} WHERE {t.SQLITE_FTS} MATCH ?"
        joined = conn.exec_driver_sql(sql, (expr,)).scalar()
        return frozenset(map(int, joined.split(","))) if joined else frozenset()
    sql = ("SELECT activity_id FROM search_documents "
           "WHERE to_tsvector('simple'::regconfig, body) @@ to_tsquery('simple', %s)")
    expr = f"{word}:*"
    # A common prefix matches thousands of rows: the driver's own cursor hands them over
    # several times faster than a SQLAlchemy result (same connection, same transaction).
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, (expr,))
        return frozenset(row[0] for row in cursor.fetchall())
    finally:
        cursor.close()


def unindexed(conn: Connection) -> list[int]:
    """Published activities whose approved version has no index row, or a stale one (a write
    path that did not call index_activities): the search matches these in Python, logged."""
    a = t.activities
    rows = conn.execute(
        sa.select(a.c.id).select_from(a.outerjoin(
            _DOCS, sa.and_(_DOCS.c.activity_id == a.c.id,
                           _DOCS.c.version_id == a.c.approved_version_id)))
        .where(a.c.state == cat.PUBLISHED, _DOCS.c.activity_id.is_(None)))
    return [r[0] for r in rows]
