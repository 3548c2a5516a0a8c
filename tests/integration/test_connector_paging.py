"""Paging of the SAPI3 connector against the fake server (in process): nothing lost or doubled."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.base import Cursor, FatalSourceError, Page
from connectors.uitdatabank import UitdatabankConnector
from mappings.taaliconen import QUERY_LABELS
from samplefeed.generator import POSTAL_CODES, generate_events
from samplefeed.server import FakeSapi3, Fault

T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def events_at(offsets: list[int], seed: int = 11) -> list[dict[str, Any]]:
    """Generated events whose `modified` is T0 + the given offsets (in this insertion order)."""
    events = generate_events(len(offsets), seed=seed)
    for event, offset in zip(events, offsets, strict=True):
        event["modified"] = at(offset)
    return events


def sid(record: dict[str, Any]) -> str:
    return str(record["@id"]).rsplit("/", 1)[-1]


@pytest.fixture
def fake() -> FakeSapi3:
    return FakeSapi3(now=datetime(2026, 11, 28, tzinfo=UTC))


def over(fake: FakeSapi3) -> httpx.Client:
    """A client of the fake through its MockTransport (the HTTP edge has its own fault tests)."""
    return httpx.Client(base_url="http://sapi3.test", transport=fake.transport(), timeout=10)


@pytest.fixture
def client(fake: FakeSapi3) -> Iterator[httpx.Client]:
    with over(fake) as http:
        yield http


def make(client: httpx.Client, **kwargs: Any) -> UitdatabankConnector:
    kwargs.setdefault("limit", 5)
    return UitdatabankConnector(
        client, name="uitdatabank-test", postal_codes=POSTAL_CODES, sleep=lambda _: None,
        labels=kwargs.pop("labels", QUERY_LABELS), **kwargs
    )


def read(connector: UitdatabankConnector, cursor: Cursor) -> tuple[list[Page], Cursor]:
    pages = list(connector.pages(cursor))
    return pages, (pages[-1].cursor if pages else cursor)


def records(pages: list[Page]) -> list[dict[str, Any]]:
    return [r for page in pages for r in page.records]


def test_tie_straddling_pages_yields_each_id_once(fake: FakeSapi3, client: httpx.Client) -> None:
    offsets = [0, 1, 2] + [3] * 12 + [4, 5, 6, 7, 8]
    events = events_at(offsets)
    fake.add(events)
    connector = make(client, limit=5)

    pages, cursor = read(connector, Cursor())

    ids = [sid(r) for r in records(pages)]
    assert ids == [sid(e) for e in events]
    assert all(page.records for page in pages)
    assert cursor == Cursor(modified=at(8), seen=frozenset({sid(events[-1])}))
    assert all(int(r["start"]) + int(r["limit"]) <= 10000 for r in fake.requests)
    # A second pass from the stored cursor finds nothing new.
    assert list(connector.pages(cursor)) == []


@pytest.mark.parametrize("limit", [2, 3, 5, 8])
def test_resume_from_every_stored_cursor_loses_and_doubles_nothing(
    fake: FakeSapi3, client: httpx.Client, limit: int
) -> None:
    offsets = [0] * 4 + [1] * 12 + [2, 3] + [4] * 7 + [5]
    events = events_at(offsets)
    fake.add(events)
    connector = make(client, limit=limit)
    pages, _ = read(connector, Cursor())
    everything = [sid(e) for e in events]

    for k in range(len(pages)):
        head = [sid(r) for r in records(pages[: k + 1])]
        # The cursor goes through JSON, as the caller stores it.
        stored = Cursor.from_json(pages[k].cursor.to_json())
        tail_pages, _ = read(make(client, limit=limit), stored)
        tail = [sid(r) for r in records(tail_pages)]
        assert sorted(head + tail) == sorted(everything), f"resume after page {k}"
        assert len(head + tail) == len(set(head + tail))


# The real window (10 000) costs seconds; a 1 000 window exercises the same paging in the fast lane.
@pytest.mark.parametrize("window", [1_000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_more_than_the_window_is_read_completely(window: int) -> None:
    size = window + window // 20
    events = generate_events(size, seed=7, ties=5)
    fake = FakeSapi3(events, now=datetime(2026, 11, 28, tzinfo=UTC), window=window)
    with over(fake) as client:
        pages, _ = read(make(client, limit=window // 5, window=window), Cursor())

    ids = [sid(r) for r in records(pages)]
    assert len(ids) == size
    assert set(ids) == {sid(e) for e in events}
    assert max(int(r["start"]) + int(r["limit"]) for r in fake.requests) <= window
    assert pages[0].total == size


def test_tie_larger_than_the_window_is_split_by_postal_code() -> None:
    events = events_at([0, 1] + [2] * 90 + [3, 4], seed=5)
    for index, event in enumerate(events):
        # Spread the tie over postal codes so each (second, postal code) slice fits the window.
        event["location"]["address"]["nl"]["postalCode"] = POSTAL_CODES[index % len(POSTAL_CODES)]
    fake = FakeSapi3(events, window=40)
    with over(fake) as http:
        connector = make(http, limit=10, window=40)
        pages, cursor = read(connector, Cursor())

        ids = [sid(r) for r in records(pages)]
        assert sorted(ids) == sorted(sid(e) for e in events)
        assert len(ids) == len(set(ids))
        assert max(int(r["start"]) + int(r["limit"]) for r in fake.requests) <= 40
        split = [r for r in fake.requests if "modifiedTo" in r]
        assert split and all(r["modifiedFrom"] == r["modifiedTo"] == at(2) for r in split)
        assert cursor.modified == at(4)

        # Resuming inside the giant tie also works, and a pass from the end finds nothing.
        inside = next(p.cursor for p in pages if p.cursor.modified == at(2))
        resumed = [sid(r) for r in records(read(make(http, limit=10, window=40), inside)[0])]
        head = [
            sid(r)
            for r in records(pages[: pages.index(next(p for p in pages if p.cursor == inside)) + 1])
        ]
        assert sorted(head + resumed) == sorted(ids)
        assert list(make(http, limit=10, window=40).pages(cursor)) == []


def test_tie_larger_than_the_window_in_one_postal_code_is_fatal() -> None:
    events = events_at([0] * 50, seed=6)
    for event in events:
        event["location"]["address"]["nl"]["postalCode"] = "8900"
    fake = FakeSapi3(events, window=40)
    with over(fake) as http:
        with pytest.raises(FatalSourceError) as caught:
            list(make(http, limit=10, window=40).pages(Cursor()))
        assert "8900" in str(caught.value) and "40" in str(caught.value)
        assert max(int(r["start"]) + int(r["limit"]) for r in fake.requests) <= 40


def test_event_modified_while_reading_is_not_skipped(fake: FakeSapi3, client: httpx.Client) -> None:
    events = events_at([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
    fake.add(events)
    changed = sid(events[1])
    calls = 0

    def modify_on_third_request(params: dict[str, str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # events[1] was read on the first page; it now jumps to the end
            fake.update(changed, name={"nl": "Taalcafé (nieuwe datum)"})

    fake.on_request = modify_on_third_request
    pages, _ = read(make(client, limit=5), Cursor())

    got = records(pages)
    assert {sid(r) for r in got} == {sid(e) for e in events}
    versions = [(sid(r), r["modified"]) for r in got]
    assert len(versions) == len(set(versions))
    last = [r for r in got if sid(r) == changed][-1]
    assert last["name"] == {"nl": "Taalcafé (nieuwe datum)"}
    assert last["modified"] == at(14)


def test_many_events_leaving_a_tie_force_a_rescan(fake: FakeSapi3, client: httpx.Client) -> None:
    events = events_at([0] * 20 + [1, 2, 3])
    fake.add(events)
    calls = 0

    def modify_many(params: dict[str, str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:  # six already-read tie members leave: more than the overlap of 2
            for event in events[:6]:
                fake.update(sid(event))

    fake.on_request = modify_many
    pages, cursor = read(make(client, limit=8), Cursor())

    got = records(pages)
    assert {sid(r) for r in got} == {sid(e) for e in events}
    versions = [(sid(r), r["modified"]) for r in got]
    assert len(versions) == len(set(versions))
    latest = {(sid(e), e["modified"]) for e in fake.events()}
    assert latest <= set(versions)
    starts = [int(r["start"]) for r in fake.requests]
    assert 0 in starts[3:], "the shifted page must be re-read from start 0"


@pytest.mark.parametrize("seed", range(6))
def test_random_concurrent_modifications_lose_nothing(client: httpx.Client, seed: int) -> None:
    rng = random.Random(seed)
    offsets = sorted(rng.randint(0, 25) for _ in range(70))
    events = events_at(offsets, seed=seed + 100)
    fake = FakeSapi3(events)
    with over(fake) as http:
        requests = 0

        def chaos(params: dict[str, str]) -> None:
            nonlocal requests
            requests += 1
            if requests <= 12:
                for _ in range(rng.randint(0, 3)):
                    victim = sid(rng.choice(events))
                    # Real edits get "now": the next second, or the newest second again.
                    second = (None if rng.random() < 0.7
                              else max(e["modified"] for e in fake.events()))
                    fake.update(victim, modified=second, description={"nl": f"v{requests}"})

        fake.on_request = chaos
        connector = make(http, limit=rng.choice([3, 4, 6, 10]))
        first, cursor = read(connector, Cursor())
        fake.on_request = None
        second, _ = read(connector, cursor)

        got = records(first) + records(second)
        versions = [(sid(r), r["modified"]) for r in got]
        assert len(versions) == len(set(versions)), "a version was yielded twice"
        latest = {(sid(e), e["modified"]) for e in fake.events()}
        assert latest <= set(versions), "the latest version of some event was never read"


def test_event_added_later_at_the_cursor_second_is_read(
    fake: FakeSapi3, client: httpx.Client
) -> None:
    events = events_at([0, 1, 2, 2])
    fake.add(events)
    connector = make(client, limit=5)
    _, cursor = read(connector, Cursor())
    late = events_at([2], seed=99)
    fake.add(late)

    pages, after = read(connector, cursor)

    assert [sid(r) for r in records(pages)] == [sid(late[0])]
    assert after.seen == {sid(events[2]), sid(events[3]), sid(late[0])}


def test_deletion_is_seen(fake: FakeSapi3, client: httpx.Client) -> None:
    events = events_at([0, 1, 2])
    fake.add(events)
    connector = make(client)
    _, cursor = read(connector, Cursor())
    fake.delete(sid(events[0]))

    pages, _ = read(connector, cursor)

    assert [(sid(r), r["workflowStatus"]) for r in records(pages)] == [(sid(events[0]), "DELETED")]


def test_availability_change_and_hidden_statuses_are_still_returned(
    fake: FakeSapi3, client: httpx.Client
) -> None:
    events = events_at([0, 1, 2, 3])
    events[0]["availableTo"] = "2026-11-10T23:59:59+01:00"  # passed before fake.now
    events[1]["workflowStatus"] = "REJECTED"
    events[2]["audience"] = {"audienceType": "members"}
    events[3]["availableFrom"] = "2027-03-01T00:00:00+01:00"  # not yet visible
    fake.add(events)

    pages, _ = read(make(client), Cursor())

    assert [sid(r) for r in records(pages)] == [sid(e) for e in events]


def test_repeated_and_empty_pages_lose_and_double_nothing(
    fake: FakeSapi3, client: httpx.Client
) -> None:
    events = events_at([0, 1, 1, 1, 1, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9, 9, 9, 10, 11])
    fake.add(events)
    fake.faults = [Fault(), Fault(repeat_previous=True), Fault(), Fault(empty_page=True)]
    connector = make(client, limit=4)

    first, cursor = read(connector, Cursor())
    second, _ = read(connector, cursor)

    ids = [sid(r) for r in records(first) + records(second)]
    assert sorted(ids) == sorted(sid(e) for e in events)
    assert len(ids) == len(set(ids))


def test_repeated_page_inside_a_long_tie_is_detected(fake: FakeSapi3, client: httpx.Client) -> None:
    events = events_at([0] * 15 + [1])
    fake.add(events)
    fake.faults = [Fault(), Fault(repeat_previous=True), Fault(repeat_previous=True)]

    pages, _ = read(make(client, limit=4), Cursor())

    ids = [sid(r) for r in records(pages)]
    assert ids == [sid(e) for e in events]


def test_only_matching_events_are_read(fake: FakeSapi3, client: httpx.Client) -> None:
    events = events_at([0, 1, 2, 3, 4])
    events[0]["labels"] = ["een taalicoon"]  # accent-less legacy spelling: SAPI3 does not match
    events[0].pop("hiddenLabels", None)
    events[1]["location"]["address"]["nl"]["postalCode"] = "3000"
    events[2]["labels"] = ["Twee Taaliconen"]  # case differs: SAPI3 matches
    events[3]["labels"], events[3]["hiddenLabels"] = ["UiTPAS Westhoek"], ["drie taaliconen"]
    fake.add(events)

    pages, _ = read(make(client), Cursor())

    assert [sid(r) for r in records(pages)] == [sid(e) for e in (events[0], *events[2:])]
    assert Counter(page.total for page in pages) == Counter({4: len(pages)})


def test_a_page_says_whether_it_came_as_strict_json() -> None:
    """Strict JSON survives orjson both ways (what a mapping worker gets); a body with NaN,
    read by the standard library, is marked so it stays in the sync process."""
    event = generate_events(1, seed=3)[0]
    member = json.dumps(event).encode()
    envelope = b'{"@type": "PagedCollection", "totalItems": 1, "member": [%s]}'
    bodies = {"strict": envelope % member,
              "nan": envelope % member.replace(b'"@type": "Event"', b'"@type": "Event", "x": NaN')}
    for kind, body in bodies.items():
        transport = httpx.MockTransport(lambda request, body=body: httpx.Response(
            200, content=body, headers={"content-type": "application/json"}))
        with httpx.Client(base_url="http://sapi3.test", transport=transport) as http:
            pages = list(make(http, limit=5).pages(Cursor()))
        assert len(pages) == 1 and len(pages[0].records) == 1
        assert pages[0].reencodable is (kind == "strict"), kind
