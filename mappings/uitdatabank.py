"""Pure mapping of one UiTdatabank SAPI3 JSON-LD event to a NormalisedActivity or a Skipped."""

from __future__ import annotations

import html as html_module
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import nh3

from mappings.tables import activity_types, is_uitpas_label, taalicoon_level
from sync.domain.activity import (
    SKIP_CANCELLED,
    SKIP_DELETED,
    SKIP_DRAFT,
    SKIP_NO_LANGUAGE_ICON,
    SKIP_ONLINE_ONLY,
    SKIP_OUTSIDE_REGION,
    SKIP_REJECTED,
    STATUS_AVAILABLE,
    STATUS_CANCELLED,
    STATUS_POSTPONED,
    AgeRange,
    Booking,
    Calendar,
    Contact,
    MappingError,
    NormalisedActivity,
    Occurrence,
    OpeningHours,
    Organizer,
    Place,
    Price,
    Skipped,
    Tariff,
)
from sync.domain.region import Municipality, Region

__all__ = ["to_activity"]

# Opening hours and offset-less dates in UiTdatabank are Belgian local time.
BRUSSELS = ZoneInfo("Europe/Brussels")
NIL_PLACE_ID = "00000000-0000-0000-0000-000000000000"
ONLINE_POSTAL_CODE = "0000"
DEFAULT_LANGUAGE = "nl"

_WORKFLOW_SKIPS: dict[str, str] = {
    "DELETED": SKIP_DELETED,
    "REJECTED": SKIP_REJECTED,
    "DRAFT": SKIP_DRAFT,
}
_STATUSES: dict[str, str] = {
    "available": STATUS_AVAILABLE,
    "temporarilyunavailable": STATUS_POSTPONED,
    "unavailable": STATUS_CANCELLED,
}
_CALENDAR_TYPES = ("single", "multiple", "periodic", "permanent")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# What survives in description_html: enough for paragraphs, emphasis, lists and links.
_HTML_TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a"}
_HTML_ATTRIBUTES = {"a": {"href"}}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}
# Block tags kept only long enough to turn them into line breaks for description_text.
_TEXT_BLOCK_TAGS = {
    "p", "br", "li", "ul", "ol", "div", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "table", "tr", "td", "th", "tbody", "thead",
}
_PARAGRAPH_TAG = re.compile(r"</?(?:p|div|h[1-6]|blockquote|ul|ol|table)\b[^>]*>", re.IGNORECASE)
_LINE_TAG = re.compile(r"<br\s*/?>|</(?:li|tr)\s*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")
_LOOKS_LIKE_HTML = re.compile(r"<[A-Za-z/!]")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")
_AGE_RANGE = re.compile(r"^(\d{1,3})?\s*-\s*(\d{1,3})?$")
_AGE_PLUS = re.compile(r"^(\d{1,3})\s*\+$")

# How far ahead next_occurrence looks for an opening when a period has no (near) end.
_OPENING_SEARCH_DAYS = 400


def to_activity(
    doc: Mapping[str, Any], region: Region, *, as_of: datetime
) -> NormalisedActivity | Skipped:
    """Normalise one SAPI3 event document; raises only MappingError (with the field path)."""
    mapper = _Mapper(region)
    try:
        return mapper.run(doc, as_of)
    except MappingError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sync records a failure, it must never crash
        raise MappingError(mapper.at, f"unexpected {type(exc).__name__}: {exc}") from exc


# --- small typed accessors: each names the path it complains about -----------------------------


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    """An object; None and [] (PHP's empty object) count as empty."""
    if value is None or (isinstance(value, list) and not value):
        return {}
    if isinstance(value, Mapping):
        return value
    raise MappingError(path, f"expected an object, got {_kind(value)}")


def _list(value: Any, path: str) -> list[Any]:
    """A list; PHP-style objects with numeric keys ({"0": …, "2": …}) are read as lists."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        if not value:
            return []
        if all(isinstance(k, str) and k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    raise MappingError(path, f"expected a list, got {_kind(value)}")


def _str(value: Any, path: str) -> str | None:
    """A non-empty stripped string or None; numbers are tolerated (phones, postal codes)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise MappingError(path, f"expected a string, got {_kind(value)}")


def _str_tuple(value: Any, path: str) -> tuple[str, ...]:
    """A list of strings, or a legacy single string; empty entries dropped, order kept."""
    items = [value] if isinstance(value, str | int) and not isinstance(value, bool) else None
    if items is None:
        items = _list(value, path)
    out: list[str] = []
    for i, item in enumerate(items):
        text = _str(item, f"{path}[{i}]")
        if text is not None and text not in out:
            out.append(text)
    return tuple(out)


def _lang_map(value: Any, path: str, main_language: str) -> dict[str, str]:
    """A language map; a legacy plain string belongs to the main language."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {main_language: value.strip()} if value.strip() else {}
    if isinstance(value, list) and not value:
        return {}
    if not isinstance(value, Mapping):
        raise MappingError(path, f"expected a language map or a string, got {_kind(value)}")
    out: dict[str, str] = {}
    for lang, text in value.items():
        # Junk entries (non-string values, empty strings) carry no translation; skip them.
        if isinstance(lang, str) and lang.strip() and isinstance(text, str) and text.strip():
            out[lang.strip()] = text.strip()
    return out


def _last_segment(url: str) -> str | None:
    cut = re.split(r"[?#]", url, maxsplit=1)[0]
    segments = [s for s in cut.split("/") if s.strip()]
    return segments[-1].strip() if segments else None


def _datetime(value: Any, path: str) -> datetime:
    """An ISO 8601 date-time (or date) as an aware UTC datetime; no offset means Brussels."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(path, f"expected an ISO 8601 date-time, got {_show(value)}")
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            parsed = datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)
        else:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=BRUSSELS)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise MappingError(path, f"not a valid date-time: {_show(value)}") from exc


def _opt_datetime(value: Any, path: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _datetime(value, path)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _opt_iso(value: Any, path: str) -> str | None:
    moment = _opt_datetime(value, path)
    return None if moment is None else _iso(moment)


def _hhmm(value: Any, path: str) -> str:
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise MappingError(path, f"expected a time HH:MM, got {_show(value)}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise MappingError(path, f"not a valid time: {_show(value)}")
    return f"{hours:02d}:{minutes:02d}"


def _price_value(value: Any, path: str) -> float:
    if isinstance(value, bool) or value is None:
        raise MappingError(path, f"expected a number, got {_kind(value)}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        # Older data writes prices as strings, sometimes with a decimal comma.
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError as exc:
            raise MappingError(path, f"not a number: {_show(value)}") from exc
    else:
        raise MappingError(path, f"expected a number, got {_kind(value)}")
    if not math.isfinite(number):
        raise MappingError(path, f"not a finite number: {_show(value)}")
    return number


def _status(value: Any, path: str, default: str) -> str:
    """`status` is {"type": …, "reason": …}; a bare string is tolerated."""
    if isinstance(value, str):
        raw: Any = value
        type_path = path
    else:
        raw = _obj(value, path).get("type")
        type_path = f"{path}.type"
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise MappingError(type_path, f"expected a string, got {_kind(raw)}")
    status = _STATUSES.get(raw.strip().casefold())
    if status is None:
        raise MappingError(type_path, f"unknown status {_show(raw)}")
    return status


def _unavailable(value: Any, path: str) -> bool:
    """`bookingAvailability.type == "Unavailable"` (sold out; a bare string is tolerated)."""
    raw = value if isinstance(value, str) else _obj(value, path).get("type")
    return isinstance(raw, str) and raw.strip().casefold() == "unavailable"


# --- descriptions ---------------------------------------------------------------------------------


def _as_html(raw: str) -> str:
    if _LOOKS_LIKE_HTML.search(raw):
        return raw
    # Plain-text descriptions: keep their paragraphs and line breaks visible once rendered.
    paragraphs = [p for p in re.split(r"\n\s*\n", raw.replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html_module.escape(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def sanitise_html(raw: str) -> str:
    """Sanitised description HTML: a small tag set, safe links only."""
    return nh3.clean(
        _as_html(raw),
        tags=_HTML_TAGS,
        attributes=_HTML_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    ).strip()


def plain_text(raw: str) -> str:
    """Plain text: tags gone, entities decoded, whitespace collapsed, paragraphs kept."""
    blocks = nh3.clean(_as_html(raw), tags=_TEXT_BLOCK_TAGS, attributes={}, link_rel=None)
    # Source newlines are HTML whitespace; only the tags decide where lines break.
    blocks = re.sub(r"\s+", " ", blocks)
    blocks = _PARAGRAPH_TAG.sub("\n\n", blocks)
    blocks = _LINE_TAG.sub("\n", blocks)
    text = html_module.unescape(_ANY_TAG.sub(" ", blocks))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- opening hours → next opening ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DateRange:
    first: date
    last: date
    hours: tuple[OpeningHours, ...] = ()

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _local(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=BRUSSELS) + timedelta(minutes=minutes)


def _next_opening(
    hours: tuple[OpeningHours, ...],
    start: datetime | None,
    end: datetime | None,
    as_of: datetime,
    closed: list[_DateRange],
    adjusted: list[_DateRange],
) -> datetime | None:
    """Opening time of the first slot that has not closed yet at `as_of`, within [start, end]."""
    first_day = as_of.astimezone(BRUSSELS).date() - timedelta(days=1)  # yesterday: overnight slots
    if start is not None:
        first_day = max(first_day, start.astimezone(BRUSSELS).date())
    last_day = first_day + timedelta(days=_OPENING_SEARCH_DAYS)
    if end is not None:
        last_day = min(last_day, end.astimezone(BRUSSELS).date())
    best: datetime | None = None
    day = first_day
    while day <= last_day:
        if best is not None and day > best.astimezone(BRUSSELS).date() + timedelta(days=1):
            break
        if not any(r.covers(day) for r in closed):
            todays = next((r.hours for r in adjusted if r.covers(day)), hours)
            weekday = _DAYS[day.weekday()]
            for slot in todays:
                if weekday not in slot.days:
                    continue
                opens, closes = _minutes(slot.opens), _minutes(slot.closes)
                opens_at = _local(day, opens)
                closes_at = _local(day, closes if closes >= opens else closes + 24 * 60)
                if closes_at < as_of or (start is not None and closes_at < start):
                    continue
                if end is not None and opens_at > end:
                    continue
                if best is None or opens_at < best:
                    best = opens_at
        day += timedelta(days=1)
    return best


# --- the mapper -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Located:
    place: Place | None  # None: the postal code is outside the region
    postal_code: str


class _Mapper:
    """One mapping pass; `at` names the field being processed, for the safety net's message."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.at = "$"

    def run(self, doc: Any, as_of: Any) -> NormalisedActivity | Skipped:
        self.at = "as_of"
        if not isinstance(as_of, datetime):
            raise MappingError("as_of", f"expected a datetime, got {_kind(as_of)}")
        now = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)

        self.at = "$"
        if not isinstance(doc, Mapping):
            raise MappingError("$", f"expected a JSON object, got {_kind(doc)}")

        self.at = "@id"
        url = _str(doc.get("@id"), "@id")
        if url is None:
            raise MappingError("@id", "missing")
        source_id = _last_segment(url)
        if source_id is None:
            raise MappingError("@id", f"no id segment in {_show(url)}")

        # Skips come before any other validation: a deleted or foreign event with a broken
        # calendar must still be withdrawn, not parked as a failure.
        self.at = "modified"
        skip_modified = self._modified_for_skip(doc)
        self.at = "workflowStatus"
        workflow = self._workflow(doc)
        if workflow in _WORKFLOW_SKIPS:
            return Skipped(source_id, _WORKFLOW_SKIPS[workflow], skip_modified)

        self.at = "labels"
        labels = self._labels(doc)
        levels = tuple(sorted({lvl for lvl in map(taalicoon_level, labels) if lvl is not None}))
        if not levels:
            return Skipped(source_id, SKIP_NO_LANGUAGE_ICON, skip_modified)

        self.at = "attendanceMode"
        if self._online_only(doc):
            return Skipped(source_id, SKIP_ONLINE_ONLY, skip_modified)

        self.at = "mainLanguage"
        main_language = self._main_language(doc)

        self.at = "location"
        located = self._place(doc.get("location"), main_language)
        if located.place is None:
            return Skipped(source_id, SKIP_OUTSIDE_REGION, skip_modified)

        self.at = "status"
        status = _status(doc.get("status"), "status", STATUS_AVAILABLE)
        if status == STATUS_CANCELLED:
            return Skipped(source_id, SKIP_CANCELLED, skip_modified)

        return self._activity(doc, source_id, url, main_language, levels, labels,
                              located.place, status, workflow, now)

    # -- skip checks --

    def _modified_for_skip(self, doc: Mapping[str, Any]) -> str | None:
        # Best effort: a skip must go through even when its timestamp is unusable.
        for key in ("modified", "created"):
            try:
                value = _opt_iso(doc.get(key), key)
            except MappingError:
                continue
            if value is not None:
                return value
        return None

    def _workflow(self, doc: Mapping[str, Any]) -> str:
        value = doc.get("workflowStatus")
        if value is None:
            return "APPROVED"  # older documents predate the field; they were published
        if not isinstance(value, str):
            raise MappingError("workflowStatus", f"expected a string, got {_kind(value)}")
        return value.strip().upper() or "APPROVED"

    def _labels(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        out: list[str] = []
        for key in ("labels", "hiddenLabels"):
            value = doc.get(key)
            if isinstance(value, str):
                value = [value]
            elif isinstance(value, Mapping):
                value = list(value.values())
            elif not isinstance(value, list):
                continue  # a label container of the wrong type carries no labels
            out.extend(v.strip() for v in value if isinstance(v, str) and v.strip())
        return tuple(out)

    def _online_only(self, doc: Mapping[str, Any]) -> bool:
        mode = doc.get("attendanceMode")
        if isinstance(mode, str) and mode.strip().casefold() == "online":
            return True
        location = doc.get("location")
        ref = location if isinstance(location, str) else None
        if isinstance(location, Mapping):
            ref = location.get("@id") if isinstance(location.get("@id"), str) else None
        if ref is not None and _last_segment(ref) == NIL_PLACE_ID:
            return True
        try:
            _, _, postal_code = self._address(location, DEFAULT_LANGUAGE)
        except MappingError:
            return False  # reported properly, with its path, when the place is mapped
        return postal_code == ONLINE_POSTAL_CODE

    # -- place --

    def _address(
        self, location: Any, main_language: str
    ) -> tuple[Mapping[str, Any], str, str]:
        """The address to use, its path and its postal code (language map or legacy flat)."""
        if location is None:
            raise MappingError("location", "missing")
        if isinstance(location, str):
            raise MappingError("location.address", "missing: the location is only a reference")
        loc = _obj(location, "location")
        address = _obj(loc.get("address"), "location.address")
        if not address:
            raise MappingError("location.address", "missing")
        if any(k in address for k in ("postalCode", "addressLocality", "streetAddress")):
            chosen, path = address, "location.address"
        else:
            order = [main_language, DEFAULT_LANGUAGE] + [k for k in address if isinstance(k, str)]
            candidates = [lang for lang in dict.fromkeys(order) if lang in address]
            entries = [(lang, address[lang]) for lang in candidates]
            usable = [(lang, e) for lang, e in entries if isinstance(e, Mapping)]
            if not usable:
                raise MappingError("location.address", "no address in any language")
            with_code = [(lang, e) for lang, e in usable if e.get("postalCode") not in (None, "")]
            lang, chosen = (with_code or usable)[0]
            path = f"location.address.{lang}"
        postal_code = _str(chosen.get("postalCode"), f"{path}.postalCode")
        if postal_code is None:
            raise MappingError(f"{path}.postalCode", "missing")
        return chosen, path, postal_code

    def _place(self, location: Any, main_language: str) -> _Located:
        address, path, postal_code = self._address(location, main_language)
        municipality: Municipality | None = self.region.by_postal_code(postal_code)
        if municipality is None:
            return _Located(None, postal_code)
        loc = _obj(location, "location")
        ref = _str(loc.get("@id"), "location.@id")
        # Dummy places (no @id, or the education-events placeholder) are no real venue to track.
        dummy = ref is None or loc.get("isDummyPlaceForEducationEvents") is True
        return _Located(
            Place(
                id=None if dummy or ref is None else _last_segment(ref),
                name=_lang_map(loc.get("name"), "location.name", main_language),
                street_address=_str(address.get("streetAddress"), f"{path}.streetAddress"),
                postal_code=postal_code,
                locality=_str(address.get("addressLocality"), f"{path}.addressLocality"),
                municipality=municipality.name,
                nis=municipality.nis,
            ),
            postal_code,
        )

    # -- the full activity --

    def _main_language(self, doc: Mapping[str, Any]) -> str:
        value = _str(doc.get("mainLanguage"), "mainLanguage")
        return value or DEFAULT_LANGUAGE

    def _activity(
        self,
        doc: Mapping[str, Any],
        source_id: str,
        url: str,
        main_language: str,
        levels: tuple[int, ...],
        labels: tuple[str, ...],
        place: Place,
        status: str,
        workflow: str,
        as_of: datetime,
    ) -> NormalisedActivity:
        self.at = "name"
        title = _lang_map(doc.get("name"), "name", main_language)
        if not title:
            raise MappingError("name", "missing, or no non-empty title in any language")

        self.at = "description"
        descriptions = _lang_map(doc.get("description"), "description", main_language)
        description_html: dict[str, str] = {}
        description_text: dict[str, str] = {}
        for lang, raw in descriptions.items():
            cleaned, text = sanitise_html(raw), plain_text(raw)
            if cleaned and text:
                description_html[lang], description_text[lang] = cleaned, text

        self.at = "terms"
        event_type_id, theme_ids = self._terms(doc)

        self.at = "bookingAvailability"
        event_sold_out = _unavailable(doc.get("bookingAvailability"), "bookingAvailability")

        self.at = "calendarType"
        calendar, next_occurrence = self._calendar(doc, status, event_sold_out, as_of)
        sub_events = calendar.occurrences if calendar.type == "multiple" else ()
        sold_out = event_sold_out or (bool(sub_events) and all(o.sold_out for o in sub_events))

        self.at = "status.reason"
        status_value = doc.get("status")
        status_reason = (
            _lang_map(status_value.get("reason"), "status.reason", main_language)
            if isinstance(status_value, Mapping)
            else {}
        )

        self.at = "modified"
        modified = self._modified(doc)

        self.at = "priceInfo"
        price = self._price(doc.get("priceInfo"), labels, main_language)
        self.at = "bookingInfo"
        booking = self._booking(doc.get("bookingInfo"), main_language)
        self.at = "contactPoint"
        contact = self._contact(doc.get("contactPoint"))
        self.at = "organizer"
        organizer = self._organizer(doc.get("organizer"), main_language)
        self.at = "image"
        image = self._image(doc)
        self.at = "typicalAgeRange"
        age_range = self._age_range(doc.get("typicalAgeRange"))
        self.at = "audience"
        audience = self._audience(doc.get("audience"))
        self.at = "availableFrom"
        available_from = _opt_iso(doc.get("availableFrom"), "availableFrom")
        self.at = "availableTo"
        available_to = _opt_iso(doc.get("availableTo"), "availableTo")

        self.at = "$"
        return NormalisedActivity(
            source_id=source_id,
            url=url,
            main_language=main_language,
            languages=tuple(sorted(title)),
            title=title,
            description_html=description_html,
            description_text=description_text,
            language_levels=levels,
            activity_types=activity_types(event_type_id, theme_ids),
            event_type_id=event_type_id,
            theme_ids=theme_ids,
            place=place,
            calendar=calendar,
            status=status,
            sold_out=sold_out,
            workflow_status=workflow,
            modified=modified,
            status_reason=status_reason,
            price=price,
            booking=booking,
            contact=contact,
            organizer=organizer,
            image=image,
            age_range=age_range,
            audience=audience,
            available_from=available_from,
            available_to=available_to,
            next_occurrence=next_occurrence,
        )

    def _terms(self, doc: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
        event_type_id: str | None = None
        themes: set[str] = set()
        for i, term in enumerate(_list(doc.get("terms"), "terms")):
            entry = _obj(term, f"terms[{i}]")
            domain = entry.get("domain")
            if domain not in ("eventtype", "theme"):
                continue
            term_id = _str(entry.get("id"), f"terms[{i}].id")
            if term_id is None:
                raise MappingError(f"terms[{i}].id", f"missing on a {domain} term")
            if domain == "eventtype":
                # There is one eventtype term; should a document carry more, the first wins.
                event_type_id = event_type_id or term_id
            else:
                themes.add(term_id)
        return event_type_id, tuple(sorted(themes))

    def _modified(self, doc: Mapping[str, Any]) -> str:
        modified = _opt_iso(doc.get("modified"), "modified")
        if modified is not None:
            return modified
        created = _opt_iso(doc.get("created"), "created")
        if created is not None:
            return created
        raise MappingError("modified", "missing, and no `created` to fall back on")

    # -- calendar --

    def _calendar_type(self, doc: Mapping[str, Any]) -> str:
        value = doc.get("calendarType")
        if value is None:
            if _list(doc.get("subEvent"), "subEvent"):
                return "multiple"
            has_start = doc.get("startDate") not in (None, "")
            has_hours = bool(_list(doc.get("openingHours"), "openingHours"))
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
            raise MappingError("calendarType", f"expected a string, got {_kind(value)}")
        calendar_type = value.strip().casefold()
        if calendar_type not in _CALENDAR_TYPES:
            raise MappingError("calendarType", f"unknown calendar type {_show(value)}")
        return calendar_type

    def _calendar(
        self, doc: Mapping[str, Any], status: str, sold_out: bool, as_of: datetime
    ) -> tuple[Calendar, str | None]:
        calendar_type = self._calendar_type(doc)
        self.at = "startDate"
        start = _opt_datetime(doc.get("startDate"), "startDate")
        self.at = "endDate"
        end = _opt_datetime(doc.get("endDate"), "endDate")

        if calendar_type in ("single", "multiple"):
            self.at = "subEvent"
            dated = self._occurrences(doc, calendar_type, start, end, status, sold_out)
            calendar = Calendar(
                type=calendar_type,
                start=_iso(start) if start else _iso(min(s for _, s, _ in dated)),
                end=_iso(end) if end else self._last_end(dated),
                occurrences=tuple(o for o, _, _ in dated),
            )
            upcoming = next(
                (s for o, s, e in dated if o.status != STATUS_CANCELLED and (e or s) >= as_of),
                None,
            )
            return calendar, None if upcoming is None else _iso(upcoming)

        self.at = "openingHours"
        hours = self._opening_hours(doc.get("openingHours"))
        if calendar_type == "periodic":
            if start is None:
                raise MappingError("startDate", "missing on a periodic calendar")
            calendar = Calendar(type="periodic", start=_iso(start),
                                end=_iso(end) if end else None, opening_hours=hours)
        else:
            # Permanent: dates, if any, are noise from older data.
            start = end = None
            calendar = Calendar(type="permanent", opening_hours=hours)

        self.at = "openingHoursClosedDays"
        closed = self._date_ranges(doc.get("openingHoursClosedDays"), with_hours=False)
        adjusted = self._date_ranges(doc.get("openingHoursAdjustedDays"), with_hours=True)
        if hours or adjusted:
            upcoming = _next_opening(hours, start, end, as_of, closed, adjusted)
        elif start is not None and (end or start) >= as_of:
            # A period without opening hours runs the whole time: it is one long occurrence.
            upcoming = start
        else:
            upcoming = None
        return calendar, None if upcoming is None else _iso(upcoming)

    @staticmethod
    def _last_end(dated: list[tuple[Occurrence, datetime, datetime | None]]) -> str | None:
        ends = [e for _, _, e in dated if e is not None]
        return _iso(max(ends)) if ends else None

    def _occurrences(
        self,
        doc: Mapping[str, Any],
        calendar_type: str,
        start: datetime | None,
        end: datetime | None,
        status: str,
        sold_out: bool,
    ) -> list[tuple[Occurrence, datetime, datetime | None]]:
        # A `single` event normally repeats its date as subEvent[0]; without a top-level
        # startDate that sub-event is the date.
        use_sub_events = calendar_type == "multiple" or start is None
        sub_events = _list(doc.get("subEvent"), "subEvent") if use_sub_events else []
        if not sub_events:
            if start is None:
                if calendar_type == "multiple":
                    raise MappingError("subEvent", "calendarType multiple without subEvents")
                raise MappingError("startDate", "missing on a single calendar")
            # Legacy `multiple` documents carry only the overall span (and a calendarSummary
            # text); the span is the best occurrence we can offer the moderator.
            return [(Occurrence(_iso(start), _iso(end) if end else None, status, sold_out),
                     start, end)]
        dated: list[tuple[Occurrence, datetime, datetime | None]] = []
        for i, raw in enumerate(sub_events):
            path = f"subEvent[{i}]"
            sub = _obj(raw, path)
            sub_start = _datetime(sub.get("startDate"), f"{path}.startDate")
            sub_end = _opt_datetime(sub.get("endDate"), f"{path}.endDate")
            # A sub-event without its own status shares the event's.
            sub_status = _status(sub.get("status"), f"{path}.status", status)
            sub_sold_out = _unavailable(sub.get("bookingAvailability"),
                                        f"{path}.bookingAvailability")
            occurrence = Occurrence(_iso(sub_start), _iso(sub_end) if sub_end else None,
                                    sub_status, sub_sold_out)
            dated.append((occurrence, sub_start, sub_end))
        # Sorted, so reordering sub-events in the source does not change the content hash.
        dated.sort(key=lambda item: (item[1], item[2] or item[1]))
        return dated

    def _opening_hours(self, value: Any) -> tuple[OpeningHours, ...]:
        out: list[OpeningHours] = []
        for i, raw in enumerate(_list(value, "openingHours")):
            path = f"openingHours[{i}]"
            out.append(self._one_opening(_obj(raw, path), path))
        return tuple(out)

    def _one_opening(self, entry: Mapping[str, Any], path: str) -> OpeningHours:
        days_value = entry.get("dayOfWeek")
        raw_days = [days_value] if isinstance(days_value, str) else _list(
            days_value, f"{path}.dayOfWeek")
        days: set[str] = set()
        for j, raw_day in enumerate(raw_days):
            day = _str(raw_day, f"{path}.dayOfWeek[{j}]")
            # schema.org also writes days as URLs (http://schema.org/Monday).
            name = (_last_segment(day) or "").casefold() if day else ""
            if name not in _DAYS:
                raise MappingError(f"{path}.dayOfWeek[{j}]", f"unknown day {_show(raw_day)}")
            days.add(name)
        if not days:
            raise MappingError(f"{path}.dayOfWeek", "missing")
        return OpeningHours(
            days=tuple(d for d in _DAYS if d in days),
            opens=_hhmm(entry.get("opens"), f"{path}.opens"),
            closes=_hhmm(entry.get("closes"), f"{path}.closes"),
        )

    def _date_ranges(self, value: Any, *, with_hours: bool) -> list[_DateRange]:
        # Closed and adjusted days only refine next_occurrence, which is advisory: a malformed
        # entry is ignored rather than failing an otherwise good event.
        try:
            items = _list(value, "openingHoursAdjustedDays")
        except MappingError:
            return []
        out: list[_DateRange] = []
        for i, raw in enumerate(items):
            try:
                entry = _obj(raw, f"[{i}]")
                first = _datetime(entry.get("startDate"), "startDate").astimezone(BRUSSELS)
                last = _opt_datetime(entry.get("endDate"), "endDate")
                hours = self._opening_hours(entry.get("openingHours")) if with_hours else ()
            except MappingError:
                continue
            last_day = last.astimezone(BRUSSELS).date() if last else first.date()
            out.append(_DateRange(first.date(), last_day, hours))
        return out

    # -- the rest --

    def _price(self, value: Any, labels: tuple[str, ...], main_language: str) -> Price | None:
        entries = _list(value, "priceInfo")
        if not entries:
            return None
        base: Tariff | None = None
        tariffs: list[Tariff] = []
        uitpas = any(is_uitpas_label(label) for label in labels)
        for i, raw in enumerate(entries):
            path = f"priceInfo[{i}]"
            entry = _obj(raw, path)
            category = (_str(entry.get("category"), f"{path}.category") or "tariff").casefold()
            if category == "uitpas":
                uitpas = True
            tariff = Tariff(
                name=_lang_map(entry.get("name"), f"{path}.name", main_language),
                price=_price_value(entry.get("price"), f"{path}.price"),
                currency=_str(entry.get("priceCurrency"), f"{path}.priceCurrency") or "EUR",
            )
            if category == "base" and base is None:
                base = tariff
            else:
                tariffs.append(tariff)
        return Price(
            is_free=base is not None and base.price == 0,
            base_price=None if base is None else base.price,
            currency=base.currency if base is not None else (
                tariffs[0].currency if tariffs else "EUR"),
            tariffs=tuple(tariffs),
            uitpas=uitpas,
        )

    def _booking(self, value: Any, main_language: str) -> Booking | None:
        info = _obj(value, "bookingInfo")
        booking = Booking(
            url=_str(info.get("url"), "bookingInfo.url"),
            url_label=_lang_map(info.get("urlLabel"), "bookingInfo.urlLabel", main_language),
            phone=_str(info.get("phone"), "bookingInfo.phone"),
            email=_str(info.get("email"), "bookingInfo.email"),
        )
        return booking if (booking.url or booking.phone or booking.email) else None

    def _contact(self, value: Any) -> Contact | None:
        point = _obj(value, "contactPoint")
        contact = Contact(
            urls=_str_tuple(point.get("url"), "contactPoint.url"),
            phones=_str_tuple(point.get("phone"), "contactPoint.phone"),
            emails=_str_tuple(point.get("email"), "contactPoint.email"),
        )
        return contact if (contact.urls or contact.phones or contact.emails) else None

    def _organizer(self, value: Any, main_language: str) -> Organizer | None:
        if isinstance(value, str):  # a bare reference
            return Organizer(id=_last_segment(value), name={}) if value.strip() else None
        entry = _obj(value, "organizer")
        ref = _str(entry.get("@id"), "organizer.@id")
        name = _lang_map(entry.get("name"), "organizer.name", main_language)
        if ref is None and not name:
            return None
        return Organizer(id=None if ref is None else _last_segment(ref), name=name)

    def _image(self, doc: Mapping[str, Any]) -> str | None:
        image = _str(doc.get("image"), "image")
        if image is not None:
            return image
        for i, raw in enumerate(_list(doc.get("mediaObject"), "mediaObject")):
            media = _obj(raw, f"mediaObject[{i}]")
            url = _str(media.get("contentUrl"), f"mediaObject[{i}].contentUrl")
            if url is not None:
                return url
        return None

    def _age_range(self, value: Any) -> AgeRange | None:
        text = _str(value, "typicalAgeRange")
        if text is None:
            return None
        if match := _AGE_RANGE.match(text):
            low, high = match.group(1), match.group(2)
            return AgeRange(int(low) if low else None, int(high) if high else None)
        if match := _AGE_PLUS.match(text):
            return AgeRange(int(match.group(1)), None)
        if text.isdigit():
            return AgeRange(int(text), int(text))
        raise MappingError(
            "typicalAgeRange", f"expected e.g. '12-18', '5-' or '-', got {_show(value)}"
        )

    def _audience(self, value: Any) -> str:
        if isinstance(value, str):
            return value.strip() or "everyone"
        audience = _obj(value, "audience")
        return _str(audience.get("audienceType"), "audience.audienceType") or "everyone"
