"""/rapport behind the admin token or a coordinator link, /statistieken public, the daemon's
history jobs (both databases)."""
# ruff: noqa: F811 - the `world` fixture imported from tests.support.mail is used as a parameter

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from samplefeed.generator import generate_uit_offer
from samplefeed.server import FakeSapi3
from sync.adapters import tables as t
from sync.bootstrap import App
from sync.domain.region import Region
from sync.entrypoints.daemon import Daemon
from sync.entrypoints.web.app import create_app
from sync.service import coordinator_links as links
from sync.service import history
from sync.settings import EnvSettings
from tests.builders import make_event
from tests.support.apps import approve_open, feed_app, make_app, sync_docs
from tests.support.clock import NOW
from tests.support.mail import world as world  # noqa: F401 - the fixture

TOKEN = "admin-token-for-tests-0123456789"
SECRET = "a-long-random-secret-for-the-tests"


@pytest.fixture
def application(tmp_path: Path, engine: Engine, region: Region) -> App:
    sync_docs(engine, region, [
        make_event(1, title="Praatcafé Ieper"),
        make_event(2, postal_code="8970", locality="Poperinge", event_type="0.17.0.0.0",
                   labels=("twee taaliconen",)),
    ])
    approve_open(engine)
    with engine.begin() as conn:
        history.take_snapshot(conn, NOW)
    app = make_app(tmp_path, engine, region, admin_token=TOKEN, now=lambda: NOW)
    app.env = EnvSettings(database_url=str(engine.url), admin_token=TOKEN, secret_key=SECRET)
    app.config = app.config.model_copy(update={"notifications": app.config.notifications
                                               .model_copy(update={"fallback_moderators": [
                                                   "coord@westhoek.be"]})})
    return app


@pytest.fixture
def client(application: App) -> Iterator[TestClient]:
    with TestClient(create_app(application)) as c:
        yield c


def test_report_needs_the_admin_token_or_a_coordinator_link(client: TestClient):
    assert client.get("/rapport").status_code == 401
    wrong = client.get("/rapport", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "niet geldig" in wrong.text
    assert client.get("/rapport?token=nope").status_code == 403
    ok = client.get("/rapport?van=2026-11-01&tot=2026-11-30",
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
    assert "<svg" in ok.text and "<script" not in ok.text
    assert re.search(r"<strong>2</strong>activiteiten publiek", ok.text)
    browser = client.get(f"/rapport?token={TOKEN}&van=2026-11-01&tot=2026-11-30")
    assert browser.status_code == 200
    # The page's own links keep the token, so the period form and downloads keep working.
    assert f'name="token" value="{TOKEN}"' in browser.text


def test_a_coordinator_link_opens_the_report_until_it_expires(client: TestClient,
                                                             application: App):
    key = links.issue(SECRET.encode(), "coord@westhoek.be", NOW, 30)
    assert client.get(f"/rapport?sleutel={key}").status_code == 200
    other = links.issue(SECRET.encode(), "someone@else.be", NOW, 30)
    assert client.get(f"/rapport?sleutel={other}").status_code == 403
    forged = key[:-4] + ("0000" if not key.endswith("0000") else "1111")
    assert client.get(f"/rapport?sleutel={forged}").status_code == 403
    old = links.issue(SECRET.encode(), "coord@westhoek.be", NOW - timedelta(days=40), 30)
    assert client.get(f"/rapport?sleutel={old}").status_code == 403
    assert client.get("/rapport?sleutel=%%%garbage").status_code == 403


def test_report_formats_and_bad_periods(client: TestClient):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = client.get("/rapport?van=2026-11-01&tot=2026-11-30&formaat=json", headers=auth).json()
    assert body["activities"] == 2 and body["period"] == {"from": "2026-11-01",
                                                           "to": "2026-11-30"}
    csv_text = client.get("/rapport?van=2026-11-01&tot=2026-11-30&formaat=csv", headers=auth)
    assert csv_text.headers["content-type"].startswith("text/csv")
    assert "total,activities,Activiteiten,2," in csv_text.text
    md = client.get("/rapport?van=2026-11-01&tot=2026-11-30&formaat=md", headers=auth).text
    assert "| Cursus | 1 | 50,00 % |" in md
    for query in ("van=gisteren", "van=2026-12-01&tot=2026-11-01", "formaat=pdf"):
        bad = client.get(f"/rapport?{query}", headers=auth)
        assert bad.status_code == 400 and "<h1>" in bad.text
    outreach = client.get("/rapport/organisaties.csv", headers=auth)
    assert outreach.status_code == 200 and outreach.text.startswith("organisator,")
    assert client.get("/rapport/organisaties.csv").status_code == 401


def test_statistics_page_is_public_and_dutch(client: TestClient):
    page = client.get("/statistieken")
    assert page.status_code == 200 and 'lang="nl-BE"' in page.text
    assert "<strong>2</strong>activiteiten" in page.text
    assert page.text.count("<svg") == 3 and "<script" not in page.text
    assert "Ieper" in page.text and "Poperinge" in page.text
    # /api/stats is unchanged by the page.
    assert client.get("/api/stats").json()["published_activities"] == 2


def test_daemon_history_jobs_write_snapshot_coverage_and_outreach(world):
    world.clock.now = NOW
    with FakeSapi3(generate_uit_offer(120, seed=5), now=NOW) as fake:
        app = feed_app(world, fake)
        daemon = Daemon(app, serve_web=False)
        daemon.snapshot_job()
        daemon.coverage_job()
        assert len(fake.requests) == 34
        daemon.outreach_job()
    with world.engine.connect() as conn:
        days = conn.execute(sa.select(t.history_days.c.day)).scalars().all()
        covered = conn.execute(sa.select(sa.func.count()).select_from(t.coverage_counts)).scalar()
        outreach = conn.execute(sa.select(sa.func.count())
                                .select_from(t.outreach_organizers)).scalar()
    assert [d.isoformat() for d in days] == ["2026-11-25"]
    assert covered == 17 and outreach > 0
