"""Writing the daily history: a day's counts and totals, and publication periods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t


def replace_day(conn: sa.Connection, day: date, taken_at: datetime, totals: dict[str, int],
                counts: Sequence[dict[str, Any]]) -> None:
    """The snapshot of `day` (totals, and count rows of municipality_nis, activity_type,
    language_level, state, count) replaces an earlier one of that day."""
    c, h = t.history_counts, t.history_days
    conn.execute(c.delete().where(c.c.day == day))
    if counts:
        conn.execute(c.insert(), [{"day": day, **row} for row in counts])
    conn.execute(h.delete().where(h.c.day == day))
    conn.execute(h.insert().values(day=day, taken_at=taken_at, totals=totals))


def extend_periods(conn: sa.Connection, period_ids: Sequence[int], day: date) -> None:
    p = t.publication_periods
    if period_ids:
        conn.execute(p.update().where(p.c.id == sa.bindparam("pid")).values(last_day=day),
                     [{"pid": pid} for pid in period_ids])


def open_periods(conn: sa.Connection, activity_ids: Sequence[int], day: date) -> None:
    if activity_ids:
        conn.execute(t.publication_periods.insert(), [
            {"activity_id": a, "first_day": day, "last_day": day} for a in activity_ids])
