"""The tests' one clock: a fixed instant (the day the fixtures sync) and clocks that stand still."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def fixed(moment: datetime) -> Callable[[], datetime]:
    """A clock that always says `moment`."""
    return lambda: moment
