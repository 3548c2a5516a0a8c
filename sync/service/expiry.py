"""Time passing: activities whose last date passed leave, next dates move on, with no feed change.

Dates pass without the source's `modified` changing, so no sync would notice. The public
queries apply the visibility rule at request time; this job records the transitions (state
`expired`, open review items closed) and keeps the stored "next date" sort key current for the
queues, the digest and `activities list`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from sync.domain.activity import NormalisedActivity
from sync.domain.calendar import next_occurrence
from sync.service.unit_of_work import UnitOfWork

log = structlog.get_logger()
BATCH = 500


@dataclass(frozen=True, slots=True)
class Housekeeping:
    expired: int
    next_dates_moved: int

    def to_json(self) -> dict[str, int]:
        return {"expired": self.expired, "next_dates_moved": self.next_dates_moved}


def expire_and_refresh(uow_factory: Callable[[], UnitOfWork], now: datetime) -> Housekeeping:
    """Expire what is over and move stale next dates on; one transaction per batch."""
    expired = moved = 0
    while True:
        with uow_factory() as uow:
            due = uow.catalogue.due_to_expire(now, BATCH)
            uow.catalogue.expire(due, now)
            uow.commit()
        expired += len(due)
        if len(due) < BATCH:
            break
    seen: set[int] = set()
    while True:
        with uow_factory() as uow:
            stale = [(a, v) for a, v in uow.catalogue.stale_next_occurrences(now, BATCH)
                     if a not in seen]
            for activity_id, version_id in stale:
                seen.add(activity_id)
                act = NormalisedActivity.from_dict(uow.catalogue.version_data(version_id))
                nxt = next_occurrence(act.calendar, now)
                over = None if nxt is None else nxt.over
                uow.catalogue.refresh(activity_id, None if nxt is None else nxt.start.isoformat(),
                                      None if over is None else over.isoformat(), None)
            uow.commit()
        moved += len(stale)
        if len(stale) < BATCH:
            break
    if expired or moved:
        log.info("catalogue housekeeping", expired=expired, next_dates_moved=moved)
    return Housekeeping(expired, moved)
