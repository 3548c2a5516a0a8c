"""Public read model: published activities at their approved version, filtered and paginated."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.domain import catalogue as cat
from sync.domain.activity import (
    ACTIVITY_TYPES,
    ATTENDANCE_MIXED,
    STATUS_CANCELLED,
    STATUS_POSTPONED,
    NormalisedActivity,
)
from sync.domain.calendar import BRUSSELS, Upcoming, next_occurrence, occurrence_over, parse
from sync.domain.region import Region
from sync.domain.visibility import PUBLIC, visibility

DEFAULT_LANGUAGE = "nl"
LANGUAGES = ("nl", "fr", "en", "de")
MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class Published:
    """One published activity: catalogue row facts plus the approved version, typed."""

    id: int
    source: str
    source_id: str
    data: dict[str, Any]
    updated_at: datetime
    activity: NormalisedActivity

    def is_public(self, now: datetime, include_members_only: bool = False) -> bool:
        """Shown to the public right now: publiq's visibility rules at request time."""
        return visibility(self.activity, now,
                          include_members_only=include_members_only) == PUBLIC

    def next_up(self, now: datetime) -> Upcoming | None:
        return next_occurrence(self.activity.calendar, now)


@dataclass(frozen=True, slots=True)
class Filters:
    municipality_nis: str | None = None
    activity_type: str | None = None
    language_level: int | None = None  # up to this level: the lowest level of the activity
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


def _published(r: Any) -> Published:
    data = dict(r.data)
    return Published(r.id, r.source, r.source_id, data, r.updated_at,
                     NormalisedActivity.from_dict(data))


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
        yield _published(r)


def iter_public(conn: sa.Connection, now: datetime,
                include_members_only: bool = False) -> Iterator[Published]:
    """Published and shown right now (not expired, not before availableFrom, audience)."""
    return (p for p in iter_published(conn) if p.is_public(now, include_members_only))


def get_published(conn: sa.Connection, activity_id: int) -> Published | None:
    a, v = t.activities, t.activity_versions
    r = conn.execute(
        sa.select(a.c.id, a.c.source, a.c.source_id, a.c.updated_at, v.c.data)
        .join(v, v.c.id == a.c.approved_version_id)
        .where(a.c.state == cat.PUBLISHED, a.c.id == activity_id)
    ).one_or_none()
    return None if r is None else _published(r)


def _spans(act: NormalisedActivity) -> list[tuple[datetime | None, datetime | None]]:
    """When the activity happens: its dates that take place, else its period."""
    cal = act.calendar
    if cal.occurrences:
        return [(parse(o.start), occurrence_over(o)) for o in cal.occurrences
                if o.status not in (STATUS_CANCELLED, STATUS_POSTPONED)]
    if cal.type == "permanent":
        return [(None, None)]
    return [(parse(cal.start), parse(cal.end))]


def _overlaps(act: NormalisedActivity, lo: datetime | None, hi: datetime | None) -> bool:
    for start, end in _spans(act):
        if (hi is None or start is None or start < hi) and (lo is None or end is None or end > lo):
            return True
    return False


def _text_blob(act: NormalisedActivity) -> str:
    return " ".join([*act.title.values(), *act.description_text.values()]).casefold()


def matches(p: Published, f: Filters) -> bool:
    act = p.activity
    if f.municipality_nis and act.place.nis != f.municipality_nis:
        return False
    if f.activity_type and f.activity_type not in act.activity_types:
        return False
    # "Up to my level": an activity with several taaliconen is open at its easiest level.
    if f.language_level and (not act.language_levels or act.lowest_level > f.language_level):
        return False
    if f.date_from or f.date_to:
        lo = datetime.combine(f.date_from, time(), BRUSSELS) if f.date_from else None
        hi = (datetime.combine(f.date_to + timedelta(days=1), time(), BRUSSELS)
              if f.date_to else None)
        if not _overlaps(act, lo, hi):
            return False
    if f.q:
        blob = _text_blob(act)
        if not all(word in blob for word in f.q.casefold().split()):
            return False
    return True


def search(conn: sa.Connection, f: Filters, page: int, per_page: int, now: datetime,
           include_members_only: bool = False) -> PageOf:
    """Filtered in Python over the public set: portable across SQLite and PostgreSQL, and
    the set is a region's catalogue (hundreds to a few thousand), not a search engine's."""
    found = [p for p in iter_public(conn, now, include_members_only) if matches(p, f)]
    far = datetime.max.replace(tzinfo=UTC)

    def order(p: Published) -> tuple[bool, datetime, int]:
        nxt = p.next_up(now)
        key = nxt.sort_key(now) if nxt is not None else None
        return (key is None, key or far, p.id)

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
        "eventAttendanceMode": (
            "https://schema.org/MixedEventAttendanceMode"
            if d.get("attendance_mode") == ATTENDANCE_MIXED
            else "https://schema.org/OfflineEventAttendanceMode"),
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
        low, high = age.get("min"), age.get("max")
        doc["typicalAgeRange"] = (f"{'' if low is None else low}-"
                                  f"{'' if high is None else high}")
    if d.get("online_url"):
        doc["location"] = [doc["location"], {"@type": "VirtualLocation", "url": d["online_url"]}]
    return doc
