"""Reading moderation for reports: who moderates where, open queues, how long decisions took."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain import catalogue as cat

# Review item states that record a moderator's decision.
DECIDED = (cat.ITEM_APPROVED, cat.ITEM_REJECTED, cat.ITEM_CONFIRMED)


def active_moderators(conn: sa.Connection) -> dict[str, list[str]]:
    """Per municipality (NIS), the names of its active moderators, alphabetically."""
    m, mm = t.moderators, t.moderator_municipalities
    out: dict[str, list[str]] = {}
    for nis, name in conn.execute(
            sa.select(mm.c.municipality_nis, m.c.name).join(m, m.c.id == mm.c.moderator_id)
            .where(m.c.active.is_(True)).order_by(m.c.name)):
        out.setdefault(nis, []).append(name)
    return out


def open_per_municipality(conn: sa.Connection) -> dict[str, int]:
    r = t.review_items
    return {nis: n for nis, n in conn.execute(
        sa.select(r.c.municipality_nis, sa.func.count()).where(r.c.status == cat.ITEM_OPEN)
        .group_by(r.c.municipality_nis))}


def decided_spans(conn: sa.Connection) -> list[tuple[datetime, datetime]]:
    """(created, decided) of every decided review item."""
    r = t.review_items
    return [(created_at, decided_at) for created_at, decided_at in conn.execute(
        sa.select(r.c.created_at, r.c.decided_at)
        .where(r.c.status.in_(DECIDED), r.c.decided_at.is_not(None)))]


def published_in(conn: sa.Connection, nis: Sequence[str]) -> Sequence[Any]:
    """Published activities of these municipalities at their approved version, soonest first:
    rows of title, municipality_nis, next_occurrence and data."""
    a, v = t.activities, t.activity_versions
    return conn.execute(
        sa.select(a.c.title, a.c.municipality_nis, a.c.next_occurrence, v.c.data)
        .join(v, v.c.id == a.c.approved_version_id)
        .where(a.c.state == cat.PUBLISHED, a.c.municipality_nis.in_(nis))
        .order_by(a.c.next_occurrence.asc().nulls_last(), a.c.id)).all()


def decision_waits(conn: sa.Connection, nis: Sequence[str], since: datetime
                   ) -> list[tuple[datetime, datetime]]:
    """(decided, created) of the decisions on these municipalities' items since `since`; a
    decision taken back does not count (nor does its undo)."""
    r, d = t.review_items, t.decision_log
    return [(at, created) for at, created in conn.execute(
        sa.select(d.c.at, r.c.created_at).join(r, r.c.id == d.c.review_item_id)
        .where(r.c.municipality_nis.in_(nis), d.c.decision != "undo", d.c.at >= since,
               d.c.id.not_in(sa.select(d.c.undo_of_id).where(d.c.undo_of_id.is_not(None)))))]


def open_created(conn: sa.Connection, nis: Sequence[str]) -> list[datetime]:
    """When each open item of these municipalities was opened."""
    r = t.review_items
    return list(conn.execute(
        sa.select(r.c.created_at).where(r.c.status == cat.ITEM_OPEN,
                                        r.c.municipality_nis.in_(nis))).scalars())
