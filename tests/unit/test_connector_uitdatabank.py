"""Unit tests of the SAPI3 connector with httpx.MockTransport: query, cursor, retry details."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from connectors.base import Cursor, FatalSourceError, TransientSourceError
from connectors.documents import canonical_bytes
from connectors.uitdatabank import (
    UitdatabankConnector,
    build_query,
    normalise_modified,
)
from mappings.taaliconen import QUERY_LABELS, SPELLINGS, taalicoon_level

POSTAL = ("8600", "8610", "8900")


def collection(members: list[Any], total: int | None = None) -> dict[str, Any]:
    return {
        "@context": "http://www.w3.org/ns/hydra/context.jsonld",
        "@type": "PagedCollection",
        "itemsPerPage": 30,
        "totalItems": len(members) if total is None else total,
        "member": members,
    }


def event(n: int, modified: str) -> dict[str, Any]:
    return {"@id": f"https://io.uitdatabank.be/event/id-{n}", "modified": modified}


def make(
    handler: Callable[[httpx.Request], httpx.Response],
    sleeps: list[float] | None = None,
    **kwargs: Any,
) -> UitdatabankConnector:
    client = httpx.Client(
        base_url="https://search-test.uitdatabank.be",
        transport=httpx.MockTransport(handler),
        headers={"x-client-id": "secret-client-id"},
    )
    return UitdatabankConnector(
        client,
        name="uitdatabank",
        postal_codes=POSTAL,
        labels=QUERY_LABELS,
        sleep=(sleeps if sleeps is not None else []).append,
        **kwargs,
    )


def test_query_has_labels_postal_codes_and_every_default_filter_override() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=collection([]))

    list(make(handler, limit=50).pages(Cursor(modified="2026-11-01T09:00:00+01:00")))

    request = seen[-1]
    params = dict(request.url.params)
    assert request.url.path == "/events"
    assert params["q"].startswith(
        'labels:("één taalicoon" OR "twee taaliconen" OR "drie taaliconen" OR "vier taaliconen"'
        ' OR ')
    assert params["q"].endswith(r") AND address.\*.postalCode:(8600 OR 8610 OR 8900)")
    # Older spellings are asked for by name: SAPI3 matches case, not accents or underscores.
    for legacy in ("een taalicoon", "twee_taaliconen", "drie-taaliconen", "vier taalicoon"):
        assert f'"{legacy}"' in params["q"]
    assert params["embed"] == "true"
    assert params["embedUitpasPrices"] == "true"
    assert params["sort[modified]"] == "asc"
    for name in (
        "workflowStatus",
        "availableFrom",
        "availableTo",
        "addressCountry",
        "audienceType",
    ):
        assert params[name] == "*"
    assert (params["start"], params["limit"]) == ("0", "50")
    # Normalised to UTC; the `+` must reach the server encoded, not as a space.
    assert params["modifiedFrom"] == "2026-11-01T08:00:00+00:00"
    assert "%2B00%3A00" in str(request.url) or "%2B00:00" in str(request.url)


def test_fresh_cursor_sends_no_modified_from() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return httpx.Response(200, json=collection([]))

    assert list(make(handler).pages(Cursor())) == []
    assert "modifiedFrom" not in seen[0]


def test_build_query_escapes_quotes() -> None:
    assert (
        build_query(['a "b"'], ["8600"]) == r'labels:("a \"b\"") AND address.\*.postalCode:(8600)'
    )
    assert QUERY_LABELS[0] == "één taalicoon"


def test_modified_forms_are_normalised_in_the_cursor() -> None:
    members = [
        event(1, "2026-11-01T09:00:00+01:00"),
        event(2, "2026-11-01T08:00:00.734Z"),  # same second, other spelling
        event(3, "2026-11-01T08:00:01Z"),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=collection(members))

    pages = list(make(handler).pages(Cursor()))

    assert [p.cursor for p in pages] == [
        Cursor(modified="2026-11-01T08:00:01+00:00", seen=frozenset({"id-3"}))
    ]
    assert normalise_modified("2026-11-01T09:00:00+01:00") == "2026-11-01T08:00:00+00:00"
    with pytest.raises(ValueError):
        normalise_modified("yesterday")


def test_broken_members_are_yielded_but_do_not_move_the_cursor() -> None:
    broken = ["not a dict", {"@id": "https://io.uitdatabank.be/event/no-modified"}, {"x": 1}]
    members = [event(1, "2026-11-01T08:00:00+00:00"), *broken, event(2, "2026-11-01T08:00:05Z")]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=collection(members))

    pages = list(make(handler).pages(Cursor()))

    assert [r for p in pages for r in p.records] == members
    assert pages[-1].cursor == Cursor(
        modified="2026-11-01T08:00:05+00:00", seen=frozenset({"id-2"})
    )

    only_broken = list(
        make(lambda r: httpx.Response(200, json=collection(broken))).pages(
            Cursor(modified="2026-11-01T08:00:00+00:00", seen=frozenset({"id-1"}))
        )
    )
    assert only_broken[0].records == broken
    assert only_broken[0].cursor == Cursor(
        modified="2026-11-01T08:00:00+00:00", seen=frozenset({"id-1"})
    )


def test_members_already_seen_at_the_cursor_second_are_dropped() -> None:
    members = [event(1, "2026-11-01T08:00:00Z"), event(2, "2026-11-01T08:00:00Z")]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=collection(members))

    cursor = Cursor(modified="2026-11-01T08:00:00+00:00", seen=frozenset({"id-1"}))
    pages = list(make(handler).pages(cursor))

    assert [r["@id"] for p in pages for r in p.records] == [members[1]["@id"]]
    assert pages[0].cursor.seen == {"id-1", "id-2"}
    assert pages[0].total == 2


def test_a_page_brings_the_canonical_bytes_of_the_records_it_keeps() -> None:
    # Written while the body's depth is checked, so the sync does not write them again; the
    # member dropped as seen at the cursor second must not shift them.
    members = [event(1, "2026-11-01T08:00:00Z"), event(2, "2026-11-01T08:00:00Z"),
               "not a dict", {**event(3, "2026-11-01T08:00:07Z"), "name": {"nl": "Café"}}]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=collection(members))

    cursor = Cursor(modified="2026-11-01T08:00:00+00:00", seen=frozenset({"id-1"}))
    [page] = list(make(handler).pages(cursor))

    assert page.records == members[1:]
    assert page.canonical == [canonical_bytes(r) for r in members[1:]]
    assert page.canonical[-1] == (b'{"@id":"https://io.uitdatabank.be/event/id-3",'
                                  b'"modified":"2026-11-01T08:00:07Z",'
                                  b'"name":{"nl":"Caf\xc3\xa9"}}')


def test_a_body_orjson_will_not_write_leaves_the_canonical_bytes_to_the_sync() -> None:
    # A lone surrogate: the standard library reads it, orjson writes no such string.
    members = [{**event(1, "2026-11-01T08:00:00Z"), "name": {"nl": "\ud800"}}]
    text = json.dumps(collection(members)).encode()

    [page] = list(make(lambda r: httpx.Response(200, content=text)).pages(Cursor()))

    assert page.records == members and page.canonical is None


def test_retry_after_http_date_is_capped() -> None:
    sleeps: list[float] = []
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    answers = [
        httpx.Response(429, headers={"Retry-After": later}),
        httpx.Response(200, json=collection([])),
    ]

    list(make(lambda r: answers.pop(0), sleeps, retry_after_max=120.0).pages(Cursor()))

    assert sleeps == [120.0]


def test_backoff_is_bounded_and_jittered_without_retry_after() -> None:
    sleeps: list[float] = []
    answers = [httpx.Response(503) for _ in range(5)] + [httpx.Response(200, json=collection([]))]

    list(
        make(lambda r: answers.pop(0), sleeps, backoff_initial=0.5, backoff_max=3.0).pages(Cursor())
    )

    assert len(sleeps) == 5
    assert all(0 <= s <= 3.0 for s in sleeps)


@pytest.mark.parametrize(
    "body",
    [b'{"@type": "PagedCollection", "member": [', b"[]", b'{"@type": "Error"}', b"\xff\xfe"],
)
def test_broken_bodies_are_retried_then_reported(body: bytes) -> None:
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with pytest.raises(TransientSourceError) as caught:
        list(make(handler, sleeps, max_attempts=4).pages(Cursor()))

    assert "4 attempts" in str(caught.value)
    assert len(sleeps) == 3


def test_transport_errors_are_retried() -> None:
    sleeps: list[float] = []
    errors: list[Exception] = [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if errors:
            raise errors.pop(0)
        return httpx.Response(200, json=collection([event(1, "2026-11-01T08:00:00Z")]))

    pages = list(make(handler, sleeps).pages(Cursor()))

    assert len(pages) == 1 and len(sleeps) == 3


def test_last_transport_error_is_named_in_the_transient_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out connecting")

    with pytest.raises(TransientSourceError, match="ConnectTimeout"):
        list(make(handler, max_attempts=2).pages(Cursor()))


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_fatal_with_problem_title_and_detail(status: int) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        problem = {
            "type": "https://api.publiq.be/probs/x",
            "title": "Nope",
            "status": status,
            "detail": "Because.",
        }
        return httpx.Response(
            status,
            content=json.dumps(problem),
            headers={"content-type": "application/problem+json"},
        )

    with pytest.raises(FatalSourceError) as caught:
        list(make(handler).pages(Cursor()))

    assert (caught.value.status, caught.value.title, caught.value.detail) == (
        status,
        "Nope",
        "Because.",
    )
    assert calls == 1


def test_fatal_error_falls_back_to_reason_phrase() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, content=b"<html>denied</html>")

    with pytest.raises(FatalSourceError) as caught:
        list(make(handler).pages(Cursor()))

    assert (caught.value.title, caught.value.detail) == ("Forbidden", None)
    assert str(caught.value) == "HTTP 403: Forbidden"


def test_retries_are_logged_without_the_client_id() -> None:
    answers = [httpx.Response(500), httpx.Response(200, json=collection([]))]

    with capture_logs() as logs:
        list(make(lambda r: answers.pop(0)).pages(Cursor()))

    retries = [entry for entry in logs if entry["event"] == "sapi3.retry"]
    assert len(retries) == 1 and retries[0]["attempt"] == 1 and "500" in retries[0]["error"]
    assert "secret-client-id" not in repr(logs)


def test_fetch_one_query_and_result() -> None:
    seen: list[dict[str, str]] = []
    member = event(7, "2026-11-01T08:00:00Z")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        wanted = request.url.params["q"].removeprefix("id:")
        return httpx.Response(200, json=collection([member] if wanted == "id-7" else []))

    c = make(handler)

    assert c.fetch_one("id-7") == member
    assert c.fetch_one("id-8") is None
    assert seen[0] == {
        "workflowStatus": "*",
        "availableFrom": "*",
        "availableTo": "*",
        "addressCountry": "*",
        "audienceType": "*",
        "q": "id:id-7",
        "embed": "true",
        "embedUitpasPrices": "true",
        "limit": "1",
    }


def test_limit_must_fit_the_window() -> None:
    with pytest.raises(ValueError):
        make(lambda r: httpx.Response(200), limit=2001, window=2000)


def test_every_spelling_the_mapping_accepts_is_asked_for() -> None:
    # One table drives both: a label the mapping reads but the query never asks for would be
    # lost silently (SAPI3 never returns the event).
    query = build_query(QUERY_LABELS, ["8600"])
    for spelling, level in SPELLINGS.items():
        assert taalicoon_level(spelling) == level
        assert f'"{spelling}"' in query, spelling
    asked = set(QUERY_LABELS)
    assert {label.casefold() for label in asked} == set(SPELLINGS)
    assert len(QUERY_LABELS) == len(asked)  # no label asked twice
