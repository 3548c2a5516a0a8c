"""The sync handler: pages from a connector into the catalogue, one commit per page."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

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
from sync.domain import catalogue as cat
from sync.domain.activity import (
    MappingError,
    MappingOutcome,
    NormalisedActivity,
    Skipped,
    hash_of,
)
from sync.domain.events import ActivityChanged, ActivityDiscovered, ActivityWithdrawn
from sync.domain.region import Region
from sync.domain.runs import STAGE_FETCH, STAGE_MAP, STAGE_STORE, RunCounts, final_status
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


def raw_json(raw: Any) -> str:
    try:
        return json.dumps(raw, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(raw)


class SyncService:
    """Applies mapped records to the catalogue; shared by sync and replay."""

    def __init__(self, source: str, region: Region, mapper: Mapper, clock: Clock) -> None:
        self.source = source
        self.region = region
        self.mapper = mapper
        self.clock = clock

    def process_page(
        self, uow: UnitOfWork, records: list[Any], run_id: int, counts: RunCounts,
        *, savepoints: bool,
    ) -> None:
        """Map and store a page of records in the caller's transaction.

        Without savepoints a storage error aborts the whole page (the caller then redoes it
        with savepoints, so that only the bad record fails); with them each record is alone.
        """
        now = self.clock()
        outcomes: list[tuple[Any, MappingOutcome]] = []
        for raw in records:
            counts.fetched += 1
            try:
                outcomes.append((raw, self.mapper(raw, self.region, now)))
            except MappingError as exc:
                self._fail(uow, run_id, raw, STAGE_MAP, str(exc), counts, now)
        # One query for the page instead of one per record.
        entries = uow.catalogue.entries(self.source, [o.source_id for _, o in outcomes])
        if not savepoints:
            # Fast path: events new to the catalogue (most of an initial sync) are inserted in
            # batches; the rest, and a second version of the same event, go one by one.
            rest = self._create_new(uow, [o for _, o in outcomes], run_id, counts, now, entries)
            for left in rest:
                self.apply(uow, left, run_id, counts, now, entries)
            return
        for raw, outcome in outcomes:
            try:
                with uow.savepoint():
                    self.apply(uow, outcome, run_id, counts, now, entries)
            except SQLAlchemyError as exc:
                self._fail(uow, run_id, raw, STAGE_STORE, f"{type(exc).__name__}: {exc}",
                           counts, now)

    def _create_new(
        self, uow: UnitOfWork, outcomes: list[MappingOutcome], run_id: int,
        counts: RunCounts, now: datetime, entries: dict[str, cat.CatalogueEntry],
    ) -> list[MappingOutcome]:
        """Insert the page's new activities in batches; return the outcomes left to apply."""
        new: list[tuple[NormalisedActivity, dict[str, Any], str]] = []
        rest: list[MappingOutcome] = []
        # An event that appears twice in a page (changed while the pages were read) keeps
        # its order one by one: batching its first version could reorder it after the second.
        seen_twice = {sid for sid, n in Counter(o.source_id for o in outcomes).items() if n > 1}
        for outcome in outcomes:
            if (isinstance(outcome, NormalisedActivity) and outcome.source_id not in entries
                    and outcome.source_id not in seen_twice):
                data = outcome.to_dict()
                new.append((outcome, data, hash_of(data)))
            else:
                rest.append(outcome)
        if not new:
            return rest
        created = uow.catalogue.create_many(self.source, new, cat.PENDING, now, run_id)
        events = []
        for (act, _, digest), (activity_id, item_id) in zip(new, created, strict=True):
            entries[act.source_id] = cat.CatalogueEntry(
                activity_id, cat.PENDING, digest, None, act.next_occurrence)
            title = act.title.get("nl") or next(iter(act.title.values()))
            events.append(ActivityDiscovered(activity_id, item_id, self.source, act.source_id,
                                             act.place.nis, title))
        uow.outbox.add_many(events, now)
        counts.created += len(new)
        return rest

    def process(self, uow: UnitOfWork, raw: Any, run_id: int, counts: RunCounts) -> bool:
        """Map and store one record inside the page's transaction; False if it failed."""
        now = self.clock()
        counts.fetched += 1
        try:
            outcome = self.mapper(raw, self.region, now)
        except MappingError as exc:
            self._fail(uow, run_id, raw, STAGE_MAP, str(exc), counts, now)
            return False
        try:
            with uow.savepoint():
                self.apply(uow, outcome, run_id, counts, now)
        except SQLAlchemyError as exc:
            # One bad record must not sink the page: its savepoint is rolled back alone.
            self._fail(uow, run_id, raw, STAGE_STORE, f"{type(exc).__name__}: {exc}", counts, now)
            return False
        return True

    def _fail(
        self, uow: UnitOfWork, run_id: int, raw: Any, stage: str, error: str,
        counts: RunCounts, now: datetime,
    ) -> None:
        counts.failed += 1
        source_id = raw_source_id(raw)
        uow.runs.add_failure(run_id, self.source, source_id, stage, error, raw_json(raw), now)
        log.warning("record failed", source=self.source, source_id=source_id, stage=stage,
                    error=error)

    def apply(
        self, uow: UnitOfWork, outcome: MappingOutcome, run_id: int | None, counts: RunCounts,
        now: datetime, entries: dict[str, cat.CatalogueEntry] | None = None,
    ) -> None:
        """Carry out what `decide` says for one outcome.

        `entries` is a page's prefetched catalogue state; it is kept current here, because one
        page can hold two versions of the same event.
        """
        if entries is None:
            entries = uow.catalogue.entries(self.source, [outcome.source_id])
        entry = entries.get(outcome.source_id)
        data: dict[str, Any] | None = None
        digest: str | None = None
        if isinstance(outcome, NormalisedActivity):
            data = outcome.to_dict()
            digest = hash_of(data)
        decision = cat.decide(entry, outcome, digest)
        if decision.action == cat.SKIP:
            assert decision.reason is not None
            counts.skip(decision.reason)
        elif decision.action == cat.UNCHANGED:
            counts.unchanged += 1
            assert entry is not None and isinstance(outcome, NormalisedActivity)
            if outcome.next_occurrence != entry.next_occurrence:
                # A date passed since the last version (re-read by --full or the nightly
                # reconciliation): only the derived sort key moves; no version, no review.
                uow.catalogue.set_next_occurrence(entry.id, outcome.next_occurrence)
                entries[outcome.source_id] = replace(
                    entry, next_occurrence=outcome.next_occurrence)
        elif decision.action == cat.WITHDRAW:
            assert entry is not None and isinstance(outcome, Skipped)
            self._withdraw(uow, entry.id, outcome, now)
            entries[outcome.source_id] = replace(entry, state=cat.WITHDRAWN)
            counts.withdrawn += 1
        else:
            assert isinstance(outcome, NormalisedActivity) and decision.state is not None
            assert decision.review_kind is not None and data is not None and digest is not None
            activity_id = self._store(uow, entry, outcome, decision, run_id, now, data, digest)
            approved = entry.approved_version_id if entry else None
            entries[outcome.source_id] = cat.CatalogueEntry(
                activity_id, decision.state, digest, approved, outcome.next_occurrence)
            if decision.action == cat.CREATE:
                counts.created += 1
            else:
                counts.updated += 1

    def _store(
        self, uow: UnitOfWork, entry: cat.CatalogueEntry | None, act: NormalisedActivity,
        decision: cat.Decision, run_id: int | None, now: datetime, data: dict[str, Any],
        digest: str,
    ) -> int:
        assert decision.state is not None and decision.review_kind is not None
        if entry is None:
            activity_id, version_id = uow.catalogue.create(
                self.source, act, decision.state, now, run_id, data, digest
            )
        else:
            activity_id = entry.id
            version_id = uow.catalogue.update(
                activity_id, act, decision.state, now, run_id, data, digest
            )
        item_id = uow.catalogue.open_review_item(
            activity_id, version_id, act.place.nis, decision.review_kind, now,
            supersede=entry is not None,
        )
        event_cls = ActivityDiscovered if entry is None else ActivityChanged
        title = act.title.get("nl") or next(iter(act.title.values()))
        uow.outbox.add(
            event_cls(activity_id, item_id, self.source, act.source_id, act.place.nis, title), now
        )
        return activity_id

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


def _store_page(
    uow_factory: Callable[[], UnitOfWork], service: SyncService, page: Page, run_id: int,
    counts: RunCounts,
) -> RunCounts:
    """Store a page and its cursor in one transaction; return the counts after it."""
    cursor_json = page.cursor.to_json()
    for savepoints in (False, True):
        # Fast path first; a storage error rolls the page back and it is redone record by
        # record with savepoints, so that only the bad record becomes a failure.
        attempt = RunCounts.from_json(counts.to_json())
        try:
            with uow_factory() as uow:
                service.process_page(uow, page.records, run_id, attempt, savepoints=savepoints)
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
        for page in connector.pages(cursor):
            if stop is not None and stop.is_set():
                error = "stopped: the daemon is shutting down; the next run resumes here"
                break
            counts = _store_page(uow_factory, service, page, run_id, counts)
            log.debug("page stored", source=source, records=len(page.records),
                      cursor=page.cursor.modified)
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
    log.info("run finished", source=source, run_id=run_id, status=status,
             error=error, **counts.to_json())
    return RunResult(run_id, status, counts, error)
