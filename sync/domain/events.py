"""Domain events, written to the outbox in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sync.domain.activity import to_plain

# The outbox topic of a rendered mail to send by SMTP (not a domain event: a delivery).
TOPIC_EMAIL = "email.send"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    topic: ClassVar[str] = "event"

    def payload(self) -> dict[str, Any]:
        # Not `asdict`, which deep-copies: an initial sync writes one event per activity.
        payload: dict[str, Any] = to_plain(self)
        return payload


@dataclass(frozen=True, slots=True)
class ActivityEvent(DomainEvent):
    """Something happened to an activity, and a review item was opened for it."""

    activity_id: int
    review_item_id: int
    source: str
    source_id: str
    municipality_nis: str
    title: str


@dataclass(frozen=True, slots=True)
class ActivityDiscovered(ActivityEvent):
    topic: ClassVar[str] = "activity.discovered"


@dataclass(frozen=True, slots=True)
class ActivityChanged(ActivityEvent):
    topic: ClassVar[str] = "activity.changed"


@dataclass(frozen=True, slots=True)
class ActivityWithdrawn(ActivityEvent):
    topic: ClassVar[str] = "activity.withdrawn"
    reason: str


@dataclass(frozen=True, slots=True)
class ReviewDecided(DomainEvent):
    topic: ClassVar[str] = "review.decided"
    activity_id: int
    review_item_id: int
    decision: str
    decided_by: str
    reason: str | None
