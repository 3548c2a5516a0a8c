"""Unit tests of the UiTdatabank mapping rules, one behaviour at a time."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mappings.activity_types import default_type_table
from mappings.taaliconen import taalicoon_level
from mappings.uitdatabank import plain_text, sanitise_html, to_activity
from sync.domain.activity import (
    ACTIVITY_TYPES,
    AgeRange,
    MappingError,
    NormalisedActivity,
    Skipped,
)

from .mapping_helpers import ROOT, minimal_event, region

AS_OF = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def activity(doc: dict[str, Any], as_of: datetime = AS_OF) -> NormalisedActivity:
    result = to_activity(doc, region(), as_of=as_of)
    assert isinstance(result, NormalisedActivity), result
    return result


def skipped(doc: dict[str, Any]) -> str:
    result = to_activity(doc, region(), as_of=AS_OF)
    assert isinstance(result, Skipped), result
    return result.reason


def error_path(doc: Any) -> str:
    with pytest.raises(MappingError) as info:
        to_activity(doc, region(), as_of=AS_OF)
    return info.value.field_path


def located(postal_code: str, **location: Any) -> dict[str, Any]:
    return {
        "@id": "https://io.uitdatabank.be/place/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "name": {"nl": "Zaal"},
        "address": {"nl": {"postalCode": postal_code, "addressLocality": "X"}},
        **location,
    }


# --- taaliconen ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "level"),
    [
        ("één taalicoon", 1),
        ("een taalicoon", 1),
        ("EEN_TAALICOON", 1),
        ("Één Taalicoon", 1),
        (unicodedata.normalize("NFD", "één taalicoon"), 1),
        ("twee taaliconen", 2),
        ("Twee Taaliconen", 2),
        ("twee_taaliconen", 2),
        ("  drie taaliconen ", 3),
        # SAPI3 would not find a label with two spaces, so the mapping does not accept one.
        ("drie   taaliconen", None),
        ("DRIE-TAALICONEN", 3),
        ("vier taaliconen", 4),
        ("vier taalicoon", 4),
        ("taalicoon", None),
        ("vijf taaliconen", None),
        ("één taalicoon extra", None),
        ("UiTPAS Regio Aalst", None),
        ("", None),
        (4, None),
        (None, None),
    ],
)
def test_taalicoon_label_variants(label: object, level: int | None) -> None:
    assert taalicoon_level(label) == level


def test_several_levels_from_labels_and_hidden_labels_sorted_unique() -> None:
    result = activity(minimal_event(
        labels=["drie taaliconen", "EEN_TAALICOON", 42, None, {"x": 1}],
        hiddenLabels=["een taalicoon", "vier_taaliconen"],
    ))
    assert result.language_levels == (1, 3, 4)
    assert result.has_several_levels


def test_a_hidden_label_alone_is_enough() -> None:
    doc = minimal_event(hiddenLabels=["twee taaliconen"])
    del doc["labels"]
    assert activity(doc).language_levels == (2,)


@pytest.mark.parametrize("labels", [None, [], ["groen"], "geen label", 17, {"a": 1}])
def test_no_taalicoon_is_skipped(labels: Any) -> None:
    assert skipped(minimal_event(labels=labels)) == "no_language_icon"


# --- activity types ------------------------------------------------------------------------------


def term(term_id: str, domain: str = "eventtype") -> dict[str, str]:
    return {"id": term_id, "label": "stale label", "domain": domain}


@pytest.mark.parametrize(
    ("terms", "types"),
    [
        ([term("0.3.1.0.0")], ("Cursus",)),
        ([term("0.3.1.0.1")], ("Cursus", "Workshop")),
        ([term("0.59.0.0.0")], ("Sportactiviteit",)),
        ([term("0.7.0.0.0")], ("Uitstap",)),
        ([term("0.17.0.0.0")], ("Sportactiviteit", "Uitstap")),
        ([term("0.50.4.0.0")], ("Culturele activiteit",)),
        ([term("0.28.0.0.0")], ("Ontmoeting",)),
        ([term("1.50.0.0.0")], ("Ontmoeting",)),
        ([term("8aRjN4dGsXuE6tBkM1pVwQ")], ("Vereniging",)),
        ([term("0.51.0.0.0")], ("Andere",)),  # Type onbepaald
        ([term("no-such-type")], ("Andere",)),
        ([], ("Andere",)),
        (None, ("Andere",)),
        # A theme adds a type, ordered as in ACTIVITY_TYPES.
        ([term("0.28.0.0.0"), term("1.51.13.0.0", "theme")], ("Ontmoeting", "Sportactiviteit")),
        ([term("1.51.14.0.0", "theme")], ("Sportactiviteit",)),
        # Themes add types to generic event types only: a course about jazz is a course.
        ([term("0.3.1.0.0"), term("1.8.2.0.0", "theme")], ("Cursus",)),
        ([term("0.3.2.0.0"), term("1.42.0.0.0", "theme")], ("Andere",)),  # Lezing, Creativiteit
        ([term("0.51.0.0.0"), term("1.40.0.0.0", "theme")], ("Culturele activiteit",)),
        ([term("0.51.0.0.0"), term("1.11.1.0.0", "theme")], ("Ontmoeting",)),
        ([term("0.57.0.0.0"), term("1.51.13.0.0", "theme")], ("Sportactiviteit",)),  # Kamp
        ([term("0.19.0.0.0")], ("Ontmoeting",)),  # Sportwedstrijd bekijken
        ([term("hZ5fCyL9nKqW3xDvTrJ2gP")], ("Andere",)),  # Speelpleinwerking
        # Facilities and other domains never add a type.
        ([term("3.16.0.0.0", "facility"), term("reg.704", "flandersregion")], ("Andere",)),
    ],
)
def test_activity_types(terms: Any, types: tuple[str, ...]) -> None:
    assert activity(minimal_event(terms=terms)).activity_types == types


def test_event_type_id_is_the_id_never_the_label() -> None:
    result = activity(minimal_event(terms=[
        {"id": "0.59.0.0.0", "label": "Concert", "domain": "eventtype"},
        term("1.51.3.0.0", "theme"),
        term("1.11.0.0.0", "theme"),
    ]))
    assert result.event_type_id == "0.59.0.0.0"
    assert result.theme_ids == ("1.11.0.0.0", "1.51.3.0.0")
    assert result.activity_types == ("Sportactiviteit",)


def test_activity_types_function_order_and_fallback() -> None:
    table = default_type_table()
    assert table.activity_types(None, []) == ("Andere",)
    assert table.activity_types(None, ["1.42.0.0.0", "1.51.3.0.0"]) == ("Sportactiviteit",
                                                                        "Workshop")
    assert table.activity_types("0.17.0.0.0", ["1.42.0.0.0"]) == ("Sportactiviteit", "Uitstap")


def test_tables_use_known_types_and_taxonomy_ids() -> None:
    terms = json.loads((ROOT / "tests" / "fixtures" / "terms.json").read_text())["terms"]
    known: dict[str, str] = {}

    def walk(entry: dict[str, Any]) -> None:
        known.setdefault(entry["id"], entry["domain"])
        for child in entry.get("otherSuggestedTerms") or []:
            walk(child)

    for entry in terms:
        walk(entry)
    table = default_type_table()
    for rows, domain in ((table.event_types, "eventtype"), (table.themes, "theme")):
        for term_id, row in rows.items():
            assert known.get(term_id) == domain, term_id
            assert row.types and set(row.types) <= set(ACTIVITY_TYPES), term_id
            assert row.reason.strip(), term_id
    for term_id in table.facilities:
        assert known.get(term_id) == "facility", term_id


# --- descriptions --------------------------------------------------------------------------------


def test_html_is_sanitised() -> None:
    raw = (
        '<p onclick="steal()">Hallo <strong>allemaal</strong><script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">klik</a> <a href="https://ieper.be" target="_blank">site</a>'
        '<img src="x" onerror="alert(1)"><div style="color:red">blok</div><iframe src="x"></iframe>'
    )
    cleaned = sanitise_html(raw)
    for forbidden in ("script", "alert", "onclick", "javascript", "onerror", "<img", "style",
                      "<div", "iframe", "target"):
        assert forbidden not in cleaned
    assert "<strong>allemaal</strong>" in cleaned
    assert '<a href="https://ieper.be" rel="noopener noreferrer nofollow">site</a>' in cleaned
    assert "blok" in cleaned


def test_plain_text_strips_tags_decodes_entities_and_keeps_paragraphs() -> None:
    raw = "<p>Eerste   alinea &amp; <b>vet</b>\n  tekst.</p>"
    raw += "<p>Tweede&nbsp;alinea<br>nieuwe regel</p>"
    raw += "<ul><li>een</li><li>twee</li></ul><script>alert(1)</script>"
    assert plain_text(raw) == (
        "Eerste alinea & vet tekst.\n\nTweede alinea\nnieuwe regel\n\neen\ntwee"
    )


def test_a_plain_text_description_keeps_its_line_breaks() -> None:
    result = activity(minimal_event(description="Lijn een\n3 < 4 & zo\n\nNieuwe alinea"))
    assert result.description_html == {
        "nl": "<p>Lijn een<br>3 &lt; 4 &amp; zo</p><p>Nieuwe alinea</p>"
    }
    assert result.description_text == {"nl": "Lijn een\n3 < 4 & zo\n\nNieuwe alinea"}


def test_a_description_that_sanitises_to_nothing_is_dropped() -> None:
    result = activity(minimal_event(description={"nl": "<script>x()</script>", "fr": "Salut"}))
    assert result.description_html == {"fr": "<p>Salut</p>"}
    assert result.description_text == {"fr": "Salut"}


# --- legacy shapes -------------------------------------------------------------------------------


def test_legacy_string_shapes() -> None:
    doc = minimal_event(
        mainLanguage="fr",
        name="Café des langues",
        description="Pratiquez",
        location={"@id": "https://x/place/p1", "name": "Salle",
                  "address": {"postalCode": 8970, "addressLocality": "Poperinge",
                              "streetAddress": "Markt 1"}},
        priceInfo=[{"category": "base", "name": "Basistarief", "price": "2,50",
                    "priceCurrency": "EUR"}],
        bookingInfo={"url": "https://tickets.example", "urlLabel": "Réserver"},
        contactPoint={"email": "info@example.be", "phone": "057 00 00 00", "url": []},
        organizer={"@id": "https://x/organizers/o1/", "name": "Vzw Taal"},
    )
    result = activity(doc)
    assert result.title == {"fr": "Café des langues"}
    assert result.languages == ("fr",)
    assert result.description_text == {"fr": "Pratiquez"}
    assert result.place.id == "p1"
    assert result.place.name == {"fr": "Salle"}
    assert (result.place.postal_code, result.place.municipality) == ("8970", "Poperinge")
    assert result.place.street_address == "Markt 1"
    assert result.price is not None
    assert result.price.base_price == 2.5
    assert result.price.tariffs == ()
    assert result.booking is not None and result.booking.url_label == {"fr": "Réserver"}
    assert result.contact is not None
    assert result.contact.emails == ("info@example.be",)
    assert result.contact.phones == ("057 00 00 00",)
    assert result.organizer is not None
    assert (result.organizer.id, result.organizer.name) == ("o1", {"fr": "Vzw Taal"})


def test_php_empty_arrays_stand_for_empty_objects() -> None:
    result = activity(minimal_event(bookingInfo=[], contactPoint=[], organizer=[], status=[],
                                    audience=[], description=[]))
    assert (result.booking, result.contact, result.organizer) == (None, None, None)
    assert result.status == "available"
    assert result.audience == "everyone"
    assert result.description_html == {}


def test_address_picks_main_language_then_nl_then_any() -> None:
    def with_address(address: dict[str, Any], main: str = "nl") -> NormalisedActivity:
        return activity(minimal_event(mainLanguage=main, location=located("0", address=address)))

    fr_nl = {"fr": {"postalCode": "8900", "addressLocality": "Ypres"},
             "nl": {"postalCode": "8900", "addressLocality": "Ieper"}}
    assert with_address(fr_nl).place.locality == "Ieper"
    assert with_address(fr_nl, main="fr").place.locality == "Ypres"
    assert with_address({"de": {"postalCode": "8900", "addressLocality": "Ypern"}},
                        main="en").place.locality == "Ypern"


@pytest.mark.parametrize(
    ("event_id", "source_id"),
    [
        ("https://io.uitdatabank.be/event/abc-1", "abc-1"),
        ("https://io.uitdatabank.be/events/abc-2", "abc-2"),
        ("https://io.uitdatabank.be/events/abc-3/", "abc-3"),
        ("http://culudb-silex.dev:8080/event/ABC-4?x=1", "ABC-4"),
    ],
)
def test_source_id_is_the_last_path_segment(event_id: str, source_id: str) -> None:
    result = activity(minimal_event(**{"@id": event_id}))
    assert (result.source_id, result.source_url) == (source_id, event_id)
    # The link for people is the uitinvlaanderen.be page, built from title and id.
    assert result.url == f"https://www.uitinvlaanderen.be/agenda/e/praatcafe-nederlands/{source_id}"


# --- skips ---------------------------------------------------------------------------------------


NIL_PLACE = "https://io.uitdatabank.be/places/00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "overrides",
    [
        {"attendanceMode": "online"},
        {"attendanceMode": "online", "location": None},
        {"location": {"@id": NIL_PLACE, "name": {"nl": "Online"}}},
        {"location": NIL_PLACE},
        {"location": located("0000")},
        {"location": {"@id": "https://x/place/p", "address": {"postalCode": "0000"}}},
    ],
)
def test_online_only(overrides: dict[str, Any]) -> None:
    assert skipped(minimal_event(**overrides)) == "online_only"


def test_mixed_attendance_with_a_place_in_the_region_is_kept() -> None:
    result = activity(minimal_event(attendanceMode="mixed", onlineUrl="https://meet.example"))
    assert result.place.municipality == "Ieper"


@pytest.mark.parametrize("postal_code", ["3000", "8000", "1000", "89000"])
def test_outside_region(postal_code: str) -> None:
    assert skipped(minimal_event(location=located(postal_code))) == "outside_region"


@pytest.mark.parametrize(
    ("workflow", "reason"),
    [("DELETED", "deleted"), ("REJECTED", "rejected"), ("DRAFT", "draft"), ("deleted", "deleted")],
)
def test_workflow_skips(workflow: str, reason: str) -> None:
    assert skipped(minimal_event(workflowStatus=workflow)) == reason


def test_event_status_unavailable_is_cancelled() -> None:
    assert skipped(minimal_event(status={"type": "Unavailable"})) == "cancelled"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        # Deleted wins over everything, even a document that would not map at all.
        ({"workflowStatus": "DELETED", "labels": [], "calendarType": 5, "name": None}, "deleted"),
        ({"workflowStatus": "REJECTED", "status": {"type": "Unavailable"}}, "rejected"),
        ({"labels": [], "location": located("3000")}, "no_language_icon"),
        ({"attendanceMode": "online", "location": located("3000")}, "online_only"),
        ({"location": located("3000"), "status": {"type": "Unavailable"}}, "outside_region"),
    ],
)
def test_skip_order(overrides: dict[str, Any], reason: str) -> None:
    assert skipped(minimal_event(**overrides)) == reason


def test_missing_workflow_status_counts_as_approved() -> None:
    doc = minimal_event()
    del doc["workflowStatus"]
    assert activity(doc).workflow_status == "APPROVED"


def test_ready_for_validation_is_mapped() -> None:
    assert activity(minimal_event(workflowStatus="READY_FOR_VALIDATION")).workflow_status == (
        "READY_FOR_VALIDATION"
    )


# --- status, sold out ----------------------------------------------------------------------------


def test_postponed_status_with_reason() -> None:
    result = activity(minimal_event(status={
        "type": "TemporarilyUnavailable", "reason": {"nl": "Uitgesteld", "en": "Postponed"},
    }))
    assert result.status == "postponed"
    assert result.status_reason == {"nl": "Uitgesteld", "en": "Postponed"}
    assert result.calendar.occurrences[0].status == "postponed"


def sub(start: str, end: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"startDate": start, **({"endDate": end} if end else {}), **extra}


def test_sold_out_from_the_event_booking_availability() -> None:
    result = activity(minimal_event(bookingAvailability={"type": "Unavailable"}))
    assert result.sold_out and result.status == "available"


def test_sold_out_when_all_sub_events_are_sold_out() -> None:
    sold = {"type": "Unavailable"}
    subs = [sub("2030-03-02T19:00:00+01:00", bookingAvailability=sold),
            sub("2030-03-09T19:00:00+01:00", bookingAvailability=sold)]
    result = activity(minimal_event(calendarType="multiple", subEvent=subs))
    assert result.sold_out
    assert [o.sold_out for o in result.calendar.occurrences] == [True, True]

    subs[1] = sub("2030-03-09T19:00:00+01:00", bookingAvailability={"type": "Available"})
    result = activity(minimal_event(calendarType="multiple", subEvent=subs))
    assert not result.sold_out
    assert [o.sold_out for o in result.calendar.occurrences] == [True, False]


def test_sub_event_without_status_shares_the_event_status() -> None:
    result = activity(minimal_event(
        calendarType="multiple", status={"type": "TemporarilyUnavailable"},
        subEvent=[sub("2030-03-02T19:00:00+01:00"),
                  sub("2030-03-09T19:00:00+01:00", status={"type": "Available"})],
    ))
    assert [o.status for o in result.calendar.occurrences] == ["postponed", "available"]


# --- calendar and dates --------------------------------------------------------------------------


def test_overnight_sub_event() -> None:
    result = activity(minimal_event(
        calendarType="multiple",
        subEvent=[sub("2030-07-05T22:00:00+02:00", "2030-07-06T02:00:00+02:00", overnight=True)],
    ))
    (occurrence,) = result.calendar.occurrences
    assert (occurrence.start, occurrence.end) == ("2030-07-05T20:00:00+00:00",
                                                  "2030-07-06T00:00:00+00:00")
    # Past midnight it is still going on, so it is still the next occurrence.
    as_of = datetime(2030, 7, 5, 23, 30, tzinfo=UTC)
    assert activity(minimal_event(
        calendarType="multiple",
        subEvent=[sub("2030-07-05T22:00:00+02:00", "2030-07-06T02:00:00+02:00")],
    ), as_of=as_of).next_occurrence == "2030-07-05T20:00:00+00:00"


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("2030-07-05T22:00:00+02:00", "2030-07-05T20:00:00+00:00"),  # summer time
        ("2030-01-05T22:00:00+01:00", "2030-01-05T21:00:00+00:00"),  # winter time
        ("2030-01-05T21:00:00Z", "2030-01-05T21:00:00+00:00"),
        ("2030-01-05T21:00:00.123456+00:00", "2030-01-05T21:00:00+00:00"),
        ("2030-07-05T22:00:00", "2030-07-05T20:00:00+00:00"),  # no offset: Brussels time
        ("2030-07-05", "2030-07-04T22:00:00+00:00"),  # date only: local midnight
        ("2030-07-05T18:00:00-04:00", "2030-07-05T22:00:00+00:00"),
    ],
)
def test_dates_are_normalised_to_utc(raw: str, utc: str) -> None:
    result = activity(minimal_event(startDate=raw, endDate=None, modified=raw))
    assert result.calendar.start == utc
    assert result.calendar.occurrences[0].start == utc
    assert result.calendar.end is None
    assert result.modified == utc


def test_unparseable_sub_event_date_names_its_path() -> None:
    subs = [sub("2030-03-02T19:00:00+01:00"), sub("2030-03-09T19:00:00+01:00"),
            sub("volgende dinsdag")]
    assert error_path(minimal_event(calendarType="multiple", subEvent=subs)) == (
        "subEvent[2].startDate"
    )
    subs[2] = sub("2030-03-16T19:00:00+01:00", "2030-13-40T00:00:00")
    assert error_path(minimal_event(calendarType="multiple", subEvent=subs)) == (
        "subEvent[2].endDate"
    )


@pytest.mark.parametrize(
    ("overrides", "calendar_type"),
    [
        ({"subEvent": [sub("2030-03-02T19:00:00+01:00")]}, "multiple"),
        ({}, "single"),
        ({"startDate": None, "endDate": None,
          "openingHours": [{"dayOfWeek": ["monday"], "opens": "09:00", "closes": "12:00"}]},
         "permanent"),
        ({"endDate": "2030-06-30T00:00:00+02:00",
          "openingHours": [{"dayOfWeek": ["monday"], "opens": "09:00", "closes": "12:00"}]},
         "periodic"),
    ],
)
def test_missing_calendar_type_is_inferred(overrides: dict[str, Any], calendar_type: str) -> None:
    doc = minimal_event(**overrides)
    del doc["calendarType"]
    assert activity(doc).calendar.type == calendar_type


def test_a_single_event_without_start_date_uses_its_sub_event() -> None:
    result = activity(minimal_event(startDate=None, endDate=None, subEvent=[
        sub("2030-03-02T19:00:00+01:00", "2030-03-02T21:00:00+01:00")]))
    assert result.calendar.type == "single"
    assert (result.calendar.start, result.calendar.end) == ("2030-03-02T18:00:00+00:00",
                                                            "2030-03-02T20:00:00+00:00")
    assert error_path(minimal_event(startDate=None, endDate=None)) == "startDate"


def test_calendar_type_that_cannot_be_inferred() -> None:
    doc = minimal_event(startDate=None, endDate=None)
    del doc["calendarType"]
    assert error_path(doc) == "calendarType"
    assert error_path(minimal_event(calendarType="sometimes")) == "calendarType"


def test_opening_hours_are_normalised() -> None:
    result = activity(minimal_event(
        calendarType="permanent",
        openingHours=[{"dayOfWeek": ["Friday", "http://schema.org/Monday", "monday"],
                       "opens": "9:00", "closes": "17:30:00"}],
    ))
    (hours,) = result.calendar.opening_hours
    assert (hours.days, hours.opens, hours.closes) == (("monday", "friday"), "09:00", "17:30")
    assert error_path(minimal_event(
        calendarType="permanent",
        openingHours=[{"dayOfWeek": ["monday"], "opens": "09:00", "closes": "12:00"},
                      {"dayOfWeek": ["maandag"], "opens": "09:00", "closes": "12:00"}],
    )) == "openingHours[1].dayOfWeek[0]"
    assert error_path(minimal_event(
        calendarType="permanent",
        openingHours=[{"dayOfWeek": ["monday"], "opens": "9u", "closes": "12:00"}],
    )) == "openingHours[0].opens"


# --- next_occurrence -----------------------------------------------------------------------------


def test_next_occurrence_of_sub_events_with_a_fixed_as_of() -> None:
    doc = minimal_event(calendarType="multiple", subEvent=[
        sub("2030-03-09T19:00:00+01:00", "2030-03-09T21:00:00+01:00"),
        sub("2030-02-23T19:00:00+01:00", "2030-02-23T21:00:00+01:00"),
        sub("2030-03-02T19:00:00+01:00", "2030-03-02T21:00:00+01:00",
            status={"type": "Unavailable"}),
    ])
    result = activity(doc, as_of=datetime(2030, 3, 1, tzinfo=UTC))
    # Sorted by start; the cancelled one on 2 March is passed over.
    assert [o.start[:10] for o in result.calendar.occurrences] == ["2030-02-23", "2030-03-02",
                                                                   "2030-03-09"]
    assert result.next_occurrence == "2030-03-09T18:00:00+00:00"
    assert activity(doc, as_of=datetime(2030, 2, 1, tzinfo=UTC)).next_occurrence == (
        "2030-02-23T18:00:00+00:00"
    )
    assert activity(doc, as_of=datetime(2031, 1, 1, tzinfo=UTC)).next_occurrence is None


def test_next_occurrence_accepts_a_naive_as_of_as_utc() -> None:
    result = activity(minimal_event(), as_of=datetime(2030, 3, 1, 12, 0))
    assert result.next_occurrence == "2030-03-02T18:00:00+00:00"


def weekly(days: list[str], opens: str, closes: str) -> dict[str, Any]:
    return {"dayOfWeek": days, "opens": opens, "closes": closes}


def test_next_opening_of_a_periodic_event() -> None:
    doc = minimal_event(
        calendarType="periodic",
        startDate="2030-03-01T00:00:00+01:00",
        endDate="2030-03-31T23:59:59+02:00",
        openingHours=[weekly(["tuesday", "thursday"], "18:00", "20:00")],
        openingHoursClosedDays=[{"startDate": "2030-03-05", "endDate": "2030-03-05"}],
    )
    # Friday 1 March; Tuesday 5 March is a closed day, so Thursday 7 March 18:00 local.
    assert activity(doc, as_of=datetime(2030, 3, 1, 12, tzinfo=UTC)).next_occurrence == (
        "2030-03-07T17:00:00+00:00"
    )
    # While it is open, today's opening is the next occurrence.
    assert activity(doc, as_of=datetime(2030, 3, 7, 18, tzinfo=UTC)).next_occurrence == (
        "2030-03-07T17:00:00+00:00"
    )
    # Before 31 March 18:00 local is 17:00 UTC; after the switch to summer time it is 16:00.
    assert activity(doc, as_of=datetime(2030, 3, 27, tzinfo=UTC)).next_occurrence == (
        "2030-03-28T17:00:00+00:00"
    )
    doc["endDate"] = "2030-04-30T00:00:00+02:00"
    assert activity(doc, as_of=datetime(2030, 3, 29, tzinfo=UTC)).next_occurrence == (
        "2030-04-02T16:00:00+00:00"
    )
    assert activity(doc, as_of=datetime(2030, 5, 1, tzinfo=UTC)).next_occurrence is None


def test_next_opening_before_the_period_starts() -> None:
    doc = minimal_event(
        calendarType="periodic",
        startDate="2030-03-01T00:00:00+01:00",
        endDate="2030-03-31T23:59:59+02:00",
        openingHours=[weekly(["tuesday"], "18:00", "20:00")],
    )
    assert activity(doc, as_of=datetime(2030, 1, 1, tzinfo=UTC)).next_occurrence == (
        "2030-03-05T17:00:00+00:00"
    )


def test_adjusted_days_replace_the_weekly_hours() -> None:
    doc = minimal_event(
        calendarType="permanent",
        openingHours=[weekly(["monday"], "09:00", "12:00")],
        openingHoursAdjustedDays=[{
            "startDate": "2030-03-01", "endDate": "2030-03-10",
            "openingHours": [weekly(["saturday"], "13:00", "15:00")],
        }],
    )
    # Saturday 2 March is adjusted open; Monday 4 March is inside the adjusted range (closed).
    assert activity(doc, as_of=datetime(2030, 3, 1, tzinfo=UTC)).next_occurrence == (
        "2030-03-02T12:00:00+00:00"
    )
    assert activity(doc, as_of=datetime(2030, 3, 3, tzinfo=UTC)).next_occurrence == (
        "2030-03-09T12:00:00+00:00"
    )


def test_next_opening_of_a_permanent_overnight_slot() -> None:
    doc = minimal_event(calendarType="permanent",
                        openingHours=[weekly(["friday"], "22:00", "03:00")])
    # Saturday 01:00 local: Friday night's slot is still open.
    as_of = datetime(2030, 3, 2, 0, 0, tzinfo=UTC)
    assert activity(doc, as_of=as_of).next_occurrence == "2030-03-01T21:00:00+00:00"
    assert activity(doc, as_of=as_of + timedelta(hours=3)).next_occurrence == (
        "2030-03-08T21:00:00+00:00"
    )


def test_a_periodic_event_without_opening_hours_runs_the_whole_period() -> None:
    doc = minimal_event(calendarType="periodic", startDate="2030-02-01T00:00:00+01:00",
                        endDate="2030-02-28T00:00:00+01:00")
    assert activity(doc, as_of=datetime(2030, 2, 10, tzinfo=UTC)).next_occurrence == (
        "2030-01-31T23:00:00+00:00"
    )
    assert activity(doc, as_of=datetime(2030, 3, 10, tzinfo=UTC)).next_occurrence is None


# --- content hash --------------------------------------------------------------------------------


def test_content_hash_is_stable_and_ignores_modified_and_next_occurrence() -> None:
    base = activity(minimal_event())
    assert base.content_hash() == activity(minimal_event()).content_hash()
    assert base.content_hash() == activity(
        minimal_event(modified="2030-02-20T10:00:00+01:00")
    ).content_hash()
    later = activity(minimal_event(), as_of=datetime(2031, 1, 1, tzinfo=UTC))
    assert later.next_occurrence is None and base.next_occurrence is not None
    assert base.content_hash() == later.content_hash()
    assert base.content_hash() != activity(
        minimal_event(name={"nl": "Praatcafé Nederlands (nieuw)"})
    ).content_hash()


def test_content_hash_ignores_sub_event_order_and_key_order() -> None:
    subs = [sub("2030-03-02T19:00:00+01:00"), sub("2030-03-09T19:00:00+01:00")]
    one = activity(minimal_event(calendarType="multiple", subEvent=subs))
    two = activity(minimal_event(calendarType="multiple", subEvent=subs[::-1],
                                 name={"nl": "Praatcafé Nederlands"}))
    assert one.content_hash() == two.content_hash()


# --- required fields and the rest ----------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "", "   ", {}, {"nl": ""}, {"nl": None, "fr": 3}, []])
def test_a_title_is_required(name: Any) -> None:
    assert error_path(minimal_event(name=name)) == "name"


def test_missing_id() -> None:
    doc = minimal_event()
    del doc["@id"]
    assert error_path(doc) == "@id"
    assert error_path(minimal_event(**{"@id": "///"})) == "@id"


def test_a_place_without_address() -> None:
    assert error_path(minimal_event(location={"@id": "https://x/place/p"})) == "location.address"
    assert error_path(minimal_event(location="https://x/place/p")) == "location.address"
    assert error_path(minimal_event(location=None)) == "location"
    # A place that lost its postal code can no longer be placed: it leaves the catalogue.
    assert skipped(minimal_event(location=located("", address={"nl": {"streetAddress": "x"}}))
                   ) == "no_postal_code"


def test_a_dummy_place_without_id() -> None:
    result = activity(minimal_event(location={"name": {"nl": "Op school"},
                                              "address": {"nl": {"postalCode": "8600"}}}))
    assert result.place.id is None
    assert (result.place.municipality, result.place.nis) == ("Diksmuide", "32003")


def test_modified_falls_back_to_created() -> None:
    doc = minimal_event()
    del doc["modified"]
    assert activity(doc).modified == "2030-01-01T09:00:00+00:00"
    del doc["created"]
    assert error_path(doc) == "modified"
    assert error_path(minimal_event(modified="gisteren")) == "modified"


def test_price() -> None:
    result = activity(minimal_event(priceInfo=[
        {"category": "tariff", "name": {"nl": "Student"}, "price": 3, "priceCurrency": "EUR"},
        {"category": "base", "name": {"nl": "Basistarief"}, "price": 0, "priceCurrency": "EUR"},
        {"category": "uitpas", "name": {"nl": "Kansentarief"}, "price": 0.6},
    ]))
    assert result.price is not None
    assert (result.price.is_free, result.price.base_price, result.price.uitpas) == (True, 0.0, True)
    assert [(t.name["nl"], t.price) for t in result.price.tariffs] == [("Student", 3.0),
                                                                       ("Kansentarief", 0.6)]
    labelled = activity(minimal_event(labels=["één taalicoon", "UITPAS Westhoek"],
                                      priceInfo=[{"category": "base", "price": 5}]))
    assert labelled.price is not None and labelled.price.uitpas
    assert not labelled.price.is_free
    assert activity(minimal_event()).price is None
    assert error_path(minimal_event(priceInfo=[{"category": "base", "price": "gratis"}])) == (
        "priceInfo[0].price"
    )


@pytest.mark.parametrize(
    ("raw", "age"),
    [("5-", AgeRange(5, None)), ("12-18", AgeRange(12, 18)), ("-", AgeRange(None, None)),
     ("-4", AgeRange(None, 4)), ("18+", AgeRange(18, None)), (None, None), ("", None)],
)
def test_age_range(raw: Any, age: AgeRange | None) -> None:
    assert activity(minimal_event(typicalAgeRange=raw)).age_range == age


def test_image_falls_back_to_the_first_media_object() -> None:
    result = activity(minimal_event(mediaObject=[{"description": "no url"},
                                                 {"contentUrl": "https://img/1.jpg"},
                                                 {"contentUrl": "https://img/2.jpg"}]))
    assert result.image == "https://img/1.jpg"
    assert activity(minimal_event(image="https://img/0.jpg", mediaObject=[
        {"contentUrl": "https://img/1.jpg"}])).image == "https://img/0.jpg"


def test_defaults_and_dates_of_availability() -> None:
    doc = minimal_event(availableFrom="2030-01-01T00:00:00+01:00", availableTo="")
    del doc["mainLanguage"]
    result = activity(doc)
    assert result.main_language == "nl"
    assert result.audience == "everyone"
    assert result.available_from == "2029-12-31T23:00:00+00:00"
    assert result.available_to is None
    assert activity(minimal_event(audience={"audienceType": "members"})).audience == "members"


def test_as_of_with_another_offset() -> None:
    as_of = datetime(2030, 3, 2, 19, 30, tzinfo=timezone(timedelta(hours=1)))
    # 19:30 local is during the event (19:00-21:00), so it is still the next occurrence.
    assert activity(minimal_event(), as_of=as_of).next_occurrence == "2030-03-02T18:00:00+00:00"
