"""What the public pages show of an activity: when, where, price, booking, contact, in Dutch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote_plus

import nh3

from sync.domain import dutch
from sync.domain.activity import (
    ATTENDANCE_MIXED,
    LANGUAGE_LEVELS,
    STATUS_POSTPONED,
    NormalisedActivity,
)
from sync.domain.calendar import upcoming
from sync.domain.html import HTML_ATTRIBUTES, HTML_TAGS, LINK_REL, URL_SCHEMES
from sync.service.catalogue_query import Published, pick
from sync.service.review_view import safe_url

MAX_DATES = 12
OSM_SEARCH = "https://www.openstreetmap.org/search?query={query}"



def _tel(phone: str) -> str:
    return "tel:" + "".join(c for c in phone if c.isdigit() or c == "+")


def _mailto(address: str) -> str | None:
    if "@" not in address or any(c in address for c in "\r\n\t <>\"'`?&"):
        return None
    return "mailto:" + address


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    text: str


@dataclass(slots=True)
class Contacts:
    links: list[Link] = field(default_factory=list)

    def add_url(self, url: str | None, text: str | None = None) -> None:
        href = safe_url(url)
        if href and all(x.href != href for x in self.links):
            self.links.append(Link(href, text or href.split("://", 1)[1].rstrip("/")))

    def add_phone(self, phone: str | None) -> None:
        if phone:
            self.links.append(Link(_tel(phone), phone))

    def add_email(self, address: str | None) -> None:
        href = _mailto(address) if address else None
        if href and address and all(x.href != href for x in self.links):
            self.links.append(Link(href, address))


@dataclass(slots=True)
class PublicView:
    """One activity as a newcomer reads it."""

    id: int
    title: str
    lang: str
    url: str | None  # uitinvlaanderen.be
    when: str  # the next moment, or what replaces it
    more_dates: list[str]
    more_dates_count: int
    opening_hours: list[str]
    calendar_summary: str | None
    status_note: str | None  # postponed, with the organizer's reason
    sold_out: bool
    levels: list[tuple[int, str, str]]  # (n, "2 taaliconen", meaning)
    lowest_level: int
    types: list[str]
    place_name: str | None
    address: list[str]
    municipality: str
    map_url: str | None
    online_url: str | None
    price_lines: list[str]
    price_short: str | None
    booking: Contacts
    booking_period: str | None
    organizer: str | None
    organizer_contact: Contacts
    contact: Contacts
    accessibility: list[str]
    age: str | None
    children_only: bool
    audience_note: str | None
    raw_html: str  # as the feed gave it: sanitised only when a page shows it
    summary: str | None
    image: str | None
    image_alt: str
    image_credit: str | None

    @property
    def description_html(self) -> str:
        """Sanitised description; the listing never shows it, so only the detail page pays."""
        return nh3.clean(self.raw_html, tags=set(HTML_TAGS), attributes=HTML_ATTRIBUTES,
                         url_schemes=set(URL_SCHEMES), link_rel=LINK_REL)


def _price(act: NormalisedActivity) -> tuple[list[str], str | None]:
    p = act.price
    if p is None:
        return [], None
    lines = []
    if p.is_free:
        lines.append("Gratis")
    elif p.base_price is not None:
        lines.append(f"Basistarief: {dutch.money(p.base_price, p.currency)}")
    for tariff in p.tariffs:
        name, _ = pick(tariff.name, "nl", act.main_language)
        label = name or ("UiTPAS" if tariff.category == "uitpas" else "Ander tarief")
        if tariff.category == "uitpas" and "uitpas" not in label.casefold():
            label = f"{label} (met UiTPAS)"
        lines.append(f"{label}: {dutch.money(tariff.price, tariff.currency)}")
    if p.uitpas and not any(t.category == "uitpas" for t in p.tariffs):
        lines.append("Korting met UiTPAS")
    short = "Gratis" if p.is_free else (
        dutch.money(p.base_price, p.currency) if p.base_price is not None else None)
    return lines, short


def _age(act: NormalisedActivity) -> str | None:
    a = act.age_range
    if a is None:
        return None
    if a.min is None and a.max is None:
        return "Voor alle leeftijden"
    if a.min is None or a.min == 0:
        return f"Tot {a.max} jaar" if a.max is not None else "Voor alle leeftijden"
    if a.max is None:
        return f"Vanaf {a.min} jaar"
    if a.min == a.max:
        return f"{a.min} jaar"
    return f"Van {a.min} tot {a.max} jaar"


def _when(act: NormalisedActivity, now: datetime) -> tuple[str, list[str], int]:
    """The next moment, the dates after it (dated calendars), and how many dates follow."""
    cal = act.calendar
    # Dated: every date ahead at once (the first MAX_DATES shown, all counted); otherwise
    # only the next slot is shown, and opening hours cost a walk through the days per slot.
    ahead = upcoming(cal, now, limit=len(cal.occurrences) if cal.occurrences else 1)
    if ahead:
        if not cal.occurrences:
            return dutch.when(ahead[0], now), [], 0
        return (dutch.when(ahead[0], now), [dutch.when(u, now) for u in ahead[1:MAX_DATES]],
                len(ahead) - 1)
    if cal.type == "permanent":
        return ("Altijd, op de openingsuren" if cal.opening_hours else "Doorlopend"), [], 0
    if act.status == STATUS_POSTPONED or any(
            o.status == STATUS_POSTPONED for o in cal.occurrences):
        return "Uitgesteld: een nieuwe datum volgt", [], 0
    return "Geen datum meer gepland", [], 0


def public_view(p: Published, now: datetime, region_names: dict[str, str]) -> PublicView:
    act = p.activity
    main = act.main_language
    title, lang = pick(act.title, "nl", main)
    text, _ = pick(act.description_text, lang or "nl", main)
    html, _ = pick(act.description_html, lang or "nl", main)
    when, more, more_count = _when(act, now)
    place = act.place
    place_name, _ = pick(place.name, "nl", main)
    town = " ".join(x for x in (place.postal_code, place.locality or place.municipality) if x)
    address = [x for x in (place.street_address, town) if x]
    map_query = ", ".join([*address, "België"]) if place.street_address else None
    price_lines, price_short = _price(act)

    booking = Contacts()
    booking_period = None
    if act.booking:
        label, _ = pick(act.booking.url_label, "nl", main)
        booking.add_url(act.booking.url, label or "Inschrijven of reserveren")
        booking.add_phone(act.booking.phone)
        booking.add_email(act.booking.email)
        opens, closes = act.booking.opens, act.booking.closes
        if opens and closes and opens != closes:
            booking_period = (f"Inschrijven kan van {dutch.day(datetime.fromisoformat(opens))} "
                              f"tot en met {dutch.day(datetime.fromisoformat(closes))}.")
        elif closes:
            booking_period = (f"Inschrijven kan tot en met "
                              f"{dutch.day(datetime.fromisoformat(closes))}.")
    organizer_contact = Contacts()
    organizer_name = None
    if act.organizer:
        organizer_name, _ = pick(act.organizer.name, "nl", main)
        organizer_contact.add_url(act.organizer.url)
        if act.organizer.contact:
            for u in act.organizer.contact.urls:
                organizer_contact.add_url(u)
            for e in act.organizer.contact.emails:
                organizer_contact.add_email(e)
            for ph in act.organizer.contact.phones:
                organizer_contact.add_phone(ph)
    contact = Contacts()
    if act.contact:
        for u in act.contact.urls:
            contact.add_url(u)
        for e in act.contact.emails:
            contact.add_email(e)
        for ph in act.contact.phones:
            contact.add_phone(ph)
    status_note = None
    if act.status == STATUS_POSTPONED:
        reason, _ = pick(act.status_reason, "nl", main)
        status_note = "Uitgesteld" + (f": {reason}" if reason else ".")
    return PublicView(
        id=p.id, title=title or act.source_id, lang=lang or "nl", url=safe_url(act.url),
        when=when, more_dates=more, more_dates_count=more_count,
        opening_hours=dutch.opening_hours(act.calendar.opening_hours),
        calendar_summary=act.calendar.summary if not more and act.calendar.type == "multiple"
        and len(act.calendar.occurrences) <= 1 else None,
        status_note=status_note, sold_out=act.sold_out,
        levels=[(n, dutch.levels(n), LANGUAGE_LEVELS.get(n, "")) for n in act.language_levels],
        lowest_level=act.lowest_level, types=list(act.activity_types),
        place_name=place_name, address=address,
        municipality=region_names.get(place.nis, place.municipality),
        map_url=OSM_SEARCH.format(query=quote_plus(map_query)) if map_query else None,
        online_url=safe_url(act.online_url) if act.attendance_mode == ATTENDANCE_MIXED else None,
        price_lines=price_lines, price_short=price_short,
        booking=booking, booking_period=booking_period,
        organizer=organizer_name, organizer_contact=organizer_contact, contact=contact,
        accessibility=[f.label for f in act.facilities],
        age=_age(act), children_only=act.children_only,
        audience_note="Alleen voor leden van de organisator." if act.audience == "members"
        else None,
        raw_html=html or "",
        summary=text,
        image=safe_url(act.image, https_only=True),
        image_alt=act.image_alt or "", image_credit=act.image_credit,
    )
