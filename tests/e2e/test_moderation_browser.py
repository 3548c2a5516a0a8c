"""End to end in headless Chromium: feed → sync → digest over SMTP → link → approve, reject."""

from __future__ import annotations

import re

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from samplefeed.server import FakeSapi3
from sync.adapters import tables as t
from sync.adapters.database import make_engine
from sync.adapters.mailer import SmtpMailer
from sync.bootstrap import App
from sync.domain.region import Region
from sync.service import moderators as mods
from sync.service import notify
from sync.service.sync_source import sync_source
from sync.settings import AppConfig, EnvSettings
from tests.builders import make_event
from tests.support.apps import ROOT
from tests.support.mail import SmtpSink, html_body
from tests.support.web import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    WebServer,
    free_port,
    playwright_or_skip,
)

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow

IEPER = "33011"


def config(feed_url: str, web_port: int, smtp_port: int) -> AppConfig:
    return AppConfig.model_validate({
        "region_file": str(ROOT / "config" / "westhoek_municipalities.json"),
        "sources": [{"name": "uitdatabank", "connector": "uitdatabank", "base_url": feed_url,
                     "client_id_env": "TEST_SAPI_CLIENT_ID", "limit": 2, "max_attempts": 2,
                     "backoff_initial_seconds": 0, "backoff_max_seconds": 0}],
        "web": {"host": "127.0.0.1", "port": web_port,
                "base_url": f"http://127.0.0.1:{web_port}"},
        "smtp": {"host": "127.0.0.1", "port": smtp_port,
                 "sender": "ikdoemee Westhoek <noreply@ikdoemee.test>", "timeout_seconds": 5},
        "notifications": {"fallback_moderators": ["regio@ikdoemee.test"]},
    })


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(t.activities.c.title, t.activities.c.state))
                    .all())


def test_moderator_clears_the_queue_from_the_digest_in_chromium(
    database_url: str, engine: Engine, region: Region, smtp: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sync_playwright = playwright_or_skip()
    from playwright.sync_api import expect
    monkeypatch.setenv("TEST_SAPI_CLIENT_ID", "test-client")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    events = [
        make_event(1, title="Praatcafé in de bibliotheek", start="2027-01-12T19:00:00+01:00",
                   end="2027-01-12T21:00:00+01:00", modified="2026-11-20T10:00:00+00:00"),
        make_event(2, title="Dubbel praatcafé", start="2027-01-20T19:00:00+01:00",
                   end="2027-01-20T21:00:00+01:00", modified="2026-11-20T10:00:01+00:00"),
        make_event(3, title="Wandeling in Poperinge", postal_code="8970", locality="Poperinge",
                   modified="2026-11-20T10:00:02+00:00"),
    ]
    web_port = free_port()
    with FakeSapi3(events, client_ids={"test-client"}) as feed:
        cfg = config(feed.base_url, web_port, smtp.port)
        app = App(config=cfg, env=EnvSettings(database_url=database_url, secret_key="e2e"),
                  engine=make_engine(database_url), region=region,
                  mailer=SmtpMailer(cfg.smtp, env={}))
        source = cfg.sources[0]
        result = sync_source(app.uow, app.connector(source), app.sync_service(source))
        assert result.status == "succeeded" and result.counts.created == 3
    with app.engine.begin() as conn:
        mods.add(conn, name="Ann Peeters", email="ann@ieper.test", municipalities=[IEPER],
                 now=app.clock())

    # The other engineer's digest and relay deliver the mail over real SMTP.
    report = notify.build_digests(app.engine, app.notify_settings(), app.clock())
    assert report.mails >= 1
    app.relay().run_once()
    [mail] = [m for m in smtp.messages if "ann@ieper.test" in str(m["To"])]
    body = html_body(mail)
    base = f"http://127.0.0.1:{web_port}"
    queue_link = re.search(rf'href="({re.escape(base)}/moderatie/wachtrij/[^"]+)"', body)
    assert queue_link, body
    item_links = re.findall(rf'href="({re.escape(base)}/moderatie/item/[^"]+)"', body)
    assert len(item_links) == 2

    with WebServer(app, web_port), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # A link scanner that runs JavaScript loads every link; nothing changes.
            scanner = browser.new_context(user_agent="HeadlessChrome scanner")
            before = states(app.engine)
            for link in [queue_link.group(1), *item_links]:
                scan = scanner.new_page()
                scan.goto(link, wait_until="networkidle")
                scan.wait_for_timeout(300)
                scan.close()
            scanner.close()
            assert states(app.engine) == before

            context = browser.new_context(viewport={"width": 360, "height": 740},
                                          device_scale_factor=1, is_mobile=True,
                                          locale="nl-BE")
            page = context.new_page()
            page.goto(queue_link.group(1))
            expect(page.get_by_role("heading", name="Te valideren")).to_be_visible()
            expect(page.locator("ul.queue li")).to_have_count(2)
            assert "Wandeling in Poperinge" not in page.content()
            # Nothing wider than the phone's screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= 360

            page.get_by_role("link", name="Praatcafé in de bibliotheek").click()
            title = page.get_by_role("heading", name="Praatcafé in de bibliotheek")
            expect(title).to_be_visible()
            level = page.locator("dd").get_by_text("Je begrijpt of spreekt nog weinig Nederlands.")
            expect(level).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "moderation-360.png"))
            page.get_by_role("button", name="Goedkeuren", exact=True).click()
            expect(page.get_by_role("heading", name="Opgeslagen")).to_be_visible()
            expect(page.get_by_role("button", name="Terugdraaien")).to_be_visible()

            page.get_by_role("link", name="Terug naar je wachtrij").click()
            expect(page.locator("ul.queue li")).to_have_count(1)
            page.get_by_role("link", name="Dubbel praatcafé").click()
            page.get_by_text("Afkeuren", exact=True).first.click()  # opens the <details>
            page.get_by_label("Reden").select_option("dubbel")
            page.get_by_label("Toelichting").fill("Zelfde activiteit als het praatcafé.")
            page.get_by_role("button", name="Afkeuren").click()
            expect(page.get_by_role("heading", name="Opgeslagen")).to_be_visible()
            assert "afgekeurd" in page.content()

            page.get_by_role("link", name="Terug naar je wachtrij").click()
            expect(page.get_by_text("Je wachtrij is leeg")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "moderation-360-queue-empty.png"))
            context.close()
        finally:
            browser.close()

        # The catalogue shows only the approved activity as published.
        public = httpx.get(f"{base}/api/activities").json()
        assert [a["title"] for a in public["items"]] == ["Praatcafé in de bibliotheek"]
    assert states(app.engine) == {"Praatcafé in de bibliotheek": "published",
                                  "Dubbel praatcafé": "rejected",
                                  "Wandeling in Poperinge": "pending"}
    with app.engine.connect() as conn:
        log = conn.execute(sa.select(t.decision_log.c.decision, t.decision_log.c.via,
                                     t.decision_log.c.reason)).all()
    assert [(d, v) for d, v, _ in log] == [("approve", "page"), ("reject", "page")]
    assert log[1].reason.startswith("Dubbel: dit aanbod bestaat al.")
    assert (ARTIFACTS / "moderation-360.png").stat().st_size > 10_000
    app.engine.dispose()
