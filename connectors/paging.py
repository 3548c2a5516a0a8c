"""Keyset paging on (modified second, offset) as a pure policy: next request, overlap, advance."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import FatalSourceError, TransientSourceError

# Rescans of one tie from start 0 allowed in one pass before we call the feed unstable.
MAX_RESCANS = 25
# Consecutive empty or short pages while `totalItems` says more remain before giving up.
MAX_SHORT_PAGES = 5

# A member's (id, modified), or None for a member without them ("broken": mapped to a failure).
Key = Callable[[Any], "tuple[str, datetime] | None"]


def fingerprint(member: Any) -> str:
    """What identifies a broken member, which has no key to de-duplicate on."""
    try:
        return json.dumps(member, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(member)


@dataclass(frozen=True, slots=True)
class Request:
    """One page to ask for: `limit` members from `start`, of the events modified from
    `modified_from` on (None: from the beginning)."""

    start: int
    limit: int
    modified_from: datetime | None


@dataclass(frozen=True, slots=True)
class Step:
    """What to do after a page: stop (`done`), and whether it was the `short`-th short page in a
    row (a pause first; the same request again when it was empty)."""

    done: bool = False
    short: int = 0


class KeysetPaging:
    """The rules of one pass, without I/O. The cursor is (last second read, ids read in it); each
    request starts at that second, and the members re-read at the start of the next page must
    be the ones already read (else positions moved and the second is read again from 0)."""

    def __init__(self, modified: datetime | None, seen: Iterable[str], *, key: Key, limit: int,
                 window: int, name: str, show: Callable[[datetime], str]) -> None:
        self.modified = modified
        self.seen: set[str] = set(seen)
        # Broken members have no key to de-duplicate on; overlapping reads must not repeat them.
        self.yielded_broken: set[str] = set()
        self.rescans = 0
        self.short_pages = 0
        self._key = key
        self._limit = limit
        self._window = window
        self._name = name
        self._show = show
        # Lower bound of the current query; it equals the cursor second except right after a
        # postal-code split, when the cursor second is complete and we go on one second later.
        self.query_from = modified
        self.start = 0  # every pass re-reads the cursor second from 0: cheap, catches late arrivals
        self.expected: list[tuple[str, ...]] | None = None  # keys the next page must begin with
        self._moved_at: int | None = None

    # ------------------------------------------------------------------ the next request

    def tie_too_large(self) -> bool:
        """The cursor second already holds more ids than offset paging can pass."""
        return self.modified is not None and len(self.seen) > self._window - self._limit

    def next_request(self) -> Request | None:
        """The page to ask for; None when the cursor second must be read by postal code first."""
        limit = min(self._limit, self._window - self.start)
        if limit >= max(1, self._limit // 2):
            return Request(self.start, limit, self.query_from)
        # The tie at the cursor second is too large for offset paging inside the window.
        if self.query_from is None or self.modified is None or self.query_from != self.modified:
            raise FatalSourceError(
                0,
                "Result window exceeded",
                f"{self._name}: more than {self._window} results without a usable "
                "modified value; cannot page further",
            )
        return None

    def second_read(self) -> None:
        """The whole cursor second was read (split by postal code): go on one second later."""
        assert self.modified is not None
        self.query_from = self.modified + timedelta(seconds=1)
        self.start, self.expected = 0, None

    # ------------------------------------------------------------------ the overlap check

    def lines_up(self, members: Sequence[Any]) -> bool:
        """The page begins with the members the previous page ended with."""
        if self.expected is None or not members:
            return True
        return [self.position_key(m) for m in members[: len(self.expected)]] == self.expected

    def rescan(self) -> None:
        """Positions moved (an event left the tie, a page was served twice, …): trusting this
        offset could skip events, so read the second again from 0, a bounded number of times."""
        self.rescans += 1
        if self.rescans > MAX_RESCANS:
            raise TransientSourceError(
                f"{self._name}: results kept shifting at modified={self._from()}; gave up "
                f"after {MAX_RESCANS} rescans from start 0"
            )
        self.start, self.expected = 0, None

    # ------------------------------------------------------------------ advancing

    def take(self, members: Sequence[Any]) -> tuple[list[Any], list[tuple[str, datetime]]]:
        """The new members in order, advancing the cursor; and the members that came before
        the cursor second (the server ignored modifiedFrom: taking them would break the
        cursor's promise; reconciliation will)."""
        records: list[Any] = []
        behind: list[tuple[str, datetime]] = []
        self._moved_at = None
        for index, member, key in self._unread(members):
            if key is None:
                records.append(member)
                continue
            sid, modified = key
            if self.modified is None or modified > self.modified:
                self.modified = modified
                self.seen = {sid}
                self._moved_at = index
                records.append(member)
            elif modified == self.modified:
                if sid not in self.seen:
                    self.seen.add(sid)
                    records.append(member)
            else:
                behind.append(key)
        return records, behind

    def take_in_second(self, members: Sequence[Any]) -> list[Any]:
        """The new members of the cursor second (a split read stays inside it)."""
        records: list[Any] = []
        for _, member, key in self._unread(members):
            if key is None:
                records.append(member)
                continue
            sid, modified = key
            # modifiedTo keeps us inside the second; anything else is the server's bug.
            if modified == self.modified and sid not in self.seen:
                self.seen.add(sid)
                records.append(member)
        return records

    def advance(self, request: Request, members: Sequence[Any], total: int | None) -> Step:
        """Move past a page that `take` has read; `total` is the source's `totalItems`."""
        received = len(members)
        short = 0
        if received < request.limit:
            if total is None or request.start + received >= total:
                return Step(done=True)
            # `totalItems` says more remain: an empty or short page in the middle is a glitch
            # of the source. Ending the pass here would report success on a partial read, so
            # ask again (after a pause) and give up loudly if it persists.
            self.short_pages += 1
            if self.short_pages > MAX_SHORT_PAGES:
                raise TransientSourceError(
                    f"{self._name}: the source kept answering short pages at "
                    f"start={request.start} (modifiedFrom={self._from(request)}) although "
                    f"totalItems={total}; the next run resumes from the stored cursor"
                )
            short = self.short_pages
            if not members:
                return Step(short=short)  # the same request again
        else:
            self.short_pages = 0
        if total is not None and request.start + received >= total:
            return Step(done=True, short=short)
        if self._moved_at is not None:
            # The cursor moved to a later second: a new query whose first positions are
            # the members we just read from that second on.
            self.query_from = self.modified
            self.rescans = 0
            consumed = received - self._moved_at
        else:
            consumed = request.start + received
        overlap = self.overlap(consumed)
        self.start = consumed - overlap
        self.expected = [self.position_key(m) for m in members[received - overlap :]] or None
        return Step(short=short)

    def overlap(self, consumed: int) -> int:
        # Re-read a few already-taken positions: if they come back unchanged we know nothing
        # shifted left (an event modified away from the tie) and no position was skipped.
        if self._limit < 2:
            return 0
        return min(consumed, max(1, self._limit // 4))

    def position_key(self, member: Any) -> tuple[str, ...]:
        key = self._key(member)
        if key is None:
            return ("broken", fingerprint(member))
        return ("event", key[0], key[1].isoformat())

    def _unread(self, members: Sequence[Any]
                ) -> Iterator[tuple[int, Any, tuple[str, datetime] | None]]:
        """Each member with its position and key, leaving out broken ones already taken."""
        for index, member in enumerate(members):
            key = self._key(member)
            if key is None:
                mark = fingerprint(member)
                if mark in self.yielded_broken:
                    continue
                self.yielded_broken.add(mark)
            yield index, member, key

    def _from(self, request: Request | None = None) -> str | None:
        moment = request.modified_from if request is not None else self.query_from
        return self._show(moment) if moment is not None else None
