"""Retries and errors of the SAPI3 connector against a misbehaving fake server over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.base import Cursor, FatalSourceError, TransientSourceError
from connectors.uitdatabank import UitdatabankConnector
from mappings.taaliconen import QUERY_LABELS
from samplefeed.generator import POSTAL_CODES, generate_events
from samplefeed.server import FakeSapi3, Fault
from sync.adapters.tls import tls_context

EVENTS = generate_events(12, seed=21, ties=3)


@pytest.fixture
def fake() -> Iterator[FakeSapi3]:
    with FakeSapi3(EVENTS, now=datetime(2026, 11, 28, tzinfo=UTC)) as server:
        yield server


def connector(
    fake: FakeSapi3, sleeps: list[float], *, timeout: float = 5.0, **kwargs: Any
) -> UitdatabankConnector:
    client = httpx.Client(
        base_url=fake.base_url, timeout=timeout, headers=kwargs.pop("headers", {}),
        verify=tls_context(),
    )
    return UitdatabankConnector(
        client,
        name="uitdatabank-test",
        postal_codes=POSTAL_CODES,
        labels=QUERY_LABELS,
        limit=5,
        sleep=sleeps.append,
        **kwargs,
    )


def read_ids(c: UitdatabankConnector) -> list[str]:
    return [r["@id"] for page in c.pages(Cursor()) for r in page.records]


def test_429_with_retry_after_is_honoured(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(status=429, retry_after="2")]

    assert read_ids(connector(fake, sleeps)) == [e["@id"] for e in EVENTS]
    assert sleeps == [2.0]


def test_retry_after_is_capped(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(status=503, retry_after="3600")]

    read_ids(connector(fake, sleeps, retry_after_max=60.0))

    assert sleeps == [60.0]


def test_burst_of_500s_then_success(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(status=500), Fault(status=502), Fault(status=500)]

    assert read_ids(connector(fake, sleeps, backoff_max=4.0)) == [e["@id"] for e in EVENTS]
    assert len(sleeps) == 3 and all(0 <= s <= 4.0 for s in sleeps)


def test_too_many_500s_give_a_clear_transient_error(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(status=500)] * 3

    with pytest.raises(TransientSourceError) as caught:
        read_ids(connector(fake, sleeps, max_attempts=3))

    message = str(caught.value)
    assert "3 attempts" in message and "HTTP 500" in message and "/events" in message
    assert len(sleeps) == 2


def test_html_500_then_success(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(status=500, body=b"<html>Gateway hiccup</html>")]

    assert len(read_ids(connector(fake, sleeps))) == len(EVENTS)


def test_timeouts_are_retried(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(delay=2.0)]

    assert len(read_ids(connector(fake, sleeps, timeout=0.3))) == len(EVENTS)
    assert len(sleeps) == 1


def test_connection_reset_is_retried(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(), Fault(reset=True)]

    assert read_ids(connector(fake, sleeps)) == [e["@id"] for e in EVENTS]
    assert len(sleeps) == 1


def test_truncated_json_is_retried(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(truncate=True), Fault(), Fault(truncate=True)]

    assert read_ids(connector(fake, sleeps)) == [e["@id"] for e in EVENTS]
    assert len(sleeps) == 2


def test_missing_client_id_is_fatal_401() -> None:
    with FakeSapi3(EVENTS, client_ids={"good"}) as fake:
        with pytest.raises(FatalSourceError) as caught:
            read_ids(connector(fake, []))
        assert caught.value.status == 401
        assert caught.value.title == "Unauthorized"
        assert caught.value.detail and "client id" in caught.value.detail


def test_blocked_client_id_is_fatal_403() -> None:
    with FakeSapi3(EVENTS, client_ids={"good", "bad"}, blocked_client_ids={"bad"}) as fake:
        with pytest.raises(FatalSourceError) as caught:
            read_ids(connector(fake, [], headers={"x-client-id": "bad"}))
        assert caught.value.status == 403
        assert caught.value.title == "Forbidden"
        assert caught.value.detail


def test_valid_client_id_reads(fake: FakeSapi3) -> None:
    with FakeSapi3(EVENTS, client_ids={"good"}) as guarded:
        assert len(read_ids(connector(guarded, [], headers={"x-client-id": "good"}))) == 12


def test_404_problem_is_fatal_without_retry(fake: FakeSapi3) -> None:
    sleeps: list[float] = []
    fake.faults = [Fault(status=404)]

    with pytest.raises(FatalSourceError) as caught:
        read_ids(connector(fake, sleeps))

    assert (caught.value.status, caught.value.title) == (404, "Not Found")
    assert caught.value.detail == "Injected fault 404"
    assert sleeps == []
    assert len(fake.requests) == 1


def test_fetch_one_returns_deleted_events_and_none_for_unknown(fake: FakeSapi3) -> None:
    target = EVENTS[4]["@id"].rsplit("/", 1)[-1]
    fake.delete(target)
    c = connector(fake, [])

    found = c.fetch_one(target)

    assert found is not None and found["workflowStatus"] == "DELETED"
    assert c.fetch_one("00000000-0000-4000-8000-000000000000") is None
    assert fake.requests[-1]["q"] == "id:00000000-0000-4000-8000-000000000000"
    assert fake.requests[-1]["workflowStatus"] == "*"
