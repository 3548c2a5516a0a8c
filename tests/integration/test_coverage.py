"""Coverage of the UiT ↔ taalicoon link and the outreach list, against the fake SAPI3 server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.uitdatabank import UitdatabankConnector
from mappings.taaliconen import QUERY_LABELS
from samplefeed.generator import generate_uit_offer
from samplefeed.server import FakeSapi3, Fault
from sync.adapters import tables as t
from sync.adapters.tls import tls_context
from sync.domain.region import Region
from sync.service import coverage as cov
from sync.service import report
from tests.support.clock import NOW

OFFER = generate_uit_offer(400, seed=11)


@pytest.fixture
def fake() -> Iterator[FakeSapi3]:
    with FakeSapi3(OFFER, now=NOW) as server:
        yield server


@pytest.fixture
def connector(fake: FakeSapi3, region: Region) -> Iterator[UitdatabankConnector]:
    with httpx.Client(base_url=fake.base_url, timeout=5, verify=tls_context()) as client:
        yield UitdatabankConnector(client, name="uitdatabank", postal_codes=region.postal_codes,
                                   labels=QUERY_LABELS, limit=50, sleep=lambda s: None,
                                   backoff_initial=0, backoff_max=0)


def visible(event: dict[str, Any]) -> bool:
    """SAPI3's default filters, written out independently of the fake's code."""
    def when(key: str) -> datetime:
        return datetime.fromisoformat(event[key])

    return (event["workflowStatus"] in ("APPROVED", "READY_FOR_VALIDATION")
            and when("availableTo") >= NOW and when("availableFrom") <= NOW
            and event["audience"]["audienceType"] == "everyone")


def postal(event: dict[str, Any]) -> str:
    return str(event["location"]["address"]["nl"]["postalCode"])


def has_icon(event: dict[str, Any]) -> bool:
    wanted = {x.casefold() for x in QUERY_LABELS}
    return any(x.casefold() in wanted for x in event.get("labels", []) + event.get(
        "hiddenLabels", []))


def test_coverage_counts_with_two_cheap_requests_per_municipality(connector, fake, region,
                                                                 engine: Engine):
    run = cov.measure(connector, region, NOW)
    assert run.requests == 34 == len(fake.requests)
    assert all(r["limit"] == "0" and "embed" not in r for r in fake.requests)
    expected_all: Counter[str] = Counter()
    expected_icon: Counter[str] = Counter()
    for e in OFFER:
        m = region.by_postal_code(postal(e))
        if m and visible(e):
            expected_all[m.nis] += 1
            expected_icon[m.nis] += has_icon(e)
    assert {r.nis: r.upcoming_events for r in run.rows} == {
        m.nis: expected_all[m.nis] for m in region.municipalities}
    assert {r.nis: r.with_taalicoon for r in run.rows} == {
        m.nis: expected_icon[m.nis] for m in region.municipalities}
    assert 0 < run.with_taalicoon < run.upcoming_events
    with engine.begin() as conn:
        cov.store(conn, run, NOW)
        cov.store(conn, run, NOW + timedelta(hours=3))  # again the same day: replaced
        stored = cov.history(conn, region)
    assert len(stored) == 1 and stored[0].rows == run.rows


def test_a_flaky_source_is_retried_and_counted(connector, fake, region):
    fake.faults.extend([Fault(status=503), Fault(status=429, retry_after="0")])
    run = cov.measure(connector, region, NOW)
    assert run.requests == 36


def test_outreach_lists_organizers_without_any_taalicoon(connector, fake, region,
                                                         engine: Engine):
    organizers, requests = cov.collect_outreach(connector, region)
    events: Counter[str] = Counter()
    icons: Counter[str] = Counter()
    for e in OFFER:
        if region.by_postal_code(postal(e)) and visible(e):
            oid = e["organizer"]["@id"].rsplit("/", 1)[-1]
            events[oid] += 1
            icons[oid] += has_icon(e)
    expected = {oid: n for oid, n in events.items() if icons[oid] == 0}
    assert expected, "the generated offer must have organizers without taaliconen"
    assert {o.id: o.upcoming_events for o in organizers} == expected
    assert [o.upcoming_events for o in organizers] == sorted(
        (o.upcoming_events for o in organizers), reverse=True)
    assert all(o.contact["email"] and o.contact["email"][0].startswith("info@")
               for o in organizers)
    # One page per 50 events per municipality, at least one request per municipality.
    assert requests == len(fake.requests) >= 17
    with engine.begin() as conn:
        day = cov.store_outreach(conn, organizers, NOW)
        again = cov.store_outreach(conn, organizers, NOW)
        got_day, got = cov.latest_outreach(conn)
        n = conn.execute(sa.select(sa.func.count()).select_from(t.outreach_organizers)).scalar()
    assert day == again == got_day == date(2026, 11, 25) and n == len(organizers)
    assert [o.id for o in got] == [o.id for o in organizers]
    text = cov.outreach_csv(got)
    assert text.splitlines()[0] == ",".join(cov.OUTREACH_HEADERS)
    assert len(text.splitlines()) == len(organizers) + 1
    with engine.connect() as conn:
        r = report.build(conn, region, date(2026, 11, 1), date(2026, 11, 30), NOW)
    assert [o.id for o in r.outreach] == [o.id for o in organizers]


def test_fake_server_counts_with_limit_zero_and_sorts_by_created(fake):
    body = fake.search({"q": r"address.\*.postalCode:(8900)", "limit": "0"})
    assert body["member"] == [] and body["totalItems"] > 0
    page = fake.search({"q": r"address.\*.postalCode:(8900 OR 8970)", "embed": "true",
                        "sort[created]": "asc", "limit": "100"})
    created = [m["created"] for m in page["member"]]
    assert created == sorted(created) and len(created) > 1
