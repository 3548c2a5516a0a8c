"""Read rules about sync runs: "completed run" is written here once (health, the daemon)."""

from __future__ import annotations

from datetime import datetime

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
