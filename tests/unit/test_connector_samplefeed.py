"""The sample feed used by connector tests: generator realism and SAPI3 semantics of the fake."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.uitdatabank import DEFAULT_FILTER_OVERRIDES, build_query
from mappings.taaliconen import QUERY_LABELS
from samplefeed.generator import (
    EXCLUDED_BY_QUERY,
    POSTAL_CODES,
    WESTHOEK,
    generate_edge_events,
    generate_events,
)
from samplefeed.server import FakeSapi3, ProblemError
from sync.adapters.tls import tls_context

QUERY = build_query(QUERY_LABELS, POSTAL_CODES)


def ids(body: dict[str, Any]) -> list[str]:
    return [m["@id"] for m in body["member"]]


def test_generator_is_deterministic_and_realistic() -> None:
    events = generate_events(400, seed=3)
    assert events == generate_events(400, seed=3)
    assert events != generate_events(400, seed=4)
    assert len({e["@id"] for e in events}) == 400
    assert all(e["@id"].startswith("https://io.uitdatabank.be/event/") for e in events)
    modified = [e["modified"] for e in events]
    assert modified == sorted(modified) and modified[0] == "2026-11-01T08:00:00+00:00"
    assert len(set(modified)) < 400 * 0.5  # ties: several events per second
    assert {e["calendarType"] for e in events} == {"single", "multiple", "periodic", "permanent"}
    assert {e["location"]["address"]["nl"]["postalCode"] for e in events} == set(POSTAL_CODES)
    assert len(WESTHOEK) == 17 and len(POSTAL_CODES) == 30
    multiple = [e for e in events if e["calendarType"] == "multiple"]
    assert all(2 <= len(e["subEvent"]) <= 6 for e in multiple)
    assert all(e["mainLanguage"] == "nl" and "<p>" in e["description"]["nl"] for e in events)
    assert any("fr" in e["name"] for e in events)
    eventtypes = [t for e in events for t in e["terms"] if t["domain"] == "eventtype"]
    assert len(eventtypes) == 400
    assert {e["workflowStatus"] for e in events} == {"APPROVED", "READY_FOR_VALIDATION"}
    icons = [
        {label for label in e["labels"] + e.get("hiddenLabels", []) if "taalico" in label.lower()}
        for e in events
    ]
    assert all(icons)
    assert 0.03 < sum(len(i) >= 2 for i in icons) / len(icons) < 0.25
    size = sum(len(json.dumps(e)) for e in events) / len(events)
    assert 1500 < size < 8000  # like the publiq fixtures


def test_server_filters_like_sapi3() -> None:
    edge = generate_edge_events()
    fake = FakeSapi3(edge.values(), now=datetime(2026, 11, 28, tzinfo=UTC))
    everything = fake.search({"q": QUERY, **DEFAULT_FILTER_OVERRIDES, "embed": "true"})
    expected = {e["@id"] for name, e in edge.items() if name not in EXCLUDED_BY_QUERY}
    assert set(ids(everything)) == expected

    # The default filters hide deleted, member-only and expired events.
    defaults = fake.search({"q": QUERY, "embed": "true"})
    hidden = {edge[name]["@id"] for name in ("deleted", "members_only", "expired")}
    assert set(ids(defaults)) == expected - hidden
    assert set(ids(fake.search({"q": QUERY, "disableDefaultFilters": "true"}))) == expected

    only_deleted = fake.search({"q": QUERY, "workflowStatus": "DELETED", "availableTo": "*"})
    assert ids(only_deleted) == [edge["deleted"]["@id"]]


def test_a_postal_code_query_finds_what_a_scan_finds_and_follows_moves() -> None:
    events = generate_events(120, seed=4)
    fake = FakeSapi3(events, now=datetime(2026, 11, 28, tzinfo=UTC))
    codes = sorted({e["location"]["address"]["nl"]["postalCode"] for e in events})

    def by_code(code: str) -> set[str]:
        q = build_query(QUERY_LABELS, [code])
        return set(ids(fake.search({"q": q, **DEFAULT_FILTER_OVERRIDES, "limit": "200"})))

    def scanned(code: str) -> set[str]:
        return {e["@id"] for e in fake.events()
                if e["location"]["address"]["nl"]["postalCode"] == code}

    assert len(codes) > 3
    for code in codes:
        assert by_code(code) == scanned(code)
    moved = events[0]
    location = json.loads(json.dumps(moved["location"]))
    old = location["address"]["nl"]["postalCode"]
    new = next(c for c in codes if c != old)
    location["address"]["nl"]["postalCode"] = new
    fake.update(moved["@id"], location=location)
    assert moved["@id"] in by_code(new) and moved["@id"] not in by_code(old)


def test_server_paging_sorting_and_embed() -> None:
    events = generate_events(30, seed=8)
    fake = FakeSapi3(events)
    base = {"q": QUERY, **DEFAULT_FILTER_OVERRIDES, "sort[modified]": "asc"}
    page = fake.search({**base, "start": "5", "limit": "10"})
    assert page["@type"] == "PagedCollection" and page["totalItems"] == 30
    assert page["itemsPerPage"] == 10
    assert page["member"] == [{"@id": e["@id"], "@type": "Event"} for e in events[5:15]]
    desc = fake.search({**base, "sort[modified]": "desc", "limit": "30", "embed": "true"})
    assert [m["modified"] for m in desc["member"]] == sorted(
        (e["modified"] for e in events), reverse=True
    )
    second = events[10]["modified"]
    tie = fake.search({**base, "modifiedFrom": second, "modifiedTo": second, "embed": "true"})
    assert {m["modified"] for m in tie["member"]} == {second}
    assert [m["@id"] for m in tie["member"]] == [
        e["@id"] for e in events if e["modified"] == second
    ]


def test_pre_encoded_members_give_the_same_pages_and_follow_updates() -> None:
    events = generate_events(40, seed=12)
    fresh, prepared = FakeSapi3(events), FakeSapi3(events)
    prepared.encode_members(uitpas_prices=True)
    base = {"q": QUERY, **DEFAULT_FILTER_OVERRIDES, "sort[modified]": "asc", "embed": "true"}

    def pages(fake: FakeSapi3) -> list[bytes]:
        return [fake._encoded_page({**base, "embedUitpasPrices": uitpas, "limit": "15",
                                    "start": start}, {})
                for uitpas in ("true", "false") for start in ("0", "15", "30")]

    assert pages(prepared) == pages(fresh)
    changed = events[3]["@id"]
    for fake in (fresh, prepared):
        fake.update(changed, name={"nl": "Nieuwe naam"})
    after = pages(prepared)
    assert after == pages(fresh)
    assert any(b"Nieuwe naam" in page for page in after)


def test_update_moves_the_event_to_the_end_and_delete_is_soft() -> None:
    events = generate_events(5, seed=9, ties=1)
    fake = FakeSapi3(events)
    first = events[0]["@id"]
    updated = fake.update(first, name={"nl": "Nieuw"})
    assert updated["modified"] > events[-1]["modified"]
    assert fake.events()[-1]["@id"] == first
    deleted = fake.delete(events[1]["@id"].rsplit("/", 1)[-1])
    assert deleted["workflowStatus"] == "DELETED" and deleted["modified"] > updated["modified"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": "9000", "limit": "1001"}, 400),
        ({"limit": "2001"}, 400),
        ({"limit": "ten"}, 400),
        ({"modifiedFrom": "gisteren"}, 400),
        ({"q": "title:foo"}, 400),
        ({"regions": "nis-33011"}, 404),
        ({"bogus": "1"}, 404),
    ],
)
def test_server_rejects_bad_queries_with_problem_json(params: dict[str, str], status: int) -> None:
    with pytest.raises(ProblemError) as caught:
        FakeSapi3().search(params)
    assert caught.value.status == status
    assert set(caught.value.body()) == {"type", "title", "status", "detail"}


def test_server_over_http_returns_problem_json() -> None:
    with FakeSapi3(client_ids={"abc"}) as fake:
        response = httpx.get(fake.base_url + "/events", params={"limit": "1"},
                             verify=tls_context())
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Unauthorized"
        ok = httpx.get(fake.base_url + "/events", headers={"x-client-id": "abc"},
                       verify=tls_context())
        assert ok.status_code == 200 and ok.json()["member"] == []
        assert fake.requests == [{"limit": "1"}, {}]


def test_command_line_serves_generated_events() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "samplefeed", "--port", "0", "--events", "25", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        body = httpx.get(
            base_url + "/events", params={"q": QUERY, **DEFAULT_FILTER_OVERRIDES}, timeout=10,
            verify=tls_context(),
        ).json()
        assert body["totalItems"] == 25
    finally:
        process.terminate()
        process.wait(timeout=10)
