"""Full reconciliation: re-read a whole source and withdraw what it no longer returns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog

from connectors.base import Connector, ConnectorError, Cursor, Page
from sync.adapters import tables as t
from sync.domain import catalogue as cat
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
) -> ReconcileResult:
    """A `full` run from the start, then every live activity the read did not return is looked
    up one by one and withdrawn with the reason found (moved out of the region, label removed,
    deleted), or `vanished` when the source no longer knows it. Events whose place or organizer
    changed without a new `modified` (pitfall 3) are caught by the full read itself."""
    recording = _Recording(connector)
    run = sync_source(uow_factory, recording, service, kind="full", start_cursor=Cursor(),
                      stop=stop)
    if run.error is not None:
        # An incomplete read proves nothing about what is missing.
        log.warning("reconciliation read incomplete; nothing withdrawn", source=service.source,
                    run_id=run.run_id, error=run.error)
        return ReconcileResult(run, 0, 0)
    a = t.activities
    with uow_factory() as uow:
        live = set(uow.connection.execute(
            sa.select(a.c.source_id).where(a.c.source == service.source,
                                           a.c.state != cat.WITHDRAWN)).scalars())
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
