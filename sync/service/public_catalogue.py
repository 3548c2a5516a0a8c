"""The public catalogue in memory: what filters and ordering need, refreshed when it changes."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from sync.adapters import search_index
from sync.adapters.queries import catalogue as catalogue_rows
from sync.domain.activity import AUDIENCE_EVERYONE, AUDIENCE_MEMBERS, Calendar
from sync.domain.calendar import Upcoming, calendar_of, next_occurrence
from sync.domain.search_text import words
from sync.domain.visibility import visible_from, visible_until

log = structlog.get_logger()

Key = tuple[int, int]  # (activity id, approved version id)
Span = tuple[datetime | None, datetime | None]
FAR = datetime.max.replace(tzinfo=UTC)
PARSED_KEPT = 2000  # full activities kept for pages (~20 kB each); the facts of all always
# Nothing ahead now may mean "not within the opening-hours search window yet": look again.
NOTHING_AHEAD_RECHECK = timedelta(hours=1)
# Another process's change (a CLI approval, a separate sync) shows within this long; this
# process's own writes at once (search_index.local_writes).
RECHECK_SECONDS = 0.25
RESULTS_KEPT = 256  # searches remembered (words and filters, at one stamp and minute)
# Index matches per word, at one stamp: a common word ("samen", "nederlands") matches most of
# the catalogue and costs the index several milliseconds; people search the same few words.
# At most ~10 000 ids (~0.5 MB) each.
WORDS_KEPT = 128


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
class _Availability:
    calendar: Calendar
    available_from: str | None
    available_to: str | None
    event_type_id: str | None


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

    def __init__(self, spans: Callable[[Calendar], list[Span]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._spans = spans
        self._clock = clock
        self._checked: tuple[float, int] = (float("-inf"), -1)  # (when, local writes then)
        self._lock = threading.Lock()
        self._facts: dict[Key, Facts] = {}
        self._snapshot: Snapshot | None = None
        self._ordered: tuple[tuple[Any, ...], datetime, list[Facts], dict[int, int]] | None = None
        self._order_lock = threading.Lock()
        # (computed at, valid until, next moment) per version: the next moment to turn up
        # stays the same until it ends, so ordering recomputes only the ones that ended.
        self._next: dict[Key, tuple[datetime, datetime, Upcoming | None]] = {}
        self._parsed = _Lru(PARSED_KEPT)
        # Per audience (members too or not): (stamp, made at, valid until, ids shown).
        self._public: dict[bool, tuple[tuple[Any, ...], datetime, datetime, frozenset[int]]] = {}
        self.results = _Lru(RESULTS_KEPT)
        self.words = _Lru(WORDS_KEPT)
        # What the pages and the API make of a version at a minute (dates in words, JSON).
        self.views = _Lru(PARSED_KEPT)

    def snapshot(self, conn: sa.Connection) -> Snapshot:
        current = self._snapshot
        at, writes = self._clock(), search_index.local_writes()
        if (current is not None and writes == self._checked[1]
                and at - self._checked[0] < RECHECK_SECONDS):
            return current
        self._checked = (at, writes)
        stamp = catalogue_rows.published_stamp(conn)
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
        keys = catalogue_rows.published_keys(conn)
        # By version id: on PostgreSQL each statement sees the latest commits, and an approval
        # between the two must not pair an activity with another version's data.
        missing = [k[1] for k in keys if k not in self._facts]
        for aid, vid, data in catalogue_rows.version_data(conn, missing):
            self._facts[(aid, vid)] = self._facts_of(aid, vid, data)
        wanted = set(keys)
        for gone in [k for k in self._facts if k not in wanted]:
            del self._facts[gone]
            self._next.pop(gone, None)
        facts = {k[0]: self._facts[k] for k in keys if k in self._facts}
        unindexed: dict[int, list[str]] = {}
        stale = search_index.unindexed(conn)
        if stale:
            log.warning("search index: published activities without an index row",
                        count=len(stale), first=stale[:5])
            for aid, data in catalogue_rows.approved_data(conn, stale):
                unindexed[aid] = words(search_index.text_of(data))
        return Snapshot(stamp, facts, unindexed)

    def _facts_of(self, activity_id: int, version_id: int, data: dict[str, Any]) -> Facts:
        # Only the calendar is rebuilt as objects: the whole activity costs five times more,
        # and 10 000 of them are read when a server starts.
        calendar = calendar_of(data) or Calendar(type="permanent")
        avail = _Availability(calendar, data.get("available_from"), data.get("available_to"),
                              data.get("event_type_id"))
        levels = data.get("language_levels") or ()
        return Facts(
            activity_id, version_id, (data.get("place") or {}).get("nis") or "",
            frozenset(data.get("activity_types") or ()), min(levels) if levels else None,
            visible_from(avail), visible_until(avail), data.get("audience") or AUDIENCE_EVERYONE,
            tuple(self._spans(calendar)), calendar)

    def ordered(self, snap: Snapshot, now: datetime) -> tuple[list[Facts], dict[int, int]]:
        """Every published activity, soonest first at `now` to the minute (an order that
        shifts within a minute only among dates starting that minute), and each id's rank."""
        minute = now.replace(second=0, microsecond=0)
        done = self._ordered
        if done is not None and done[0] == snap.stamp and done[1] == minute:
            return done[2], done[3]
        with self._order_lock:  # one thread sorts; the others wait for its answer
            done = self._ordered
            if done is not None and done[0] == snap.stamp and done[1] == minute:
                return done[2], done[3]

            def order(f: Facts) -> tuple[bool, datetime, int]:
                nxt = self.next_up(f, minute)
                key = nxt.sort_key(minute) if nxt is not None else None
                return (key is None, key or FAR, f.id)

            result = sorted(snap.facts.values(), key=order)
            rank = {f.id: n for n, f in enumerate(result)}
            self._ordered = (snap.stamp, minute, result, rank)
            return result, rank

    def next_up(self, f: Facts, at: datetime) -> Upcoming | None:
        """calendar.next_occurrence(f.calendar, at), remembered while it cannot change."""
        key = (f.id, f.version_id)
        memo = self._next.get(key)
        if memo is not None and memo[0] <= at < memo[1]:
            return memo[2]
        nxt = next_occurrence(f.calendar, at)
        if nxt is None:
            until = at + NOTHING_AHEAD_RECHECK
        else:  # over at its end at the earliest (calendar.occurrence_over)
            until = nxt.end if nxt.end is not None and nxt.end > nxt.start else nxt.start
        self._next[key] = (at, until, nxt)
        return nxt

    def public_ids(self, snap: Snapshot, now: datetime, include_members_only: bool
                   ) -> tuple[frozenset[int], datetime]:
        """The ids shown at `now` (Facts.is_public), and when that answer was made: it holds
        until the first published activity arrives or leaves by its dates, for every search
        until then (one pass over the set, not one per search over its candidates)."""
        done = self._public.get(include_members_only)
        if done is not None and done[0] == snap.stamp and done[1] <= now < done[2]:
            return done[3], done[1]
        facts = snap.facts.values()
        ids = frozenset(x.id for x in facts if x.is_public(now, include_members_only))
        leaves = min((at for at in (x.shown_until for x in facts) if at is not None and at > now),
                     default=FAR)
        arrives = min((at for at in (x.shown_from for x in facts) if at is not None and at > now),
                      default=FAR)
        until = min(leaves, arrives)
        self._public[include_members_only] = (snap.stamp, now, until, ids)
        return ids, now

    def parsed(self, key: Key) -> Any:
        """A parsed full activity by (id, version), or None: versions never change."""
        return self._parsed.get(key)

    def keep_parsed(self, key: Key, value: Any) -> None:
        self._parsed.put(key, value)


class _Lru:
    """A small least-recently-used map; losing an entry to a race only costs a recompute."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        found = self._items.get(key)
        if found is not None:
            with suppress(KeyError):  # another thread dropped it meanwhile
                self._items.move_to_end(key)
        return found

    def put(self, key: Any, value: Any) -> None:
        self._items[key] = value
        while len(self._items) > self.size:
            try:
                self._items.popitem(last=False)
            except KeyError:
                break
