"""The SAPI3 connector's id lists against the fake server (in process): what the nightly
reconciliation compares with the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.base import FatalSourceError
from connectors.uitdatabank import UitdatabankConnector, build_query
from mappings.taaliconen import QUERY_LABELS
from samplefeed.generator import POSTAL_CODES, generate_events
from samplefeed.server import FakeSapi3

WINDOW = 40
WHOLE = build_query(QUERY_LABELS, POSTAL_CODES)


def sid(event: dict[str, Any]) -> str:
    return str(event["@id"]).rsplit("/", 1)[-1]


def spread(n: int, seed: int) -> list[dict[str, Any]]:
    """Generated events, round-robin over the region's postal codes."""
    events = generate_events(n, seed=seed)
    for index, event in enumerate(events):
        event["location"]["address"]["nl"]["postalCode"] = POSTAL_CODES[index % len(POSTAL_CODES)]
    return events


def listing(fake: FakeSapi3, **kwargs: Any) -> set[str]:
    with httpx.Client(base_url="http://sapi3.test", transport=fake.transport()) as client:
        connector = UitdatabankConnector(client, name="uitdatabank-test", labels=QUERY_LABELS,
                                         postal_codes=POSTAL_CODES, window=WINDOW, limit=10,
                                         sleep=lambda _: None)
        return connector.ids(**kwargs)


def test_an_expectation_beyond_the_window_goes_to_the_postal_codes_at_once() -> None:
    events = spread(3 * WINDOW, seed=3)
    outside = generate_events(1, seed=4)[0]
    outside["@id"] = outside["@id"].rsplit("/", 1)[0] + "/elsewhere"
    outside["location"]["address"]["nl"]["postalCode"] = "3000"
    fake = FakeSapi3([*events, outside], now=datetime(2026, 11, 28, tzinfo=UTC), window=WINDOW)
    expected = {sid(e) for e in events}

    assert listing(fake, expected=len(events)) == expected
    assert fake.requests and all(r["q"] != WHOLE for r in fake.requests)
    assert {r["q"] for r in fake.requests} == {build_query(QUERY_LABELS, [code])
                                               for code in POSTAL_CODES}
    # Without an expectation the whole query is asked first, for the same ids.
    fake.requests.clear()
    assert listing(fake) == expected
    assert fake.requests[0]["q"] == WHOLE


def test_a_wrong_expectation_costs_requests_not_ids() -> None:
    events = spread(WINDOW // 2, seed=5)
    # In two postal codes at once (two address languages): listed once.
    events[0]["location"]["address"]["fr"] = {**events[0]["location"]["address"]["nl"],
                                              "postalCode": POSTAL_CODES[1]}
    events[1]["workflowStatus"] = "DELETED"  # every status is listed
    fake = FakeSapi3(events, now=datetime(2026, 11, 28, tzinfo=UTC), window=WINDOW)

    assert listing(fake, expected=10 * WINDOW) == {sid(e) for e in events}
    assert all(r["q"] != WHOLE for r in fake.requests)
    fake.requests.clear()
    assert listing(fake, expected=WINDOW) == {sid(e) for e in events}
    assert [r["q"] for r in fake.requests] == [WHOLE]


def test_a_postal_code_beyond_the_window_is_fatal_with_an_expectation_too() -> None:
    events = generate_events(WINDOW + 10, seed=6)
    for event in events:
        event["location"]["address"]["nl"]["postalCode"] = "8900"
    fake = FakeSapi3(events, now=datetime(2026, 11, 28, tzinfo=UTC), window=WINDOW)

    with pytest.raises(FatalSourceError) as caught:
        listing(fake, expected=len(events))
    assert "8900" in str(caught.value) and str(WINDOW) in str(caught.value)
    assert all(r["q"] != WHOLE for r in fake.requests)
    assert max(int(r["start"]) + int(r["limit"]) for r in fake.requests) <= WINDOW
