"""Typed readers of SAPI3 JSON values: each names the path it complains about."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sync.domain.activity import (
    STATUS_AVAILABLE,
    STATUS_CANCELLED,
    STATUS_POSTPONED,
    MappingError,
)
from sync.domain.calendar import BRUSSELS

_STATUSES: dict[str, str] = {
    "available": STATUS_AVAILABLE,
    "temporarilyunavailable": STATUS_POSTPONED,
    "unavailable": STATUS_CANCELLED,
}
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")
# C0/C1 control characters (ESC, NUL, …) never belong in a text we show: they can rewrite an
# admin's terminal. Tabs and line breaks become spaces in one-line texts.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\r\n]+")

# Size caps: a title or a description beyond these is an error in the source, and a 10 MB
# description must not travel through our API and pages.
MAX_LINE = 500
MAX_TEXT = 30_000


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_line(text: str) -> str:
    """Control characters dropped, line breaks and tabs as spaces, capped."""
    if text.isprintable():
        # Control characters, tabs and line breaks are all unprintable: nothing to drop or
        # replace here (most texts), so the two substitutions can be skipped.
        return cap(text.strip(), MAX_LINE)
    return cap(_LINE_BREAKS.sub(" ", _CONTROL.sub("", text)).strip(), MAX_LINE)


def multi_line(text: str) -> str:
    """Control characters dropped, line breaks kept (descriptions)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def as_object(value: Any, path: str) -> Mapping[str, Any]:
    """An object; None and [] (PHP's empty object) count as empty."""
    if type(value) is dict:  # the usual case, before the slower abstract-class checks
        return value
    if value is None or (isinstance(value, list) and not value):
        return {}
    if isinstance(value, Mapping):
        return value
    raise MappingError(path, f"expected an object, got {kind(value)}")


def as_list(value: Any, path: str) -> list[Any]:
    """A list; PHP-style objects with numeric keys ({"0": …, "2": …}) are read as lists."""
    if type(value) is list:
        return value
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        if not value:
            return []
        if all(isinstance(k, str) and k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    raise MappingError(path, f"expected a list, got {kind(value)}")


def as_str(value: Any, path: str) -> str | None:
    """A non-empty one-line string or None; numbers are tolerated (phones, postal codes)."""
    if value is None:
        return None
    if isinstance(value, str):
        return one_line(value) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise MappingError(path, f"expected a string, got {kind(value)}")


def as_str_tuple(value: Any, path: str) -> tuple[str, ...]:
    """A list of strings, or a legacy single string; empty entries dropped, order kept."""
    items = [value] if isinstance(value, str | int) and not isinstance(value, bool) else None
    if items is None:
        items = as_list(value, path)
    out: list[str] = []
    for i, item in enumerate(items):
        text = as_str(item, f"{path}[{i}]")
        if text is not None and text not in out:
            out.append(text)
    return tuple(out)


def lang_map(value: Any, path: str, main_language: str, *,
             multiline: bool = False) -> dict[str, str]:
    """A language map; a legacy plain string belongs to the main language."""
    clean = multi_line if multiline else one_line
    if value is None:
        return {}
    if isinstance(value, str):
        text = clean(value).strip()
        return {main_language: text} if text else {}
    if isinstance(value, list) and not value:
        return {}
    if type(value) is not dict and not isinstance(value, Mapping):
        raise MappingError(path, f"expected a language map or a string, got {kind(value)}")
    out: dict[str, str] = {}
    for lang, text in value.items():
        # Junk entries (non-string values, empty strings) carry no translation; skip them.
        if isinstance(lang, str) and lang.strip() and isinstance(text, str):
            cleaned = clean(text).strip()
            if cleaned:
                out[_language(lang)] = cleaned
    # In language order, not the document's: the same document written with its keys in
    # another order (as the mapping workers read it) maps to the same JSON, byte for byte.
    return dict(sorted(out.items()))


@lru_cache(maxsize=256)
def _language(key: str) -> str:
    # A handful of language codes make up every map: each is cleaned once.
    return one_line(key)[:8]


@lru_cache(maxsize=4096)
def last_segment(url: str) -> str | None:
    # Places, organizers and day names recur from event to event: each is cut once.
    # The part before the first `?` or `#`, then its last non-blank path segment.
    cut = url.split("?", 1)[0].split("#", 1)[0]
    for segment in reversed(cut.split("/")):
        if segment.strip():
            return segment.strip()
    return None


# A moment: the aware UTC datetime, and its text as `iso` writes it.
Moment = tuple[datetime, str]


def _utc(text: str) -> datetime:
    """A stripped ISO 8601 text as an aware UTC datetime; raises ValueError or OverflowError."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        parsed = datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)
    else:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=BRUSSELS)
    return parsed.astimezone(UTC)


@lru_cache(maxsize=4096)
def _moment(text: str) -> Moment:
    # Dates repeat: a single event's date again as its sub-event, its end as `availableTo`,
    # the same evening in many events. Parsing and writing one costs microseconds. (A text
    # that fails raises each time: lru_cache keeps no exceptions, and they are rare.)
    moment = _utc(text)
    return moment, iso(moment)


def as_moment(value: Any, path: str) -> Moment:
    """An ISO 8601 date-time (or date) as a Moment; no offset means Brussels."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(path, f"expected an ISO 8601 date-time, got {show(value)}")
    try:
        return _moment(value.strip())
    except (ValueError, OverflowError) as exc:
        raise MappingError(path, f"not a valid date-time: {show(value)}") from exc


def as_datetime(value: Any, path: str) -> datetime:
    """An ISO 8601 date-time (or date) as an aware UTC datetime; no offset means Brussels."""
    return as_moment(value, path)[0]


def opt_moment(value: Any, path: str) -> Moment | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return as_moment(value, path)


def opt_datetime(value: Any, path: str) -> datetime | None:
    found = opt_moment(value, path)
    return None if found is None else found[0]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def opt_iso(value: Any, path: str) -> str | None:
    found = opt_moment(value, path)
    return None if found is None else found[1]


def hhmm(value: Any, path: str) -> str:
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise MappingError(path, f"expected a time HH:MM, got {show(value)}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise MappingError(path, f"not a valid time: {show(value)}")
    return f"{hours:02d}:{minutes:02d}"


def price_value(value: Any, path: str) -> float:
    if isinstance(value, bool) or value is None:
        raise MappingError(path, f"expected a number, got {kind(value)}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        # Older data writes prices as strings, sometimes with a decimal comma.
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError as exc:
            raise MappingError(path, f"not a number: {show(value)}") from exc
    else:
        raise MappingError(path, f"expected a number, got {kind(value)}")
    if not math.isfinite(number):
        raise MappingError(path, f"not a finite number: {show(value)}")
    return number


def status(value: Any, path: str, default: str) -> str:
    """`status` is {"type": …, "reason": …}; a bare string is tolerated."""
    if isinstance(value, str):
        raw: Any = value
        type_path = path
    else:
        raw = as_object(value, path).get("type")
        type_path = f"{path}.type"
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise MappingError(type_path, f"expected a string, got {kind(raw)}")
    found = _STATUSES.get(raw.strip().casefold())
    if found is None:
        raise MappingError(type_path, f"unknown status {show(raw)}")
    return found


def unavailable(value: Any, path: str) -> bool:
    """`bookingAvailability.type == "Unavailable"` (sold out; a bare string is tolerated)."""
    raw = value if isinstance(value, str) else as_object(value, path).get("type")
    return isinstance(raw, str) and raw.strip().casefold() == "unavailable"
