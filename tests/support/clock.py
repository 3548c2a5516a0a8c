"""The tests' one clock: a fixed instant (the day the fixtures sync) that does not move."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW
