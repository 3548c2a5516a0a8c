"""Outbox for admins: list pending, delivered and dead messages; retry them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.service.errors import AdminError, NotFound

# After this many failed deliveries the relay stops trying: the message is dead until retried.
OUTBOX_MAX_ATTEMPTS = 8

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
STATUSES = (PENDING, DELIVERED, DEAD)


def gave_up() -> sa.ColumnElement[bool]:
    """The relay gave up on a message: the one home of "dead" (with delivered_at null)."""
    return t.outbox.c.attempts >= OUTBOX_MAX_ATTEMPTS


def backlog(conn: sa.Connection) -> list[tuple[str, str, int]]:
    """Undelivered messages per topic and state (pending or dead)."""
    o = t.outbox
    state = sa.case((gave_up(), DEAD), else_=PENDING)
    return [(topic, st, n) for topic, st, n in conn.execute(
        sa.select(o.c.topic, state, sa.func.count()).where(o.c.delivered_at.is_(None))
        .group_by(o.c.topic, state))]


def _status_clause(status: str) -> sa.ColumnElement[bool]:
    o = t.outbox
    if status == DELIVERED:
        return o.c.delivered_at.is_not(None)
    if status == DEAD:
        return sa.and_(o.c.delivered_at.is_(None), gave_up())
    if status == PENDING:
        return sa.and_(o.c.delivered_at.is_(None), sa.not_(gave_up()))
    raise AdminError(f"unknown outbox status {status!r}; use {', '.join(STATUSES)}")


def status_of(row: Any) -> str:
    if row.delivered_at is not None:
        return DELIVERED
    return DEAD if row.attempts >= OUTBOX_MAX_ATTEMPTS else PENDING  # as gave_up(), per row


def _doc(row: Any) -> dict[str, Any]:
    doc = dict(row._mapping)
    doc["status"] = status_of(row)
    return doc


def list_messages(
    conn: sa.Connection, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Messages oldest first, each with its derived status."""
    o = t.outbox
    q = sa.select(o).order_by(o.c.id).limit(limit)
    if status is not None:
        q = q.where(_status_clause(status))
    return [_doc(r) for r in conn.execute(q)]


def counts(conn: sa.Connection) -> dict[str, int]:
    return {
        s: conn.execute(
            sa.select(sa.func.count()).select_from(t.outbox).where(_status_clause(s))
        ).scalar_one()
        for s in STATUSES
    }


def retry(
    conn: sa.Connection, now: datetime, ids: Sequence[int] = (), all_dead: bool = False
) -> list[int]:
    """Make undelivered messages deliverable now with a fresh attempt budget.

    `last_error` is kept so the admin still sees why it failed. Delivered messages are left
    alone (retrying them would send twice); unknown ids are an error.
    """
    if bool(ids) == all_dead:
        raise AdminError("give message ids or all dead messages, not both or neither")
    o = t.outbox
    if ids:
        known = set(conn.execute(sa.select(o.c.id).where(o.c.id.in_(set(ids)))).scalars())
        missing = sorted(set(ids) - known)
        if missing:
            raise NotFound(f"no such outbox message: {', '.join(map(str, missing))}")
        where = sa.and_(o.c.id.in_(known), o.c.delivered_at.is_(None))
    else:
        where = _status_clause(DEAD)
    chosen = sorted(conn.execute(sa.select(o.c.id).where(where)).scalars())
    if chosen:
        conn.execute(o.update().where(o.c.id.in_(chosen), o.c.delivered_at.is_(None))
                     .values(attempts=0, available_at=now))
    return chosen
