"""Dutch (nl-BE) wording of dates, times, counts and prices: the one home of that copy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sync.domain.activity import OpeningHours
from sync.domain.calendar import (
    BRUSSELS,
    DAYS,
    KIND_PERIOD,
    KIND_SLOT,
    Upcoming,
    calendar_of,
    next_occurrence,
)

WEEKDAYS_NL = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
WEEKDAYS_SHORT_NL = ("ma", "di", "wo", "do", "vr", "za", "zo")
MONTHS_NL = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
             "september", "oktober", "november", "december")


def count(n: int, one: str, many: str) -> str:
    """"1 activiteit", "3 activiteiten": both forms written out, never glued together."""
    return f"{n} {one if n == 1 else many}"


def levels(n: int) -> str:
    return count(n, "taalicoon", "taaliconen")


def local(moment: datetime) -> datetime:
    return moment.astimezone(BRUSSELS)


def day(value: datetime | date, *, weekday: bool = True, year: bool = True) -> str:
    """"zaterdag 5 december 2026"."""
    d = local(value).date() if isinstance(value, datetime) else value
    text = f"{d.day} {MONTHS_NL[d.month - 1]}"
    if year:
        text += f" {d.year}"
    return f"{WEEKDAYS_NL[d.weekday()]} {text}" if weekday else text


def short_day(moment: datetime) -> str:
    """"za 5 dec 2026": a date in a list, where a line is short (the moderators' digest)."""
    d = local(moment)
    return f"{WEEKDAYS_SHORT_NL[d.weekday()]} {d.day} {MONTHS_SHORT_NL[d.month - 1]} {d.year}"


def clock(moment: datetime) -> str:
    """"19.30" (Flemish style, no leading zero)."""
    t = local(moment)
    return f"{t.hour}.{t.minute:02d}"


def moment(value: datetime) -> str:
    """"zaterdag 5 december 2026, 19.30 uur"."""
    return f"{day(value)}, {clock(value)} uur"


def span(start: datetime, end: datetime | None, *, all_day: bool = False) -> str:
    """One date with its times: a whole day shows no time, several days say from … to …."""
    s = local(start)
    e = local(end) if end is not None else None
    if all_day:
        last = e.date() if e is not None else s.date()
        if e is not None and (e.hour, e.minute) == (0, 0) and e.date() > s.date():
            last = e.date().fromordinal(e.date().toordinal() - 1)
        if last <= s.date():
            return day(s)
        return f"van {day(s)} tot en met {day(last)}"
    if e is None or e <= s:
        return moment(s)
    if e.date() == s.date() or (e.date().toordinal() - s.date().toordinal() == 1
                                and e.hour < 6):
        return f"{day(s)}, {clock(s)} tot {clock(e)} uur"
    return f"van {moment(s)} tot {moment(e)}"


def when(up: Upcoming, now: datetime) -> str:
    """The next moment to turn up, as a newcomer reads it."""
    if up.kind == KIND_PERIOD:
        if up.end is None:
            return f"vanaf {day(up.start)}" if up.start > now else "doorlopend"
        end = up.end
        if up.start > now:
            return f"van {day(up.start)} tot en met {day(_last_day(end))}"
        return f"nog tot en met {day(_last_day(end))}"
    if up.kind == KIND_SLOT:
        return f"{day(up.start)}, {clock(up.start)} tot {clock(up.end or up.start)} uur"
    return span(up.start, up.end, all_day=up.all_day)


def next_when(data: dict[str, Any], now: datetime) -> str:
    """The next moment of a stored version, worded as the public catalogue words it."""
    cal = calendar_of(data)
    nxt = next_occurrence(cal, now) if cal is not None else None
    if nxt is not None:
        return when(nxt, now)
    if cal is not None and cal.type == "permanent":
        return "doorlopend"
    return "geen datum meer gepland"


def _last_day(end: datetime) -> date:
    e = local(end)
    # An end at 00.00 closes the day before.
    if (e.hour, e.minute) == (0, 0):
        return date.fromordinal(e.date().toordinal() - 1)
    return e.date()


def opening_hours(hours: tuple[OpeningHours, ...]) -> list[str]:
    """"maandag, dinsdag: 9.00 tot 12.00 uur", one line per slot."""
    lines = []
    for oh in hours:
        names = [WEEKDAYS_NL[DAYS.index(d)] for d in oh.days if d in DAYS]
        lines.append(f"{', '.join(names)}: {_hhmm(oh.opens)} tot {_hhmm(oh.closes)} uur")
    return lines


def _hhmm(value: str) -> str:
    hours, minutes = value.split(":")
    return f"{int(hours)}.{minutes}"


def money(amount: float | None, currency: str = "EUR") -> str:
    """"€ 5,00", "€ 1 250,00"."""
    if amount is None:
        return "onbekend"
    sign = "€ " if currency == "EUR" else f"{currency} "
    return sign + f"{amount:,.2f}".replace(",", " ").replace(".", ",")


MONTHS_SHORT_NL = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov",
                   "dec")


def number(n: int) -> str:
    """"1.250": a dot between thousands."""
    return f"{n:,}".replace(",", ".")


def counted(n: int, one: str, many: str) -> str:
    """"1 activiteit", "1.250 activiteiten": `count` for numbers that may run into thousands."""
    return f"{number(n)} {one if n == 1 else many}"


def percent(value: float) -> str:
    """"54,26 %": a decimal comma and a space before the sign."""
    return f"{value:.2f}".replace(".", ",") + " %"


def month(d: date) -> str:
    """"november 2026"."""
    return f"{MONTHS_NL[d.month - 1]} {d.year}"


def duration(hours: float | None) -> str:
    """A wait in words read at a glance: "minder dan een uur", "5 uur", "3 dagen"."""
    if hours is None:
        return "nog niets beslist"
    if hours < 1:
        return "minder dan een uur"
    if hours < 48:
        return f"{round(hours)} uur"
    days = round(hours / 24)
    return "1 dag" if days == 1 else f"{days} dagen"
