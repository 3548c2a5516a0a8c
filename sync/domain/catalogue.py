"""Catalogue rules: what a synced outcome does to an activity and its review queue."""

from __future__ import annotations

from dataclasses import dataclass

from sync.domain.activity import MappingOutcome, NormalisedActivity, Skipped

# Activity states.
PENDING = "pending"  # waiting for a first decision; not visible
PUBLISHED = "published"  # visible at its approved version
REJECTED = "rejected"
WITHDRAWN = "withdrawn"

# Review item kinds and statuses.
KIND_NEW = "new"
KIND_CHANGED = "changed"
KIND_WITHDRAWN = "withdrawn"
ITEM_OPEN = "open"
ITEM_SUPERSEDED = "superseded"
ITEM_APPROVED = "approved"
ITEM_REJECTED = "rejected"
ITEM_CONFIRMED = "confirmed"

# What a sync does with one record.
CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
WITHDRAW = "withdraw"
SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What the sync needs to know of an activity already in the catalogue."""

    id: int
    state: str
    content_hash: str
    approved_version_id: int | None
    next_occurrence: str | None = None  # ISO 8601 UTC, as stored


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one record, the review item to open, and the activity's next state."""

    action: str
    review_kind: str | None = None
    state: str | None = None
    reason: str | None = None


def decide(
    entry: CatalogueEntry | None, outcome: MappingOutcome, content_hash: str | None = None
) -> Decision:
    """Pure transition table; the sync service carries the decision out in one transaction.

    `content_hash` is the outcome's hash when the caller has computed it already.
    """
    if isinstance(outcome, Skipped):
        if entry is None or entry.state == WITHDRAWN:
            return Decision(SKIP, reason=outcome.reason)
        return Decision(WITHDRAW, KIND_WITHDRAWN, WITHDRAWN, reason=outcome.reason)
    assert isinstance(outcome, NormalisedActivity)
    if entry is None:
        return Decision(CREATE, KIND_NEW, PENDING)
    digest = content_hash or outcome.content_hash()
    if entry.state != WITHDRAWN and entry.content_hash == digest:
        return Decision(UNCHANGED)
    # Something to compare with: the moderator sees a "changed" item with the differences.
    kind = KIND_CHANGED if entry.approved_version_id is not None else KIND_NEW
    # A published activity stays published at its approved version until a moderator decides.
    state = PUBLISHED if entry.state == PUBLISHED else PENDING
    return Decision(UPDATE, kind, state)
