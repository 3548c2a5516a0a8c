"""Admin HTTP API: bearer token, runs, failures, replay and ignore, the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from samplefeed.server import FakeSapi3
from sync.adapters import tables as t
from sync.bootstrap import map_uitdatabank
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.service.outbox_admin import OUTBOX_MAX_ATTEMPTS
from tests.builders import event_id, make_event
from tests.support.apps import failing_for, make_app, sync_docs
from tests.support.clock import NOW

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def feed() -> Iterator[FakeSapi3]:
    with FakeSapi3([]) as fake:
        yield fake


@pytest.fixture
def client(engine: Engine, region: Region, tmp_path: Path, feed: FakeSapi3
           ) -> Iterator[TestClient]:
    app = make_app(tmp_path, engine, region, base_url=feed.base_url, admin_token=TOKEN)
    with TestClient(create_app(app)) as c:
        yield c
    app.close()


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
    ({"Authorization": "Bearer"}, 401),
    ({"Authorization": "Bearer wrong-token"}, 403),
    ({"Authorization": f"Bearer {TOKEN}x"}, 403),
    (AUTH, 200),
])
def test_bearer_token(client, headers, status):
    resp = client.get("/api/admin/runs", headers=headers)
    assert resp.status_code == status
    if status != 200:
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["status"] == status and resp.json()["detail"]
        assert TOKEN not in resp.text
    if status == 401:
        assert resp.headers["www-authenticate"].startswith("Bearer")


def test_every_admin_route_is_protected(client):
    for method, path in [("get", "/api/admin/runs/1"), ("get", "/api/admin/failures"),
                         ("get", "/api/admin/failures/1"), ("post", "/api/admin/failures/replay"),
                         ("post", "/api/admin/failures/1/ignore"), ("get", "/api/admin/outbox"),
                         ("post", "/api/admin/outbox/retry")]:
        assert getattr(client, method)(path).status_code == 401, path
    # Replay changes data: only POST; a GET is not mistaken for the failure called "replay".
    assert client.get("/api/admin/failures/replay", headers=AUTH).status_code == 405


def test_without_a_configured_token_the_admin_api_is_off(engine, region, tmp_path):
    with TestClient(create_app(make_app(tmp_path, engine, region, admin_token=None))) as c:
        resp = c.get("/api/admin/runs", headers=AUTH)
    assert resp.status_code == 503 and "IKDOEMEE_ADMIN_TOKEN" in resp.json()["detail"]


def test_runs_list_filter_and_show(client, engine, region):
    run_id = sync_docs(engine, region, [make_event(1), make_event(2)], failing_for(2))
    runs = client.get("/api/admin/runs", headers=AUTH).json()["runs"]
    assert [(r["id"], r["status"], r["counts"]["failed"]) for r in runs] == [(run_id, "partial", 1)]
    assert client.get("/api/admin/runs", headers=AUTH,
                      params={"status": "succeeded"}).json()["runs"] == []
    day = {"since": "2026-11-25", "until": "2026-11-25"}
    assert len(client.get("/api/admin/runs", headers=AUTH, params=day).json()["runs"]) == 1
    assert client.get("/api/admin/runs", headers=AUTH,
                      params={"until": "2026-11-24"}).json()["runs"] == []
    assert client.get("/api/admin/runs", headers=AUTH,
                      params={"source": "other"}).json()["runs"] == []
    one = client.get(f"/api/admin/runs/{run_id}", headers=AUTH).json()
    assert one["failures"] == {"open": 1, "resolved": 0, "ignored": 0}
    missing = client.get("/api/admin/runs/999", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["detail"] == "run 999 does not exist"
    assert client.get("/api/admin/runs", headers=AUTH,
                      params={"status": "weird"}).status_code == 422


def test_failures_list_show_replay_and_ignore(client, engine, region):
    run_id = sync_docs(engine, region, [make_event(1), make_event(2), make_event(3)],
                       failing_for(1, 2))
    listed = client.get("/api/admin/failures", headers=AUTH,
                        params={"run_id": run_id, "stage": "map", "status": "open"}).json()
    assert [f["source_id"] for f in listed["failures"]] == [event_id(1), event_id(2)]
    assert "raw_payload" not in listed["failures"][0]
    first, second = (f["id"] for f in listed["failures"])
    shown = client.get(f"/api/admin/failures/{first}", headers=AUTH).json()
    assert shown["payload"]["@id"].endswith(event_id(1)) and shown["attempts"] == 1
    assert shown["stage"] == "map" and "event type" in shown["error"]

    replayed = client.post("/api/admin/failures/replay", headers=AUTH, json={"ids": [first]})
    assert replayed.status_code == 200
    body = replayed.json()
    assert body["resolved"] == 1 and body["items"][0]["outcome"] == "created"
    replay_run = client.get(f"/api/admin/runs/{body['runs'][0]['run_id']}", headers=AUTH).json()
    assert replay_run["kind"] == "replay" and replay_run["counts"]["created"] == 1
    again = client.post("/api/admin/failures/replay", headers=AUTH, json={"ids": [first]}).json()
    assert again["runs"] == [] and again["not_open"] == 1

    ignored = client.post(f"/api/admin/failures/{second}/ignore", headers=AUTH,
                          json={"reason": "test event"})
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    conflict = client.post(f"/api/admin/failures/{second}/ignore", headers=AUTH,
                           json={"reason": "again"})
    assert conflict.status_code == 409 and conflict.json()["title"] == "Conflict"
    assert client.post("/api/admin/failures/999/ignore", headers=AUTH,
                       json={"reason": "x"}).status_code == 404
    assert client.post(f"/api/admin/failures/{second}/ignore", headers=AUTH,
                       json={}).status_code == 422
    statuses = [f["status"] for f in client.get("/api/admin/failures", headers=AUTH).json()[
        "failures"]]
    assert statuses == ["resolved", "ignored"]


def test_replay_request_must_name_failures(client, engine, region):
    sync_docs(engine, region, [make_event(1)], failing_for(1))
    for body in ({}, {"ids": [1], "all_open": True}):
        resp = client.post("/api/admin/failures/replay", headers=AUTH, json=body)
        assert resp.status_code == 422 and resp.json()["title"] == "Invalid request"
    resp = client.post("/api/admin/failures/replay", headers=AUTH, json={"ids": [404]})
    assert resp.status_code == 404 and "404" in resp.json()["detail"]


def test_replay_with_refetch_over_the_api(client, engine, region, feed):
    broken = make_event(5)
    broken["name"] = 42
    sync_docs(engine, region, [broken], map_uitdatabank)
    feed.add([make_event(5, title="Hersteld")])
    body = client.post("/api/admin/failures/replay", headers=AUTH,
                       json={"all_open": True, "refetch": True}).json()
    assert body["resolved"] == 1 and body["items"][0]["outcome"] == "created"


def _outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.outbox).order_by(t.outbox.c.id)))


def test_outbox_list_and_retry(client, engine, region):
    sync_docs(engine, region, [make_event(i) for i in range(1, 5)], map_uitdatabank)
    ids = [m.id for m in _outbox(engine)]
    with engine.begin() as conn:
        conn.execute(t.outbox.update().where(t.outbox.c.id.in_(ids[:2]))
                     .values(attempts=OUTBOX_MAX_ATTEMPTS, last_error="SMTP 550"))
        conn.execute(t.outbox.update().where(t.outbox.c.id == ids[2]).values(delivered_at=NOW))
    listed = client.get("/api/admin/outbox", headers=AUTH).json()
    assert listed["counts"] == {"pending": 1, "delivered": 1, "dead": 2}
    dead = client.get("/api/admin/outbox", headers=AUTH, params={"status": "dead"}).json()
    assert [m["id"] for m in dead["messages"]] == ids[:2]
    assert dead["messages"][0]["topic"] == "activity.discovered"
    one = client.post("/api/admin/outbox/retry", headers=AUTH, json={"ids": [ids[0], ids[2]]})
    assert one.json() == {"retried": [ids[0]], "already_delivered": [ids[2]]}
    rest = client.post("/api/admin/outbox/retry", headers=AUTH, json={"all_dead": True}).json()
    assert rest["retried"] == [ids[1]]
    rows = _outbox(engine)
    assert [(m.attempts, m.last_error) for m in rows[:2]] == [(0, "SMTP 550"), (0, "SMTP 550")]
    assert client.get("/api/admin/outbox", headers=AUTH).json()["counts"] == {
        "pending": 3, "delivered": 1, "dead": 0}
    assert client.post("/api/admin/outbox/retry", headers=AUTH,
                       json={"ids": [999]}).status_code == 404
    assert client.post("/api/admin/outbox/retry", headers=AUTH, json={}).status_code == 422
