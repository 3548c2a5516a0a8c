"""Closing or re-trying sync failures: each write guards against a concurrent one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t


def close(conn: sa.Connection, failure_id: int, *, while_status: str, **values: Any) -> bool:
    """Set `values` on the failure if it still has `while_status`; whether it did."""
    f = t.sync_failures
    done = conn.execute(f.update().where(f.c.id == failure_id, f.c.status == while_status)
                        .values(**values))
    return done.rowcount == 1


def record_attempt(conn: sa.Connection, failure_id: int, attempts_before: int, *, error: str,
                   stage: str, raw_payload: str | None) -> None:
    """One more failed attempt on the same row (unless another attempt came first)."""
    f = t.sync_failures
    conn.execute(f.update().where(f.c.id == failure_id, f.c.attempts == attempts_before)
                 .values(attempts=attempts_before + 1, error=error, stage=stage,
                         raw_payload=raw_payload))


def resolve(conn: sa.Connection, failure_id: int, now: datetime, *, open_status: str,
            resolved_status: str, raw_payload: str | None, resolution: str) -> None:
    close(conn, failure_id, while_status=open_status, status=resolved_status, resolved_at=now,
          raw_payload=raw_payload, resolution=resolution)
