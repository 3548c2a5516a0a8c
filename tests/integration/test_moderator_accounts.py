"""Joining by e-mail link, preferences by link, insight, and the Dutch pages around them."""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
import structlog
from typer.testing import CliRunner

from sync.adapters import tables as t
from sync.entrypoints.cli import app as cli_app
from sync.service import accounts
from sync.service import moderators as mods
from tests.support.apps import ROOT
from tests.support.moderation import FALLBACK, World, hidden, queue_path
from tests.support.moderation import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, POPERINGE, ieper

JOIN = {"name": "Lotte Vermeulen", "email": "lotte@poperinge.test",
        "municipality": [POPERINGE, IEPER], "organisation": "Bibliotheek Poperinge",
        "motivation": "Ik begeleid er een praatgroep Nederlands."}


def mails(w: World, to: str | None = None) -> list[dict[str, Any]]:
    rows = [dict(r.payload) for r in w.outbox("email.send")]
    return [r for r in rows if to is None or r["to"] == to]


def link_in(mail: dict[str, Any], path: str) -> str:
    found = re.search(rf"http://testserver({re.escape(path)}[A-Za-z0-9_-]+)", mail["text"])
    assert found, mail["text"]
    return found.group(1)


def join(w: World, **changes: Any) -> Any:
    form = w.client.get("/moderatie/aanmelden")
    return w.post("/moderatie/aanmelden", {"csrf": hidden(form.text, "csrf"), **JOIN, **changes})


def request_row(w: World) -> Any:
    with w.engine.connect() as conn:
        return conn.execute(sa.select(t.moderator_requests)
                            .order_by(t.moderator_requests.c.id.desc())).first()


def test_join_confirm_approve_welcome_then_the_queue(world: World) -> None:
    page = world.client.get("/moderatie/aanmelden")
    assert page.status_code == 200 and "Moderator worden" in page.text
    bad = join(world, email="geen-adres", motivation="kort")
    assert bad.status_code == 400 and "Vul een geldig e-mailadres in" in bad.text
    assert 'value="Lotte Vermeulen"' in bad.text and "Bibliotheek Poperinge" in bad.text
    assert mails(world) == []
    sent = join(world)
    assert sent.status_code == 200 and "Kijk in je mailbox" in sent.text
    assert str(sent.url).endswith("/moderatie/aanmelden/verstuurd")  # POST-redirect-GET
    [confirm] = mails(world, "lotte@poperinge.test")
    assert confirm["text"].startswith("Beste Lotte,") and "Ieper, Poperinge" in confirm["text"]
    confirm_path = link_in(confirm, "/moderatie/aanmelden/bevestigen/")
    # A scanner's GET confirms nothing.
    ask = world.client.get(confirm_path)
    assert ask.status_code == 200 and request_row(world).status == "unconfirmed"
    done = world.post(confirm_path, {"csrf": hidden(ask.text, "csrf")})
    assert done.status_code == 200 and "je adres is bevestigd" in done.text
    assert request_row(world).status == "pending"
    [to_coordinator] = mails(world, FALLBACK)  # coordinators default to the fallback
    assert "Ik begeleid er een praatgroep" in to_coordinator["text"]
    coordinate = link_in(to_coordinator, "/moderatie/aanvraag/")
    shown = world.client.get(coordinate)
    assert shown.status_code == 200 and "Lotte Vermeulen wil moderator worden" in shown.text
    csrf = hidden(shown.text, "csrf")
    no_reason = world.post(coordinate, {"csrf": csrf, "action": "afwijzen", "reason": " "})
    assert no_reason.status_code == 400 and "Geef een reden op" in no_reason.text
    ok = world.post(coordinate, {"csrf": csrf, "action": "goedkeuren"})
    assert ok.status_code == 200 and "Opgeslagen" in ok.text and "Goedgekeurd" in ok.text
    with world.engine.connect() as conn:
        lotte = mods.find(conn, "lotte@poperinge.test")
    assert lotte.notify == "daily" and set(lotte.municipalities) == {IEPER, POPERINGE}
    [welcome] = [m for m in mails(world, "lotte@poperinge.test") if m["kind"] == "welkom"]
    queue = link_in(welcome, "/moderatie/wachtrij/")
    assert "/moderatie/voorkeuren/" in welcome["text"]
    world.sync(ieper(1))
    assert "Praatcafé 1" in world.client.get(queue).text
    again = world.post(coordinate, {"csrf": csrf, "action": "afwijzen", "reason": "te laat"})
    assert again.status_code == 409 and "al beslist" in again.text


def test_deny_sends_the_reason_politely(world: World) -> None:
    join(world)
    ask_path = link_in(mails(world)[0], "/moderatie/aanmelden/bevestigen/")
    world.post(ask_path, {"csrf": hidden(world.client.get(ask_path).text, "csrf")})
    coordinate = link_in(mails(world, FALLBACK)[0], "/moderatie/aanvraag/")
    csrf = hidden(world.client.get(coordinate).text, "csrf")
    world.post(coordinate, {"csrf": csrf, "action": "afwijzen",
                            "reason": "Poperinge heeft al twee moderatoren."})
    [denied] = [m for m in mails(world, "lotte@poperinge.test") if m["kind"] == "afgewezen"]
    assert "De reden: Poperinge heeft al twee moderatoren." in denied["text"]
    with world.engine.connect() as conn:
        assert mods.list_all(conn) == []


def test_the_page_answers_the_same_for_a_known_address(world: World) -> None:
    world.moderator("Lotte", "lotte@poperinge.test", POPERINGE)
    known = join(world)
    world.moderator("Piet", "piet@ieper.test", IEPER)
    unknown = join(world, email="nieuw@ieper.test")
    assert (known.status_code, known.text) == (unknown.status_code, unknown.text)
    [to_lotte] = mails(world, "lotte@poperinge.test")
    assert to_lotte["kind"] == "al_moderator" and "/moderatie/wachtrij/" in to_lotte["text"]
    assert mails(world, "nieuw@ieper.test")[0]["kind"] == "aanmelden_bevestigen"


def test_requests_are_limited_per_address_and_per_network(world: World) -> None:
    for _ in range(accounts.PER_ADDRESS_PER_DAY):
        assert join(world).status_code == 200
    limited = join(world)
    assert limited.status_code == 429 and "te veel aanvragen" in limited.text
    for n in range(accounts.PER_IP_PER_HOUR - accounts.PER_ADDRESS_PER_DAY):
        assert join(world, email=f"ander{n}@ieper.test").status_code == 200
    assert join(world, email="nog.een@ieper.test").status_code == 429
    world.clock.advance(days=1, minutes=1)
    assert join(world).status_code == 200


def test_requests_expire_after_14_days(world: World) -> None:
    join(world)
    ask_path = link_in(mails(world)[0], "/moderatie/aanmelden/bevestigen/")
    world.clock.advance(days=14, minutes=1)
    assert world.client.get(ask_path).status_code == 403
    with world.engine.connect() as conn:
        [req] = accounts.list_requests(conn)
    assert req.state(world.clock()) == "expired"


def test_cli_lists_approves_and_denies_requests(world: World, monkeypatch: Any) -> None:
    monkeypatch.setenv("IKDOEMEE_DATABASE_URL", world.app.env.database_url)
    runner = CliRunner()

    def cli(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli_app, ["--config", str(ROOT / "config" / "ikdoemee.toml"),
                                         *args])
        assert result.exit_code == code, result.output
        return result

    try:
        join(world)
        join(world, email="tweede@ieper.test", name="Tom Tweede")
        for row in mails(world):
            path = link_in(row, "/moderatie/aanmelden/bevestigen/")
            world.post(path, {"csrf": hidden(world.client.get(path).text, "csrf")})
        listed = json.loads(cli("moderators", "requests", "list", "--json").stdout)["requests"]
        assert [(r["name"], r["status"]) for r in listed] == [
            ("Tom Tweede", "pending"), ("Lotte Vermeulen", "pending")]
        second, first = (r["id"] for r in listed)
        cli("moderators", "requests", "approve", str(first))
        cli("moderators", "requests", "deny", str(second), "--reason", "Onbekende organisatie.")
        cli("moderators", "requests", "approve", str(second), code=2)  # decided already
        cli("moderators", "requests", "deny", str(first), code=2)  # --reason missing
        statuses = {r["name"]: r["status"] for r in json.loads(
            cli("moderators", "requests", "list", "--json").stdout)["requests"]}
        assert statuses == {"Lotte Vermeulen": "approved", "Tom Tweede": "denied"}
    finally:
        structlog.reset_defaults()


def test_preferences_rhythm_absence_and_a_confirmed_new_address(world: World) -> None:
    ann = world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    token = world.queue_token(ann)
    path = f"/moderatie/voorkeuren/{token}"
    page = world.client.get(path)
    assert page.status_code == 200 and "Hoe vaak wil je e-mail?" in page.text
    csrf = hidden(page.text, "csrf")
    bad = world.post(path, {"csrf": csrf, "notify": "weekly", "weekday": "2",
                            "away_until": "gisteren", "email": "ann.nieuw@ieper.test"})
    assert bad.status_code == 400 and "Vul een datum in" in bad.text
    assert 'value="ann.nieuw@ieper.test"' in bad.text  # nothing typed is lost
    saved = world.post(path, {"csrf": csrf, "notify": "weekly", "weekday": "2",
                              "away_until": "2026-12-24", "email": ""})
    assert saved.status_code == 200 and "Je voorkeuren zijn opgeslagen." in saved.text
    with world.engine.connect() as conn:
        me = mods.get(conn, ann)
    assert (me.notify, me.digest_weekday, str(me.away_until)) == ("weekly", 2, "2026-12-24")
    moved = world.post(path, {"csrf": csrf, "notify": "daily", "weekday": "0",
                              "away_until": "", "email": "ann.nieuw@ieper.test"})
    assert "ann.nieuw@ieper.test" in moved.text and "pas als je" in moved.text
    with world.engine.connect() as conn:
        assert mods.get(conn, ann).email == "ann@ieper.test"  # not before the confirmation
    [confirm] = mails(world, "ann.nieuw@ieper.test")
    address_path = link_in(confirm, "/moderatie/adres/")
    ask = world.client.get(address_path)
    done = world.post(address_path, {"csrf": hidden(ask.text, "csrf")})
    assert done.status_code == 200 and "Je voorkeuren zijn opgeslagen." in done.text
    with world.engine.connect() as conn:
        me = mods.get(conn, ann)
    assert (me.email, me.notify, me.away_until) == ("ann.nieuw@ieper.test", "daily", None)
    assert world.client.get(path).status_code == 403  # links to the old address stop
    assert world.client.get(address_path).status_code == 403  # single use


def test_insight_counts_what_is_published_missing_and_waiting(world: World) -> None:
    ann = world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    world.sync(ieper(1), ieper(2, labels=("drie taaliconen",)), ieper(3))
    first, second, _ = world.items()
    token = world.queue_token(ann)
    for item in (first, second):
        world.clock.advance(hours=5)
        world.decide(f"{queue_path(token)}/item/{item.id}", "goedkeuren", item.id,
                     item.lock_version)
    page = world.client.get(f"/moderatie/inzicht/{token}")
    assert page.status_code == 200
    html = page.text
    assert "<strong>2</strong> activiteiten staan nu in de catalogus" in html
    assert "Taalniveau 2, 4" in html  # levels nobody offers
    assert "Vzw Taal" in html and "meestal 8 uur" in html and "Nu wacht er 1" in html


def test_dutch_pages_for_the_front_door_and_unknown_paths(world: World) -> None:
    for path in ("/moderatie", "/moderatie/"):
        front = world.client.get(path)
        assert front.status_code == 200 and "Activiteiten valideren" in front.text
        assert 'href="/moderatie/aanmelden"' in front.text
    missing = world.client.get("/moderatie/bestaat/niet")
    assert missing.status_code == 404 and "Pagina niet gevonden" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    api = world.client.get("/api/bestaat-niet")
    assert api.status_code == 404 and api.json()["title"] == "Not Found"
