"""Moderator decisions on review items: version check, corrections, undo, scope and audit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.adapters import tables as t
from sync.adapters.search_index import index_activities
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
    m, mm = t.moderators, t.moderator_municipalities
    row = conn.execute(sa.select(m).where(m.c.id == moderator_id)).one_or_none()
    if row is None or not row.active:
        return None
    own = frozenset(conn.execute(
        sa.select(mm.c.municipality_nis).where(mm.c.moderator_id == moderator_id)).scalars())
    fallback: frozenset[str] = frozenset()
    if row.email.lower() in {e.strip().lower() for e in fallback_emails}:
        covered = mods.covered(conn, now or datetime.now(UTC))
        fallback = frozenset(n for n in region_nis if n not in covered)
    return Entitlement(row.id, row.name, row.email, own, fallback)


def _corrected_version(conn: Connection, activity_id: int, version_id: int,
                       corr: Corrections, now: datetime) -> int:
    """A version row with the corrected data: the public catalogue shows the approved version,
    while the activity's content hash stays the feed's (an unchanged feed stays unchanged)."""
    v = t.activity_versions
    base = conn.execute(sa.select(v).where(v.c.id == version_id)).one()
    data = {**dict(base.data), **corr.to_json()}
    number = conn.execute(sa.select(sa.func.max(v.c.number))
                          .where(v.c.activity_id == activity_id)).scalar_one()
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    key = conn.execute(v.insert().values(
        activity_id=activity_id, number=int(number or 0) + 1,
        content_hash=hashlib.sha256(blob.encode()).hexdigest(), data=data,
        source_modified=base.source_modified, run_id=None, created_at=now,
    )).inserted_primary_key
    assert key is not None
    return int(key[0])


def _log(conn: Connection, actor: Actor, **values: Any) -> int:
    key = conn.execute(t.decision_log.insert().values(
        moderator_id=actor.moderator_id, moderator_email=actor.email, via=actor.via,
        link_token_id=actor.token_id, scope_used=actor.scope_used, ip=actor.ip,
        user_agent=(actor.user_agent or "")[:400] or None, **values,
    )).inserted_primary_key
    assert key is not None
    return int(key[0])


def decide_review(
    uow: UnitOfWork, item_id: int, decision: str, *, moderator: str, now: datetime,
    expected_lock_version: int | None = None, reason: str | None = None,
    reason_code: str | None = None, corrections: Corrections | None = None,
    actor: Actor | None = None, entitled: Entitlement | None = None,
    reason_max_length: int = REASON_MAX_LENGTH,
) -> Outcome:
    """Apply a decision in the caller's transaction: item, activity state, outbox event and
    decision log row together. With `entitled`, the item's municipality is checked now."""
    r, a = t.review_items, t.activities
    conn = uow.connection
    actor = actor or Actor(email=moderator)
    item = conn.execute(sa.select(r).where(r.c.id == item_id)).one_or_none()
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
    activity = conn.execute(sa.select(a.c.state, a.c.approved_version_id)
                            .where(a.c.id == item.activity_id)).one()
    stored_reason: str | None = None
    corr_json: dict[str, Any] | None = None
    values: dict[str, Any] = {}
    if move.activity_state == cat.PUBLISHED:
        approved = item.version_id
        if corrections is not None and (corrections.activity_types is not None
                                        or corrections.language_level is not None):
            data = conn.execute(sa.select(t.activity_versions.c.data)
                                .where(t.activity_versions.c.id == item.version_id)).scalar_one()
            corrections = check_corrections(corrections, dict(data))
            corr_json = corrections.to_json()
            approved = _corrected_version(conn, item.activity_id, item.version_id,
                                          corrections, now)
        values = {"state": cat.PUBLISHED, "approved_version_id": approved}
    elif move.needs_reason:
        stored_reason = reject_reason(reason_code, reason, reason_max_length)
        values = {"state": move.activity_state}
    item_status = move.item_status
    # The version check is repeated in the UPDATE itself, so two deciders cannot both win.
    done = conn.execute(
        r.update()
        .where(r.c.id == item_id, r.c.status == cat.ITEM_OPEN,
               r.c.lock_version == item.lock_version)
        .values(status=item_status, decided_at=now, decided_by=moderator,
                decision_reason=stored_reason, lock_version=move.lock_version)
    )
    if done.rowcount != 1:
        fresh = conn.execute(sa.select(r).where(r.c.id == item_id)).one()
        raise Conflict(f"review item {item_id} is {fresh.status}", fresh.decided_by,
                       fresh.decided_at, fresh.status)
    if values:
        conn.execute(a.update().where(a.c.id == item.activity_id).values(updated_at=now, **values))
        index_activities(conn, [item.activity_id])
    state = values.get("state", activity.state)
    decision_id = _log(
        conn, actor, review_item_id=item_id, activity_id=item.activity_id, decision=decision,
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
    kinds = dict(uow.connection.execute(
        sa.select(t.review_items.c.id, t.review_items.c.kind)
        .where(t.review_items.c.id.in_([i for i, _ in items]))).all())
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
    conn = uow.connection
    d, r, a = t.decision_log, t.review_items, t.activities
    row = conn.execute(sa.select(d).where(d.c.id == decision_id)).one_or_none()
    if row is None:
        raise UndoError("Deze beslissing kan je niet terugdraaien.")
    rules.check_undo_by(decision=row.decision, taken_by=row.moderator_id,
                        actor_id=actor.moderator_id, by_cli=actor.via == VIA_CLI,
                        taken_with_link=row.link_token_id, only_link=only_link)
    if entitled is not None:
        nis = conn.execute(sa.select(r.c.municipality_nis)
                           .where(r.c.id == row.review_item_id)).scalar_one()
        if entitled.scope_for(nis) is None:
            raise UndoError("Deze activiteit hoort niet meer bij een gemeente waarvoor jij "
                            "beslist.")
    rules.check_undo_time(taken_at=row.at, now=now, window=window)
    item = conn.execute(sa.select(r).where(r.c.id == row.review_item_id)).one()
    activity = conn.execute(sa.select(a.c.state, a.c.approved_version_id)
                            .where(a.c.id == row.activity_id)).one()
    newer_open = conn.execute(
        sa.select(r.c.id).where(r.c.activity_id == row.activity_id, r.c.status == cat.ITEM_OPEN)
    ).first()
    if not rules.unchanged_since(
            decision=row.decision, item_status=item.status, item_lock=item.lock_version,
            decided_lock=row.lock_version, activity_state=activity.state,
            after_state=row.after_state, approved_version=activity.approved_version_id,
            after_version=row.after_version_id, newer_open=newer_open is not None):
        raise UndoError("Terugdraaien kan niet meer: er is intussen iets veranderd.")
    done = conn.execute(
        r.update().where(r.c.id == item.id, r.c.lock_version == item.lock_version)
        .values(status=cat.ITEM_OPEN, decided_at=None, decided_by=None, decision_reason=None,
                lock_version=item.lock_version + 1))
    if done.rowcount != 1:
        raise UndoError("Terugdraaien kan niet meer: er is intussen iets veranderd.")
    conn.execute(a.update().where(a.c.id == row.activity_id).values(
        state=row.before_state, approved_version_id=row.before_version_id, updated_at=now))
    index_activities(conn, [row.activity_id])
    if row.link_token_id is not None:
        # The item link works again, so the moderator can decide anew from the same mail.
        lt = t.link_tokens
        conn.execute(lt.update().where(lt.c.id == row.link_token_id, lt.c.scope == "item")
                     .values(used_at=None))
    actor = Actor(actor.email, actor.moderator_id, actor.via, actor.token_id,
                  actor.scope_used if actor.via == VIA_CLI else row.scope_used, actor.ip,
                  actor.user_agent)
    undo_id = _log(
        conn, actor, review_item_id=item.id, activity_id=row.activity_id, decision=UNDO,
        reason=None, before_state=row.after_state, after_state=row.before_state,
        corrections=None, at=now, before_version_id=row.after_version_id,
        after_version_id=row.before_version_id, lock_version=item.lock_version + 1,
        undo_of_id=row.id)
    uow.outbox.add(ReviewDecided(row.activity_id, item.id, UNDO, actor.email, None), now)
    return Outcome(item.id, row.activity_id, cat.ITEM_OPEN, row.before_state, undo_id)


def audit_rows(conn: Connection, limit: int = 200, item_id: int | None = None
               ) -> list[dict[str, Any]]:
    """The decision log, newest first."""
    d = t.decision_log
    q = sa.select(d).order_by(d.c.id.desc()).limit(limit)
    if item_id is not None:
        q = q.where(d.c.review_item_id == item_id)
    return [dict(row._mapping) for row in conn.execute(q)]
