"""Reading the coverage measurements and the outreach lists, as stored per day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t


def counts(conn: sa.Connection, lo: date | None = None, hi: date | None = None
           ) -> Sequence[Any]:
    """Stored per-municipality counts between `lo` and `hi`, by day then NIS."""
    c = t.coverage_counts
    query = sa.select(c).order_by(c.c.day, c.c.municipality_nis)
    if lo is not None:
        query = query.where(c.c.day >= lo)
    if hi is not None:
        query = query.where(c.c.day <= hi)
    return conn.execute(query).all()


def latest_outreach_day(conn: sa.Connection, until: date | None = None) -> date | None:
    o = t.outreach_organizers
    query = sa.select(sa.func.max(o.c.day))
    if until is not None:
        query = query.where(o.c.day <= until)
    return conn.execute(query).scalar()


def outreach(conn: sa.Connection, day: date) -> Sequence[Any]:
    """The organisers listed on `day`, most upcoming events first."""
    o = t.outreach_organizers
    return conn.execute(sa.select(o).where(o.c.day == day)
                        .order_by(o.c.upcoming_events.desc(), o.c.name, o.c.organizer_id)).all()
