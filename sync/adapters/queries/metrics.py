"""The figures /metrics exposes, read in one pass: runs, items, failures, queues, outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.adapters.queries.outbox import backlog
from sync.adapters.queries.runs import last_completed_at
from sync.domain import catalogue as cat


@dataclass(frozen=True)
class Figures:
    runs: list[tuple[str, str, int]]  # source, status, count
    items: list[tuple[str, str, int]]  # source, outcome, records (skipped_<reason> per reason)
    failures_open: list[tuple[str, str, int]]  # source, stage, count
    queue_open: list[tuple[str, str, int]]  # nis, kind, count
    outbox_backlog: list[tuple[str, str, int]]  # topic, pending|dead, count
    last_completed: dict[str, datetime]


def figures(conn: sa.Connection) -> Figures:
    r, f, ri = t.sync_runs, t.sync_failures, t.review_items
    runs = [(src, status, n) for src, status, n in conn.execute(
        sa.select(r.c.source, r.c.status, sa.func.count()).group_by(r.c.source, r.c.status))]
    totals: dict[tuple[str, str], int] = {}
    for src, counts in conn.execute(sa.select(r.c.source, r.c.counts)):
        for outcome, value in (counts or {}).items():
            if isinstance(value, dict):  # skipped, per reason
                for reason, n in value.items():
                    key = (src, f"skipped_{reason}")
                    totals[key] = totals.get(key, 0) + int(n)
            else:
                totals[(src, outcome)] = totals.get((src, outcome), 0) + int(value)
    failures = [(src, stage, n) for src, stage, n in conn.execute(
        sa.select(f.c.source, f.c.stage, sa.func.count()).where(f.c.status == "open")
        .group_by(f.c.source, f.c.stage))]
    queue = [(nis, kind, n) for nis, kind, n in conn.execute(
        sa.select(ri.c.municipality_nis, ri.c.kind, sa.func.count())
        .where(ri.c.status == cat.ITEM_OPEN)
        .group_by(ri.c.municipality_nis, ri.c.kind))]
    return Figures(runs=runs, items=[(s, o, n) for (s, o), n in sorted(totals.items())],
                   failures_open=failures, queue_open=queue, outbox_backlog=backlog(conn),
                   last_completed=last_completed_at(conn))
