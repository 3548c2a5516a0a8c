"""The public listing and detail page in headless Chromium, at 360 px and at desktop width."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.adapters import tables as t
from sync.domain.region import Region
from sync.service.review import APPROVE, decide_review
from sync.service.sync_source import sync_source
from tests.builders import Clock, StaticConnector, make_event
from tests.support.apps import make_app
from tests.support.web import ARTIFACTS, WebServer, launch, playwright_or_skip

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow

FIXTURE = (Path(__file__).resolve().parents[1] / "fixtures" / "events"
           / "docs_read_example_all_fields_schema_wrapper.json")
VIEWPORTS = {"360": {"width": 360, "height": 800}, "1280": {"width": 1280, "height": 900}}


def rich_event() -> dict[str, Any]:
    """publiq's docs example with every field, moved to Ieper and to next month."""
    doc = json.loads(FIXTURE.read_text(encoding="utf-8"))["examples"][0]
    doc["location"]["address"] = {"nl": {"addressCountry": "BE", "addressLocality": "Ieper",
                                         "postalCode": "8900",
                                         "streetAddress": "Grote Markt 34"}}
    doc["labels"] = ["twee taaliconen"]
    doc["workflowStatus"] = "APPROVED"
    doc["name"]["nl"] = ("Taalcafé met een heel lange titel die op een smalle telefoon "
                         "netjes moet afbreken")
    doc["description"]["nl"] = ("<p>Kom samen Nederlands oefenen. Meer info op "
                                "https://www.example.com/een/heel/lange/link/zonder/spaties/"
                                "die/niet/mag/uitsteken/op/een/telefoon</p>")
    for key in ("startDate", "endDate", "availableFrom", "availableTo"):
        doc.pop(key, None)
    doc["startDate"] = "2026-12-12T14:00:00+01:00"
    doc["endDate"] = "2026-12-12T16:00:00+01:00"
    doc["subEvent"] = [{"startDate": "2026-12-12T14:00:00+01:00",
                        "endDate": "2026-12-12T16:00:00+01:00", "status": {"type": "Available"}}]
    doc["bookingInfo"]["availabilityStarts"] = "2026-11-20T00:00:00+01:00"
    doc["bookingInfo"]["availabilityEnds"] = "2026-12-10T23:59:00+01:00"
    doc["priceInfo"].append({"category": "uitpas", "name": {"nl": "Kansentarief"},
                             "price": 2.1, "priceCurrency": "EUR"})
    doc["terms"].append({"id": "3.34.0.0.0", "domain": "facility"})
    doc["modified"] = "2026-11-20T10:00:00+00:00"
    return doc


def _publish(app: Any, docs: list[dict[str, Any]], clock: Clock) -> None:
    """Sync `docs` through the app and approve every item, at the app's clock."""
    sync_source(app.uow, StaticConnector([docs]), app.sync_service(app.config.sources[0]))
    with app.uow() as uow:
        for item_id in uow.connection.execute(sa.select(t.review_items.c.id)).scalars().all():
            decide_review(uow, item_id, APPROVE, moderator="mod@westhoek.be", now=clock())
        uow.commit()


def test_listing_and_detail_in_chromium(engine: Engine, region: Region,
                                        tmp_path: Path) -> None:
    sync_playwright = playwright_or_skip()
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    docs = [
        rich_event(),
        make_event(2, title="Erfgoeddag in het museum", start="2026-11-29T00:00:00+01:00",
                   end="2026-11-29T23:59:59+01:00", labels=("één taalicoon",)),
        make_event(3, title="Wekelijkse wandeling", start="2026-12-02T10:00:00+01:00",
                   end="2026-12-02T12:00:00+01:00", event_type="0.17.0.0.0"),
    ]
    _publish(app, docs, clock)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with WebServer(app) as web, sync_playwright() as p:
        browser = launch(p)
        try:
            for name, viewport in VIEWPORTS.items():
                page = browser.new_page(viewport=viewport, locale="nl-BE")
                page.goto(f"{web.url}/activiteiten")
                text = page.inner_text("main")
                assert "We vonden 3 activiteiten." in text
                # Soonest first; a whole day without "00.00"; real times otherwise.
                assert text.index("Erfgoeddag") < text.index("Wekelijkse") < text.index(
                    "Taalcafé")
                assert "zondag 29 november 2026" in text and "00.00" not in text
                assert "zaterdag 12 december 2026, 14.00 tot 16.00 uur" in text
                assert "taalicoonen" not in text and "2 taaliconen" in text
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], f"listing is {width}px wide at {name}"
                page.screenshot(path=str(ARTIFACTS / f"public-listing-{name}.png"),
                                full_page=True)

                page.get_by_role("link", name="Taalcafé met een heel lange titel").click()
                page.wait_for_url("**/activiteiten/1")
                detail = page.inner_text("main")
                for expected in ("Kansentarief (met UiTPAS): € 2,10", "Basistarief: € 10,50",
                                 "Inschrijven kan van vrijdag 20 november 2026 tot en met "
                                 "donderdag 10 december 2026.", "info@publiq.be",
                                 "Vereenvoudigde informatie", "Van 6 tot 12 jaar",
                                 "Je kunt ook online meedoen", "Grote Markt 34"):
                    assert expected in detail, expected
                link = page.get_by_role("link", name="Meer op UiTinVlaanderen")
                assert link.get_attribute("href") == (
                    "https://www.uitinvlaanderen.be/agenda/e/test-event/"
                    "85b04295-479c-40f5-b3dd-469dfb4387b3")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], f"detail is {width}px wide at {name}"
                page.screenshot(path=str(ARTIFACTS / f"public-detail-{name}.png"),
                                full_page=True)
                page.close()
        finally:
            browser.close()


@pytest.mark.parametrize("path", ["/activiteiten/999", "/activiteiten/abc"])
def test_unknown_activity_page_is_a_dutch_404(engine: Engine, region: Region,
                                               tmp_path: Path, path: str) -> None:
    from fastapi.testclient import TestClient

    from sync.entrypoints.web.app import create_app
    with TestClient(create_app(make_app(tmp_path, engine, region))) as client:
        resp = client.get(path)
    assert resp.status_code == 404
    assert "Deze activiteit staat niet in de catalogus" in resp.text


def test_search_and_a_too_long_search_in_chromium(engine: Engine, region: Region,
                                                  tmp_path: Path) -> None:
    sync_playwright = playwright_or_skip()
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    docs = [make_event(1, title="Taalcafé in de bibliotheek", start="2026-12-12T14:00:00+01:00",
                       end="2026-12-12T16:00:00+01:00"),
            make_event(2, title="Kookcafé", start="2026-12-13T14:00:00+01:00",
                       end="2026-12-13T16:00:00+01:00")]
    _publish(app, docs, clock)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with WebServer(app) as web, sync_playwright() as p:
        browser = launch(p)
        try:
            for name, viewport in VIEWPORTS.items():
                page = browser.new_page(viewport=viewport, locale="nl-BE")
                page.goto(f"{web.url}/activiteiten")
                page.fill("#q", "TAALCAFE")  # no accent, capitals: still found
                page.locator("#q").press("Enter")
                page.wait_for_url("**q=TAALCAFE**")
                text = page.inner_text("main")
                assert "We vonden 1 activiteit." in text and "Taalcafé in de bibliotheek" in text
                assert "Kookcafé" not in text

                # The form caps at 200 characters; eleven words get through it and are refused.
                resp = page.goto(f"{web.url}/activiteiten?gemeente=Ieper&q="
                                 + "+".join(["taal"] * 11))
                assert resp is not None and resp.status == 422
                assert "Je zoekopdracht is te lang" in page.inner_text("h1")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], f"422 page is {width}px wide at {name}"
                page.screenshot(path=str(ARTIFACTS / f"public-search-too-long-{name}.png"),
                                full_page=True)
                page.get_by_role("link", name="Opnieuw zoeken").click()
                page.wait_for_url("**/activiteiten?gemeente=Ieper")
                assert "We vonden 2 activiteiten." in page.inner_text("main")
                page.close()
        finally:
            browser.close()


def test_a_newcomer_over_the_rate_limit_gets_a_dutch_page_in_chromium(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    sync_playwright = playwright_or_skip()
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    _publish(app, [make_event(1, title="Praatcafé", start="2026-12-12T14:00:00+01:00",
                              end="2026-12-12T16:00:00+01:00")], clock)
    # A burst of 4, refilled once a minute: nothing comes back while the test runs.
    web_config = app.config.web.model_copy(update={"public_rate_limit_per_minute": 1,
                                                   "public_rate_limit_burst": 4})
    app = replace(app, config=app.config.model_copy(update={"web": web_config}))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with WebServer(app) as web, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(locale="nl-BE")
            for _ in range(4):
                resp = page.goto(f"{web.url}/activiteiten?q=praat")
                assert resp is not None and resp.status == 200
            resp = page.goto(f"{web.url}/activiteiten?q=praat")
            assert resp is not None and resp.status == 429
            for name, viewport in VIEWPORTS.items():
                page.set_viewport_size(viewport)
                assert "Even geduld" in page.inner_text("h1")
                assert page.get_by_role("link", name="Opnieuw proberen").is_visible()
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], f"429 page is {width}px wide at {name}"
                page.screenshot(path=str(ARTIFACTS / f"public-te-veel-vragen-{name}.png"),
                                full_page=True)
        finally:
            browser.close()
