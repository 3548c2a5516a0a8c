"""Builders of realistic SAPI3 event documents for tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Cursor, Page
from connectors.documents import canonical_many

BASE = "https://io.uitdatabank.be/event/"


def event_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def make_event(
    n: int,
    *,
    modified: str = "2026-11-20T10:00:00+00:00",
    postal_code: str = "8900",
    locality: str = "Ieper",
    labels: tuple[str, ...] = ("één taalicoon",),
    title: str | None = None,
    workflow_status: str = "APPROVED",
    status: str = "Available",
    event_type: str = "0.3.1.0.0",
    start: str = "2027-02-01T18:00:00+01:00",
    end: str = "2027-02-01T20:00:00+01:00",
) -> dict[str, Any]:
    return {
        "@id": BASE + event_id(n),
        "@type": "Event",
        "mainLanguage": "nl",
        "name": {"nl": title or f"Praatcafé {n}", "fr": f"Café de conversation {n}"},
        "description": {"nl": f"<p>Kom <strong>Nederlands</strong> oefenen, sessie {n}.</p>"},
        "calendarType": "single",
        "startDate": start,
        "endDate": end,
        "status": {"type": status},
        "location": {
            "@id": "https://io.uitdatabank.be/place/11111111-2222-4333-8444-555555555555",
            "@type": "Place",
            "name": {"nl": "Bibliotheek"},
            "address": {"nl": {"addressCountry": "BE", "addressLocality": locality,
                               "postalCode": postal_code, "streetAddress": "Weverijstraat 1"}},
        },
        "organizer": {
            "@id": "https://io.uitdatabank.be/organizers/aaaa",
            "name": {"nl": "Vzw Taal"},
        },
        "terms": [{"id": event_type, "domain": "eventtype", "label": "Lessenreeks"}],
        "labels": list(labels),
        "priceInfo": [{"category": "base", "name": {"nl": "Basistarief"}, "price": 0,
                       "priceCurrency": "EUR"}],
        "workflowStatus": workflow_status,
        "availableFrom": "2026-11-01T00:00:00+00:00",
        "availableTo": end,
        "created": "2026-11-01T09:00:00+00:00",
        "modified": modified,
    }


def on_dates(doc: dict[str, Any], *spans: tuple[str, str]) -> dict[str, Any]:
    """`doc` as a `multiple` calendar with these (start, end) dates, all available."""
    return changed(doc, calendarType="multiple", subEvent=[
        {"startDate": start, "endDate": end, "status": {"type": "Available"}}
        for start, end in spans])


def changed(doc: dict[str, Any], **fields: Any) -> dict[str, Any]:
    new = copy.deepcopy(doc)
    new.update(fields)
    return new


CLOCK_START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A settable clock for the composition root: tests move time instead of sleeping."""

    now: datetime = CLOCK_START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class StaticConnector:
    """A connector over fixed pages; the cursor after a page is its last record's `modified`."""

    name = "static"

    def __init__(self, pages: list[list[Any]], fail_after: int | None = None,
                 error: BaseException | None = None, *, reencodable: bool = False,
                 canonical: bool = False) -> None:
        self._pages = pages
        self.fail_after = fail_after
        self.error = error
        self.reencodable = reencodable  # as a strict-JSON page of the real connector
        self.canonical = canonical  # pages carry their records' canonical bytes, as it makes

    def pages(self, cursor: Cursor) -> Iterator[Page]:
        for i, records in enumerate(self._pages):
            if self.fail_after is not None and i == self.fail_after:
                assert self.error is not None
                raise self.error
            mods = [r["modified"] for r in records if isinstance(r, dict) and "modified" in r]
            cur = Cursor(modified=max(mods), seen=frozenset()) if mods else cursor
            cursor = cur
            yield Page(records=records, cursor=cur, reencodable=self.reencodable,
                       canonical=canonical_many(records) if self.canonical else None)

    def fetch_one(self, source_id: str) -> dict[str, Any] | None:
        return None
