"""The report and the public statistics in headless Chromium: 360 px without sideways
scrolling, and the report printed to A4 PDF (the annual report's 223 activities)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from connectors.uitdatabank import UitdatabankConnector
from mappings.taaliconen import QUERY_LABELS
from samplefeed.generator import generate_uit_offer
from samplefeed.server import FakeSapi3
from sync.domain.region import Region
from sync.service import coverage, history
from tests.support.apps import make_app
from tests.support.history import annual_mentions, insert_published
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

NOW = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
TOKEN = "report-token-0123456789abcdef"
PLACES = ("33011", "33021", "32003", "38025", "38014", "33016")


@pytest.fixture
def catalogue(engine: Engine, region: Region) -> Engine:
    with engine.begin() as conn:
        for n, types in enumerate(annual_mentions()):
            insert_published(conn, n, types, [n % 4 + 1], nis=PLACES[n % len(PLACES)])
        history.take_snapshot(conn, NOW)
    with FakeSapi3(generate_uit_offer(300, seed=7), now=NOW) as fake, httpx.Client(
            base_url=fake.base_url, timeout=5) as client:
        source = UitdatabankConnector(client, name="u", postal_codes=region.postal_codes,
                                          labels=QUERY_LABELS)
        coverage.run_coverage(engine, source, region, NOW)
        coverage.run_outreach(engine, source, region, NOW)
    return engine


def overflow(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_report_at_360_px_and_on_a4_paper(catalogue: Engine, region: Region, tmp_path: Path):
    sync_playwright = playwright_or_skip()
    app = make_app(tmp_path, catalogue, region, admin_token=TOKEN, now=lambda: NOW)
    port = free_port()
    url = f"http://127.0.0.1:{port}/rapport?van=2026-01-01&tot=2026-12-31&token={TOKEN}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with WebServer(app, port), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            phone = browser.new_context(viewport={"width": 360, "height": 740})
            page = phone.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            assert page.locator("h1").inner_text().startswith("ikdoemee: rapport")
            assert page.locator("svg.chart").count() == 5
            assert overflow(page) <= 0, "the report scrolls sideways at 360 px"
            wide = page.locator(".scroll").evaluate_all(
                "els => els.filter(e => e.scrollWidth > e.clientWidth).length")
            assert wide == 0, "a table needs sideways scrolling at 360 px"
            # Every chart fits the screen and its labels stay readable (>= 10 px).
            for box in page.locator("svg.chart").evaluate_all(
                    "els => els.map(e => e.getBoundingClientRect().width)"):
                assert 250 <= box <= 360
            ontmoeting = page.locator("tr", has_text="Ontmoeting").first.inner_text()
            assert re.sub(r"\s+", " ", ontmoeting) == "Ontmoeting 121 54,26 %"
            assert requests == [url], "the page fetched something besides itself"
            page.screenshot(path=str(ARTIFACTS / "rapport-360.png"), full_page=True)

            stats = phone.new_page()
            stats.goto(f"http://127.0.0.1:{port}/statistieken")
            assert stats.locator("svg.chart").count() == 3 and overflow(stats) <= 0
            stats.screenshot(path=str(ARTIFACTS / "statistieken-360.png"), full_page=True)

            desk = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            desk.goto(url)
            desk.emulate_media(media="print")
            assert desk.locator("form.period").is_hidden()  # no form on paper
            pdf = desk.pdf(format="A4", print_background=True, prefer_css_page_size=True)
            (ARTIFACTS / "rapport-a4.pdf").write_bytes(pdf)
            assert pdf.startswith(b"%PDF")
            pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
            assert 2 <= pages <= 8, f"{pages} A4 pages"
            # What the printed page looks like, A4 wide at 96 dpi, for people to look at.
            desk.set_viewport_size({"width": 794, "height": 1123})
            desk.screenshot(path=str(ARTIFACTS / "rapport-a4.png"), full_page=True)
        finally:
            browser.close()
