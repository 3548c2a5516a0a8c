"""Domain events: the outbox payload holds every field of the event, by name."""

from __future__ import annotations

from dataclasses import asdict

from sync.domain.events import (
    ActivityChanged,
    ActivityDiscovered,
    ActivityWithdrawn,
    DomainEvent,
    ReviewDecided,
)


def test_payload_is_every_field_by_name() -> None:
    events: list[DomainEvent] = [
        ActivityDiscovered(1, 2, "uitdatabank", "e-1", "33011", "Praatcafé"),
        ActivityChanged(3, 4, "uitdatabank", "e-2", "33021", "Wandeling"),
        ActivityWithdrawn(5, 6, "uitdatabank", "e-3", "38016", "Kookles", "deleted"),
        ReviewDecided(7, 8, "rejected", "an@example.be", None),
    ]
    for event in events:
        assert event.payload() == asdict(event)
    assert ActivityWithdrawn(5, 6, "u", "e", "n", "t", "cancelled").payload()["reason"] == \
        "cancelled"
    assert set(ReviewDecided(7, 8, "approved", "x", "ok").payload()) == {
        "activity_id", "review_item_id", "decision", "decided_by", "reason"}
