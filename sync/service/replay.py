"""Runs and failures for admins: list them, replay failed records in a run of their own, ignore."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import ConnectorError
from connectors.documents import canonical_text
from sync.adapters import failure_store
from sync.adapters.queries import runs
from sync.adapters.repository import RunRepository
from sync.domain.activity import MappingError
from sync.domain.calendar import BRUSSELS  # admins think in Belgian days
from sync.domain.runs import FAILED, STAGE_FETCH, STAGE_MAP, STAGE_STORE, RunCounts, final_status
from sync.service.errors import AdminError, NotFound, NotOpen
from sync.service.sync_source import SyncService
from sync.service.unit_of_work import UnitOfWork

log = structlog.get_logger()

REPLAY = "replay"
OPEN = "open"
RESOLVED = "resolved"
IGNORED = "ignored"
FAILURE_STATUSES = (OPEN, RESOLVED, IGNORED)


class Refetcher(Protocol):
    """What a replay needs of a connector: one record by its id, None when unknown."""

    def fetch_one(self, source_id: str) -> Any: ...


def day_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """[since 00:00, until+1 00:00) in Brussels time: both days are included."""
    lo = datetime.combine(since, time(), BRUSSELS) if since else None
    hi = datetime.combine(until + timedelta(days=1), time(), BRUSSELS) if until else None
    return lo, hi


def run_doc(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def list_runs(
    conn: sa.Connection, *, source: str | None = None, status: str | None = None,
    since: datetime | None = None, until: datetime | None = None, kind: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Runs newest first; `since`/`until` bound `started_at` (until exclusive)."""
    rows = RunRepository(conn).list(source, status, limit, kind=kind, since=since, until=until)
    return [run_doc(row) for row in rows]


def get_run(conn: sa.Connection, run_id: int) -> dict[str, Any]:
    row = runs.run(conn, run_id)
    if row is None:
        raise NotFound(f"run {run_id} does not exist")
    doc = run_doc(row)
    doc["failures"] = {s: 0 for s in FAILURE_STATUSES} | runs.failures_per_status(conn, run_id)
    return doc


def _failure_doc(row: Any, with_payload: bool) -> dict[str, Any]:
    doc = dict(row._mapping)
    if not with_payload:
        doc.pop("raw_payload", None)
    return doc


def list_failures(
    conn: sa.Connection, *, source: str | None = None, run_id: int | None = None,
    stage: str | None = None, status: str | None = None, limit: int = 200,
) -> list[dict[str, Any]]:
    rows = RunRepository(conn).failures(source, run_id, status, stage, limit)
    return [_failure_doc(row, with_payload=False) for row in rows]


def get_failure(conn: sa.Connection, failure_id: int) -> dict[str, Any]:
    """One failure with its raw payload, parsed back to JSON when it is JSON."""
    row = runs.failure(conn, failure_id)
    if row is None:
        raise NotFound(f"failure {failure_id} does not exist")
    doc = _failure_doc(row, with_payload=True)
    try:
        doc["payload"] = json.loads(row.raw_payload) if row.raw_payload is not None else None
    except (ValueError, RecursionError):
        # Stored as repr(), cut short, or nested too deep: only raw_payload can show it.
        doc["payload"] = None
    return doc


def ignore_failure(uow: UnitOfWork, failure_id: int, reason: str, now: datetime) -> dict[str, Any]:
    """Close an open failure deliberately; the reason is kept as its resolution."""
    if not reason.strip():
        raise AdminError("ignoring a failure needs a reason")
    current = get_failure(uow.connection, failure_id)
    if current["status"] != OPEN:
        raise NotOpen(f"failure {failure_id} is {current['status']}, not open")
    if not failure_store.close(uow.connection, failure_id, while_status=OPEN, status=IGNORED,
                               resolved_at=now, resolution=f"ignored: {reason.strip()}"):
        # Someone closed it in between.
        raise NotOpen(f"failure {failure_id} is no longer open")
    return get_failure(uow.connection, failure_id)


def select_failures(
    conn: sa.Connection, *, ids: Sequence[int] = (), run_id: int | None = None,
    all_open: bool = False, source: str | None = None,
) -> list[dict[str, Any]]:
    """The failures one replay request names; unknown ids and runs are errors, not no-ops."""
    chosen = sum((bool(ids), run_id is not None, all_open))
    if chosen != 1:
        raise AdminError("name failures by id, or give one run, or all open failures")
    if run_id is not None and runs.run(conn, run_id) is None:
        raise NotFound(f"run {run_id} does not exist")
    found = runs.failures_named(conn, ids=ids, run_id=run_id, status=None if ids else OPEN,
                                source=source)
    rows = [_failure_doc(r, with_payload=True) for r in found]
    if ids:
        missing = sorted(set(ids) - {r["id"] for r in rows})
        if missing:
            where = f" for source {source!r}" if source else ""
            raise NotFound(f"no such failure{where}: {', '.join(map(str, missing))}")
    return rows


@dataclass(slots=True)
class ReplayedItem:
    failure_id: int
    source: str
    source_id: str | None
    outcome: str  # created | updated | unchanged | withdrawn | skipped | failed | not_open
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"failure_id": self.failure_id, "source": self.source,
                "source_id": self.source_id, "outcome": self.outcome, "error": self.error}


@dataclass(slots=True)
class ReplayRun:
    run_id: int
    source: str
    status: str
    counts: RunCounts

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "source": self.source, "status": self.status,
                "counts": self.counts.to_json()}


@dataclass(slots=True)
class ReplayReport:
    runs: list[ReplayRun] = field(default_factory=list)
    items: list[ReplayedItem] = field(default_factory=list)

    def count(self, *outcomes: str) -> int:
        return sum(1 for i in self.items if i.outcome in outcomes)

    @property
    def resolved(self) -> int:
        return len(self.items) - self.count("failed", "not_open")

    @property
    def still_failing(self) -> int:
        return self.count("failed")

    def to_json(self) -> dict[str, Any]:
        return {"runs": [r.to_json() for r in self.runs],
                "resolved": self.resolved, "still_failing": self.still_failing,
                "not_open": self.count("not_open"),
                "items": [i.to_json() for i in self.items]}


class _StillFailing(Exception):
    def __init__(self, stage: str, error: str) -> None:
        super().__init__(error)
        self.stage = stage
        self.error = error


def _action(before: dict[str, Any], after: dict[str, Any]) -> str:
    for key in ("created", "updated", "withdrawn", "unchanged"):
        if after[key] != before[key]:
            return key
    return "skipped"


def replay_failures(
    uow_factory: Callable[[], UnitOfWork],
    failures: Iterable[Mapping[str, Any]],
    services: Mapping[str, SyncService],
    *,
    connectors: Mapping[str, Refetcher] | None = None,
    progress: Callable[[ReplayedItem], None] | None = None,
) -> ReplayReport:
    """Replay each failure through SyncService.apply, in one `replay` run per source.

    The stored raw payload is mapped again (today's code and tables), or with `connectors` the
    record is fetched again by id first. The content hash makes an unchanged record UNCHANGED,
    so a replay never reopens a moderator's decision and replaying twice adds nothing.
    """
    by_source: dict[str, list[Mapping[str, Any]]] = {}
    for failure in failures:
        by_source.setdefault(failure["source"], []).append(failure)
    report = ReplayReport()
    for source, batch in by_source.items():
        service = services[source]
        connector = connectors[source] if connectors is not None else None
        open_batch = [f for f in batch if f["status"] == OPEN]
        for f in batch:
            if f["status"] != OPEN:
                item = ReplayedItem(f["id"], source, f["source_id"], "not_open",
                                    f"failure is {f['status']}")
                report.items.append(item)
        if not open_batch:
            continue  # nothing to replay: no empty run either
        report.runs.append(
            _replay_source(uow_factory, service, connector, open_batch, report, progress)
        )
    return report


def _replay_source(
    uow_factory: Callable[[], UnitOfWork], service: SyncService, connector: Refetcher | None,
    batch: list[Mapping[str, Any]], report: ReplayReport,
    progress: Callable[[ReplayedItem], None] | None,
) -> ReplayRun:
    source, clock = service.source, service.clock
    with uow_factory() as uow:
        # Never touches the source's cursor: a replay is not a pass over the feed.
        run_id = uow.runs.start(source, REPLAY, None, clock())
        uow.commit()
    log.info("replay started", source=source, run_id=run_id, failures=len(batch),
             refetch=connector is not None)
    counts = RunCounts()
    try:
        for failure in batch:
            # One transaction per failure: a bad record cannot hold back the others.
            with uow_factory() as uow:
                item = _replay_one(uow, service, connector, failure, run_id, counts)
                uow.commit()
            report.items.append(item)
            if progress is not None:
                progress(item)
    except BaseException as exc:
        with uow_factory() as uow:
            uow.runs.finish(run_id, FAILED, counts, f"interrupted: {type(exc).__name__}: {exc}",
                            clock())
            uow.commit()
        raise
    status = final_status(counts, None)
    with uow_factory() as uow:
        uow.runs.finish(run_id, status, counts, None, clock())
        uow.commit()
    log.info("replay finished", source=source, run_id=run_id, status=status, **counts.to_json())
    return ReplayRun(run_id, source, status, counts)


def _replay_one(
    uow: UnitOfWork, service: SyncService, connector: Refetcher | None,
    failure: Mapping[str, Any], run_id: int, counts: RunCounts,
) -> ReplayedItem:
    now = service.clock()
    fid, source_id = failure["id"], failure["source_id"]
    fresh = runs.failure_attempt(uow.connection, fid)
    if fresh.status != OPEN:  # replayed or ignored by someone else since it was selected
        return ReplayedItem(fid, service.source, source_id, "not_open",
                            f"failure is {fresh.status}")
    counts.fetched += 1
    before = counts.to_json()
    payload = fresh.raw_payload
    try:
        raw: Any
        if failure.get("stage") == STAGE_FETCH and source_id is None:
            # A whole page the source served unreadable, not a record: the next sync reads
            # that page again from the cursor; ignore this failure once it came through.
            raise _StillFailing(STAGE_FETCH, "an unreadable page, not one record: the next "
                                "sync reads it again; ignore this failure once it synced")
        if connector is not None:
            raw = _refetch(connector, source_id)
            payload = canonical_text(raw)
        else:
            raw = _stored(fresh.raw_payload)
        try:
            outcome = service.mapper(raw, service.region, now)
        except MappingError as exc:
            raise _StillFailing(STAGE_MAP, str(exc)) from exc
        try:
            with uow.savepoint():
                service.apply(uow, outcome, run_id, counts, now)
        except SQLAlchemyError as exc:
            raise _StillFailing(STAGE_STORE, f"{type(exc).__name__}: {exc}") from exc
    except _StillFailing as exc:
        counts.failed += 1
        # The same failure row carries the new attempt: a replay never files a second one.
        failure_store.record_attempt(uow.connection, fid, fresh.attempts, error=exc.error,
                                     stage=exc.stage, raw_payload=payload)
        log.warning("replay still failing", failure_id=fid, stage=exc.stage, error=exc.error)
        return ReplayedItem(fid, service.source, source_id, "failed", exc.error)
    action = _action(before, counts.to_json())
    failure_store.resolve(uow.connection, fid, now, open_status=OPEN, resolved_status=RESOLVED,
                          raw_payload=payload, resolution=f"replayed in run {run_id}: {action}")
    return ReplayedItem(fid, service.source, source_id, action)


def _stored(raw_payload: str | None) -> Any:
    if raw_payload is None:
        raise _StillFailing(STAGE_FETCH, "no raw payload stored: replay with refetch")
    try:
        return json.loads(raw_payload)
    except RecursionError:
        raise _StillFailing(STAGE_FETCH, "stored payload nests too deep to map") from None
    except ValueError as exc:
        raise _StillFailing(STAGE_MAP, f"stored payload is not JSON: {exc}") from exc


def _refetch(connector: Refetcher, source_id: str | None) -> Any:
    if not source_id:
        raise _StillFailing(STAGE_FETCH, "no source id to fetch the record again by")
    try:
        doc = connector.fetch_one(source_id)
    except ConnectorError as exc:
        raise _StillFailing(STAGE_FETCH, f"refetch: {exc}") from exc
    if doc is None:
        raise _StillFailing(STAGE_FETCH, f"refetch: {source_id} is not known at the source")
    return doc
