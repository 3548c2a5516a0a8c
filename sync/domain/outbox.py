"""Outbox message states: pending, delivered, or dead (the relay gave up until an admin retries)."""

from __future__ import annotations

from datetime import datetime

# After this many failed deliveries the relay stops trying: the message is dead until retried.
OUTBOX_MAX_ATTEMPTS = 8

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
STATUSES = (PENDING, DELIVERED, DEAD)


def status_of(delivered_at: datetime | None, attempts: int) -> str:
    """A message's state; sync.adapters.queries.outbox.gave_up() says "dead" in SQL alike."""
    if delivered_at is not None:
        return DELIVERED
    return DEAD if attempts >= OUTBOX_MAX_ATTEMPTS else PENDING
