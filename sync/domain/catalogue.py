"""Catalogue rules: what a synced outcome does to an activity and its review queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync.domain.activity import EncodedJson, MappingOutcome, NormalisedActivity, Skipped

# Activity states.
PENDING = "pending"  # waiting for a first decision; not visible
PUBLISHED = "published"  # visible at its approved version
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
# Its last date or `availableTo` passed: out of the public catalogue by itself, no review item,
# still listed for admins. A newer version with dates ahead brings it back to review.
EXPIRED = "expired"

# Review item kinds and statuses.
KIND_NEW = "new"
KIND_CHANGED = "changed"
KIND_WITHDRAWN = "withdrawn"
ITEM_OPEN = "open"
ITEM_SUPERSEDED = "superseded"
ITEM_APPROVED = "approved"
ITEM_REJECTED = "rejected"
ITEM_CONFIRMED = "confirmed"
ITEM_EXPIRED = "expired"  # closed without a decision: the activity is over

# What a sync does with one record.
CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
WITHDRAW = "withdraw"
SKIP = "skip"
EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What the sync needs to know of an activity already in the catalogue."""

    id: int
    state: str
    content_hash: str
    approved_version_id: int | None
    next_occurrence: str | None = None  # ISO 8601 UTC, as stored
    current_version_id: int | None = None
    source_modified: str | None = None
    raw_fingerprint: str | None = None
    mapping_version: str | None = None  # of the mapping that produced the stored activity
    visible_until: datetime | None = None
    next_occurrence_over: datetime | None = None  # when the next date moves on

    @property
    def has_open_item(self) -> bool:
        """Pending, or published with a newer version waiting: a moderator owes a decision."""
        return self.state == PENDING or (
            self.state == PUBLISHED and self.current_version_id != self.approved_version_id)


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one record, the review item to open, and the activity's next state."""

    action: str
    review_kind: str | None = None
    state: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """What is kept with an activity besides its version: the raw document it was mapped
    from, by which mapping, and until when the version is shown."""

    raw_document: str | None = None
    raw_fingerprint: str | None = None
    mapping_version: str | None = None
    visible_until: datetime | None = None

    def columns(self) -> dict[str, Any]:
        return {"raw_document": self.raw_document, "raw_fingerprint": self.raw_fingerprint,
                "mapping_version": self.mapping_version, "visible_until": self.visible_until}


NO_PROVENANCE = Provenance()


@dataclass(frozen=True, slots=True)
class NewActivity:
    """An activity new to the catalogue as its first version is written: what the rows
    need of it, mapped here or in a worker process (`data` then comes as its JSON text)."""

    source_id: str
    nis: str
    title: str
    next_occurrence: str | None
    next_occurrence_over: str | None
    modified: str
    data: dict[str, Any] | EncodedJson
    digest: str
    prov: Provenance

    @classmethod
    def of(cls, act: NormalisedActivity, data: dict[str, Any] | EncodedJson, digest: str,
           prov: Provenance) -> NewActivity:
        return cls(act.source_id, act.place.nis, act.display_title, act.next_occurrence,
                   act.next_occurrence_over, act.modified, data, digest, prov)


def decide(
    entry: CatalogueEntry | None, outcome: MappingOutcome, content_hash: str | None = None,
    *, expired: bool = False,
) -> Decision:
    """Pure transition table; the sync service carries the decision out in one transaction.

    `content_hash` is the outcome's hash when the caller has computed it already; `expired`
    says the outcome's last date or `availableTo` has passed (see `domain.visibility`).
    """
    if isinstance(outcome, Skipped):
        # An activity that is over needs no moderator to confirm it is gone as well.
        if entry is None or entry.state in (WITHDRAWN, EXPIRED):
            return Decision(SKIP, reason=outcome.reason)
        return Decision(WITHDRAW, KIND_WITHDRAWN, WITHDRAWN, reason=outcome.reason)
    assert isinstance(outcome, NormalisedActivity)
    if entry is None:
        # Nobody reviews what is already over (a first full read brings years of history).
        return Decision(CREATE, None, EXPIRED) if expired else Decision(CREATE, KIND_NEW, PENDING)
    digest = content_hash or outcome.content_hash()
    if entry.state != WITHDRAWN and entry.content_hash == digest:
        if expired and entry.state in (PENDING, PUBLISHED):
            return Decision(EXPIRE, state=EXPIRED)
        return Decision(UNCHANGED)
    if expired:
        return Decision(UPDATE, None, EXPIRED)
    # Something to compare with: the moderator sees a "changed" item with the differences.
    kind = KIND_CHANGED if entry.approved_version_id is not None else KIND_NEW
    # A published activity stays published at its approved version until a moderator decides.
    state = PUBLISHED if entry.state == PUBLISHED else PENDING
    return Decision(UPDATE, kind, state)
