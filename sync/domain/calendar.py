"""When an activity happens next, and when it is over: the one calendar computation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sync.domain.activity import (
    STATUS_CANCELLED,
    STATUS_POSTPONED,
    Calendar,
    DayRange,
    Occurrence,
    OpeningHours,
    from_plain,
)

# UiTdatabank's opening hours and offset-less dates are Belgian local time; so is every date
# we show. The one home of the time zone.
BRUSSELS = ZoneInfo("Europe/Brussels")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# How far ahead the next opening is looked for when a period has no (near) end.
OPENING_SEARCH_DAYS = 400

# What an upcoming moment is.
KIND_DATE = "date"  # a dated occurrence (single, multiple)
KIND_SLOT = "slot"  # an opening slot of a periodic or permanent calendar
KIND_PERIOD = "period"  # a period without opening hours: it runs the whole time

# Dates that do not take place on their day: skipped when looking for the next one.
_NOT_ON = (STATUS_CANCELLED, STATUS_POSTPONED)


@dataclass(frozen=True, slots=True)
class Upcoming:
    """One moment to turn up: when it starts and ends (aware, UTC) and what kind it is."""

    start: datetime
    end: datetime | None
    kind: str
    all_day: bool = False
    sold_out: bool = False

    def sort_key(self, now: datetime) -> datetime:
        """Soonest first: a period or slot under way sorts as now, not as its start."""
        return max(self.start, now)

    @property
    def over(self) -> datetime | None:
        """When this stops being the next moment (and the next one takes its place): as
        `upcoming` leaves a moment out. None: a period without end, never."""
        if self.kind == KIND_DATE:
            return _date_over(self.start, self.end)
        return self.end


def calendar_of(data: dict[str, Any]) -> Calendar | None:
    """A stored version's calendar, typed; None when the version has none to read."""
    try:
        cal = from_plain(Calendar, data.get("calendar"))
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return cal if isinstance(cal, Calendar) else None


def parse(value: str | None) -> datetime | None:
    """A stored ISO 8601 moment (always with offset) as an aware datetime."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_day(moment: datetime) -> date:
    return moment.astimezone(BRUSSELS).date()


def day_start(day: date) -> datetime:
    """Midnight at the start of a Belgian day, in UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=BRUSSELS).astimezone(UTC)


def is_whole_day(start: datetime, end: datetime | None) -> bool:
    """A date without a time of day: starts at local midnight and has no end, or ends at the
    last minute of a day (23.59) or at a later midnight."""
    s = start.astimezone(BRUSSELS)
    if (s.hour, s.minute) != (0, 0):
        return False
    if end is None:
        return True
    e = end.astimezone(BRUSSELS)
    return (e.hour, e.minute) in ((23, 59), (0, 0)) and e >= s


def occurrence_over(o: Occurrence) -> datetime:
    """When a dated occurrence is over: its end; without one, the end of its day (a visitor
    may still come late, and a whole-day date lasts until midnight)."""
    start = parse(o.start)
    assert start is not None
    return _date_over(start, parse(o.end))


def _date_over(start: datetime, end: datetime | None) -> datetime:
    if end is not None and end > start:
        return end
    return day_start(local_day(start) + timedelta(days=1))


def _dated(calendar: Calendar, now: datetime, limit: int) -> list[Upcoming]:
    out: list[Upcoming] = []
    for o in calendar.occurrences:  # sorted by start at mapping time
        if o.status in _NOT_ON or occurrence_over(o) <= now:
            continue
        start = parse(o.start)
        assert start is not None
        out.append(Upcoming(start, parse(o.end), KIND_DATE,
                            all_day=o.all_day or is_whole_day(start, parse(o.end)),
                            sold_out=o.sold_out))
        if len(out) >= limit:
            break
    return out


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _covers(r: DayRange, day: date) -> bool:
    return date.fromisoformat(r.first) <= day <= date.fromisoformat(r.last)


def _slots_of_day(
    day: date, hours: tuple[OpeningHours, ...], calendar: Calendar
) -> list[tuple[datetime, datetime]]:
    if any(_covers(r, day) for r in calendar.closed_days):
        return []
    todays = next((r.opening_hours for r in calendar.adjusted_days if _covers(r, day)), hours)
    weekday = DAYS[day.weekday()]
    midnight = datetime.combine(day, time(0, 0), tzinfo=BRUSSELS)
    slots = []
    for slot in todays:
        if weekday not in slot.days:
            continue
        opens, closes = _minutes(slot.opens), _minutes(slot.closes)
        if closes <= opens:  # past midnight
            closes += 24 * 60
        slots.append((midnight + timedelta(minutes=opens), midnight + timedelta(minutes=closes)))
    return sorted(slots)


def _opening_slots(calendar: Calendar, now: datetime, limit: int) -> list[Upcoming]:
    """The next opening slots not yet closed at `now`, within the calendar's period."""
    start, end = parse(calendar.start), parse(calendar.end)
    first_day = local_day(now) - timedelta(days=1)  # yesterday: a slot past midnight
    if start is not None:
        first_day = max(first_day, local_day(start))
    last_day = first_day + timedelta(days=OPENING_SEARCH_DAYS)
    if end is not None:
        last_day = min(last_day, local_day(end))
    out: list[Upcoming] = []
    day = first_day
    while day <= last_day and len(out) < limit:
        for opens_at, closes_at in _slots_of_day(day, calendar.opening_hours, calendar):
            if closes_at <= now or (start is not None and closes_at <= start):
                continue
            if end is not None and opens_at >= end:
                continue
            out.append(Upcoming(opens_at.astimezone(UTC), closes_at.astimezone(UTC), KIND_SLOT))
        day += timedelta(days=1)
    return out[:limit]


def upcoming(calendar: Calendar, now: datetime, limit: int = 10) -> list[Upcoming]:
    """The next moments to turn up, soonest first; cancelled and postponed dates left out.

    Dated calendars give their dates; opening hours give their next slots (closed and
    adjusted days applied); a period without hours gives itself while it runs; a permanent
    calendar without hours gives nothing (it is always on).
    """
    if calendar.occurrences:
        return _dated(calendar, now, limit)
    if calendar.opening_hours or calendar.adjusted_days:
        return _opening_slots(calendar, now, limit)
    start, end = parse(calendar.start), parse(calendar.end)
    if calendar.type == "periodic" and start is not None and (end is None or end > now):
        return [Upcoming(start, end, KIND_PERIOD, all_day=is_whole_day(start, end))]
    return []


def next_occurrence(calendar: Calendar, now: datetime) -> Upcoming | None:
    found = upcoming(calendar, now, limit=1)
    return found[0] if found else None


def last_end(calendar: Calendar) -> datetime | None:
    """When the calendar is over for good; None when it has no end (permanent, open period).

    Cancelled dates do not count; a calendar whose every date is cancelled ends with them.
    """
    if calendar.occurrences:
        kept = [o for o in calendar.occurrences if o.status != STATUS_CANCELLED]
        return max(occurrence_over(o) for o in (kept or calendar.occurrences))
    if calendar.type == "permanent":
        return None
    return parse(calendar.end)
