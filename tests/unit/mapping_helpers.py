"""Helpers for the mapping tests: region, fixtures, preparation, sample and mangled events."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mappings.uitdatabank import to_activity
from samplefeed.json_copy import json_copy
from sync.adapters.region_file import load_region
from sync.domain.activity import MappingError, NormalisedActivity, Skipped
from sync.domain.region import Region

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "events"
DOCS_WRAPPER = "docs_read_example_all_fields_schema_wrapper"
# A Sunday, 14:00 in Brussels: after most fixture dates' first day, before their last.
AS_OF = datetime(2017, 4, 30, 12, 0, tzinfo=UTC)

_region: Region | None = None


def region() -> Region:
    global _region
    if _region is None:
        _region = load_region(ROOT / "config" / "westhoek_municipalities.json")
    return _region


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def load_fixture(name: str) -> dict[str, Any]:
    """A fixture document; the docs wrapper's event is its `examples[0]` (a feed never wraps)."""
    doc: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    if name == DOCS_WRAPPER:
        return dict(doc["examples"][0])
    return doc


def load_docs_example(index: int) -> dict[str, Any]:
    doc = json.loads((FIXTURES / f"{DOCS_WRAPPER}.json").read_text(encoding="utf-8"))
    return dict(doc["examples"][index])


def prepare(
    doc: dict[str, Any], postal_code: str = "8900", locality: str = "Ieper"
) -> dict[str, Any]:
    """Relocate to the Westhoek, add `één taalicoon`, approve; the document keeps its shape."""
    prepared = copy.deepcopy(doc)
    location = prepared.get("location")
    if isinstance(location, dict) and isinstance(location.get("address"), dict):
        address = location["address"]
        if "postalCode" in address:
            address.update(postalCode=postal_code, addressLocality=locality)
        else:
            for entry in address.values():
                if isinstance(entry, dict):
                    entry.update(postalCode=postal_code, addressLocality=locality)
    prepared["labels"] = [*(prepared.get("labels") or []), "één taalicoon"]
    prepared["workflowStatus"] = "APPROVED"
    return prepared


def minimal_event(**overrides: Any) -> dict[str, Any]:
    """A small valid, in-region, approved event with one taalicoon; overrides replace keys."""
    doc: dict[str, Any] = {
        "@id": "https://io.uitdatabank.be/event/11111111-2222-3333-4444-555555555555",
        "mainLanguage": "nl",
        "name": {"nl": "Praatcafé Nederlands"},
        "description": {"nl": "<p>Oefen je Nederlands.</p>"},
        "calendarType": "single",
        "startDate": "2030-03-02T19:00:00+01:00",
        "endDate": "2030-03-02T21:00:00+01:00",
        "location": {
            "@id": "https://io.uitdatabank.be/place/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "name": {"nl": "Bibliotheek Ieper"},
            "address": {
                "nl": {
                    "addressCountry": "BE",
                    "addressLocality": "Ieper",
                    "postalCode": "8900",
                    "streetAddress": "Weverijstraat 12",
                }
            },
        },
        "terms": [{"id": "0.50.21.0.0", "label": "Spel of quiz", "domain": "eventtype"}],
        "labels": ["één taalicoon"],
        "workflowStatus": "APPROVED",
        "created": "2030-01-01T10:00:00+01:00",
        "modified": "2030-01-02T10:00:00+01:00",
    }
    doc.update(overrides)
    return doc


ROBUST_AS_OF = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
JUNK: list[Any] = [None, 0, -1, 1.5, float("nan"), True, "", "x", "2030-13-45", [], [1, "a"],
                   [None], {}, {"a": 1}, {"nl": 5}, [{"a": None}]]


def robust_outcome(doc: Any) -> NormalisedActivity | Skipped | MappingError:
    try:
        result = to_activity(doc, region(), as_of=ROBUST_AS_OF)
    except MappingError as exc:
        assert exc.field_path
        # The safety net is for the unforeseen; these shapes must be caught by explicit checks.
        assert "unexpected" not in exc.message, exc
        return exc
    assert isinstance(result, NormalisedActivity | Skipped)
    return result


def set_path(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mangled = json_copy(doc)
    target: Any = mangled
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return mangled


# An event using every field the mapping reads, for mangling one field at a time.
RICH_EVENT = minimal_event(
    calendarType="multiple",
    subEvent=[{"startDate": "2030-03-02T19:00:00+01:00", "endDate": "2030-03-02T21:00:00+01:00",
               "status": {"type": "Available"}, "bookingAvailability": {"type": "Available"}}],
    openingHours=[{"dayOfWeek": ["monday"], "opens": "09:00", "closes": "12:00"}],
    priceInfo=[{"category": "base", "name": {"nl": "Basis"}, "price": 5, "priceCurrency": "EUR"}],
    bookingInfo={"url": "https://b", "urlLabel": {"nl": "Boek"}, "phone": "1", "email": "a@b"},
    contactPoint={"url": ["https://c"], "phone": ["2"], "email": ["c@d"]},
    organizer={"@id": "https://x/organizers/o", "name": {"nl": "Org"}},
    mediaObject=[{"contentUrl": "https://img"}],
    typicalAgeRange="6-12",
    audience={"audienceType": "everyone"},
    status={"type": "Available", "reason": {"nl": "ok"}},
    bookingAvailability={"type": "Available"},
    availableFrom="2030-01-01T00:00:00+01:00",
    availableTo="2030-04-01T00:00:00+02:00",
    hiddenLabels=["twee taaliconen"],
    attendanceMode="offline",
)
