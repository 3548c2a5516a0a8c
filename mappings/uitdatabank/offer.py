"""What a visitor needs to join: price, booking, contacts, organizer, image, age, facilities."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from mappings.activity_types import TypeTable
from mappings.uitdatabank.readers import (
    as_list,
    as_object,
    as_str,
    as_str_tuple,
    lang_map,
    last_segment,
    opt_iso,
    price_value,
    show,
)
from sync.domain.activity import (
    AUDIENCE_EVERYONE,
    AgeRange,
    Booking,
    Contact,
    Facility,
    MappingError,
    Organizer,
    Price,
    Tariff,
)

UIT_PAGE = "https://www.uitinvlaanderen.be/agenda/e/{slug}/{id}"
_UIT_HOST = re.compile(r"^https?://(www\.)?uitinvlaanderen\.be/", re.IGNORECASE)
_AGE_RANGE = re.compile(r"^(\d{1,3})?\s*-\s*(\d{1,3})?$")
_AGE_PLUS = re.compile(r"^(\d{1,3})\s*\+$")
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_SLUG_MAX = 50


def is_uitpas_label(label: object) -> bool:
    """UiTPAS labels come in many spellings (`UITPAS`, `UiTPAS Regio Aalst`, …)."""
    return isinstance(label, str) and "uitpas" in label.casefold()


def slug(title: str) -> str:
    """uitinvlaanderen.be's slug of a title: ASCII, lower case, hyphens, at most 50 long."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = _SLUG_JUNK.sub("-", ascii_text.casefold()).strip("-")
    if len(text) > _SLUG_MAX:
        text = text[:_SLUG_MAX].rsplit("-", 1)[0]
    return text or "activiteit"


def people_url(doc: Mapping[str, Any], source_id: str, title: str) -> str:
    """The page for people: the uitinvlaanderen.be address in `sameAs`, else built the same
    way from the title and the id (that page resolves by id)."""
    for i, entry in enumerate(as_list(doc.get("sameAs"), "sameAs")):
        url = as_str(entry, f"sameAs[{i}]")
        if url and _UIT_HOST.match(url):
            return _UIT_HOST.sub("https://www.uitinvlaanderen.be/", url)
    return UIT_PAGE.format(slug=slug(title), id=source_id)


def price(value: Any, labels: tuple[str, ...], main_language: str) -> Price | None:
    entries = as_list(value, "priceInfo")
    if not entries:
        return None
    base: Tariff | None = None
    tariffs: list[Tariff] = []
    uitpas = any(is_uitpas_label(label) for label in labels)
    for i, raw in enumerate(entries):
        path = f"priceInfo[{i}]"
        entry = as_object(raw, path)
        category = (as_str(entry.get("category"), f"{path}.category") or "tariff").casefold()
        if category == "uitpas":
            uitpas = True
        tariff = Tariff(
            name=lang_map(entry.get("name"), f"{path}.name", main_language),
            price=price_value(entry.get("price"), f"{path}.price"),
            currency=as_str(entry.get("priceCurrency"), f"{path}.priceCurrency") or "EUR",
            category="uitpas" if category == "uitpas" else "tariff",
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


def booking(value: Any, main_language: str) -> Booking | None:
    info = as_object(value, "bookingInfo")
    if not info:
        return None
    # Every field is read (and may fail) before deciding there is nothing to book with.
    url = as_str(info.get("url"), "bookingInfo.url")
    url_label = lang_map(info.get("urlLabel"), "bookingInfo.urlLabel", main_language)
    phone = as_str(info.get("phone"), "bookingInfo.phone")
    email = as_str(info.get("email"), "bookingInfo.email")
    opens = opt_iso(info.get("availabilityStarts"), "bookingInfo.availabilityStarts")
    closes = opt_iso(info.get("availabilityEnds"), "bookingInfo.availabilityEnds")
    if not (url or phone or email):
        return None
    return Booking(url=url, url_label=url_label, phone=phone, email=email, opens=opens,
                   closes=closes)


def contact(value: Any, path: str = "contactPoint") -> Contact | None:
    point = as_object(value, path)
    if not point:
        return None
    urls = as_str_tuple(point.get("url"), f"{path}.url")
    phones = as_str_tuple(point.get("phone"), f"{path}.phone")
    emails = as_str_tuple(point.get("email"), f"{path}.email")
    return Contact(urls=urls, phones=phones, emails=emails) if (urls or phones or emails) else None


def organizer(value: Any, main_language: str) -> Organizer | None:
    if isinstance(value, str):  # a bare reference
        return Organizer(id=last_segment(value), name={}) if value.strip() else None
    entry = as_object(value, "organizer")
    ref = as_str(entry.get("@id"), "organizer.@id")
    name = lang_map(entry.get("name"), "organizer.name", main_language)
    if ref is None and not name:
        return None
    point = contact(entry.get("contactPoint"), "organizer.contactPoint")
    # Older organizers carry flat `email`/`phone` lists instead of a contactPoint.
    phones = as_str_tuple(entry.get("phone"), "organizer.phone")
    emails = as_str_tuple(entry.get("email"), "organizer.email")
    if point is None and (phones or emails):
        point = Contact(urls=(), phones=phones, emails=emails)
    return Organizer(id=None if ref is None else last_segment(ref), name=name,
                     url=as_str(entry.get("url"), "organizer.url"), contact=point)


def image(doc: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The main image's address, description (alt text) and copyright holder."""
    url = as_str(doc.get("image"), "image")
    media = [as_object(m, f"mediaObject[{i}]")
             for i, m in enumerate(as_list(doc.get("mediaObject"), "mediaObject"))]
    chosen: Mapping[str, Any] | None = None
    for i, m in enumerate(media):
        content = as_str(m.get("contentUrl"), f"mediaObject[{i}].contentUrl")
        if content is not None and (url is None or content == url):
            chosen, url = m, content
            break
    if chosen is None:
        return url, None, None
    return (url, as_str(chosen.get("description"), "mediaObject.description"),
            as_str(chosen.get("copyrightHolder"), "mediaObject.copyrightHolder"))


def age_range(value: Any) -> AgeRange | None:
    text = as_str(value, "typicalAgeRange")
    if text is None:
        return None
    if match := _AGE_RANGE.match(text):
        low, high = match.group(1), match.group(2)
        return AgeRange(None if low is None else int(low), None if high is None else int(high))
    if match := _AGE_PLUS.match(text):
        return AgeRange(int(match.group(1)), None)
    if text.isdigit():
        return AgeRange(int(text), int(text))
    raise MappingError(
        "typicalAgeRange", f"expected e.g. '12-18', '5-' or '-', got {show(value)}"
    )


def audience(value: Any) -> str:
    if isinstance(value, str):
        return value.strip().casefold() or AUDIENCE_EVERYONE
    found = as_str(as_object(value, "audience").get("audienceType"), "audience.audienceType")
    return (found or AUDIENCE_EVERYONE).casefold()


def facilities(doc: Mapping[str, Any], table: TypeTable) -> tuple[Facility, ...]:
    """Accessibility facilities (`terms[]` with domain `facility`), named as in our table."""
    out: dict[str, Facility] = {}
    for i, raw in enumerate(as_list(doc.get("terms"), "terms")):
        term = as_object(raw, f"terms[{i}]")
        if term.get("domain") != "facility":
            continue
        term_id = as_str(term.get("id"), f"terms[{i}].id")
        if term_id is None:
            continue
        label = table.facilities.get(term_id) or as_str(term.get("label"), f"terms[{i}].label")
        if label:
            out[term_id] = Facility(term_id, label)
    return tuple(sorted(out.values(), key=lambda f: f.label))
