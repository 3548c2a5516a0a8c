"""Moderator decisions on review items: version check, corrections, undo, scope and audit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from sync.adapters.moderation import ReviewRepository
from sync.domain import catalogue as cat
from sync.domain import review as rules
from sync.domain.events import ReviewDecided
from sync.domain.review import (
    APPROVE,
    BULK_MAX,
    CONFIRM,
    DECISIONS,
    ITEM_STATUS,
    REASON_MAX_LENGTH,
    REJECT,
    REJECT_REASONS,
    SCOPE_ADMIN,
    SCOPE_FALLBACK,
    SCOPE_OWN,
    UNDO,
    Conflict,
    Corrections,
    Entitlement,
    ItemNotFound,
    OutOfScope,
    ReviewError,
    UndoError,
    check_corrections,
    reject_reason,
)
from sync.service import links
from sync.service import moderators as mods
from sync.service.unit_of_work import UnitOfWork

# The rules live in sync.domain.review; their names are part of this service's interface.
__all__ = [
    "APPROVE", "BULK_MAX", "CONFIRM", "DECISIONS", "ITEM_STATUS", "REASON_MAX_LENGTH", "REJECT",
    "REJECT_REASONS", "SCOPE_ADMIN", "SCOPE_FALLBACK", "SCOPE_OWN", "UNDO", "Conflict",
    "Corrections", "Entitlement", "ItemNotFound", "OutOfScope", "ReviewError", "UndoError",
    "check_corrections", "reject_reason", "VIA_LINK", "VIA_PAGE", "VIA_CLI", "Actor",
    "Outcome", "BulkResult", "entitlement", "decide_review", "bulk_approve", "bulk_confirm",
    "undo_decision", "audit_rows", "skip_text",
]

VIA_LINK = "link"  # an item link from a mail
VIA_PAGE = "page"  # the queue page of a queue link
VIA_CLI = "cli"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who decides, through which channel; recorded in the decision log."""

    email: str
    moderator_id: int | None = None
    via: str = VIA_CLI
    token_id: int | None = None
    scope_used: str = SCOPE_ADMIN
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    item_id: int
    activity_id: int
    item_status: str
    activity_state: str
    decision_id: int | None = None


@dataclass(slots=True)
class BulkResult:
    done: list[Outcome] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # item id, SKIP_* code


def entitlement(conn: Connection, moderator_id: int, fallback_emails: Iterable[str],
                region_nis: Iterable[str], now: datetime | None = None) -> Entitlement | None:
    """Read-only (a GET may call it): None for an unknown or inactive moderator. A fallback
    moderator also decides for municipalities whose moderators are all away on `now`."""
    found = mods.list_all(conn, ids=[moderator_id])
    if not found or not found[0].active:
        return None
    me = found[0]
    fallback: frozenset[str] = frozenset()
    if me.email.lower() in {e.strip().lower() for e in fallback_emails}:
        covered = mods.covered(conn, now or datetime.now(UTC))
        fallback = frozenset(n for n in region_nis if n not in covered)
    return Entitlement(me.id, me.name, me.email, frozenset(me.municipalities), fallback)


def _corrected_version(reviews: ReviewRepository, version_id: int, corr: Corrections,
                       now: datetime) -> int:
    """A version row with the corrected data: the public catalogue shows the approved version,
    while the activity's content hash stays the feed's (an unchanged feed stays unchanged)."""
    data = {**reviews.version_data(version_id), **corr.to_json()}
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return reviews.add_version_like(version_id, data, hashlib.sha256(blob.encode()).hexdigest(),
                                    now)


def _log(reviews: ReviewRepository, actor: Actor, **values: Any) -> int:
    return reviews.log(
        moderator_id=actor.moderator_id, moderator_email=actor.email, via=actor.via,
        link_token_id=actor.token_id, scope_used=actor.scope_used, ip=actor.ip,
        user_agent=(actor.user_agent or "")[:400] or None, **values)


def decide_review(
    uow: UnitOfWork, item_id: int, decision: str, *, moderator: str, now: datetime,
    expected_lock_version: int | None = None, reason: str | None = None,
    reason_code: str | None = None, corrections: Corrections | None = None,
    actor: Actor | None = None, entitled: Entitlement | None = None,
    reason_max_length: int = REASON_MAX_LENGTH,
) -> Outcome:
    """Apply a decision in the caller's transaction: item, activity state, outbox event and
    decision log row together. With `entitled`, the item's municipality is checked now."""
    reviews = uow.reviews
    actor = actor or Actor(email=moderator)
    item = reviews.item(item_id)
    if item is None:
        raise ItemNotFound(f"review item {item_id} does not exist")
    if entitled is not None:
        scope = entitled.scope_for(item.municipality_nis)
        if scope is None:
            raise OutOfScope("Dit item hoort niet bij een gemeente waarvoor je beslist.")
        actor = Actor(actor.email, actor.moderator_id, actor.via, actor.token_id, scope,
                      actor.ip, actor.user_agent)
    try:
        move = rules.decide(rules.ItemState(item.kind, item.status, item.lock_version,
                                            item.decided_by, item.decided_at),
                            decision, moderator, expected_lock_version)
    except Conflict as exc:
        raise Conflict(f"review item {item_id} is {item.status}", exc.decided_by,
                       exc.decided_at, exc.status, exc.same_decision) from None
    activity = reviews.activity(item.activity_id)
    stored_reason: str | None = None
    corr_json: dict[str, Any] | None = None
    values: dict[str, Any] = {}
    if move.activity_state == cat.PUBLISHED:
        approved = item.version_id
        if corrections is not None and (corrections.activity_types is not None
                                        or corrections.language_level is not None):
            corrections = check_corrections(corrections, reviews.version_data(item.version_id))
            corr_json = corrections.to_json()
            approved = _corrected_version(reviews, item.version_id, corrections, now)
        values = {"state": cat.PUBLISHED, "approved_version_id": approved}
    elif move.needs_reason:
        stored_reason = reject_reason(reason_code, reason, reason_max_length)
        values = {"state": move.activity_state}
    item_status = move.item_status
    # The version check is repeated in the UPDATE itself, so two deciders cannot both win.
    if not reviews.close(item_id, item.lock_version, status=item_status, now=now,
                         decided_by=moderator, reason=stored_reason,
                         new_lock=move.lock_version):
        fresh = reviews.item(item_id)
        raise Conflict(f"review item {item_id} is {fresh.status}", fresh.decided_by,
                       fresh.decided_at, fresh.status)
    if values:
        reviews.set_activity(item.activity_id, now, **values)
    state = values.get("state", activity.state)
    decision_id = _log(
        reviews, actor, review_item_id=item_id, activity_id=item.activity_id, decision=decision,
        reason=stored_reason, before_state=activity.state, after_state=state,
        corrections=corr_json, at=now, before_version_id=activity.approved_version_id,
        after_version_id=values.get("approved_version_id", activity.approved_version_id),
        lock_version=move.lock_version,
    )
    uow.outbox.add(ReviewDecided(item.activity_id, item_id, decision, moderator, stored_reason),
                   now)
    return Outcome(item_id, item.activity_id, item_status, state, decision_id)


def bulk_approve(
    uow: UnitOfWork, items: Sequence[tuple[int, int]], *, actor: Actor, now: datetime,
    entitled: Entitlement,
) -> BulkResult:
    """Approve each (item id, lock_version) in its own savepoint: one conflict skips that item,
    not the others. New and changed items only; withdrawals go through `bulk_confirm`."""
    return _bulk(uow, items, APPROVE, actor=actor, now=now, entitled=entitled)


def bulk_confirm(
    uow: UnitOfWork, items: Sequence[tuple[int, int]], *, actor: Actor, now: datetime,
    entitled: Entitlement,
) -> BulkResult:
    """Confirm each selected withdrawal, like `bulk_approve` (a withdrawal only says "this
    activity is gone", so confirming many at once is safe)."""
    return _bulk(uow, items, CONFIRM, actor=actor, now=now, entitled=entitled)


SKIP_WITHDRAWN = "withdrawn"  # a withdrawal in an approval
SKIP_NOT_WITHDRAWN = "not_withdrawn"  # a new or changed item in a confirmation
SKIP_STALE = "stale"
SKIP_DECIDED = "decided"
SKIP_OTHER = "other"
SKIP_NL = {
    SKIP_WITHDRAWN: "Een intrekking bevestig je met de knop ‘Intrekkingen bevestigen’.",
    SKIP_NOT_WITHDRAWN: "Dit is geen intrekking: keur het goed of af.",
    SKIP_STALE: "intussen gewijzigd",
    SKIP_OTHER: "hoort niet bij een gemeente waarvoor je beslist",
}


def skip_text(code: str, decided_by: str | None) -> str:
    """Why a bulk decision skipped an item, in Dutch."""
    if code == SKIP_DECIDED:
        return f"al beslist door {decided_by}" if decided_by else "al beslist"
    return SKIP_NL.get(code, SKIP_NL[SKIP_OTHER])


def _bulk(uow: UnitOfWork, items: Sequence[tuple[int, int]], decision: str, *, actor: Actor,
          now: datetime, entitled: Entitlement) -> BulkResult:
    result = BulkResult()
    kinds = uow.reviews.kinds([i for i, _ in items])
    for item_id, lock in items:
        withdrawal = kinds.get(item_id) == cat.KIND_WITHDRAWN
        if withdrawal != (decision == CONFIRM):
            result.skipped.append((item_id, SKIP_WITHDRAWN if withdrawal
                                   else SKIP_NOT_WITHDRAWN))
            continue
        try:
            with uow.savepoint():
                result.done.append(decide_review(
                    uow, item_id, decision, moderator=actor.email, now=now,
                    expected_lock_version=lock, actor=actor, entitled=entitled))
        except Conflict as exc:
            stale = exc.status == cat.ITEM_SUPERSEDED or not exc.decided_by
            result.skipped.append((item_id, SKIP_STALE if stale else SKIP_DECIDED))
        except ReviewError:
            result.skipped.append((item_id, SKIP_OTHER))
    return result


def undo_decision(
    uow: UnitOfWork, decision_id: int, *, actor: Actor, now: datetime, window: timedelta,
    entitled: Entitlement | None = None, only_link: int | None = None,
) -> Outcome:
    """Take a decision back within `window`, by whoever took it (or from the CLI), when
    nothing changed since: the item is open again with the earlier state and approved version.
    `only_link`: an item link's token id; it undoes only what was decided through it."""
    reviews = uow.reviews
    row = reviews.decision(decision_id)
    if row is None:
        raise UndoError("Deze beslissing kan je niet terugdraaien.")
    rules.check_undo_by(decision=row.decision, taken_by=row.moderator_id,
                        actor_id=actor.moderator_id, by_cli=actor.via == VIA_CLI,
                        taken_with_link=row.link_token_id, only_link=only_link)
    item = reviews.item(row.review_item_id)
    if entitled is not None and entitled.scope_for(item.municipality_nis) is None:
        raise UndoError("Deze activiteit hoort niet meer bij een gemeente waarvoor jij "
                        "beslist.")
    rules.check_undo_time(taken_at=row.at, now=now, window=window)
    activity = reviews.activity(row.activity_id)
    if not rules.unchanged_since(
            decision=row.decision, item_status=item.status, item_lock=item.lock_version,
            decided_lock=row.lock_version, activity_state=activity.state,
            after_state=row.after_state, approved_version=activity.approved_version_id,
            after_version=row.after_version_id, newer_open=reviews.has_open(row.activity_id)):
        raise UndoError("Terugdraaien kan niet meer: er is intussen iets veranderd.")
    if not reviews.reopen(item.id, item.lock_version):
        raise UndoError("Terugdraaien kan niet meer: er is intussen iets veranderd.")
    reviews.set_activity(row.activity_id, now, state=row.before_state,
                         approved_version_id=row.before_version_id)
    if row.link_token_id is not None:
        # The item link works again, so the moderator can decide anew from the same mail.
        uow.links.unuse(row.link_token_id, links.SCOPE_ITEM)
    actor = Actor(actor.email, actor.moderator_id, actor.via, actor.token_id,
                  actor.scope_used if actor.via == VIA_CLI else row.scope_used, actor.ip,
                  actor.user_agent)
    undo_id = _log(
        reviews, actor, review_item_id=item.id, activity_id=row.activity_id, decision=UNDO,
        reason=None, before_state=row.after_state, after_state=row.before_state,
        corrections=None, at=now, before_version_id=row.after_version_id,
        after_version_id=row.before_version_id, lock_version=item.lock_version + 1,
        undo_of_id=row.id)
    uow.outbox.add(ReviewDecided(row.activity_id, item.id, UNDO, actor.email, None), now)
    return Outcome(item.id, row.activity_id, cat.ITEM_OPEN, row.before_state, undo_id)


def audit_rows(conn: Connection, limit: int = 200, item_id: int | None = None
               ) -> list[dict[str, Any]]:
    """The decision log, newest first."""
    return ReviewRepository(conn).audit(limit, item_id)
