"""Review rules (pure): what a moderator's decision does to a review item and its activity.

The service (`sync.service.review`) loads the item, calls these rules and stores the result;
like `catalogue.decide`, nothing here touches a database or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sync.domain import catalogue as cat
from sync.domain.activity import ACTIVITY_TYPES, LANGUAGE_LEVELS

APPROVE = "approve"
REJECT = "reject"
CONFIRM = "confirm"  # confirm a withdrawal
UNDO = "undo"
DECISIONS = (APPROVE, REJECT, CONFIRM)
ITEM_STATUS = {APPROVE: cat.ITEM_APPROVED, REJECT: cat.ITEM_REJECTED, CONFIRM: cat.ITEM_CONFIRMED}

SCOPE_OWN = "own"
SCOPE_FALLBACK = "fallback"
SCOPE_ADMIN = "admin"

# The fixed reasons for a rejection, with the wording moderators and the log see.
REJECT_REASONS: dict[str, str] = {
    "dubbel": "Dubbel: dit aanbod bestaat al.",
    "ongepast": "Ongepast: dit aanbod heeft een ongepaste inhoud.",
    "onvolledig": "Onvolledig: er ontbreekt belangrijke informatie.",
    "buiten de regio": "Buiten de regio: dit aanbod hoort niet bij de Westhoek.",
    "andere": "Andere",
}
# At most this many items in one bulk decision: a page of them, not a whole region's backlog.
BULK_MAX = 1000
REASON_MAX_LENGTH = 500  # like Discourse's reject_reason; longer text is refused, not cut


class ReviewError(Exception):
    """A decision that cannot be taken; the message is shown to the moderator (Dutch)."""


class ItemNotFound(ReviewError):
    pass


class OutOfScope(ReviewError):
    """The item belongs to a municipality the moderator does not (or no longer) serve."""


class Conflict(ReviewError):
    """Someone decided first, or the item was superseded by a newer sync."""

    def __init__(self, message: str, decided_by: str | None, decided_at: datetime | None,
                 status: str | None = None, same_decision: bool = False) -> None:
        super().__init__(message)
        self.decided_by = decided_by
        self.decided_at = decided_at
        self.status = status
        self.same_decision = same_decision  # a replay of the decision already taken


class UndoError(ReviewError):
    """Too late, someone else's decision, or something happened since."""


@dataclass(frozen=True, slots=True)
class Corrections:
    """Catalogue-only fields a moderator may set when approving."""

    activity_types: tuple[str, ...] | None = None
    language_level: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.activity_types is not None:
            out["activity_types"] = list(self.activity_types)
        if self.language_level is not None:
            out["language_levels"] = [self.language_level]
        return out


@dataclass(frozen=True, slots=True)
class Entitlement:
    """The municipalities a moderator may decide for, now: their own and, for a fallback
    moderator, those without an active local moderator."""

    moderator_id: int
    name: str
    email: str
    own: frozenset[str]
    fallback: frozenset[str]

    def scope_for(self, nis: str) -> str | None:
        if nis in self.own:
            return SCOPE_OWN
        if nis in self.fallback:
            return SCOPE_FALLBACK
        return None

    @property
    def all(self) -> frozenset[str]:
        return self.own | self.fallback


def reject_reason(code: str | None, text: str | None,
                  max_length: int = REASON_MAX_LENGTH) -> str:
    """The stored reason: the fixed label, plus the moderator's words (needed for `andere`)."""
    words = " ".join((text or "").split())  # one line; no control characters
    if len(words) > max_length:
        raise ReviewError(f"De reden is te lang: hoogstens {max_length} tekens.")
    if code is None:
        if not words:
            raise ReviewError("Geef een reden op.")
        return words
    if code not in REJECT_REASONS:
        raise ReviewError("Kies een reden uit de lijst.")
    if code == "andere" and not words:
        raise ReviewError("Geef een reden op: bij 'andere' is een uitleg nodig.")
    label = REJECT_REASONS[code]
    return f"{label} {words}" if words else label


def check_corrections(corr: Corrections, version_data: dict[str, Any]) -> Corrections:
    if corr.activity_types is not None:
        types = tuple(x for x in ACTIVITY_TYPES if x in set(corr.activity_types))
        if not types or len(types) != len(set(corr.activity_types)):
            raise ReviewError("Kies minstens één soort activiteit uit de lijst.")
        corr = Corrections(types, corr.language_level)
    # Also a single level from the feed can be wrong (an organizer's slip): always
    # correctable; the correction lands in the approved version, never in the feed.
    if corr.language_level is not None and corr.language_level not in LANGUAGE_LEVELS:
        raise ReviewError("Kies een taalniveau van 1 tot 4.")
    return corr


@dataclass(frozen=True, slots=True)
class ItemState:
    """What the rules need to know of a review item."""

    kind: str
    status: str
    lock_version: int
    decided_by: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A decision's effect: the item's new status and the activity's (None: unchanged)."""

    item_status: str
    activity_state: str | None
    needs_reason: bool
    lock_version: int


def decide(item: ItemState, decision: str, moderator: str,
           expected_lock_version: int | None = None) -> Transition:
    """The state machine of one review item: open → approved | rejected | confirmed.

    `Conflict` when someone decided first or the page was stale (`same_decision` tells a
    replay of one's own decision), `ReviewError` for a decision that does not fit the kind.
    """
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}")
    if item.status != cat.ITEM_OPEN or (
        expected_lock_version is not None and item.lock_version != expected_lock_version
    ):
        same = item.status == ITEM_STATUS[decision] and item.decided_by == moderator
        raise Conflict(f"review item is {item.status}", item.decided_by, item.decided_at,
                       item.status, same)
    after = item.lock_version + 1
    if item.kind == cat.KIND_WITHDRAWN:
        if decision != CONFIRM:
            raise ReviewError("Een ingetrokken activiteit kan je enkel bevestigen.")
        return Transition(cat.ITEM_CONFIRMED, None, False, after)
    if decision == CONFIRM:
        raise ReviewError("Alleen een ingetrokken activiteit kan je bevestigen.")
    if decision == APPROVE:
        return Transition(cat.ITEM_APPROVED, cat.PUBLISHED, False, after)
    return Transition(cat.ITEM_REJECTED, cat.REJECTED, True, after)


def check_undo_by(*, decision: str, taken_by: int | None, actor_id: int | None,
                  by_cli: bool, taken_with_link: int | None = None,
                  only_link: int | None = None) -> None:
    """Who may take a decision back: whoever took it, or an admin at the CLI. With
    `only_link` (an item link), only a decision taken through that very link: an item link
    proves one item, not the moderator's other decisions."""
    if decision == UNDO or (not by_cli and taken_by != actor_id):
        raise UndoError("Deze beslissing kan je niet terugdraaien.")
    if only_link is not None and taken_with_link != only_link:
        raise UndoError("Deze beslissing kan je niet terugdraaien.")


def check_undo_time(*, taken_at: datetime, now: datetime, window: timedelta) -> None:
    """Until when: `window` after the decision."""
    if now - taken_at > window:
        raise UndoError("Terugdraaien kan niet meer: de tijd daarvoor is voorbij.")


def unchanged_since(*, decision: str, item_status: str, item_lock: int, decided_lock: int | None,
                    activity_state: str, after_state: str, approved_version: int | None,
                    after_version: int | None, newer_open: bool) -> bool:
    """Undo only when nothing happened to the item or its activity since the decision."""
    return (item_lock == decided_lock and item_status == ITEM_STATUS[decision]
            and activity_state == after_state and approved_version == after_version
            and not newer_open)

