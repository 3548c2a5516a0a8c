"""The sync handler: pages from a connector into the catalogue, one commit per page."""

from __future__ import annotations

import gc
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import (
    Connector,
    ConnectorError,
    Cursor,
    Page,
    UnreadablePage,
    source_id_of,
)
from connectors.documents import canonical_bytes, canonical_many, canonical_text, fingerprint_of
from sync.adapters.repository import NewVersion
from sync.domain import catalogue as cat
from sync.domain.activity import (
    MappingError,
    MappingOutcome,
    NormalisedActivity,
    Skipped,
    encoded,
    hash_of,
)
from sync.domain.calendar import parse
from sync.domain.catalogue import Provenance
from sync.domain.events import ActivityChanged, ActivityDiscovered, ActivityWithdrawn
from sync.domain.region import Region
from sync.domain.runs import STAGE_FETCH, STAGE_MAP, STAGE_STORE, RunCounts, final_status
from sync.domain.visibility import is_expired, visible_until
from sync.service.expiry import expire_and_refresh
from sync.service.mapping_pool import Handed, MappingPool
from sync.service.mapping_worker import ERROR, NEW, SKIP
from sync.service.unit_of_work import UnitOfWork

log = structlog.get_logger()

Mapper = Callable[[Any, Region, datetime], MappingOutcome]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int
    status: str
    counts: RunCounts
    error: str | None


def raw_source_id(raw: Any) -> str | None:
    """Best-effort id of a raw record, for a failure row; never raises."""
    sid = source_id_of(raw.get("@id")) if isinstance(raw, dict) else None
    return sid[:128] if sid else None


def _canonical(records: list[Any]) -> list[bytes]:
    """The records' canonical bytes: in one call when orjson writes them all."""
    try:
        return canonical_many(records)
    except orjson.JSONEncodeError:
        return [canonical_bytes(raw) for raw in records]


def fingerprint(raw_text: str) -> str:
    """The fingerprint of a raw document's `canonical_text`."""
    return fingerprint_of(raw_text.encode("utf-8", "surrogatepass"))


STOPPED = "stopped: the daemon is shutting down; the next run resumes here"

# While pages bring few new documents (a re-read), the catalogue is asked which documents of
# a page are new (for the mapping workers) only every this many pages.
_ASK_AGAIN = 8

# A record handed to `apply` without its raw document (tests, admin tools): nothing stored.
NO_RAW: Any = object()



@dataclass(frozen=True, slots=True)
class Parked:
    """A new document of a page, kept as its canonical bytes once the workers have it or the
    sync mapped it: it is rarely needed as a dict again (a worker failed, a redo after a
    storage error), and two pages of parsed documents were most of a run's memory. Only for
    strict-JSON pages, whose bytes read back as the document itself."""

    source_id: str
    blob: bytes


def _loaded(raw: Any) -> Any:
    """The document itself, read back from its bytes if it was parked."""
    return orjson.loads(raw.blob) if type(raw) is Parked else raw


def _id_of(raw: Any) -> str | None:
    return raw.source_id if type(raw) is Parked else raw_source_id(raw)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A page's head start: what the workers map of it, and its documents' fingerprints."""

    handed: Handed | None = None
    fingerprints: list[str] | None = None


class SyncService:
    """Applies mapped records to the catalogue; shared by sync and replay."""

    def __init__(self, source: str, region: Region, mapper: Mapper, clock: Clock, *,
                 mapping_version: str | None = None,
                 review_diff: Callable[[dict[str, Any], dict[str, Any]], list[Any]]
                 | None = None, pool: MappingPool | None = None) -> None:
        self.source = source
        self.region = region
        self.mapper = mapper
        self.clock = clock
        self.mapping_version = mapping_version
        # What a moderator sees differ between two versions (`review_view.diff`): when the
        # source did not change and this is empty, a new mapping's version goes in quietly.
        self.review_diff = review_diff
        # Worker processes for the new documents of large pages (None: all mapped here).
        self.pool = pool
        # New activities the last stored page created (None: none stored yet), and pages
        # read since the catalogue was last asked which documents are new.
        self._created_last: int | None = None
        self._unasked = 0

    def prepare(self, uow_factory: Callable[[], UnitOfWork], page: Page) -> Prepared:
        """What the reading thread does for a page while the one before is stored: its
        documents' fingerprints (sha256 lets go of the GIL for a document this size, so they
        are made beside the storing) and the hand-over of its new documents."""
        prints = (None if page.canonical is None
                  else [fingerprint_of(blob) for blob in page.canonical])
        handed = self.hand_over(uow_factory, page)
        if handed is not None and page.canonical is not None and page.reencodable:
            # The workers map these from their bytes: the page need not hold them parsed.
            for i in handed.indices:
                sid = raw_source_id(page.records[i])
                if sid is not None:
                    page.records[i] = Parked(sid, page.canonical[i])
        return Prepared(handed, prints)

    def hand_over(self, uow_factory: Callable[[], UnitOfWork], page: Page) -> Handed | None:
        """Send the page's documents new to the catalogue to the workers, to be mapped while
        the page before is stored. Only a guess: `process_page` checks again and maps here
        whatever the catalogue knows by then."""
        pool = self.pool
        if pool is None or not page.reencodable or len(page.records) < pool.min_documents:
            return None
        self._unasked += 1
        if (self._created_last is not None and self._created_last < pool.min_documents
                and self._unasked < _ASK_AGAIN):
            return None  # a re-read: asking the catalogue would cost more than it finds
        self._unasked = 0
        try:
            return self._hand_over(uow_factory, page, pool)
        except SQLAlchemyError as exc:
            # Only a head start: the sync maps the page itself (and meets the error there).
            log.warning("mapping workers skipped a page", error=f"{type(exc).__name__}: {exc}")
            return None

    def _hand_over(self, uow_factory: Callable[[], UnitOfWork], page: Page,
                   pool: MappingPool) -> Handed | None:
        ids = [raw_source_id(raw) for raw in page.records]
        present = [sid for sid in ids if sid]
        with uow_factory().read_only() as uow:
            known = uow.catalogue.known_ids(self.source, present)
            if self.mapping_version is not None and len(present) - len(known) >= \
                    pool.min_documents:
                known |= set(uow.catalogue.skipped_fingerprints(
                    self.source, [sid for sid in present if sid not in known],
                    self.mapping_version))
        twice = {sid for sid, n in Counter(ids).items() if n > 1}
        new = [i for i, sid in enumerate(ids) if sid and sid not in known and sid not in twice]
        if len(new) < pool.min_documents:
            return None
        return pool.hand(page.records, new, self.clock(), page.canonical)

    def provenance(self, raw: Any, act: NormalisedActivity,
                   text: str | None = None) -> Provenance:
        if raw is NO_RAW:
            return Provenance(visible_until=visible_until(act))
        if text is None:
            text = canonical_text(raw)
        return Provenance(text, fingerprint(text), self.mapping_version, visible_until(act))

    def new_activity(self, raw: Any, act: NormalisedActivity, text: str) -> cat.NewActivity:
        """What the batched insert needs of an activity new to the catalogue: its JSON as
        text (as a worker hands it back), not its objects, while the page waits."""
        data = act.to_dict()
        return cat.NewActivity.of(act, encoded(data), hash_of(data),
                                  self.provenance(raw, act, text))

    def unchanged(self, entry: cat.CatalogueEntry, raw_fingerprint: str, now: datetime) -> bool:
        """The stored activity is what mapping this document now would give: same document,
        same mapping, and no date passed that would move its next occurrence or end it."""
        if (self.mapping_version is None or entry.mapping_version != self.mapping_version
                or entry.raw_fingerprint != raw_fingerprint):
            return False
        # What `cat.decide` would make of the same content: it keeps every state as it is
        # (an expired activity stays expired: most of a catalogue with years of history),
        # except a withdrawn one, which mapping may bring back, and a visible one whose time
        # is up, which it takes out of the catalogue.
        if entry.state == cat.WITHDRAWN:
            return False
        if (entry.state in (cat.PENDING, cat.PUBLISHED) and entry.visible_until is not None
                and entry.visible_until <= now):
            return False
        if entry.next_occurrence is None:
            return True
        if entry.next_occurrence_over is not None:
            return entry.next_occurrence_over > now
        # Not known when it is over (written before it was kept): once it began.
        return datetime.fromisoformat(entry.next_occurrence) > now

    def process_page(
        self, uow: UnitOfWork, records: list[Any], run_id: int, counts: RunCounts,
        *, savepoints: bool, handed: Handed | None = None,
        canonical: Sequence[bytes] | None = None, fingerprints: Sequence[str] | None = None,
        parkable: bool = False,
    ) -> None:
        """Map and store a page of records in the caller's transaction.

        Without savepoints a storage error aborts the whole page (the caller then redoes it
        with savepoints, so that only the bad record fails); with them each record is alone.
        `handed`: what workers mapped of the page (as of their moment, which is then `now`).
        `canonical`: the records' canonical bytes, when the connector made them, and
        `fingerprints` theirs (`prepare` made them while the page before was stored).
        `parkable`: the canonical bytes read back as the documents (a strict-JSON page).
        """
        premapped = {} if handed is None or savepoints else handed.results()
        now = self.clock() if handed is None else handed.as_of
        # One serialisation per document (the connector's, when it made them): its fingerprint
        # decides whether it is mapped at all, and the same text is stored with the activity
        # (made a str only then: most documents of a re-read need their fingerprint alone).
        blobs = list(canonical) if canonical is not None else _canonical(records)
        prints = (fingerprints if fingerprints is not None and canonical is not None
                  else [fingerprint_of(blob) for blob in blobs])
        ids = [_id_of(raw) for raw in records]
        # One query for the page instead of one per record.
        entries = uow.catalogue.entries(self.source, [sid for sid in ids if sid])
        # Documents this mapping left out when it last read them (a skip depends on the
        # document alone, never on the date).
        skips = ({} if self.mapping_version is None else uow.catalogue.skipped_fingerprints(
            self.source, [sid for sid in ids if sid and sid not in entries],
            self.mapping_version))
        twice = {sid for sid, n in Counter(ids).items() if n > 1}
        outcomes: list[tuple[Any, MappingOutcome | cat.NewActivity, str]] = []
        for i, (raw, blob, sid) in enumerate(zip(records, blobs, ids, strict=True)):
            counts.fetched += 1
            once = sid if sid is not None and sid not in twice else None  # read once here
            entry = entries.get(once) if once else None
            if entry is not None and self.unchanged(entry, prints[i], now):
                counts.unchanged += 1  # a re-read of a document we mapped already
                continue
            skip = skips.get(once) if once and entry is None else None
            if skip is not None and skip[0] == prints[i]:
                counts.skip(skip[1])  # a re-read of a document we left out already
                continue
            text = blob.decode("utf-8", "surrogatepass")
            done = premapped.get(i) if once and entry is None else None
            if done is not None and done[0] == NEW and done[1].source_id == sid and not done[2]:
                # Mapped by a worker, and still new to the catalogue: its provenance here,
                # where the document's bytes are at hand (the document may stay parked).
                outcomes.append((raw, replace(done[1], prov=Provenance(
                    text, prints[i], self.mapping_version, done[1].prov.visible_until)), text))
                continue
            raw = _loaded(raw)
            if done is not None:
                if done[0] == ERROR:
                    self._fail(uow, run_id, raw, STAGE_MAP, done[1], counts, now, text)
                    continue
                if done[0] == SKIP:
                    outcomes.append((raw, done[1], text))
                    continue
            try:
                mapped = self.mapper(raw, self.region, now)
            except MappingError as exc:
                self._fail(uow, run_id, raw, STAGE_MAP, str(exc), counts, now, text)
                continue
            if (not savepoints and once and entry is None
                    and isinstance(mapped, NormalisedActivity) and mapped.source_id == sid
                    and not is_expired(mapped, now)):
                # New: kept as its JSON text until the batched insert, not as objects (a
                # first page mapped here was a run's peak memory).
                new = self.new_activity(raw, mapped, text)
                if parkable and canonical is not None:  # the document as its bytes
                    raw = records[i] = Parked(sid, blob)
                outcomes.append((raw, new, text))
            else:
                outcomes.append((raw, mapped, text))
        # A mapping may name an event differently from its raw `@id` (test doubles do).
        other = {o.source_id for _, o, _ in outcomes} - set(ids)
        if other:
            entries.update(uow.catalogue.entries(self.source, other))
        skipped: list[Skipped] = []
        if not savepoints:
            # Fast path: events new to the catalogue (most of an initial sync) are inserted in
            # batches, and so are new versions of known ones; the rest goes one by one. An
            # event that appears twice in a page (changed while the pages were read) keeps its
            # order one by one: batching its first version could reorder it after the second.
            twice_mapped = {sid for sid, n in Counter(o.source_id for _, o, _ in outcomes).items()
                            if n > 1}
            rest = self._create_new(uow, outcomes, run_id, counts, now, entries, twice_mapped)
            changes: list[tuple[cat.CatalogueEntry, NewVersion]] = []
            for raw, left, text in rest:
                self.apply(uow, left, run_id, counts, now, entries, raw=raw, raw_text=text,
                           skipped=skipped,
                           changes=None if left.source_id in twice_mapped else changes)
            self._store_changes(uow, changes, run_id, now, entries)
        else:
            for raw, outcome, text in outcomes:
                assert not isinstance(outcome, cat.NewActivity)  # none without a hand-over
                try:
                    with uow.savepoint():
                        self.apply(uow, outcome, run_id, counts, now, entries, raw=raw,
                                   raw_text=text, skipped=skipped)
                except SQLAlchemyError as exc:
                    self._fail(uow, run_id, raw, STAGE_STORE, f"{type(exc).__name__}: {exc}",
                               counts, now, text)
        if skipped:
            print_of = dict(zip(ids, prints, strict=True))
            uow.catalogue.record_skipped(
                self.source, skipped, self.mapping_version, now,
                {s.source_id: print_of[s.source_id] for s in skipped if s.source_id in print_of})

    def _create_new(
        self, uow: UnitOfWork, outcomes: list[tuple[Any, MappingOutcome | cat.NewActivity, str]],
        run_id: int, counts: RunCounts, now: datetime, entries: dict[str, cat.CatalogueEntry],
        seen_twice: set[str],
    ) -> list[tuple[Any, MappingOutcome, str]]:
        """Insert the page's new activities in batches; return the outcomes left to apply."""
        new: list[cat.NewActivity] = []
        rest: list[tuple[Any, MappingOutcome, str]] = []
        for raw, outcome, text in outcomes:
            if isinstance(outcome, cat.NewActivity):
                if outcome.source_id not in seen_twice:
                    new.append(outcome)
                    continue
                raw = _loaded(raw)
                outcome = self.mapper(raw, self.region, now)  # its order matters: one by one
            # Already over: created without a review item, one by one (rare).
            if (isinstance(outcome, NormalisedActivity) and outcome.source_id not in entries
                    and outcome.source_id not in seen_twice and not is_expired(outcome, now)):
                new.append(self.new_activity(raw, outcome, text))
            else:
                rest.append((raw, outcome, text))
        self._created_last = len(new)
        if not new:
            return rest
        created = uow.catalogue.create_many(self.source, new, cat.PENDING, now, run_id)
        events = []
        for n, (activity_id, item_id) in zip(new, created, strict=True):
            entries[n.source_id] = cat.CatalogueEntry(
                activity_id, cat.PENDING, n.digest, None, n.next_occurrence, None,
                n.modified, n.prov.raw_fingerprint, n.prov.mapping_version,
                n.prov.visible_until, parse(n.next_occurrence_over))
            events.append(ActivityDiscovered(activity_id, item_id, self.source, n.source_id,
                                             n.nis, n.title))
        uow.outbox.add_many(events, now)
        counts.created += len(new)
        return rest

    def _store_changes(
        self, uow: UnitOfWork, changes: list[tuple[cat.CatalogueEntry, NewVersion]],
        run_id: int, now: datetime, entries: dict[str, cat.CatalogueEntry],
    ) -> None:
        """New versions of the page's known activities, stored together."""
        stored = uow.catalogue.update_many([c for _, c in changes], now, run_id)
        events = []
        for (entry, c), (version_id, item_id) in zip(changes, stored, strict=True):
            act = c.act
            entries[act.source_id] = cat.CatalogueEntry(
                entry.id, c.state, c.digest, version_id if c.approve else
                entry.approved_version_id, act.next_occurrence, version_id, act.modified,
                c.prov.raw_fingerprint, c.prov.mapping_version, c.prov.visible_until,
                parse(act.next_occurrence_over))
            if item_id is not None:
                events.append(ActivityChanged(entry.id, item_id, self.source, act.source_id,
                                              act.place.nis, act.display_title))
        uow.outbox.add_many(events, now)

    def _fail(
        self, uow: UnitOfWork, run_id: int, raw: Any, stage: str, error: str,
        counts: RunCounts, now: datetime, text: str | None = None,
    ) -> None:
        counts.failed += 1
        source_id = raw_source_id(raw)
        uow.runs.add_failure(run_id, self.source, source_id, stage, error,
                             canonical_text(raw) if text is None else text, now)
        log.warning("record failed", source=self.source, source_id=source_id, stage=stage,
                    error=error)

    def apply(
        self, uow: UnitOfWork, outcome: MappingOutcome, run_id: int | None, counts: RunCounts,
        now: datetime, entries: dict[str, cat.CatalogueEntry] | None = None,
        *, raw: Any = NO_RAW, raw_text: str | None = None,
        skipped: list[Skipped] | None = None,
        changes: list[tuple[cat.CatalogueEntry, NewVersion]] | None = None,
    ) -> None:
        """Carry out what `decide` says for one outcome.

        `entries` is a page's prefetched catalogue state; it is kept current here, because one
        page can hold two versions of the same event. `raw` is the document it was mapped
        from, kept with the activity for `remap`. An event skipped before it was ever stored
        is remembered (for the reconciliation): collected in `skipped` when given, for the
        caller to write per page, else written now. Likewise a new version of a known
        activity goes to `changes` when given (the caller stores them together).
        """
        if entries is None:
            entries = uow.catalogue.entries(self.source, [outcome.source_id])
        entry = entries.get(outcome.source_id)
        data: dict[str, Any] | None = None
        digest: str | None = None
        expired = False
        if isinstance(outcome, NormalisedActivity):
            data = outcome.to_dict()
            digest = hash_of(data)
            expired = is_expired(outcome, now)
        decision = cat.decide(entry, outcome, digest, expired=expired)
        if decision.action == cat.SKIP:
            assert decision.reason is not None
            counts.skip(decision.reason)
            if entry is None and isinstance(outcome, Skipped):
                if skipped is None:
                    prints = ({} if raw is NO_RAW else
                              {outcome.source_id: fingerprint(raw_text or canonical_text(raw))})
                    uow.catalogue.record_skipped(self.source, [outcome], self.mapping_version,
                                                 now, prints)
                else:
                    skipped.append(outcome)
        elif decision.action in (cat.UNCHANGED, cat.EXPIRE):
            counts.unchanged += 1
            assert entry is not None and isinstance(outcome, NormalisedActivity)
            prov = self.provenance(raw, outcome, raw_text) if raw is not NO_RAW else None
            over = parse(outcome.next_occurrence_over)
            if (outcome.next_occurrence != entry.next_occurrence
                    or over != entry.next_occurrence_over or
                    (prov is not None and (prov.raw_fingerprint != entry.raw_fingerprint or
                                           prov.mapping_version != entry.mapping_version))):
                # A date passed since the last version (re-read by --full or the nightly
                # reconciliation), or the source rewrote the document (or a new mapping read
                # it) without changing what we take from it: only the sort key and raw
                # document move; no version.
                uow.catalogue.refresh(entry.id, outcome.next_occurrence,
                                      outcome.next_occurrence_over, prov)
                entry = replace(entry, next_occurrence=outcome.next_occurrence,
                                next_occurrence_over=over,
                                raw_fingerprint=prov.raw_fingerprint if prov else
                                entry.raw_fingerprint,
                                mapping_version=prov.mapping_version if prov else
                                entry.mapping_version)
                entries[outcome.source_id] = entry
            if decision.action == cat.EXPIRE:
                uow.catalogue.expire([entry.id], now)
                entries[outcome.source_id] = replace(entry, state=cat.EXPIRED)
        elif decision.action == cat.WITHDRAW:
            assert entry is not None and isinstance(outcome, Skipped)
            self._withdraw(uow, entry.id, outcome, now)
            entries[outcome.source_id] = replace(entry, state=cat.WITHDRAWN)
            counts.withdrawn += 1
        else:
            assert isinstance(outcome, NormalisedActivity) and decision.state is not None
            assert data is not None and digest is not None
            prov = self.provenance(raw, outcome, raw_text)
            if entry is not None and decision.review_kind is not None and self._quiet(
                    uow, entry, outcome, data):
                # The source did not change; our mapping did, in nothing a moderator sees.
                decision = cat.Decision(cat.UPDATE, None, entry.state)
            assert decision.state is not None
            if entry is not None and changes is not None and raw is not NO_RAW:
                changes.append((entry, NewVersion(
                    entry.id, outcome, decision.state, data, digest, prov, decision.review_kind,
                    approve=decision.review_kind is None and decision.state == cat.PUBLISHED)))
                counts.updated += 1
                return
            activity_id, version_id = self._store(uow, entry, outcome, decision, run_id, now,
                                                  data, digest, prov)
            approved = entry.approved_version_id if entry else None
            if (entry is not None and decision.review_kind is None
                    and decision.state == cat.PUBLISHED):
                uow.catalogue.approve_quietly(activity_id, version_id)
                approved = version_id
            assert decision.state is not None
            entries[outcome.source_id] = cat.CatalogueEntry(
                activity_id, decision.state, digest, approved, outcome.next_occurrence,
                version_id, outcome.modified, prov.raw_fingerprint, prov.mapping_version,
                prov.visible_until, parse(outcome.next_occurrence_over))
            if decision.action == cat.CREATE:
                counts.created += 1
            else:
                counts.updated += 1

    def _quiet(self, uow: UnitOfWork, entry: cat.CatalogueEntry, act: NormalisedActivity,
               data: dict[str, Any]) -> bool:
        """A re-mapped, unchanged source document whose new version looks the same to a
        moderator: no review item. Only when nothing is waiting for a decision."""
        if entry.has_open_item or entry.current_version_id is None:
            return False
        if entry.state not in (cat.PUBLISHED, cat.REJECTED):
            return False
        if entry.source_modified != act.modified:
            return False  # the source changed: a moderator looks at it
        before = uow.catalogue.version_data(entry.current_version_id)
        return self.review_diff is not None and not self.review_diff(before, data)

    def _store(
        self, uow: UnitOfWork, entry: cat.CatalogueEntry | None, act: NormalisedActivity,
        decision: cat.Decision, run_id: int | None, now: datetime, data: dict[str, Any],
        digest: str, prov: Provenance,
    ) -> tuple[int, int]:
        assert decision.state is not None
        if entry is None:
            activity_id, version_id = uow.catalogue.create(
                self.source, act, decision.state, now, run_id, data, digest, prov
            )
        else:
            activity_id = entry.id
            version_id = uow.catalogue.update(
                activity_id, act, decision.state, now, run_id, data, digest, prov
            )
        if decision.review_kind is None:
            if decision.state == cat.EXPIRED and entry is not None:
                uow.catalogue.expire([activity_id], now)  # closes what was still open
            return activity_id, version_id
        item_id = uow.catalogue.open_review_item(
            activity_id, version_id, act.place.nis, decision.review_kind, now,
            supersede=entry is not None,
        )
        event_cls = ActivityDiscovered if entry is None else ActivityChanged
        uow.outbox.add(
            event_cls(activity_id, item_id, self.source, act.source_id, act.place.nis,
                      act.display_title), now
        )
        return activity_id, version_id

    def _withdraw(
        self, uow: UnitOfWork, activity_id: int, skipped: Skipped, now: datetime
    ) -> None:
        row = uow.catalogue.withdraw(activity_id, skipped.reason, now)
        item_id = uow.catalogue.open_review_item(
            activity_id, row.current_version_id, row.municipality_nis, cat.KIND_WITHDRAWN, now,
            reason=skipped.reason,
        )
        uow.outbox.add(
            ActivityWithdrawn(activity_id, item_id, self.source, skipped.source_id,
                              row.municipality_nis, row.title, skipped.reason),
            now,
        )


class _Prefetched:
    """Pages of `pages`, each read while the caller stores the one before (one hand-off: at
    most the page being stored and the page being read are in memory). The reading thread
    only reads; cursors still reach the database only with their page's commit."""

    def __init__(self, pages: Iterator[Page],
                 prepare: Callable[[Page], Prepared] | None = None) -> None:
        self._pages = pages
        # Also in the reading thread: fingerprints, and new documents to the mapping workers.
        self._prepare = prepare
        self._slot: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
        self._taken = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, name="prefetch", daemon=True)

    def _hand_over(self, kind: str, item: Any) -> bool:
        self._slot.put((kind, item))
        while not self._taken.wait(0.2):
            if self._done.is_set():
                return False
        self._taken.clear()
        return not self._done.is_set()

    def _read(self) -> None:
        try:
            for page in self._pages:
                prepared = Prepared() if self._prepare is None else self._prepare(page)
                if not self._hand_over("page", (page, prepared)):
                    return
            self._hand_over("end", None)
        except BaseException as exc:  # handed to the caller, who raises it in order
            self._slot.put(("error", exc))

    def __iter__(self) -> Iterator[tuple[Page, Prepared]]:
        self._thread.start()
        try:
            while True:
                kind, item = self._slot.get()
                self._taken.set()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                yield item
        finally:
            # The caller stopped early (shutdown, error): the reader ends at its next hand-off.
            self._done.set()


# Collect young objects after this many allocations instead of 700: a page of parsed JSON
# holds hundreds of thousands of containers, none of them cyclic garbage.
_GC_THRESHOLD = (100_000, 50, 100)
_frozen = False


@contextmanager
def _sync_gc() -> Iterator[None]:
    """Fewer collections during a run; what start-up built is frozen out of them once."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
    before = gc.get_threshold()
    gc.set_threshold(*_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


# A run refreshes the database's statistics once it created this many activities, and again
# each time their number doubles.
_ANALYSE_FROM = 1000


def _refresh_statistics(uow_factory: Callable[[], UnitOfWork]) -> None:
    try:
        with uow_factory() as uow:
            uow.catalogue.refresh_statistics()
            uow.commit()
    except SQLAlchemyError as exc:  # only speed is lost (not the table's owner, say)
        log.warning("database statistics not refreshed", error=f"{type(exc).__name__}: {exc}")


def _store_page(
    uow_factory: Callable[[], UnitOfWork], service: SyncService, page: Page, run_id: int,
    counts: RunCounts, prepared: Prepared | None = None,
) -> RunCounts:
    """Store a page and its cursor in one transaction; return the counts after it."""
    cursor_json = page.cursor.to_json()
    for savepoints in (False, True):
        # Fast path first; a storage error rolls the page back and it is redone record by
        # record with savepoints, so that only the bad record becomes a failure.
        attempt = RunCounts.from_json(counts.to_json())
        try:
            with uow_factory().replayable() as uow:
                service.process_page(
                    uow, page.records, run_id, attempt, savepoints=savepoints,
                    handed=prepared.handed if prepared else None, canonical=page.canonical,
                    fingerprints=prepared.fingerprints if prepared else None,
                    parkable=page.reencodable)
                uow.runs.save_cursor(service.source, cursor_json, service.clock())
                uow.runs.progress(run_id, attempt, cursor_json)
                uow.commit()
            return attempt
        except SQLAlchemyError:
            if savepoints:
                raise
            log.info("page redone record by record after a storage error", run_id=run_id)
    raise AssertionError("unreachable")


def sync_source(
    uow_factory: Callable[[], UnitOfWork],
    connector: Connector,
    service: SyncService,
    *,
    kind: str = "incremental",
    start_cursor: Cursor | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """One run: every page and its cursor are committed together, so a kill loses nothing.

    `stop` (the daemon's shutdown) is checked between pages: the run ends after the page in
    flight is committed, as failed with a `stopped` error; the next run resumes at the cursor.
    """
    source = service.source
    clock = service.clock
    with uow_factory() as uow:
        stale = uow.runs.interrupted(source, clock())
        saved = Cursor.from_json(uow.runs.cursor(source))
        cursor = start_cursor if start_cursor is not None else saved
        run_id = uow.runs.start(source, kind, cursor.to_json(), clock())
        uow.commit()
    if stale:
        log.warning("closed interrupted runs", source=source, runs=stale)
    log.info("run started", source=source, run_id=run_id, kind=kind, cursor=cursor.modified)
    counts = RunCounts()
    error: str | None = None
    try:
        # The mapping workers (if any) stop with the run.
        with _sync_gc(), closing(service.pool) if service.pool else nullcontext():
            if stop is not None and stop.is_set():  # before the first page too
                error = STOPPED
            pages = _Prefetched(connector.pages(cursor),
                                lambda page: service.prepare(uow_factory, page))
            analysed = 0  # activities created when the statistics were last refreshed
            for page, prepared in () if error else pages:
                if stop is not None and stop.is_set():
                    error = STOPPED
                    break
                counts = _store_page(uow_factory, service, page, run_id, counts, prepared)
                log.debug("page stored", source=source, records=len(page.records),
                          cursor=page.cursor.modified)
                if counts.created >= max(_ANALYSE_FROM, 2 * analysed):
                    # The catalogue doubled in this run (a first load): the per-page
                    # lookups need statistics of its new size.
                    _refresh_statistics(uow_factory)
                    analysed = counts.created
    except UnreadablePage as exc:
        # Nothing of the page can be stored, so the cursor stays before it; the body is kept
        # as a failure, visible and explained, and the run fails (the next one tries again).
        counts.failed += 1
        with uow_factory() as uow:
            uow.runs.add_failure(run_id, source, None, STAGE_FETCH, str(exc), exc.raw, clock())
            uow.commit()
        error = str(exc)
    except ConnectorError as exc:
        error = str(exc)
    except BaseException as exc:
        # SIGTERM/Ctrl-C or a bug: the page in flight was rolled back whole; say so and stop.
        with uow_factory() as uow:
            uow.runs.finish(run_id, "failed", counts, f"interrupted: {type(exc).__name__}: {exc}",
                            clock())
            uow.commit()
        raise
    status = final_status(counts, error)
    with uow_factory() as uow:
        uow.runs.finish(run_id, status, counts, error, clock())
        uow.commit()
    # A sync run from cron (no daemon) still moves the catalogue on as dates pass.
    expire_and_refresh(uow_factory, clock())
    log.info("run finished", source=source, run_id=run_id, status=status,
             error=error, **counts.to_json())
    return RunResult(run_id, status, counts, error)
