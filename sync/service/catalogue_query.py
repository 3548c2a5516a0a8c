"""Public read model: published activities at their approved version, filtered and paginated."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from sync.adapters import search_index
from sync.adapters.queries import catalogue as catalogue_rows
from sync.domain.activity import (
    ACTIVITY_TYPES,
    ATTENDANCE_MIXED,
    STATUS_CANCELLED,
    STATUS_POSTPONED,
    Calendar,
    NormalisedActivity,
)
from sync.domain.calendar import BRUSSELS, Upcoming, next_occurrence, occurrence_over, parse
from sync.domain.region import Region
from sync.domain.search_text import matches as text_matches
from sync.domain.search_text import query_words
from sync.domain.visibility import PUBLIC, visibility
from sync.service.public_catalogue import Facts, PublicCatalogue, Snapshot

DEFAULT_LANGUAGE = "nl"
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
    version_id: int | None = None  # the approved version, when read through search()

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
    for r in catalogue_rows.published(conn):
        yield _published(r)


def iter_public(conn: sa.Connection, now: datetime,
                include_members_only: bool = False) -> Iterator[Published]:
    """Published and shown right now (not expired, not before availableFrom, audience)."""
    return (p for p in iter_published(conn) if p.is_public(now, include_members_only))


def get_published(conn: sa.Connection, activity_id: int) -> Published | None:
    r = catalogue_rows.one_published(conn, activity_id)
    return None if r is None else _published(r)


def _spans(cal: Calendar) -> list[tuple[datetime | None, datetime | None]]:
    """When the activity happens: its dates that take place, else its period."""
    if cal.occurrences:
        return [(parse(o.start), occurrence_over(o)) for o in cal.occurrences
                if o.status not in (STATUS_CANCELLED, STATUS_POSTPONED)]
    if cal.type == "permanent":
        return [(None, None)]
    return [(parse(cal.start), parse(cal.end))]


def _in_days(spans: tuple[tuple[datetime | None, datetime | None], ...], f: Filters) -> bool:
    lo = datetime.combine(f.date_from, time(), BRUSSELS) if f.date_from else None
    hi = (datetime.combine(f.date_to + timedelta(days=1), time(), BRUSSELS)
          if f.date_to else None)
    for start, end in spans:
        if (hi is None or start is None or start < hi) and (lo is None or end is None or end > lo):
            return True
    return False


def _keeps(x: Facts, f: Filters) -> bool:
    if f.municipality_nis and x.nis != f.municipality_nis:
        return False
    if f.activity_type and f.activity_type not in x.types:
        return False
    # "Up to my level": an activity with several taaliconen is open at its easiest level.
    if f.language_level and (x.lowest_level is None or x.lowest_level > f.language_level):
        return False
    return not (f.date_from or f.date_to) or _in_days(x.spans, f)


def new_catalogue() -> PublicCatalogue:
    """The in-memory side of the public catalogue; one per process (App.catalogue)."""
    return PublicCatalogue(_spans)


def search(conn: sa.Connection, f: Filters, page: int, per_page: int, now: datetime,
           include_members_only: bool = False,
           catalogue: PublicCatalogue | None = None) -> PageOf:
    """Words through the search index, the other filters and the order over the published
    set kept in memory (`catalogue`), then only the page's activities read in full.

    Raises QueryTooLong for a `q` past the caps."""
    catalogue = catalogue or new_catalogue()
    snap = catalogue.snapshot(conn)
    found_words = tuple(query_words(f.q)) if f.q else ()
    # Who is shown now (availability, audience) holds for the whole published set until a
    # date passes; the same words and filters at the same catalogue, minute (the order) and
    # shown set give the same list.
    public, since = catalogue.public_ids(snap, now, include_members_only)
    key = (snap.stamp, now.replace(second=0, microsecond=0), since, include_members_only,
           found_words, replace(f, q=None))
    found: list[Facts] | None = catalogue.results.get(key)
    if found is None:
        found = _candidates(conn, catalogue, snap, f, list(found_words), now, public)
        catalogue.results.put(key, found)
    offset = (page - 1) * per_page
    return PageOf(_load(conn, catalogue, found[offset:offset + per_page]), len(found), page,
                  per_page)


def _candidates(conn: sa.Connection, catalogue: PublicCatalogue, snap: Snapshot, f: Filters,
                found_words: list[str], now: datetime, public: frozenset[int]) -> list[Facts]:
    """Shown activities with the words (index) and filters (facts), soonest first."""
    ordered, rank = catalogue.ordered(snap, now)
    if not found_words:
        return [x for x in ordered if x.id in public and _keeps(x, f)]
    wanted = _matching(conn, catalogue, snap, found_words)
    if snap.unindexed:  # an index row of one of these may be stale: its words decide instead
        wanted = frozenset({aid for aid in wanted if aid not in snap.unindexed}.union(
            aid for aid, text in snap.unindexed.items() if text_matches(found_words, text)))
    # Set, map and sort in C: a common word matches thousands of activities.
    chosen = list(map(ordered.__getitem__, sorted(map(rank.__getitem__, wanted & public))))
    return chosen if f == Filters(q=f.q) else [x for x in chosen if _keeps(x, f)]


def _matching(conn: sa.Connection, catalogue: PublicCatalogue, snap: Snapshot,
              found_words: list[str]) -> frozenset[int]:
    """The index's matches for all the words: each word's matches (kept for this snapshot),
    intersected, the smallest first. Equal to one AND query of the index: a word matches
    an activity whatever the other words are."""
    sets: list[frozenset[int]] = []
    for word in found_words:
        key = (snap.stamp, word)
        hit: frozenset[int] | None = catalogue.words.get(key)
        if hit is None:
            hit = search_index.matching(conn, word)
            catalogue.words.put(key, hit)
        sets.append(hit)
    sets.sort(key=len)
    return sets[0].intersection(*sets[1:]) if len(sets) > 1 else sets[0]


def _load(conn: sa.Connection, catalogue: PublicCatalogue, chosen: list[Facts]
          ) -> list[Published]:
    """The page's activities in full, in the given order: read by the snapshot's version id
    (the content approved then, even if the activity changed since), parsed once."""
    missing = [x.version_id for x in chosen if catalogue.parsed((x.id, x.version_id)) is None]
    if missing:
        for r in catalogue_rows.versions_with_activity(conn, missing):
            d = dict(r.data)
            catalogue.keep_parsed((r.id, r.vid), Published(
                r.id, r.source, r.source_id, d, r.updated_at, NormalisedActivity.from_dict(d),
                r.vid))
    found = (catalogue.parsed((x.id, x.version_id)) for x in chosen)
    return [p for p in found if p is not None]


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
