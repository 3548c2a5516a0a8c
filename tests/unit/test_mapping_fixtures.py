"""The 23 UiTdatabank fixtures, as-is and prepared (Westhoek, één taalicoon, APPROVED)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mappings.uitdatabank import to_activity
from sync.domain.activity import AgeRange, MappingError, NormalisedActivity, Skipped

from .mapping_helpers import (
    AS_OF,
    DOCS_WRAPPER,
    FIXTURES,
    fixture_names,
    load_docs_example,
    load_fixture,
    prepare,
    region,
)

LEUVEN_PLACE = "179c89c5-dba4-417b-ae96-62e7a12c2405"
DAVIDSFONDS = "7481A1F9-D5CB-3BC9-D3C308240015B44D"
KORAN_CREATED = "2014-12-11T16:30:54+00:00"
PUNKFEST_CREATED = "2017-04-22T11:33:37+00:00"
THREE_DATES = ("2017-04-29T22:00:00+00:00", "2017-04-30T22:00:00+00:00",
               "2017-05-06T22:00:00+00:00")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def skip(reason: str) -> tuple[str, str]:
    return ("skip", reason)


def error(path: str) -> tuple[str, str]:
    return ("error", path)


# Each fixture: outcome as-is, outcome prepared. A prepared NormalisedActivity is given as a dict
# of attribute paths: `a.b` is an attribute, `#` a length, `*` maps over a tuple.
OUTCOMES: dict[str, tuple[tuple[str, str], tuple[str, str] | dict[str, Any]]] = {
    "all_optional_fields_labels_priceinfo_multilingual_organizer_members": (
        skip("draft"),
        error("calendarType"),  # no calendarType, dates, subEvent or openingHours at all
    ),
    "attendance_mode_mixed": (skip("draft"), {
        "calendar.type": "single",
        "calendar.occurrences.#": 1,
        "calendar.start": "2017-04-22T10:00:00+00:00",
        "calendar.end": "2017-04-22T18:00:00+00:00",
        "next_occurrence": None,
        "place.id": LEUVEN_PLACE,
        "place.municipality": "Ieper",
        "place.nis": "33011",
        "place.postal_code": "8900",
        "place.name": {"nl": "Hungaria"},
        "activity_types": ("Andere",),
        "event_type_id": None,
        "status": "available",
        "modified": PUNKFEST_CREATED,
    }),
    "booking_availability_unavailable": (skip("draft"), {
        "calendar.type": "multiple",
        "calendar.occurrences.*.start": THREE_DATES,
        "calendar.occurrences.*.sold_out": (False, False, False),
        "sold_out": True,
        "status": "available",
        # Whole-day dates: 30 April (00.00 to 00.00) lasts all day, so at 14.00 it is still on.
        "calendar.occurrences.*.all_day": (True, True, True),
        "next_occurrence": "2017-04-29T22:00:00+00:00",
    }),
    "cancelled_unavailable_status": (skip("draft"), skip("cancelled")),
    "docs_read_example_all_fields_schema_wrapper": (skip("draft"), {
        "source_id": "85b04295-479c-40f5-b3dd-469dfb4387b3",
        "languages": ("de", "en", "fr", "nl"),
        "calendar.type": "single",
        "calendar.occurrences.#": 1,
        # A single date takes its sub-event's times (16.00 to 22.00), not the summary's.
        "calendar.occurrences.*.start": ("2021-05-17T16:00:00+00:00",),
        "status_reason.nl": "Nederlandse reden",
        "price.base_price": 10.5,
        "price.is_free": False,
        "price.tariffs.#": 0,
        "price.uitpas": False,
        "booking.url": "https://www.example.com",
        "booking.url_label.nl": "Nederlandse beschrijving",
        "booking.phone": "016/112233",
        "contact.emails": ("info@example.com",),
        "organizer.id": "5cf42d51-3a4f-46f0-a8af-1cf672be8c84",
        "organizer.name.nl": "Nederlandse tekst",
        "image": "https://images-test.uitdatabank.be/85b04295-479c-40f5-b3dd-469dfb4387b3.png",
        "age_range": AgeRange(6, 12),
        "audience": "everyone",
        "event_type_id": "0.50.4.0.0",
        "activity_types": ("Culturele activiteit",),
        "description_text.fr": "Description français",
        "modified": "2021-05-17T22:00:00+00:00",
        "next_occurrence": "2021-05-17T16:00:00+00:00",  # still ahead of AS_OF (2017)
        "url": "https://www.uitinvlaanderen.be/agenda/e/test-event/"
               "85b04295-479c-40f5-b3dd-469dfb4387b3",
        "source_url": "https://io-test.uitdatabank.be/events/85b04295-479c-40f5-b3dd-469dfb4387b3",
        "attendance_mode": "mixed",
        "online_url": "https://www.publiq.be/livestream",
        "booking.opens": "2021-05-17T22:00:00+00:00",
        "booking.closes": "2021-05-17T22:00:00+00:00",
        "organizer.url": "https://www.publiq.be",
        "organizer.contact.emails": ("info@publiq.be",),
        "organizer.contact.phones": ("+32/1234567890",),
        "children_only": False,
        "available_to": "2021-05-17T22:00:00+00:00",
    }),
    # School groups only (publiq's dummy place for education events): never public.
    "dummy_place_for_education_events_legacy_terms": (skip("no_language_icon"),
                                                       skip("education")),
    "multiple_subevents_booking_availability_fragment": (error("@id"), error("@id")),
    "multiple_with_mixed_subevent_statuses": (skip("draft"), {
        "calendar.occurrences.*.status": ("available", "cancelled", "postponed"),
        "status": "available",
        "next_occurrence": "2017-04-29T22:00:00+00:00",  # 30 April, a whole day, still on
    }),
    "multiple_with_overnight_subevent": (skip("draft"), {
        "calendar.occurrences.*.start": THREE_DATES,
        "calendar.occurrences.*.end": THREE_DATES,
        "calendar.start": "2017-04-29T22:00:00+00:00",
        "calendar.end": "2017-05-06T22:00:00+00:00",
    }),
    "multiple_with_subevents": (skip("draft"), {
        "calendar.type": "multiple",
        "calendar.occurrences.*.start": THREE_DATES,
        "calendar.occurrences.*.status": ("available",) * 3,
        "sold_out": False,
        "available_to": "2017-05-06T22:00:00+00:00",
    }),
    "online_event_nil_location_docs_excerpt": (skip("no_language_icon"), skip("online_only")),
    "periodic_with_booking_info_contact_point_organizer": (skip("no_language_icon"), {
        "calendar.type": "periodic",
        "calendar.start": "2016-12-31T23:00:00+00:00",
        "calendar.end": "2017-06-29T22:00:00+00:00",
        "calendar.opening_hours": (),
        "next_occurrence": "2016-12-31T23:00:00+00:00",  # one long running period
        "booking.url": "http://www.museumpas.be/smak",
        "booking.url_label": {"nl": "Reserveer plaatsen"},  # legacy string label
        "booking.email": "dirk@du.de",
        "contact.phones": ("0234567891",),
        "contact.urls": (),
        "organizer.id": "6bd731a8-598d-460f-b534-98a604fc4983",
        "activity_types": ("Culturele activiteit",),
        "theme_ids": ("1.1.0.0.0",),
        "price": None,
        "available_from": "2017-01-09T14:22:05+00:00",
        "modified": "2017-01-09T14:21:49+00:00",
    }),
    "periodic_with_opening_hours": (skip("draft"), {
        "calendar.type": "periodic",
        "calendar.opening_hours.#": 3,
        "calendar.opening_hours.*.days": (WEEKDAYS, WEEKDAYS, ("saturday",)),
        "calendar.opening_hours.*.opens": ("09:00", "13:00", "10:00"),
        "next_occurrence": "2017-05-01T07:00:00+00:00",  # Monday 09:00 in Brussels
    }),
    "periodic_with_opening_hours_and_closed_days": (skip("draft"), {
        "calendar.type": "periodic",
        "calendar.opening_hours.#": 3,
        "next_occurrence": "2017-05-01T07:00:00+00:00",
    }),
    "permanent_with_opening_hours": (skip("draft"), {
        "calendar.type": "permanent",
        "calendar.start": None,
        "calendar.opening_hours.#": 4,
        "calendar.opening_hours.*.closes": ("12:00", "18:00", "14:00", "19:00"),
        # Sunday 10:00-14:00 local; as_of is Sunday 14:00, so today's slot has just closed
        # and the next opening is Monday 09:00.
        "next_occurrence": "2017-05-01T07:00:00+00:00",
    }),
    "permanent_with_opening_hours_videos_status_acc": (skip("no_language_icon"), {
        "calendar.type": "permanent",
        "calendar.opening_hours.*.days": (("monday", "tuesday", "thursday"),),
        "next_occurrence": "2017-05-01T19:00:00+00:00",
        "activity_types": ("Culturele activiteit",),
        "event_type_id": "0.50.6.0.0",
        "age_range": AgeRange(None, None),
        "place.id": "f296a53b-7470-4bf6-8a80-a2538b8d9291",
        "place.name": {"nl": "Zuidertoren", "fr": "Tour du Midi", "en": "Tour du Midi"},
        "workflow_status": "APPROVED",
    }),
    "postponed_temporarily_unavailable_with_reason_fragment": (error("@id"), error("@id")),
    "single_minimal": (skip("draft"), {
        "calendar.type": "single",
        "calendar.occurrences.#": 1,
        "title": {"nl": "Punkfest"},
        "description_html": {},
        "price": None,
        "booking": None,
        "contact": None,
        "organizer": None,
        "image": None,
        "age_range": None,
    }),
    "status_available_with_priceinfo": (skip("no_language_icon"), {
        "status": "available",
        "price.is_free": True,
        "activity_types": ("Andere",),
        "image": "http://media.uitdatabank.be/20141211/558bb7cf-5ff8-40b4-872b-5f5b46bb16c2.jpg",
    }),
    "taaliconen_all_four_labels_multiple_legacy": (skip("outside_region"), {
        "language_levels": (1, 2, 3, 4),
        "has_several_levels": True,
        "age_range": AgeRange(5, None),
        "activity_types": ("Cursus",),
        "price": None,  # the UiTPAS label alone makes no price
    }),
    "taaliconen_vier_taaliconen_label": (skip("outside_region"), {
        "language_levels": (1, 4),
    }),
    "translated_address_with_main_language": (skip("no_language_icon"), {
        "main_language": "es",
        "title.nl": "Koran, kaliefen en kruistochten - De fundamenten van de islam",
        "languages": ("nl",),
        "place.locality": "Ieper",
        "place.street_address": "Sint-Jorisplein 20",
        "price.base_price": 0.0,
        "price.tariffs": (),
    }),
    "visible_and_hidden_labels": (skip("no_language_icon"), {
        "language_levels": (1,),
        "source_id": "d1f0e71d-a9a8-4069-81fb-530134502c58",
        "source_url": "http://culudb-silex.dev:8080/event/d1f0e71d-a9a8-4069-81fb-530134502c58",
        # sameAs, on https: the page for people, not the API document
        "url": "https://www.uitinvlaanderen.be/agenda/e/koran-kaliefen-en-kruistochten-de-"
               "fundamenten-van/d1f0e71d-a9a8-4069-81fb-530134502c58",
        "calendar.summary": "ma 02/03/15 van 13:30 tot 16:30 ma 09/03/15 van 13:30 tot 16:30 "
                            "ma 16/03/15 van 13:30 tot 16:30 ma 23/03/15 van 13:30 tot 16:30 "
                            "ma 30/03/15 van 13:30 tot 16:30",
        "organizer.contact.emails": ("academie@davidsfonds.be",),  # legacy flat email/phone
        "organizer.contact.phones": ("+32 16 310670", "+32 16 310608"),
    }),
}


def resolve(obj: Any, path: str) -> Any:
    parts = path.split(".")
    for i, part in enumerate(parts):
        if part == "#":
            return len(obj)
        if part == "*":
            rest = ".".join(parts[i + 1:])
            return tuple(resolve(item, rest) if rest else item for item in obj)
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def outcome(doc: dict[str, Any]) -> NormalisedActivity | Skipped | MappingError:
    try:
        return to_activity(doc, region(), as_of=AS_OF)
    except MappingError as exc:
        return exc


def check(result: NormalisedActivity | Skipped | MappingError, expected: Any) -> None:
    if isinstance(expected, dict):
        assert isinstance(result, NormalisedActivity), result
        assert result.language_levels  # never mapped without a level
        assert result.workflow_status == "APPROVED"
        assert result.place.municipality == "Ieper"
        actual = {path: resolve(result, path) for path in expected}
        assert actual == expected
        return
    kind, detail = expected
    if kind == "skip":
        assert isinstance(result, Skipped), result
        assert result.reason == detail
    else:
        assert isinstance(result, MappingError), result
        assert result.field_path == detail


def test_the_table_covers_every_fixture() -> None:
    assert sorted(OUTCOMES) == fixture_names()
    assert len(OUTCOMES) == 23


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_fixture_as_is(name: str) -> None:
    check(outcome(load_fixture(name)), OUTCOMES[name][0])


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_fixture_prepared(name: str) -> None:
    check(outcome(prepare(load_fixture(name))), OUTCOMES[name][1])


def test_prepared_outcome_counts() -> None:
    mapped = [n for n, (_, prepared) in OUTCOMES.items() if isinstance(prepared, dict)]
    assert len(mapped) == 17


def test_skips_carry_the_modified_timestamp() -> None:
    result = outcome(load_fixture("single_minimal"))
    assert result == Skipped("23017cb7-e515-47b4-87c4-780735acc942", "draft", PUNKFEST_CREATED)


def test_the_docs_wrapper_itself_is_not_an_event() -> None:
    wrapper = json.loads((FIXTURES / f"{DOCS_WRAPPER}.json").read_text(encoding="utf-8"))
    result = outcome(wrapper)
    assert isinstance(result, MappingError) and result.field_path == "@id"


@pytest.mark.parametrize("index", [1, 2])
def test_the_other_docs_examples_reference_their_place_without_an_address(index: int) -> None:
    # examples[1] (periodic yoga) and [2] (single with subEvent) embed only the place @id.
    result = outcome(prepare(load_docs_example(index)))
    assert isinstance(result, MappingError)
    assert result.field_path == "location.address"


def test_the_other_docs_examples_map_once_the_place_is_embedded() -> None:
    address = {"nl": {"addressCountry": "BE", "addressLocality": "Ieper", "postalCode": "8900",
                      "streetAddress": "Grote Markt 1"}}
    yoga = prepare(load_docs_example(1))
    yoga["location"]["address"] = address
    yoga["modified"] = "2026-01-01T00:00:00+01:00"
    result = outcome(yoga)
    assert isinstance(result, NormalisedActivity), result
    assert result.calendar.type == "periodic"
    # The stale label says Yoga; the id says Dansvoorstelling, and the id wins.
    assert result.event_type_id == "0.54.0.0.0"
    assert result.activity_types == ("Culturele activiteit",)

    circus = prepare(load_docs_example(2))
    circus["location"]["address"] = address
    result = outcome(circus)
    assert isinstance(result, NormalisedActivity), result
    # A course series with a circus theme is a course: themes refine generic types only.
    assert result.activity_types == ("Cursus",)
    assert result.children_only is True
    assert result.calendar.occurrences[0].start == "2026-06-15T07:00:00+00:00"


def _keys_reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _keys_reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_keys_reversed(v) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_the_documents_key_order_does_not_reach_the_stored_json(name: str) -> None:
    # The same document may come with its keys in another order (another endpoint, a source
    # that rewrote it, the fixtures' order against the feed's): the JSON stored for it must be
    # the same, byte for byte, whichever process maps it.
    doc = prepare(load_fixture(name))
    as_is, reordered = outcome(doc), outcome(_keys_reversed(doc))
    if isinstance(as_is, NormalisedActivity):
        assert isinstance(reordered, NormalisedActivity)
        assert json.dumps(reordered.to_dict()) == json.dumps(as_is.to_dict())
    elif isinstance(as_is, MappingError):
        assert isinstance(reordered, MappingError) and str(reordered) == str(as_is)
    else:
        assert reordered == as_is
