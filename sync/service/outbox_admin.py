"""Outbox for admins: list pending, delivered and dead messages; retry them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import outbox_store
from sync.adapters.queries import outbox as q
from sync.domain.outbox import (  # noqa: F401 - the admin's names for the states
    DEAD,
    DELIVERED,
    OUTBOX_MAX_ATTEMPTS,
    PENDING,
    STATUSES,
    status_of,
)
from sync.service.errors import AdminError, NotFound

backlog = q.backlog


def _doc(row: Any) -> dict[str, Any]:
    doc = dict(row._mapping)
    doc["status"] = status_of(row.delivered_at, row.attempts)
    return doc


def _known(status: str | None) -> str | None:
    if status is not None and status not in STATUSES:
        raise AdminError(f"unknown outbox status {status!r}; use {', '.join(STATUSES)}")
    return status


def list_messages(
    conn: sa.Connection, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Messages oldest first, each with its derived status."""
    return [_doc(r) for r in q.messages(conn, _known(status), limit)]


def counts(conn: sa.Connection) -> dict[str, int]:
    return q.counts(conn)


def retry(
    conn: sa.Connection, now: datetime, ids: Sequence[int] = (), all_dead: bool = False
) -> list[int]:
    """Make undelivered messages deliverable now with a fresh attempt budget.

    `last_error` is kept so the admin still sees why it failed. Delivered messages are left
    alone (retrying them would send twice); unknown ids are an error.
    """
    if bool(ids) == all_dead:
        raise AdminError("give message ids or all dead messages, not both or neither")
    if ids:
        known = q.known_ids(conn, ids)
        missing = sorted(set(ids) - known)
        if missing:
            raise NotFound(f"no such outbox message: {', '.join(map(str, missing))}")
        chosen = q.undelivered_ids(conn, known)
    else:
        chosen = q.undelivered_ids(conn)
    if chosen:
        outbox_store.make_deliverable(conn, chosen, now)
    return chosen
