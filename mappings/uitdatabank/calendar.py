"""The calendar of a SAPI3 event: single, multiple, periodic or permanent, in its legacy shapes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mappings.uitdatabank.readers import (
    MAX_TEXT,
    Moment,
    as_datetime,
    as_list,
    as_moment,
    as_object,
    as_str,
    cap,
    hhmm,
    last_segment,
    multi_line,
    opt_datetime,
    opt_moment,
    show,
    status,
    unavailable,
)
from sync.domain.activity import Calendar, DayRange, MappingError, Occurrence, OpeningHours
from sync.domain.calendar import BRUSSELS, DAYS, is_whole_day

CALENDAR_TYPES = ("single", "multiple", "periodic", "permanent")


def calendar_type(doc: Mapping[str, Any]) -> str:
    value = doc.get("calendarType")
    if value is None:
        if as_list(doc.get("subEvent"), "subEvent"):
            return "multiple"
        has_start = doc.get("startDate") not in (None, "")
        has_hours = bool(as_list(doc.get("openingHours"), "openingHours"))
        if has_start and has_hours:
            return "periodic"
        if has_start:
            return "single"
        if has_hours:
            return "permanent"
        raise MappingError(
            "calendarType", "missing, and no subEvent, startDate or openingHours to infer it"
        )
    if not isinstance(value, str):
        raise MappingError("calendarType", f"expected a string, got {type(value).__name__}")
    found = value.strip().casefold()
    if found not in CALENDAR_TYPES:
        raise MappingError("calendarType", f"unknown calendar type {show(value)}")
    return found


def summary(doc: Mapping[str, Any]) -> str | None:
    """SAPI3's Dutch calendar summary: a string (legacy) or a map of formats."""
    value = doc.get("calendarSummary")
    if isinstance(value, Mapping):  # embedCalendarSummaries: {"nl": {"text": {"md": …}}}
        value = value.get("nl", value)
        for key in ("text", "md", "lg", "sm", "xs", "xl"):
            if isinstance(value, Mapping) and key in value:
                value = value[key]
    if not isinstance(value, str):
        return None
    text = " ".join(multi_line(value).split())
    return cap(text, MAX_TEXT // 10) or None


def read_calendar(doc: Mapping[str, Any], event_status: str, sold_out: bool) -> Calendar:
    kind = calendar_type(doc)
    start = opt_moment(doc.get("startDate"), "startDate")
    end = opt_moment(doc.get("endDate"), "endDate")

    if kind in ("single", "multiple"):
        dated = _occurrences(doc, kind, start, end, event_status, sold_out)
        return Calendar(
            type=kind,
            start=start[1] if start else dated[0].start,
            end=end[1] if end else _last_end(dated),
            occurrences=tuple(dated),
            summary=summary(doc),
        )

    hours = opening_hours(doc.get("openingHours"), "openingHours")
    closed = _day_ranges(doc.get("openingHoursClosedDays"), with_hours=False)
    adjusted = _day_ranges(doc.get("openingHoursAdjustedDays"), with_hours=True)
    if kind == "periodic":
        if start is None:
            raise MappingError("startDate", "missing on a periodic calendar")
        return Calendar(type="periodic", start=start[1], end=end[1] if end else None,
                        opening_hours=hours, closed_days=closed, adjusted_days=adjusted,
                        summary=summary(doc))
    # Permanent: dates, if any, are noise from older data.
    return Calendar(type="permanent", opening_hours=hours, closed_days=closed,
                    adjusted_days=adjusted, summary=summary(doc))


def _last_end(dated: list[Occurrence]) -> str | None:
    ends = [o.end for o in dated if o.end is not None]
    return max(ends) if ends else None


def _occurrences(
    doc: Mapping[str, Any], kind: str, start: Moment | None, end: Moment | None,
    event_status: str, sold_out: bool,
) -> list[Occurrence]:
    # A `single` event normally repeats its date as subEvent[0] (with its own status and
    # times); without a top-level startDate that sub-event is the date.
    sub_events = as_list(doc.get("subEvent"), "subEvent")
    if kind == "single" and start is not None and len(sub_events) != 1:
        sub_events = []
    if not sub_events:
        if start is None:
            if kind == "multiple":
                raise MappingError("subEvent", "calendarType multiple without subEvents")
            raise MappingError("startDate", "missing on a single calendar")
        # Legacy `multiple` documents carry only the overall span (and a calendarSummary
        # text); the span is the best occurrence we can offer.
        return [Occurrence(start[1], end[1] if end else None, event_status, sold_out,
                           all_day=is_whole_day(start[0], end[0] if end else None))]
    dated: list[tuple[datetime, datetime | None, Occurrence]] = []
    for i, raw in enumerate(sub_events):
        path = f"subEvent[{i}]"
        sub = as_object(raw, path)
        sub_start, sub_start_text = as_moment(sub.get("startDate"), f"{path}.startDate")
        sub_end_moment = opt_moment(sub.get("endDate"), f"{path}.endDate")
        sub_end = sub_end_moment[0] if sub_end_moment else None
        # A sub-event without its own status shares the event's.
        sub_status = status(sub.get("status"), f"{path}.status", event_status)
        sub_sold_out = unavailable(sub.get("bookingAvailability"),
                                   f"{path}.bookingAvailability")
        occurrence = Occurrence(sub_start_text, sub_end_moment[1] if sub_end_moment else None,
                                sub_status, sub_sold_out,
                                all_day=is_whole_day(sub_start, sub_end))
        dated.append((sub_start, sub_end, occurrence))
    # Sorted, so reordering sub-events in the source does not change the content hash.
    dated.sort(key=lambda item: (item[0], item[1] or item[0]))
    return [o for _, _, o in dated]


def opening_hours(value: Any, path: str) -> tuple[OpeningHours, ...]:
    out: list[OpeningHours] = []
    for i, raw in enumerate(as_list(value, path)):
        out.append(_one_opening(as_object(raw, f"{path}[{i}]"), f"{path}[{i}]"))
    return tuple(out)


def _one_opening(entry: Mapping[str, Any], path: str) -> OpeningHours:
    days_value = entry.get("dayOfWeek")
    raw_days = [days_value] if isinstance(days_value, str) else as_list(
        days_value, f"{path}.dayOfWeek")
    days: set[str] = set()
    for j, raw_day in enumerate(raw_days):
        day = as_str(raw_day, f"{path}.dayOfWeek[{j}]")
        # schema.org also writes days as URLs (http://schema.org/Monday).
        name = (last_segment(day) or "").casefold() if day else ""
        if name not in DAYS:
            raise MappingError(f"{path}.dayOfWeek[{j}]", f"unknown day {show(raw_day)}")
        days.add(name)
    if not days:
        raise MappingError(f"{path}.dayOfWeek", "missing")
    return OpeningHours(
        days=tuple(d for d in DAYS if d in days),
        opens=hhmm(entry.get("opens"), f"{path}.opens"),
        closes=hhmm(entry.get("closes"), f"{path}.closes"),
    )


def _day_ranges(value: Any, *, with_hours: bool) -> tuple[DayRange, ...]:
    # Closed and adjusted days only refine the next opening: a malformed entry is ignored
    # rather than failing an otherwise good event.
    try:
        items = as_list(value, "openingHoursAdjustedDays")
    except MappingError:
        return ()
    out: list[DayRange] = []
    for i, raw in enumerate(items):
        try:
            entry = as_object(raw, f"[{i}]")
            first = as_datetime(entry.get("startDate"), "startDate").astimezone(BRUSSELS)
            last = opt_datetime(entry.get("endDate"), "endDate")
            hours = opening_hours(entry.get("openingHours"), "openingHours") if with_hours else ()
        except MappingError:
            continue
        last_day = last.astimezone(BRUSSELS).date() if last else first.date()
        out.append(DayRange(first.date().isoformat(), last_day.isoformat(), hours))
    return tuple(out)
