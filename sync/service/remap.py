"""Re-map the stored raw documents with today's rules and tables, without a refetch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog

from sync.domain.runs import FAILED, RunCounts, final_status
from sync.service.expiry import expire_and_refresh
from sync.service.sync_source import RunResult, SyncService
from sync.service.unit_of_work import UnitOfWork

log = structlog.get_logger()
KIND_REMAP = "remap"
BATCH = 200


def remap_source(uow_factory: Callable[[], UnitOfWork], service: SyncService,
                 *, batch: int = BATCH) -> RunResult:
    """One run of kind `remap` over every activity of the source that has a raw document.

    Each document goes through the same rules as a sync; the source's `modified` is the same,
    so a new version whose differences a moderator would not see goes in quietly, and a
    review item opens only where what the moderator sees changed. Activities stored before
    raw documents were kept are counted as `skipped.no_raw_document` (`sync --full` fills
    them in).
    """
    source, clock = service.source, service.clock
    with uow_factory() as uow:
        cursor = uow.runs.cursor(source)
        run_id = uow.runs.start(source, KIND_REMAP, cursor, clock())
        uow.commit()
    counts = RunCounts()
    after = 0
    error: str | None = None
    try:
        while True:
            with uow_factory() as uow:
                rows = uow.catalogue.raw_documents(source, after, batch)
                if not rows:
                    break
                records: list[Any] = []
                for _, raw_text in rows:
                    if raw_text is None:
                        counts.skip("no_raw_document")
                        continue
                    try:
                        records.append(json.loads(raw_text))
                    except ValueError:
                        records.append(raw_text)  # recorded as a map failure with its text
                service.process_page(uow, records, run_id, counts, savepoints=True)
                uow.runs.progress(run_id, counts, cursor)
                uow.commit()
            after = rows[-1][0]
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception("remap failed", source=source, run_id=run_id)
    status = final_status(counts, error)
    with uow_factory() as uow:
        uow.runs.finish(run_id, status, counts, error, clock())
        uow.commit()
    if status != FAILED:
        expire_and_refresh(uow_factory, clock())
    log.info("remap finished", source=source, run_id=run_id, status=status, **counts.to_json())
    return RunResult(run_id, status, counts, error)
