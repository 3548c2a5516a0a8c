"""Domain events, written to the outbox in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

# The outbox topic of a rendered mail to send by SMTP (not a domain event: a delivery).
TOPIC_EMAIL = "email.send"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    topic: ClassVar[str] = "event"

    def payload(self) -> dict[str, Any]:
        # Not `asdict`, which deep-copies: every field of an event is a str, int or None,
        # and an initial sync writes one event per new activity.
        kind = type(self)
        names = _FIELD_NAMES.get(kind)
        if names is None:
            names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(self))
        return {name: getattr(self, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


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
