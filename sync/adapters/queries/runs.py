"""Reading sync runs and their failures; "completed run" is written here once (health, daemon)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain.runs import COMPLETED


def last_completed_at(conn: sa.Connection) -> dict[str, datetime]:
    """Per source, when its last completed run ended."""
    r = t.sync_runs
    rows = conn.execute(
        sa.select(r.c.source, sa.func.max(r.c.ended_at))
        .where(r.c.status.in_(COMPLETED)).group_by(r.c.source)
    )
    return {src: at for src, at in rows if at is not None}


def completed_since(conn: sa.Connection, source: str, since: datetime) -> bool:
    """Whether a run of `source` that started at or after `since` has completed."""
    r = t.sync_runs
    return conn.execute(
        sa.select(r.c.id).where(r.c.source == source, r.c.started_at >= since,
                                r.c.status.in_(COMPLETED)).limit(1)
    ).first() is not None


def ping(conn: sa.Connection) -> None:
    """Raises when the database does not answer."""
    conn.execute(sa.text("SELECT 1"))


def run(conn: sa.Connection, run_id: int) -> Any:
    """The run's row, None when unknown."""
    r = t.sync_runs
    return conn.execute(sa.select(r).where(r.c.id == run_id)).one_or_none()


def failures_per_status(conn: sa.Connection, run_id: int) -> dict[str, int]:
    f = t.sync_failures
    return {s: n for s, n in conn.execute(
        sa.select(f.c.status, sa.func.count()).where(f.c.run_id == run_id).group_by(f.c.status))}


def failure(conn: sa.Connection, failure_id: int) -> Any:
    """The failure's row (raw payload included), None when unknown."""
    f = t.sync_failures
    return conn.execute(sa.select(f).where(f.c.id == failure_id)).one_or_none()


def failure_attempt(conn: sa.Connection, failure_id: int) -> Any:
    """status, attempts and raw_payload of a failure as it stands now."""
    f = t.sync_failures
    return conn.execute(
        sa.select(f.c.status, f.c.attempts, f.c.raw_payload).where(f.c.id == failure_id)).one()


def failures_named(conn: sa.Connection, *, ids: Sequence[int] = (), run_id: int | None = None,
                   status: str | None = None, source: str | None = None) -> Sequence[Any]:
    """Failure rows by id, or of one run, or all; optionally of one status and source."""
    f = t.sync_failures
    q = sa.select(f).order_by(f.c.id)
    if ids:
        q = q.where(f.c.id.in_(set(ids)))
    if run_id is not None:
        q = q.where(f.c.run_id == run_id)
    if status is not None:
        q = q.where(f.c.status == status)
    if source is not None:
        q = q.where(f.c.source == source)
    return conn.execute(q).all()
