"""Bulk inserts (SQLite: one prepared statement; PostgreSQL: COPY) write what SQLAlchemy's own
executemany writes, value for value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from sync.adapters import tables as t
from sync.adapters.repository import _utc_of, insert_rows


def _rows(first_id: int, n: int) -> list[dict[str, Any]]:
    brussels = timezone(timedelta(hours=1))
    moments = [datetime(2026, 12, 3, 15, 4, 5, 123456, tzinfo=UTC),
               datetime(2027, 3, 28, 2, 30, tzinfo=brussels),  # another offset, no microseconds
               datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC), None]
    return [{
        "id": first_id + i, "topic": "activity.discovered",
        "payload": [{"a": i, "é": "ë\u2028"}, None, {"nested": {"n": 1.5}}][i % 3],
        "created_at": datetime(2026, 12, 3, tzinfo=UTC) + timedelta(microseconds=i),
        "available_at": moments[i % 3], "delivered_at": moments[(i + 1) % 4],
        "attempts": i % 5, "last_error": None if i % 2 else f"fout {i}",
    } for i in range(n)]


@pytest.mark.parametrize("n", [1, 40])
def test_bulk_insert_stores_what_sqlalchemy_stores(engine: sa.Engine, n: int) -> None:
    o = t.outbox
    with engine.begin() as conn:
        conn.execute(o.insert(), _rows(1, n))  # SQLAlchemy's own executemany
        insert_rows(conn, o, _rows(1001, n))  # the fast path from 16 rows on (SQLite)
        raw = sa.text(f"SELECT * FROM {o.name} ORDER BY id")  # as stored, not as read back
        stored = [dict(r._mapping) for r in conn.execute(raw)]
        typed = [dict(r._mapping) for r in conn.execute(sa.select(o).order_by(o.c.id))]
    assert len(stored) == 2 * n
    for before, after in zip(stored[:n], stored[n:], strict=True):
        assert {**before, "id": 0} == {**after, "id": 0}
    for before, after in zip(typed[:n], typed[n:], strict=True):
        assert {**before, "id": 0} == {**after, "id": 0}
    if n > 1:
        assert typed[n + 1]["available_at"] == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_bulk_insert_refuses_a_naive_time(engine: sa.Engine) -> None:
    rows = _rows(1, 20)
    rows[7]["created_at"] = datetime(2026, 12, 3)
    with engine.begin() as conn, pytest.raises(Exception, match="naive datetime"):
        insert_rows(conn, t.outbox, rows)


def test_times_read_back_by_the_driver_are_utc() -> None:
    """`_utc_of` reads what the driver returns for a UTC column: SQLite's naive text (with
    or without its microseconds), PostgreSQL's naive datetime; text that carries an offset
    of its own (written by hand) is read as the column type reads it."""
    expected = datetime(2026, 11, 20, 10, 0, 0, 250000, tzinfo=UTC)
    assert _utc_of("2026-11-20 10:00:00.250000") == expected
    assert _utc_of("2026-11-20 10:00:00") == expected.replace(microsecond=0)
    assert _utc_of(datetime(2026, 11, 20, 10, 0, 0, 250000)) == expected
    assert _utc_of("2026-11-20 10:00:00.250000+00:00") == expected
    assert _utc_of(None) is None
    assert _utc_of("2026-11-20 10:00:00").tzinfo is UTC
