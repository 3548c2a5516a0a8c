"""Reading the outbox: messages by state, counts, the undelivered backlog per topic."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain.outbox import DEAD, DELIVERED, OUTBOX_MAX_ATTEMPTS, PENDING, STATUSES


def gave_up() -> sa.ColumnElement[bool]:
    """The relay gave up on a message: the one home of "dead" (with delivered_at null)."""
    return t.outbox.c.attempts >= OUTBOX_MAX_ATTEMPTS


def in_status(status: str) -> sa.ColumnElement[bool]:
    o = t.outbox
    if status == DELIVERED:
        return o.c.delivered_at.is_not(None)
    if status == DEAD:
        return sa.and_(o.c.delivered_at.is_(None), gave_up())
    if status == PENDING:
        return sa.and_(o.c.delivered_at.is_(None), sa.not_(gave_up()))
    raise ValueError(f"unknown outbox status {status!r}")


def backlog(conn: sa.Connection) -> list[tuple[str, str, int]]:
    """Undelivered messages per topic and state (pending or dead)."""
    o = t.outbox
    state = sa.case((gave_up(), DEAD), else_=PENDING)
    return [(topic, st, n) for topic, st, n in conn.execute(
        sa.select(o.c.topic, state, sa.func.count()).where(o.c.delivered_at.is_(None))
        .group_by(o.c.topic, state))]


def messages(conn: sa.Connection, status: str | None, limit: int) -> list[Any]:
    """Message rows oldest first, optionally of one state."""
    o = t.outbox
    q = sa.select(o).order_by(o.c.id).limit(limit)
    if status is not None:
        q = q.where(in_status(status))
    return list(conn.execute(q))


def counts(conn: sa.Connection) -> dict[str, int]:
    """Messages per state."""
    return {
        s: conn.execute(
            sa.select(sa.func.count()).select_from(t.outbox).where(in_status(s))
        ).scalar_one()
        for s in STATUSES
    }


def known_ids(conn: sa.Connection, ids: Iterable[int]) -> set[int]:
    o = t.outbox
    return set(conn.execute(sa.select(o.c.id).where(o.c.id.in_(set(ids)))).scalars())


def undelivered_ids(conn: sa.Connection, ids: Iterable[int] | None = None) -> list[int]:
    """Undelivered messages among `ids`, or every dead one when `ids` is None; in id order."""
    o = t.outbox
    where = (in_status(DEAD) if ids is None
             else sa.and_(o.c.id.in_(set(ids)), o.c.delivered_at.is_(None)))
    return sorted(conn.execute(sa.select(o.c.id).where(where)).scalars())
