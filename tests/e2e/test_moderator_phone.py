"""Moderators on a phone, in real Chromium: every page fits 360 px, taps per queue, joining."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.adapters import tables as t
from sync.adapters.database import make_engine
from sync.adapters.mailer import SmtpMailer
from sync.bootstrap import App
from sync.domain.region import Region
from sync.service import links, notify
from sync.service import moderators as mods
from sync.settings import AppConfig, EnvSettings
from tests.builders import Clock, changed, make_event
from tests.support.apps import ROOT, AppWorld
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

IEPER, POPERINGE = "33011", "33021"
FALLBACK = "regio@ikdoemee.test"
PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 900}
LONG_URL = "https://www.ieper.be/activiteiten/praatcafe-nederlands/" + "inschrijven-" * 12


@dataclass
class Site(AppWorld):
    smtp: SmtpSink
    base: str
    taps: int = 0
    widths: dict[str, int] = field(default_factory=dict)

    def sync(self, *docs: dict[str, Any]) -> None:
        self.sync_pages(list(docs))

    def queue_link(self, moderator_id: int) -> str:
        with self.engine.begin() as conn:
            token = links.issue(conn, moderator_id, links.SCOPE_QUEUE, self.clock(), 14)
        return f"{self.base}{links.QUEUE_PATH}{token}"

    def send_mail(self) -> None:
        self.app.relay().run_once(mail_only=True)

    def mail_link(self, to: str, path: str) -> str:
        for msg in reversed(self.smtp.messages):
            if to in str(msg["To"]):
                found = re.search(rf'href="({re.escape(self.base + path)}[^"]+)"', html_body(msg))
                if found:
                    return found.group(1)
        raise AssertionError(f"no mail to {to} with a {path} link")

    def tap(self, locator: Any) -> None:
        """One tap of the moderator's thumb (what the tap counts count)."""
        self.taps += 1
        locator.click()

    def check(self, page: Any, name: str) -> None:
        """The page is no wider than the screen; a screenshot for people to look at."""
        # A tap may have started a navigation: measure the page it leads to, once loaded.
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        viewport = page.viewport_size["width"]
        self.widths[f"{name}@{viewport}"] = width
        page.screenshot(path=str(ARTIFACTS / f"{name}-{viewport}.png"), full_page=True)
        assert width <= viewport, f"{name} is {width} px wide at {viewport} px"

    def states(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.review_items.c.status, sa.func.count())
                                .group_by(t.review_items.c.status)).all()
        return {s: int(n) for s, n in rows}


@pytest.fixture
def site(database_url: str, engine: Engine, region: Region, smtp: SmtpSink,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = AppConfig.model_validate({
        "region_file": str(ROOT / "config" / "westhoek_municipalities.json"),
        "sources": [{"name": "uitdatabank", "connector": "uitdatabank",
                     "base_url": "http://127.0.0.1:9"}],
        "web": {"host": "127.0.0.1", "port": port, "base_url": base},
        "smtp": {"host": "127.0.0.1", "port": smtp.port,
                 "sender": "ikdoemee Westhoek <noreply@ikdoemee.test>", "timeout_seconds": 5},
        "notifications": {"fallback_moderators": [FALLBACK]},
        # One browser clicking through every page must not meet the per-IP limit.
        "moderation": {"rate_limit_burst": 2000, "rate_limit_per_minute": 2000},
    })
    clock = Clock()
    app = App(config=config, env=EnvSettings(database_url=database_url, secret_key="e2e"),
              engine=make_engine(database_url), region=region, clock=clock,
              mailer=SmtpMailer(config.smtp, env={}))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with WebServer(app, port):
        yield Site(app, clock, region, smtp, base)
    app.engine.dispose()


def ieper(n: int, **kw: Any) -> dict[str, Any]:
    day = 1 + n % 27
    return make_event(n, postal_code="8900", locality="Ieper",
                      modified=f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}+00:00",
                      start=f"2027-02-{day:02d}T18:00:00+01:00",
                      end=f"2027-02-{day:02d}T20:00:00+01:00", **kw)


def poperinge(n: int, **kw: Any) -> dict[str, Any]:
    kw.setdefault("modified", f"2026-11-20T11:{n % 60:02d}:00+00:00")
    return make_event(n, postal_code="8970", locality="Poperinge", **kw)


def long_description(doc: dict[str, Any]) -> dict[str, Any]:
    text = ("<p>Kom Nederlands oefenen in een kleine groep, met koffie en een vrijwilliger die "
            "je op weg helpt. " * 8 + f"Inschrijven via {LONG_URL} of bel ons.</p>"
            f"<p>Meer: <a href=\"{LONG_URL}\">{LONG_URL}</a></p>")
    out = changed(doc, description={"nl": text})
    out["contactPoint"] = {"email": ["info@vzwtaal.be"], "phone": ["057 12 34 56"],
                           "url": [LONG_URL]}
    return out


def browser_pages(pw: Any, width: dict[str, int]) -> tuple[Any, Any]:
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport=width, device_scale_factor=1,
                                  is_mobile=width["width"] < 600, has_touch=width["width"] < 600,
                                  locale="nl-BE")
    return browser, context


def test_a_queue_of_20_is_cleared_in_2_taps_and_one_by_one_in_2_taps_each(site: Site) -> None:
    sync_playwright = playwright_or_skip()
    from playwright.sync_api import expect
    site.sync(*[ieper(n) for n in range(1, 21)])
    ann = site.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    queue = site.queue_link(ann)
    with sync_playwright() as pw:
        browser, context = browser_pages(pw, PHONE)
        try:
            page = context.new_page()
            page.goto(queue)
            expect(page.locator("ul.queue li")).to_have_count(20)
            expect(page.locator("ul.queue li").first).to_contain_text("Taalniveau 1 · Cursus")
            site.check(page, "wachtrij-20")
            # Reading done: select all, approve.
            site.taps = 0
            site.tap(page.get_by_role("link", name="Alles aanduiden (20)"))
            expect(page.locator("ul.queue input:checked")).to_have_count(20)
            site.tap(page.get_by_role("button", name="Geselecteerde goedkeuren"))
            expect(page.get_by_text("Deze 20 activiteiten zijn goedgekeurd")).to_be_visible()
            bulk_taps = site.taps
            assert site.states() == {"approved": 20}
            site.check(page, "klaar-bulk")
            # A reload shows the same result; nothing is posted again.
            page.reload()
            expect(page.get_by_text("Deze 20 activiteiten zijn goedgekeurd")).to_be_visible()
            assert "Niet goedgekeurd" not in page.content()
            print(f"\nTAPS bulk: {bulk_taps} for 20 items")
            assert bulk_taps <= 3

            # One by one: open the first, then decide and go on.
            site.sync(*[ieper(n, title=f"Taalcafé {n}") for n in range(101, 106)])
            page.goto(queue)
            site.taps = 0
            site.tap(page.locator("ul.queue a").first)
            for n in range(5):
                site.check(page, "item-onebyone") if n == 0 else None
                site.tap(page.get_by_role("button", name="Goedkeuren", exact=True))
                expect(page.get_by_role("heading", name="Opgeslagen")).to_be_visible()
                if n < 4:
                    site.tap(page.get_by_role("link", name=re.compile("^Volgende: ")))
            expect(page.get_by_text("Je wachtrij is leeg. Bedankt!")).to_be_visible()
            per_item = (site.taps - 1) / 5  # the first open of the list is reading
            print(f"TAPS one by one: {site.taps} for 5 items ({per_item:.1f} per item + 1 to "
                  f"open the first)")
            assert site.states() == {"approved": 25}
            assert per_item <= 2
        finally:
            browser.close()


def _all_page_kinds(site: Site, page: Any, expect: Any) -> None:
    """Every kind of moderator page, checked at the context's width."""
    ann_id = 1
    queue = site.queue_link(ann_id)
    regio_queue = site.queue_link(2)
    with site.engine.connect() as conn:
        items = {row.title: row for row in conn.execute(
            sa.select(t.review_items.c.id, t.review_items.c.kind, t.activities.c.title)
            .join(t.activities, t.activities.c.id == t.review_items.c.activity_id)
            .where(t.review_items.c.status == "open"))}
    page.goto(f"{site.base}/moderatie")
    site.check(page, "start")
    page.goto(f"{site.base}/moderatie/bestaat-niet")
    site.check(page, "niet-gevonden")
    page.goto(f"{site.base}/moderatie/item/ongeldig-token")
    site.check(page, "ongeldig")
    page.goto(queue)
    site.check(page, "wachtrij")
    page.goto(regio_queue)
    expect(page.get_by_role("heading", name=re.compile("^Poperinge"))).to_be_visible()
    site.check(page, "wachtrij-regio")
    page.goto(f"{regio_queue}?gemeente={POPERINGE}")
    site.check(page, "wachtrij-regio-poperinge")
    long_item = items["Praatcafé met lange link"]
    page.goto(f"{queue}/item/{long_item.id}")
    approve = page.get_by_role("button", name="Goedkeuren", exact=True)
    description = page.locator("details", has_text="Beschrijving")
    # The decision comes before the (folded) description: no scrolling past it.
    assert approve.bounding_box()["y"] < description.bounding_box()["y"]
    expect(page.get_by_text("info@vzwtaal.be")).to_be_visible()
    box = approve.bounding_box()
    site.widths[f"knop-y@{page.viewport_size['width']}"] = int(box["y"])
    # On a 360 × 800 phone the button is on the first screen, without any scrolling.
    assert box["y"] + box["height"] <= page.viewport_size["height"], box
    site.check(page, "item-lang")
    page.goto(f"{queue}/item/{items['Praatcafé op dinsdag'].id}")
    expect(page.get_by_text("Wat is er veranderd?")).to_be_visible()
    site.check(page, "item-gewijzigd")
    page.goto(f"{queue}/item/{items['Geannuleerd praatcafé'].id}")
    expect(page.get_by_text("Geannuleerd door de organisator.")).to_be_visible()
    assert "Gaat door" not in page.content()
    site.check(page, "item-ingetrokken")
    # An error keeps what was typed, with its form open.
    page.goto(f"{queue}/item/{items['Praatcafé 7'].id}")
    page.get_by_text("Afkeuren", exact=True).first.click()
    page.get_by_label("Reden").select_option("andere")
    page.get_by_role("button", name="Afkeuren").click()
    expect(page.get_by_role("alert")).to_contain_text("Geef een reden op")
    expect(page.get_by_label("Reden")).to_have_value("andere")
    site.check(page, "item-fout")
    page.get_by_label("Toelichting").fill("Dit is een test.")
    page.get_by_role("button", name="Afkeuren").click()
    expect(page.get_by_role("heading", name="Opgeslagen")).to_be_visible()
    site.check(page, "klaar")
    page.get_by_role("button", name="Terugdraaien").click()
    page.goto(queue.replace("/wachtrij/", "/voorkeuren/"))
    site.check(page, "voorkeuren")
    page.goto(queue.replace("/wachtrij/", "/inzicht/"))
    site.check(page, "inzicht")
    page.goto(queue.replace("/wachtrij/", "/afmelden/"))
    site.check(page, "afmelden")
    with site.engine.begin() as conn:  # the link in the mail's List-Unsubscribe and footer
        only = links.issue(conn, ann_id, links.SCOPE_UNSUBSCRIBE, site.clock(), 60)
    page.goto(f"{site.base}{links.UNSUBSCRIBE_PATH}{only}")
    expect(page.get_by_role("button", name="Afmelden")).to_be_visible()
    assert "/moderatie/wachtrij/" not in page.content()
    assert "in jouw naam beslissen" not in page.content()  # this link decides nothing
    expect(page.get_by_text("E-mail aan Ann Peeters (ann@ieper.test)")).to_be_visible()
    site.check(page, "afmelden-eigen-link")
    # Too many at once: a Dutch page with the way back, not the framework's JSON.
    page.goto(queue)
    page.evaluate("""n => { const form = document.querySelector('form[action$="/goedkeuren"]');
        for (let i = 0; i < n; i++) { const box = document.createElement('input');
          box.type = 'hidden'; box.name = 'item'; box.value = (900000 + i) + ':1';
          form.appendChild(box); } }""", 1001)
    page.get_by_role("button", name="Geselecteerde goedkeuren").click()
    expect(page.get_by_text("hoogstens 1.000 activiteiten")).to_be_visible()
    site.check(page, "te-veel-tegelijk")
    page.get_by_role("link", name="Terug").click()
    expect(page.get_by_role("button", name="Geselecteerde goedkeuren")).to_be_visible()
    page.goto(f"{site.base}/moderatie/aanmelden")
    page.get_by_role("button", name="Aanmelding versturen").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    site.check(page, "aanmelden-fout")


def test_every_moderator_page_fits_a_phone_and_a_desktop(site: Site) -> None:
    sync_playwright = playwright_or_skip()
    from playwright.sync_api import expect
    site.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    with site.engine.begin() as conn:
        mods.ensure_fallback(conn, [FALLBACK], site.clock())
    plain = ieper(1, title="Praatcafé")
    cancelled = ieper(2, title="Geannuleerd praatcafé")
    site.sync(plain, cancelled, long_description(ieper(3, title="Praatcafé met lange link")),
              ieper(7), poperinge(50), poperinge(51),
              make_event(60, postal_code="8600", locality="Diksmuide",
                         modified="2026-11-20T12:00:00+00:00"))
    # Approve two, then the feed changes one and cancels the other.
    from sync.service import review as rv
    with site.app.uow() as uow:
        for item_id in (1, 2):
            rv.decide_review(uow, item_id, rv.APPROVE, moderator="ann@ieper.test",
                             now=site.clock())
        uow.commit()
    site.sync(changed(plain, name={"nl": "Praatcafé op dinsdag"},
                      startDate="2027-02-02T18:00:00+01:00",
                      endDate="2027-02-02T20:00:00+01:00",
                      modified="2026-11-21T10:00:00+00:00"),
              changed(cancelled, status={"type": "Unavailable", "reason": {
                  "nl": "De vrijwilliger is ziek."}}, modified="2026-11-21T10:00:01+00:00"))
    with sync_playwright() as pw:
        for width in (PHONE, DESKTOP):
            browser, context = browser_pages(pw, width)
            try:
                _all_page_kinds(site, context.new_page(), expect)
            finally:
                browser.close()
    print("\nWIDTHS " + ", ".join(f"{k}={v}" for k, v in sorted(site.widths.items())))


def test_joining_end_to_end_then_preferences_on_a_phone(site: Site) -> None:
    sync_playwright = playwright_or_skip()
    from playwright.sync_api import expect
    with site.engine.begin() as conn:
        mods.ensure_fallback(conn, [FALLBACK], site.clock())
    site.sync(poperinge(1, title="Wandeling in Poperinge"))
    with sync_playwright() as pw:
        browser, context = browser_pages(pw, PHONE)
        try:
            page = context.new_page()
            page.goto(f"{site.base}/moderatie")
            page.get_by_role("link", name="Aanmelden als moderator").click()
            page.get_by_label("Je naam").fill("Lotte Vermeulen")
            page.get_by_label("Je e-mailadres").fill("lotte@poperinge.test")
            page.get_by_label("Poperinge").check()
            page.get_by_label("Je organisatie").fill("Bibliotheek Poperinge")
            page.get_by_label("Waarom wil je moderator worden?").fill(
                "Ik begeleid er elke week een praatgroep.")
            page.get_by_role("button", name="Aanmelding versturen").click()
            expect(page.get_by_role("heading", name="Kijk in je mailbox")).to_be_visible()
            site.check(page, "aanmelden-verstuurd")
            site.send_mail()

            page.goto(site.mail_link("lotte@poperinge.test", "/moderatie/aanmelden/bevestigen/"))
            site.check(page, "aanmelden-bevestigen")
            page.get_by_role("button", name="Ja, bevestig mijn aanmelding").click()
            expect(page.get_by_text("je adres is bevestigd")).to_be_visible()
            site.send_mail()

            coordinator = context.new_page()
            coordinator.goto(site.mail_link(FALLBACK, "/moderatie/aanvraag/"))
            expect(coordinator.get_by_text("Bibliotheek Poperinge")).to_be_visible()
            site.check(coordinator, "aanvraag")
            coordinator.get_by_role("button", name="Goedkeuren").click()
            expect(coordinator.get_by_text("Opgeslagen.")).to_be_visible()
            expect(coordinator.get_by_text("Goedgekeurd door regio@ikdoemee.test")).to_be_visible()
            site.send_mail()

            welcome = next(m for m in site.smtp.messages if "welkom" in str(m["Subject"]))
            assert "lotte@poperinge.test" in str(welcome["To"])
            page.goto(site.mail_link("lotte@poperinge.test", "/moderatie/wachtrij/"))
            expect(page.get_by_text("Wandeling in Poperinge")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 360

            page.goto(site.mail_link("lotte@poperinge.test", "/moderatie/voorkeuren/"))
            page.get_by_label("Eén overzicht per week").check()
            page.get_by_label("Dag van je wekelijkse overzicht").select_option("vrijdag")
            page.get_by_label("Afwezig tot en met").fill("2026-12-24")
            page.get_by_role("button", name="Opslaan").click()
            expect(page.get_by_text("Je voorkeuren zijn opgeslagen.")).to_be_visible()
            site.check(page, "voorkeuren-opgeslagen")
        finally:
            browser.close()
    with site.engine.connect() as conn:
        lotte = mods.find(conn, "lotte@poperinge.test")
    assert (lotte.notify, lotte.digest_weekday, str(lotte.away_until)) == ("weekly", 4,
                                                                          "2026-12-24")
    assert lotte.municipalities == (POPERINGE,)
    # Away: her municipality's next item goes to the regional fallback, who is told why.
    site.sync(poperinge(2, title="Fietstocht", modified="2026-11-22T10:00:00+00:00"))
    report = notify.build_digests(site.engine, site.app.notify_settings(), site.clock())
    assert report.mails == 1
    site.send_mail()
    last = site.smtp.messages[-1]
    assert FALLBACK in str(last["To"])
    assert "Lotte Vermeulen is afwezig tot 24 december 2026" in html_body(last)

