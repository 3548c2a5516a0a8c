"""Who may see an activity, and until when: publiq's availability rules, applied by us."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sync.domain.activity import AUDIENCE_EVERYONE, AUDIENCE_MEMBERS, Calendar, NormalisedActivity
from sync.domain.calendar import is_whole_day, last_end, parse

# For these event types publiq sets `availableTo` to the *start*: once a course series or a
# camp has begun, nobody can join any more (udb3's AvailableTo rule).
JOIN_BEFORE_START: frozenset[str] = frozenset({
    "0.3.1.0.0",  # Lessenreeks
    "0.57.0.0.0",  # Kamp of vakantie
})

PUBLIC = "public"
NOT_YET = "not_yet"  # `availableFrom` lies ahead
EXPIRED = "expired"  # its last date or `availableTo` passed
MEMBERS_ONLY = "members_only"  # only for members of the organizer


class Availability(Protocol):
    """What the availability rules read of an activity (the public catalogue's in-memory
    facts carry just this, without the whole activity)."""

    @property
    def calendar(self) -> Calendar: ...
    @property
    def available_from(self) -> str | None: ...
    @property
    def available_to(self) -> str | None: ...
    @property
    def event_type_id(self) -> str | None: ...


def visible_from(act: Availability) -> datetime | None:
    return parse(act.available_from)


def visible_until(act: Availability) -> datetime | None:
    """When the activity leaves the public catalogue; None for never (permanent).

    The earliest of `availableTo` (when absent, publiq's own default: the start for course
    series and camps) and the end of its last date.
    """
    ends: list[datetime] = []
    over = last_end(act.calendar)
    available_to = parse(act.available_to)
    if available_to is not None:
        # publiq copies a whole-day end date (00.00) into availableTo: that day still counts.
        if (over is not None and is_whole_day(available_to, None)
                and available_to < over <= available_to + timedelta(days=1)):
            available_to = over
        ends.append(available_to)
    elif act.event_type_id in JOIN_BEFORE_START and act.calendar.start:
        start = parse(act.calendar.start)
        assert start is not None
        ends.append(start)
    if over is not None:
        ends.append(over)
    return min(ends) if ends else None


def is_expired(act: NormalisedActivity, now: datetime) -> bool:
    until = visible_until(act)
    return until is not None and until <= now


def visibility(act: NormalisedActivity, now: datetime, *,
               include_members_only: bool = False) -> str:
    """PUBLIC, or why the public catalogue does not show the activity at `now`."""
    if is_expired(act, now):
        return EXPIRED
    start = visible_from(act)
    if start is not None and now < start:
        return NOT_YET
    if act.audience == AUDIENCE_MEMBERS and not include_members_only:
        return MEMBERS_ONLY
    if act.audience not in (AUDIENCE_EVERYONE, AUDIENCE_MEMBERS):
        return MEMBERS_ONLY  # any audience we do not know is not for the general public
    return PUBLIC
