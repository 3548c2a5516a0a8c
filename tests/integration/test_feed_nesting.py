"""A feed body nested absurdly deep is a recorded failed page, not a crash."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from connectors.base import Cursor, UnreadablePage
from connectors.documents import canonical_bytes
from connectors.uitdatabank import MAX_JSON_DEPTH, UitdatabankConnector, nested_deeper, written
from mappings.taaliconen import QUERY_LABELS
from samplefeed.generator import POSTAL_CODES
from samplefeed.server import FakeSapi3, Fault
from sync.adapters.tls import tls_context
from sync.bootstrap import map_uitdatabank
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.service import replay
from sync.service.sync_source import SyncService, sync_source
from sync.service.unit_of_work import UnitOfWork
from tests.builders import make_event
from tests.support.apps import make_app
from tests.support.clock import NOW

DEEP = b"[" * 100_000 + b"]" * 100_000
TOKEN = "nesting-test-admin-token-0123456789abcdef"


def nested(levels: int) -> bytes:
    """A PagedCollection whose first member nests `levels` more objects deep."""
    inner: object = {}
    for _ in range(levels):
        inner = {"x": inner}
    return json.dumps({"@type": "PagedCollection", "totalItems": 1,
                       "member": [inner]}).encode()


def test_depth_is_measured_without_recursion():
    assert not nested_deeper({"a": [1, {"b": 2}]}, 3)
    assert nested_deeper({"a": [1, {"b": []}]}, 3)
    deep: list[object] = []
    for _ in range(50_000):
        deep = [deep]
    assert nested_deeper(deep, MAX_JSON_DEPTH)


def _depth(value: object) -> int:
    """The plain recursive definition, for small values."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def test_depth_agrees_with_the_definition_on_random_values():
    rng = random.Random(5)

    def value(levels: int) -> object:
        if levels == 0 or rng.random() < 0.25:
            return rng.choice([1, "x", None, [], {}])
        if rng.random() < 0.5:
            return [value(levels - 1) for _ in range(rng.randint(0, 3))]
        return {str(i): value(levels - 1) for i in range(rng.randint(0, 3))}

    for _ in range(2000):
        v, limit = value(rng.randint(0, 8)), rng.randint(0, 8)
        assert nested_deeper(v, limit) == (_depth(v) > limit), (v, limit)


def page_of(member: object, **rest: object) -> dict[str, object]:
    return {"@type": "PagedCollection", "totalItems": 1, "member": [member], **rest}


def chain(levels: int, leaf: object = 1, kind: str = "list") -> object:
    value = leaf
    for _ in range(levels):
        value = [value] if kind == "list" else {"x": value}
    return value


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("levels", [0, 1, 100, MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH - 2,
                                    MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
def test_writing_the_members_is_the_depth_check_at_the_limit(levels, kind):
    # The body and its member list are two levels; a member `levels` deeper (plus itself).
    for body in (page_of(chain(levels, kind=kind)),
                 page_of({}, facet=chain(levels + 1, kind=kind))):  # beside the members
        deep, blobs = written(body, members=True)
        assert deep == nested_deeper(body, MAX_JSON_DEPTH), levels
        if deep:
            assert blobs is None
        elif "facet" not in body:
            assert blobs == [canonical_bytes(m) for m in body["member"]]  # type: ignore[attr-defined]
        assert written(body, members=False) == (deep, None)


def test_what_orjson_will_not_write_is_measured_instead():
    # A lone surrogate or an integer beyond 64 bits (the standard library reads both):
    # shallow, so not refused, and the sync makes the canonical text itself.
    for odd in ("\ud800", 2**70):
        assert written(page_of({"n": odd}), members=True) == (False, None)
        assert written(page_of(chain(MAX_JSON_DEPTH, leaf=odd)), members=True) == (True, None)


@pytest.fixture
def feed() -> Iterator[FakeSapi3]:
    with FakeSapi3([make_event(1), make_event(2)], now=NOW) as fake:
        yield fake


def connector(feed: FakeSapi3, sleeps: list[float]) -> UitdatabankConnector:
    client = httpx.Client(base_url=feed.base_url, verify=tls_context())
    return UitdatabankConnector(client, name="uitdatabank",
                                postal_codes=POSTAL_CODES, labels=QUERY_LABELS, limit=5,
                                sleep=sleeps.append)


@pytest.mark.parametrize("body", [DEEP, nested(MAX_JSON_DEPTH + 10)])
def test_the_connector_refuses_deep_bodies_at_once_keeping_them(feed, body):
    sleeps: list[float] = []
    feed.faults = [Fault(status=200, body=body, content_type="application/json")]
    with pytest.raises(UnreadablePage) as info:
        list(connector(feed, sleeps).pages(Cursor()))
    assert f"deeper than {MAX_JSON_DEPTH} levels" in str(info.value)
    assert info.value.raw == body.decode()
    assert sleeps == []  # the same body comes back on a retry: none is made


def test_a_deep_page_is_a_failed_run_with_a_fetch_failure_then_the_next_run_reads_on(
        feed, engine: Engine, region: Region, tmp_path: Path):
    service = SyncService("uitdatabank", region, map_uitdatabank, lambda: NOW)

    def uow() -> UnitOfWork:
        return UnitOfWork(engine)

    feed.faults = [Fault(status=200, body=DEEP, content_type="application/json")]
    first = sync_source(uow, connector(feed, []), service)
    assert first.status == "failed" and "nested deeper" in (first.error or "")
    with uow() as u:
        [failure] = replay.list_failures(u.connection, run_id=first.run_id)
        shown = replay.get_failure(u.connection, failure["id"])
    assert (failure["stage"], failure["source_id"], failure["status"]) == ("fetch", None, "open")
    assert shown["raw_payload"] == DEEP.decode() and shown["payload"] is None

    # The admin API shows it (no 500) and a replay explains instead of crashing.
    app = make_app(tmp_path, engine, region, admin_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(app)) as client:
        got = client.get(f"/api/admin/failures/{failure['id']}", headers=auth)
        assert got.status_code == 200 and got.json()["payload"] is None
        again = client.post("/api/admin/failures/replay", headers=auth,
                            json={"ids": [failure["id"]]}).json()
    app.close()
    assert again["still_failing"] == 1 and "next sync reads it again" in again["items"][0]["error"]

    second = sync_source(uow, connector(feed, []), service)  # the source is well again
    assert second.status == "succeeded" and second.counts.created == 2
