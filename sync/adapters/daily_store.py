"""Tables that hold one set of rows per day (coverage, outreach): a day's rows replace earlier
ones of that day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t


def _replace(conn: sa.Connection, table: sa.Table, day: date,
             rows: Sequence[dict[str, Any]]) -> None:
    conn.execute(table.delete().where(table.c.day == day))
    if rows:
        conn.execute(table.insert(), [{"day": day, **row} for row in rows])


def replace_coverage(conn: sa.Connection, day: date, rows: Sequence[dict[str, Any]]) -> None:
    """Counts per municipality: municipality_nis, upcoming_events, with_taalicoon, measured_at."""
    _replace(conn, t.coverage_counts, day, rows)


def replace_outreach(conn: sa.Connection, day: date, rows: Sequence[dict[str, Any]]) -> None:
    """Organisers without a taalicoon: organizer_id, name, upcoming_events, municipalities,
    contact, measured_at."""
    _replace(conn, t.outreach_organizers, day, rows)
