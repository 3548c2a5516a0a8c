"""Outbox rows for the relay and admins: claim the next message, record attempts, retry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain.events import TOPIC_EMAIL


def claim(conn: sa.Connection, now: datetime, *, max_attempts: int, tried: Sequence[int],
          skip_email: bool, mail_only: bool, skip_locked: bool) -> Any:
    """The next deliverable message (mail first, then by id), locked when the database can;
    None when there is none."""
    o = t.outbox
    q = (
        sa.select(o)
        .where(o.c.delivered_at.is_(None), o.c.attempts < max_attempts,
               o.c.available_at <= now)
        .order_by(sa.case((o.c.topic == TOPIC_EMAIL, 0), else_=1), o.c.id)
        .limit(1)
    )
    if mail_only:
        if skip_email:
            return None
        q = q.where(o.c.topic == TOPIC_EMAIL)
    if tried:
        q = q.where(o.c.id.not_in(tried))
    if skip_email:
        q = q.where(o.c.topic != TOPIC_EMAIL)
    if skip_locked:
        q = q.with_for_update(skip_locked=True)
    return conn.execute(q).one_or_none()


def update(conn: sa.Connection, outbox_id: int, **values: Any) -> None:
    """Record an attempt on one message (delivered, or failed with when to try again)."""
    conn.execute(t.outbox.update().where(t.outbox.c.id == outbox_id).values(**values))


def make_deliverable(conn: sa.Connection, ids: Sequence[int], now: datetime) -> None:
    """Undelivered messages among `ids` get a fresh attempt budget, deliverable `now`."""
    o = t.outbox
    conn.execute(o.update().where(o.c.id.in_(ids), o.c.delivered_at.is_(None))
                 .values(attempts=0, available_at=now))
