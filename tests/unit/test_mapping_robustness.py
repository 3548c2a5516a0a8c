"""Mangled documents: the mapping returns an outcome or raises MappingError, never anything else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mappings.uitdatabank import to_activity
from sync.domain.activity import MappingError, NormalisedActivity

from .mapping_helpers import (
    JUNK,
    RICH_EVENT,
    fixture_names,
    load_fixture,
    minimal_event,
    prepare,
    region,
    robust_outcome,
    set_path,
)

BASE = RICH_EVENT
AS_OF = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
outcome = robust_outcome

PATHS: list[tuple[Any, ...]] = [
    *[(key,) for key in BASE],
    ("location", "@id"), ("location", "name"), ("location", "address"),
    ("location", "address", "nl"), ("location", "address", "nl", "postalCode"),
    ("location", "address", "nl", "streetAddress"),
    ("location", "address", "nl", "addressLocality"),
    ("location", "isDummyPlaceForEducationEvents"),
    ("subEvent", 0), ("subEvent", 0, "startDate"), ("subEvent", 0, "endDate"),
    ("subEvent", 0, "status"), ("subEvent", 0, "status", "type"),
    ("subEvent", 0, "bookingAvailability"), ("subEvent", 0, "bookingAvailability", "type"),
    ("openingHours", 0), ("openingHours", 0, "dayOfWeek"), ("openingHours", 0, "opens"),
    ("openingHours", 0, "closes"),
    ("priceInfo", 0), ("priceInfo", 0, "category"), ("priceInfo", 0, "name"),
    ("priceInfo", 0, "price"), ("priceInfo", 0, "priceCurrency"),
    ("bookingInfo", "url"), ("bookingInfo", "urlLabel"), ("bookingInfo", "phone"),
    ("contactPoint", "url"), ("contactPoint", "phone"), ("contactPoint", "email"),
    ("organizer", "@id"), ("organizer", "name"),
    ("mediaObject", 0), ("mediaObject", 0, "contentUrl"),
    ("terms", 0), ("terms", 0, "id"), ("terms", 0, "domain"),
    ("status", "type"), ("status", "reason"), ("audience", "audienceType"),
    ("labels", 0), ("hiddenLabels", 0),
]


def test_the_base_document_maps() -> None:
    assert isinstance(outcome(BASE), NormalisedActivity)


@pytest.mark.parametrize("value", JUNK, ids=repr)
@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(map(str, p)))
def test_junk_anywhere(path: tuple[Any, ...], value: Any) -> None:
    outcome(set_path(BASE, path, value))


# Ids must not hold a memory address: parallel workers must collect the same names.
@pytest.mark.parametrize("doc", [None, [], [BASE], "event", 42, 1.5, True, b"{}", object()],
                         ids=lambda doc: "object()" if type(doc) is object else repr(doc))
def test_not_an_object_at_all(doc: Any) -> None:
    result = outcome(doc)
    assert isinstance(result, MappingError) and result.field_path == "$"


def test_every_calendar_type_with_junk_in_its_parts() -> None:
    for calendar_type in ("single", "multiple", "periodic", "permanent", None):
        for key in ("startDate", "endDate", "subEvent", "openingHours",
                    "openingHoursClosedDays", "openingHoursAdjustedDays"):
            for value in JUNK:
                outcome(set_path(set_path(BASE, ("calendarType",), calendar_type), (key,), value))


def test_strange_but_valid_values() -> None:
    cases: list[dict[str, Any]] = [
        {"startDate": "0001-01-01T00:00:00+14:00"},  # underflows when converted to UTC
        {"startDate": "9999-12-31T23:59:59-14:00"},  # overflows when converted to UTC
        {"@id": "https://x/event/" + "a" * 10_000},
        {"typicalAgeRange": "999999-1"},
        {"priceInfo": [{"category": "base", "price": 1e308 * 10}]},
        {"labels": ["één taalicoon"] * 1000},
        {"calendarType": "permanent", "openingHours": [
            {"dayOfWeek": ["monday"], "opens": "24:00", "closes": "00:00"}]},
        {"calendarType": "periodic", "startDate": "2030-03-01", "endDate": "2020-03-01",
         "openingHours": [{"dayOfWeek": ["monday"], "opens": "09:00", "closes": "09:00"}]},
    ]
    for overrides in cases:
        outcome(minimal_event(**overrides))


@pytest.mark.parametrize("name", fixture_names())
def test_fixtures_with_junk_at_every_top_level_key(name: str) -> None:
    doc = prepare(load_fixture(name))
    for key in doc:
        for value in JUNK:
            outcome(set_path(doc, (key,), value))



class _Exploding(dict[str, Any]):
    def get(self, key: Any, default: Any = None) -> Any:
        if key == "priceInfo":
            raise RuntimeError("boom")
        return super().get(key, default)


def test_the_safety_net_turns_surprises_into_mapping_errors() -> None:
    with pytest.raises(MappingError) as info:
        to_activity(_Exploding(BASE), region(), as_of=AS_OF)
    assert info.value.field_path == "priceInfo"
    assert "unexpected RuntimeError: boom" in info.value.message
