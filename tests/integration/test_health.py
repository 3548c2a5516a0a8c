"""`/healthz` and `/metrics` against a real database."""
# ruff: noqa: F811 - the `world` fixture imported from tests.support.mail is used as a parameter

from __future__ import annotations

import dataclasses

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from sync.adapters.tls import tls_context
from sync.bootstrap import App
from sync.entrypoints.web.app import create_app
from sync.entrypoints.web.health import serve_metrics
from sync.settings import EnvSettings
from tests.support.mail import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, ieper, poperinge
from tests.support.web import free_port

TOKEN = "metrics-scraper-token-0123456789abcdef"


def client(app: App) -> TestClient:
    return TestClient(create_app(app))


def test_healthz_is_503_until_a_source_succeeded_then_503_again_when_stale(world):
    http = client(world.app)
    r = http.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["database"]["reachable"] is True
    assert body["sources"][0]["status"] == "never"
    world.sync([ieper(1)])
    world.clock.advance(minutes=10)
    r = http.get("/healthz")
    assert r.status_code == 200, r.json()
    [src] = r.json()["sources"]
    assert src["name"] == "uitdatabank" and src["age_seconds"] == 600
    assert src["max_age_seconds"] == 3 * 15 * 60 and src["status"] == "ok"
    assert src["last_success_at"].startswith("2026-11-25T07:00:00")
    world.clock.advance(minutes=40)
    r = http.get("/healthz")
    assert r.status_code == 503 and r.json()["sources"][0]["status"] == "stale"


def test_healthz_is_503_when_the_database_is_unreachable(world, tmp_path):
    broken = App(config=world.app.config, env=world.app.env, region=world.region,
                 engine=sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"),
                 clock=world.clock)
    r = client(broken).get("/healthz")
    assert r.status_code == 503
    assert r.json()["database"]["reachable"] is False


def test_metrics_read_runs_items_queues_outbox_and_last_success(world, smtp):
    world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync([ieper(1), ieper(2), poperinge(3)])
    world.digest()
    world.relay()  # activity events and the mails: all delivered
    world.sync([ieper(4, modified="2026-11-22T10:00:00+00:00")])
    world.digest()  # one mail left in the backlog
    app = with_token(world.app)
    text = client(app).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert "ikdoemee_database_up 1.0" in text
    assert 'ikdoemee_sync_runs_total{source="uitdatabank",status="succeeded"} 2.0' in text
    assert 'ikdoemee_sync_items_total{outcome="created",source="uitdatabank"} 4.0' in text
    assert 'ikdoemee_review_queue_open{kind="new",municipality="Ieper",nis="33011"} 3.0' in text
    assert 'ikdoemee_review_queue_open{kind="new",municipality="Poperinge",nis="33021"} 1.0' in text
    assert 'ikdoemee_outbox_backlog{state="pending",topic="email.send"} 1.0' in text
    assert 'ikdoemee_outbox_backlog{state="pending",topic="activity.discovered"} 1.0' in text
    [line] = [x for x in text.splitlines()
              if x.startswith('ikdoemee_sync_last_success_timestamp_seconds{source="uitdatabank"}')]
    assert float(line.rsplit(" ", 1)[1]) == world.clock().timestamp()


def with_token(app: App) -> App:
    env = EnvSettings(database_url=app.env.database_url, admin_token=TOKEN)
    return dataclasses.replace(app, env=env)


def test_metrics_on_the_web_port_need_the_admin_token(world):
    http = client(with_token(world.app))
    assert http.get("/metrics").status_code == 401
    wrong = http.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "ikdoemee_" not in wrong.text
    ok = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "ikdoemee_database_up 1.0" in ok.text
    # No admin token configured: the metrics are off on the web port, not open.
    assert client(world.app).get("/metrics").status_code == 503


def test_metrics_on_their_own_port_leave_the_web_port(world):
    port = free_port()
    web = world.app.config.web.model_copy(update={"metrics_port": port})
    app = dataclasses.replace(world.app,
                              config=world.app.config.model_copy(update={"web": web}))
    assert client(app).get("/metrics").status_code == 404
    stop = serve_metrics(app)
    assert stop is not None
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", verify=tls_context()).text
        assert "ikdoemee_database_up 1.0" in text
    finally:
        stop()
