"""Moderator decisions on review items, with an optimistic version check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain import catalogue as cat
from sync.domain.events import ReviewDecided
from sync.service.unit_of_work import UnitOfWork

APPROVE = "approve"
REJECT = "reject"
CONFIRM = "confirm"  # confirm a withdrawal


class ReviewError(Exception):
    """A decision that cannot be taken."""


class ItemNotFound(ReviewError):
    pass


class Conflict(ReviewError):
    """Someone decided first, or the item was superseded by a newer sync."""

    def __init__(self, message: str, decided_by: str | None, decided_at: datetime | None):
        super().__init__(message)
        self.decided_by = decided_by
        self.decided_at = decided_at


@dataclass(frozen=True, slots=True)
class Outcome:
    item_id: int
    activity_id: int
    item_status: str
    activity_state: str


def decide_review(
    uow: UnitOfWork, item_id: int, decision: str, *, moderator: str, now: datetime,
    expected_lock_version: int | None = None, reason: str | None = None,
) -> Outcome:
    """Apply a decision in the caller's transaction; the activity state follows."""
    r, a = t.review_items, t.activities
    conn = uow.connection
    item = conn.execute(sa.select(r).where(r.c.id == item_id)).one_or_none()
    if item is None:
        raise ItemNotFound(f"review item {item_id} does not exist")
    if item.status != cat.ITEM_OPEN or (
        expected_lock_version is not None and item.lock_version != expected_lock_version
    ):
        raise Conflict(
            f"review item {item_id} is {item.status}", item.decided_by, item.decided_at
        )
    if item.kind == cat.KIND_WITHDRAWN:
        if decision != CONFIRM:
            raise ReviewError("a withdrawn item can only be confirmed")
        item_status, values = cat.ITEM_CONFIRMED, {}
    elif decision == APPROVE:
        item_status = cat.ITEM_APPROVED
        values = {"state": cat.PUBLISHED, "approved_version_id": item.version_id}
    elif decision == REJECT:
        if not reason:
            raise ReviewError("a rejection needs a reason")
        item_status, values = cat.ITEM_REJECTED, {"state": cat.REJECTED}
    else:
        raise ReviewError(f"unknown decision {decision!r}")
    # The version check is repeated in the UPDATE itself, so two deciders cannot both win.
    done = conn.execute(
        r.update()
        .where(r.c.id == item_id, r.c.status == cat.ITEM_OPEN,
               r.c.lock_version == item.lock_version)
        .values(status=item_status, decided_at=now, decided_by=moderator,
                decision_reason=reason, lock_version=item.lock_version + 1)
    )
    if done.rowcount != 1:
        fresh = conn.execute(sa.select(r).where(r.c.id == item_id)).one()
        raise Conflict(f"review item {item_id} is {fresh.status}", fresh.decided_by,
                       fresh.decided_at)
    if values:
        conn.execute(a.update().where(a.c.id == item.activity_id).values(updated_at=now, **values))
    state = conn.execute(sa.select(a.c.state).where(a.c.id == item.activity_id)).scalar_one()
    uow.outbox.add(ReviewDecided(item.activity_id, item_id, decision, moderator, reason), now)
    return Outcome(item_id, item.activity_id, item_status, state)
