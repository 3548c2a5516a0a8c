"""Reconciliation: find what the incremental cursor missed and withdraw what the source no
longer returns. Nightly it compares id lists (cheap); a full re-read stays available."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from connectors.base import Connector, ConnectorError, Cursor, FatalSourceError, Page
from sync.domain.activity import MappingError, MappingOutcome, Skipped
from sync.service.sync_source import RunResult, SyncService, raw_source_id, sync_source
from sync.service.unit_of_work import UnitOfWork

log = structlog.get_logger()

# The source no longer knows the event at all (a hard delete, or an id we cannot look up).
VANISHED = "vanished"


class _Recording:
    """Passes pages through and remembers every id the source returned."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.name = inner.name
        self.seen: set[str] = set()

    def pages(self, cursor: Cursor) -> Iterator[Page]:
        for page in self.inner.pages(cursor):
            for raw in page.records:
                sid = raw_source_id(raw)
                if sid is not None:
                    self.seen.add(sid)
            yield page

    def fetch_one(self, source_id: str) -> Any:
        return self.inner.fetch_one(source_id)


class IdLister(Connector, Protocol):
    """A connector that can list the ids its query returns and fetch documents in batches."""

    def ids(self, expected: int | None = None) -> set[str]: ...

    def fetch_many(self, source_ids: Sequence[str]) -> Iterator[list[dict[str, Any]]]: ...


class _NewOnly:
    """Pages of only the events the catalogue does not know yet, found by comparing the ids
    the query returns now with the catalogue. Every page carries the cursor it was given, so
    the incremental cursor does not move. A source whose ids do not fit SAPI3's window is
    read in full instead."""

    def __init__(self, inner: IdLister, known: set[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.known = known
        self.seen: set[str] = set()
        self.fetched_in_full = 0

    def pages(self, cursor: Cursor) -> Iterator[Page]:
        try:
            # What the catalogue knows is about what the query returns: when that cannot fit
            # the window, the connector need not ask the whole query first to learn so.
            self.seen = self.inner.ids(expected=len(self.known))
        except FatalSourceError as exc:
            log.warning("reconciliation: id list too large, reading in full",
                        source=self.name, error=str(exc))
            recording = _Recording(self.inner)
            yield from recording.pages(Cursor())
            self.seen = recording.seen
            return
        new = sorted(self.seen - self.known)
        for docs in self.inner.fetch_many(new):
            self.fetched_in_full += len(docs)
            if docs:
                yield Page(records=list(docs), cursor=cursor)

    def fetch_one(self, source_id: str) -> Any:
        return self.inner.fetch_one(source_id)


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    run: RunResult
    missing: int  # in the catalogue but not returned by the full read
    withdrawn: int  # of those, withdrawn now


def reconcile_source(
    uow_factory: Callable[[], UnitOfWork],
    connector: Connector,
    service: SyncService,
    *,
    stop: threading.Event | None = None,
    full: bool = False,
) -> ReconcileResult:
    """Compare, then every live activity the source did not return is looked up one by one
    and withdrawn with the reason found (moved out of the region, label removed, deleted), or
    `vanished` when the source no longer knows it.

    Cheap (default, connectors that list ids): the ids the query returns now against the
    catalogue; only ids new to it are fetched in full (what the cursor missed). `full`: every
    document is re-read (unchanged ones are not mapped again); only this catches a place or
    organizer that changed without a new `modified` (SAPI3 does not bump it), so it runs weekly.
    """
    recording: _Recording | _NewOnly
    if not full and hasattr(connector, "ids") and hasattr(connector, "fetch_many"):
        with uow_factory() as uow:
            start = Cursor.from_json(uow.runs.cursor(service.source))
            known = uow.catalogue.source_ids(service.source)
            if service.mapping_version is not None:
                # Events this mapping left out: a change at the source reaches the incremental
                # sync (a new `modified`), which decides again; the weekly full read catches
                # the rest.
                known |= uow.catalogue.skipped_ids(service.source, service.mapping_version)
        recording = _NewOnly(connector, known)  # type: ignore[arg-type]
    else:
        recording, start = _Recording(connector), Cursor()
    run = sync_source(uow_factory, recording, service, kind="full", start_cursor=start,
                      stop=stop)
    if run.error is not None:
        # An incomplete read proves nothing about what is missing.
        log.warning("reconciliation read incomplete; nothing withdrawn", source=service.source,
                    run_id=run.run_id, error=run.error)
        return ReconcileResult(run, 0, 0)
    with uow_factory() as uow:
        live = uow.catalogue.source_ids(service.source, live_only=True)
        # Skipped events the source no longer returns need not be remembered.
        uow.catalogue.forget_skipped(service.source, recording.seen)
        uow.commit()
    missing = sorted(live - recording.seen)
    counts = run.counts
    before = counts.withdrawn
    for source_id in missing:
        if stop is not None and stop.is_set():
            break
        outcome = _look_up(connector, service, source_id)
        if outcome is None:
            continue
        with uow_factory() as uow:
            service.apply(uow, outcome, run.run_id, counts, service.clock())
            uow.commit()
    withdrawn = counts.withdrawn - before
    with uow_factory() as uow:
        uow.runs.finish(run.run_id, run.status, counts, None, service.clock())
        uow.commit()
    log.info("reconciled", source=service.source, run_id=run.run_id, missing=len(missing),
             withdrawn=withdrawn)
    return ReconcileResult(RunResult(run.run_id, run.status, counts, None), len(missing),
                           withdrawn)


def _look_up(connector: Connector, service: SyncService, source_id: str) -> MappingOutcome | None:
    """Why one event is missing; None when that cannot be told now (try again next time)."""
    try:
        raw = connector.fetch_one(source_id)
    except ConnectorError as exc:
        log.warning("reconciliation lookup failed", source_id=source_id, error=str(exc))
        return None
    if raw is None:
        return Skipped(source_id, VANISHED)
    try:
        return service.mapper(raw, service.region, service.clock())
    except MappingError as exc:
        log.warning("reconciliation lookup unmappable", source_id=source_id, error=str(exc))
        return None
