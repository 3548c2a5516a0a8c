"""Public read model: published activities at their approved version, filtered and paginated."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain import catalogue as cat
from sync.domain.activity import ACTIVITY_TYPES, STATUS_CANCELLED, STATUS_POSTPONED
from sync.domain.region import Region

BRUSSELS = ZoneInfo("Europe/Brussels")
DEFAULT_LANGUAGE = "nl"
LANGUAGES = ("nl", "fr", "en", "de")
MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class Published:
    """One published activity: catalogue row facts plus the approved version's data."""

    id: int
    source: str
    source_id: str
    data: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Filters:
    municipality_nis: str | None = None
    activity_type: str | None = None
    language_level: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class PageOf:
    items: list[Published]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


class QueryError(ValueError):
    """A filter value that names nothing (unknown municipality or activity type)."""


def activity_type(value: str) -> str:
    """The catalogue's spelling of an activity type, matched case-insensitively."""
    for name in ACTIVITY_TYPES:
        if name.casefold() == value.strip().casefold():
            return name
    raise QueryError(f"unknown activity type {value!r}; known: {', '.join(ACTIVITY_TYPES)}")


def municipality_nis(region: Region, value: str) -> str:
    m = region.find(value)
    if m is None:
        names = ", ".join(x.name for x in region.municipalities)
        raise QueryError(f"unknown municipality {value!r}; known: {names}")
    return m.nis


def iter_published(conn: sa.Connection) -> Iterator[Published]:
    """Every published activity with the data a moderator approved, not the latest synced."""
    a, v = t.activities, t.activity_versions
    rows = conn.execute(
        sa.select(a.c.id, a.c.source, a.c.source_id, a.c.updated_at, v.c.data)
        .join(v, v.c.id == a.c.approved_version_id)
        .where(a.c.state == cat.PUBLISHED)
        .order_by(a.c.id)
    )
    for r in rows:
        yield Published(r.id, r.source, r.source_id, dict(r.data), r.updated_at)


def get_published(conn: sa.Connection, activity_id: int) -> Published | None:
    a, v = t.activities, t.activity_versions
    r = conn.execute(
        sa.select(a.c.id, a.c.source, a.c.source_id, a.c.updated_at, v.c.data)
        .join(v, v.c.id == a.c.approved_version_id)
        .where(a.c.state == cat.PUBLISHED, a.c.id == activity_id)
    ).one_or_none()
    return None if r is None else Published(r.id, r.source, r.source_id, dict(r.data),
                                            r.updated_at)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def spans(data: dict[str, Any]) -> list[tuple[datetime | None, datetime | None]]:
    """When the activity happens: its occurrences, else the calendar's own start and end."""
    cal = data.get("calendar") or {}
    occ = [(_dt(o.get("start")), _dt(o.get("end")) or _dt(o.get("start")))
           for o in cal.get("occurrences") or []]
    if occ:
        return occ
    # Periodic and permanent: open-ended on a missing side.
    return [(_dt(cal.get("start")), _dt(cal.get("end")))]


def next_start(data: dict[str, Any], now: datetime) -> datetime | None:
    """The first occurrence not yet over; for an ongoing period, now; None when all is past."""
    best: datetime | None = None
    for start, end in spans(data):
        if end is not None and end < now:
            continue
        moment = now if start is None or start < now else start
        best = moment if best is None or moment < best else best
    return best


def _overlaps(data: dict[str, Any], lo: datetime | None, hi: datetime | None) -> bool:
    for start, end in spans(data):
        if (hi is None or start is None or start < hi) and (lo is None or end is None or end >= lo):
            return True
    return False


def _text_blob(data: dict[str, Any]) -> str:
    parts = [*(data.get("title") or {}).values(), *(data.get("description_text") or {}).values()]
    return " ".join(parts).casefold()


def matches(p: Published, f: Filters) -> bool:
    d = p.data
    if f.municipality_nis and (d.get("place") or {}).get("nis") != f.municipality_nis:
        return False
    if f.activity_type and f.activity_type not in (d.get("activity_types") or ()):
        return False
    if f.language_level and f.language_level not in (d.get("language_levels") or ()):
        return False
    if f.date_from or f.date_to:
        lo = datetime.combine(f.date_from, time(), BRUSSELS) if f.date_from else None
        hi = (datetime.combine(f.date_to + timedelta(days=1), time(), BRUSSELS)
              if f.date_to else None)
        if not _overlaps(d, lo, hi):
            return False
    if f.q:
        blob = _text_blob(d)
        if not all(word in blob for word in f.q.casefold().split()):
            return False
    return True


def search(conn: sa.Connection, f: Filters, page: int, per_page: int, now: datetime) -> PageOf:
    """Filtered in Python over the published set: portable across SQLite and PostgreSQL, and
    the set is a region's catalogue (hundreds to a few thousand), not a search engine's."""
    found = [p for p in iter_published(conn) if matches(p, f)]
    far = datetime.max.replace(tzinfo=UTC)

    def order(p: Published) -> tuple[bool, datetime, int]:
        nxt = next_start(p.data, now)
        return (nxt is None, nxt or far, p.id)

    found.sort(key=order)
    offset = (page - 1) * per_page
    return PageOf(found[offset:offset + per_page], len(found), page, per_page)


def pick(texts: dict[str, str] | None, lang: str, main: str | None = None) -> tuple[str | None,
                                                                                  str | None]:
    """The text in `lang`, else Dutch, else the main language, else any; with its language."""
    texts = texts or {}
    for candidate in (lang, DEFAULT_LANGUAGE, main):
        if candidate and texts.get(candidate):
            return texts[candidate], candidate
    for candidate, text in texts.items():
        if text:
            return text, candidate
    return None, None


def event_status_uri(status: str | None) -> str:
    return {
        STATUS_CANCELLED: "https://schema.org/EventCancelled",
        STATUS_POSTPONED: "https://schema.org/EventPostponed",
    }.get(status or "", "https://schema.org/EventScheduled")


def to_jsonld(p: Published, lang: str, self_url: str) -> dict[str, Any]:
    """A schema.org Event for one published activity, texts in `lang` (Dutch fallback)."""
    d = p.data
    main = d.get("main_language")
    name, name_lang = pick(d.get("title"), lang, main)
    description, _ = pick(d.get("description_text"), lang, main)
    cal = d.get("calendar") or {}
    place = d.get("place") or {}
    place_name, _ = pick(place.get("name"), lang, main)
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": self_url,
        "identifier": p.source_id,
        "name": name,
        "inLanguage": name_lang,
        "availableLanguage": list(d.get("languages") or []),
        "url": d.get("url"),
        "eventStatus": event_status_uri(d.get("status")),
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "location": {
            "@type": "Place",
            "name": place_name,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": place.get("street_address"),
                "postalCode": place.get("postal_code"),
                "addressLocality": place.get("locality") or place.get("municipality"),
                "addressRegion": place.get("municipality"),
                "addressCountry": "BE",
            },
        },
        "audience": {"@type": "Audience", "audienceType": d.get("audience") or "everyone"},
        "keywords": list(d.get("activity_types") or []),
    }
    if description:
        doc["description"] = description
    if cal.get("start"):
        doc["startDate"] = cal["start"]
    if cal.get("end"):
        doc["endDate"] = cal["end"]
    occurrences = cal.get("occurrences") or []
    if len(occurrences) > 1:
        doc["subEvent"] = [
            {"@type": "Event", "name": name, "startDate": o.get("start"),
             "endDate": o.get("end"), "eventStatus": event_status_uri(o.get("status"))}
            for o in occurrences
        ]
    price = d.get("price")
    if price:
        amount = 0.0 if price.get("is_free") else price.get("base_price")
        offers = [{"@type": "Offer", "name": "Basistarief", "price": amount,
                   "priceCurrency": price.get("currency") or "EUR"}]
        for tariff in price.get("tariffs") or []:
            label, _ = pick(tariff.get("name"), lang, main)
            offers.append({"@type": "Offer", "name": label, "price": tariff.get("price"),
                           "priceCurrency": tariff.get("currency") or "EUR"})
        if d.get("sold_out"):
            for offer in offers:
                offer["availability"] = "https://schema.org/SoldOut"
        doc["offers"] = offers if len(offers) > 1 else offers[0]
        doc["isAccessibleForFree"] = bool(price.get("is_free"))
    organizer = d.get("organizer")
    if organizer:
        org_name, _ = pick(organizer.get("name"), lang, main)
        doc["organizer"] = {"@type": "Organization", "name": org_name}
        if organizer.get("id"):
            doc["organizer"]["identifier"] = organizer["id"]
    if d.get("image"):
        doc["image"] = d["image"]
    age = d.get("age_range")
    if age and (age.get("min") is not None or age.get("max") is not None):
        doc["typicalAgeRange"] = f"{age.get('min') or ''}-{age.get('max') or ''}"
    return doc
