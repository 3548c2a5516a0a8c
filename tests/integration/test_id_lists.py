"""Lists of ids in one parameter (`_among`): the rows `IN (...)` with placeholders would find,
on both databases, for the list sizes a page asks about and for odd strings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from sync.adapters import tables as t
from sync.adapters.repository import _among

TOPICS = ["activity.discovered", "it's \"quoted\"", "café ëé", "emoji 🎉", "line\u2028sep",
          "back\\slash", "", "%_ like", "null", "NULL", "a,b {c}", " spaced ", "tab\there"]


@pytest.fixture
def rows(engine: sa.Engine) -> sa.Engine:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(t.outbox.insert(), [
            {"id": 100 + i, "topic": TOPICS[i % len(TOPICS)], "payload": {}, "created_at": now,
             "available_at": now, "attempts": 0} for i in range(60)])
    return engine


@pytest.mark.parametrize("size", [1, 31, 32, 2000, 2500])
def test_ids_as_one_parameter_find_what_placeholders_find(rows: sa.Engine, size: int) -> None:
    o = t.outbox
    wanted = [90 + 3 * i for i in range(size)]  # some below, some among, most beyond the rows
    with rows.connect() as conn:
        got = {r[0] for r in conn.execute(sa.select(o.c.id).where(_among(conn, o.c.id, wanted)))}
    assert got == {i for i in range(100, 160) if i in set(wanted)}


@pytest.mark.parametrize("extra", [0, 40, 2000])
def test_strings_as_one_parameter_match_exactly(rows: sa.Engine, extra: int) -> None:
    o = t.outbox
    asked = [*TOPICS[1:], "café", "CAFÉ ËÉ", "activity.%", *(f"x-{i}" for i in range(extra))]
    with rows.connect() as conn:
        got = {r[0] for r in conn.execute(
            sa.select(o.c.topic).where(_among(conn, o.c.topic, asked)))}
    assert got == set(TOPICS[1:])


def test_a_longer_value_does_not_match_the_stored_one_it_begins_with(engine: sa.Engine) -> None:
    a = t.activities
    now = datetime(2026, 12, 3, tzinfo=UTC)
    stored = "x" * a.c.source_id.type.length  # as long as the column holds
    with engine.begin() as conn:
        conn.execute(a.insert(), [{
            "id": 1, "source": "s", "source_id": stored, "state": "pending",
            "municipality_nis": "33011", "title": "t", "content_hash": "h", "created_at": now,
            "updated_at": now}])
        asked = [stored + "y", *(f"id-{i}" for i in range(40))]
        assert conn.execute(sa.select(a.c.id).where(_among(conn, a.c.source_id, asked))).all() == []
        assert conn.execute(sa.select(a.c.id).where(
            _among(conn, a.c.source_id, [*asked, stored]))).scalars().all() == [1]
