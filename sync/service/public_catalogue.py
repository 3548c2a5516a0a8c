"""The public catalogue in memory: what filters and ordering need, refreshed when it changes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog

from sync.adapters import search_index
from sync.adapters import tables as t
from sync.domain import catalogue as cat
from sync.domain.activity import AUDIENCE_EVERYONE, AUDIENCE_MEMBERS, Calendar, NormalisedActivity
from sync.domain.calendar import next_occurrence
from sync.domain.search_text import words
from sync.domain.visibility import visible_from, visible_until

log = structlog.get_logger()

Key = tuple[int, int]  # (activity id, approved version id)
Span = tuple[datetime | None, datetime | None]
FAR = datetime.max.replace(tzinfo=UTC)
CHUNK = 500
PARSED_KEPT = 4000  # full activities kept for pages; the facts of all are always kept


@dataclass(frozen=True, slots=True)
class Facts:
    """What filtering and ordering need of one published activity's approved version."""

    id: int
    version_id: int
    nis: str
    types: frozenset[str]
    lowest_level: int | None
    shown_from: datetime | None
    shown_until: datetime | None
    audience: str
    spans: tuple[Span, ...]
    calendar: Calendar

    def is_public(self, now: datetime, include_members_only: bool) -> bool:
        """visibility.visibility() == PUBLIC, from facts computed once per version."""
        if self.shown_until is not None and self.shown_until <= now:
            return False
        if self.shown_from is not None and now < self.shown_from:
            return False
        if self.audience == AUDIENCE_MEMBERS:
            return include_members_only
        return self.audience == AUDIENCE_EVERYONE


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The published set at one stamp: facts in id order and the unindexed ones' words."""

    stamp: tuple[Any, ...]
    facts: dict[int, Facts]
    unindexed: dict[int, list[str]]


class PublicCatalogue:
    """One per process (App.catalogue). Every search asks the database one cheap question
    (which published set: count, sums, newest change); only when the answer changes does it
    read which versions are published, and it parses only versions it has not seen before."""

    def __init__(self, spans: Callable[[NormalisedActivity], list[Span]]) -> None:
        self._spans = spans
        self._lock = threading.Lock()
        self._facts: dict[Key, Facts] = {}
        self._snapshot: Snapshot | None = None
        self._ordered: tuple[tuple[Any, ...], datetime, list[Facts]] | None = None
        self._parsed: OrderedDict[Key, Any] = OrderedDict()

    def snapshot(self, conn: sa.Connection) -> Snapshot:
        a = t.activities
        # Versions only get newer ids, so an approval changes the sum even when the clock
        # did not move (frozen in tests, equal to the microsecond in life).
        stamp = tuple(conn.execute(
            sa.select(sa.func.count(), sa.func.sum(a.c.approved_version_id),
                      sa.func.sum(a.c.id), sa.func.max(a.c.updated_at))
            .where(a.c.state == cat.PUBLISHED)).one())
        current = self._snapshot
        if current is not None and current.stamp == stamp:
            return current
        with self._lock:
            current = self._snapshot
            if current is not None and current.stamp == stamp:
                return current
            fresh = self._read(conn, stamp)
            self._snapshot = fresh
            return fresh

    def _read(self, conn: sa.Connection, stamp: tuple[Any, ...]) -> Snapshot:
        a, v = t.activities, t.activity_versions
        keys = [(r[0], r[1]) for r in conn.execute(
            sa.select(a.c.id, a.c.approved_version_id)
            .where(a.c.state == cat.PUBLISHED, a.c.approved_version_id.is_not(None))
            .order_by(a.c.id))]
        missing = [k[0] for k in keys if k not in self._facts]
        for start in range(0, len(missing), CHUNK):
            for r in conn.execute(
                    sa.select(a.c.id, v.c.id, v.c.data).join(v, v.c.id == a.c.approved_version_id)
                    .where(a.c.id.in_(missing[start:start + CHUNK]))):
                self._facts[(r[0], r[1])] = self._facts_of(r[0], r[1], dict(r[2]))
        wanted = set(keys)
        for gone in [k for k in self._facts if k not in wanted]:
            del self._facts[gone]
        facts = {k[0]: self._facts[k] for k in keys}
        unindexed: dict[int, list[str]] = {}
        stale = search_index.unindexed(conn)
        if stale:
            log.warning("search index: published activities without an index row",
                        count=len(stale), first=stale[:5])
            for row in conn.execute(sa.select(a.c.id, v.c.data)
                                    .join(v, v.c.id == a.c.approved_version_id)
                                    .where(a.c.id.in_(stale[:CHUNK * 10]))):
                unindexed[row[0]] = words(search_index.text_of(dict(row[1])))
        return Snapshot(stamp, facts, unindexed)

    def _facts_of(self, activity_id: int, version_id: int, data: dict[str, Any]) -> Facts:
        act = NormalisedActivity.from_dict(data)
        return Facts(
            activity_id, version_id, act.place.nis, frozenset(act.activity_types),
            act.lowest_level if act.language_levels else None,
            visible_from(act), visible_until(act), act.audience,
            tuple(self._spans(act)), act.calendar)

    def ordered(self, snap: Snapshot, now: datetime) -> list[Facts]:
        """Every published activity, soonest first at `now` to the minute (an order that
        shifts within a minute only among dates starting that minute)."""
        minute = now.replace(second=0, microsecond=0)
        done = self._ordered
        if done is not None and done[0] == snap.stamp and done[1] == minute:
            return done[2]

        def order(f: Facts) -> tuple[bool, datetime, int]:
            nxt = next_occurrence(f.calendar, minute)
            key = nxt.sort_key(minute) if nxt is not None else None
            return (key is None, key or FAR, f.id)

        result = sorted(snap.facts.values(), key=order)
        self._ordered = (snap.stamp, minute, result)
        return result

    def parsed(self, key: Key, make: Callable[[], Any]) -> Any:
        """A parsed full activity by (id, version): versions never change, so it stays valid."""
        found = self._parsed.get(key)
        if found is None:
            found = make()
            self._parsed[key] = found
            while len(self._parsed) > PARSED_KEPT:
                self._parsed.popitem(last=False)
        return found
