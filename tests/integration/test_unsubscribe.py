"""List-Unsubscribe: the mail's link asks, a POST (button or RFC 8058 one-click) stops mail."""

from __future__ import annotations

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.service import links, notify
from tests.builders import make_event
from tests.support.moderation import World, hidden
from tests.support.moderation import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER


def notify_mode(w: World, moderator_id: int) -> str:
    with w.engine.connect() as conn:
        return conn.execute(sa.select(t.moderators.c.notify)
                            .where(t.moderators.c.id == moderator_id)).scalar_one()


def test_get_only_asks_and_the_button_unsubscribes(world: World) -> None:
    mid = world.moderator("Ann Peeters", "ann@ieper.be", IEPER)
    token = world.queue_token(mid)
    page = world.client.get(f"/moderatie/afmelden/{token}")
    assert page.status_code == 200 and "Geen e-mails meer ontvangen?" in page.text
    assert notify_mode(world, mid) == "daily"  # a GET never changes anything
    done = world.post(f"/moderatie/afmelden/{token}", {"csrf": hidden(page.text, "csrf")})
    assert done.status_code == 200 and "Je bent afgemeld" in done.text
    assert notify_mode(world, mid) == "off"


def test_one_click_post_without_csrf_unsubscribes_and_digests_stop(world: World) -> None:
    mid = world.moderator("Ann Peeters", "ann@ieper.be", IEPER)
    token = world.queue_token(mid)
    resp = world.client.post(f"/moderatie/afmelden/{token}",
                             content=b"List-Unsubscribe=One-Click",
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200
    assert notify_mode(world, mid) == "off"
    world.sync(make_event(1))
    report = notify.build_digests(world.engine, world.app.notify_settings(), world.clock())
    assert report.mails == 0  # Ieper has its (unsubscribed) moderator: no mail for anyone


def test_bad_token_or_missing_csrf_changes_nothing(world: World) -> None:
    mid = world.moderator("Ann Peeters", "ann@ieper.be", IEPER)
    token = world.queue_token(mid)
    assert world.client.get("/moderatie/afmelden/not-a-token").status_code == 403
    refused = world.post(f"/moderatie/afmelden/{token}", {"csrf": "forged"})
    assert refused.status_code == 403
    assert notify_mode(world, mid) == "daily"


def test_an_unsubscribe_token_only_unsubscribes(world: World) -> None:
    mid = world.moderator("Ann Peeters", "ann@ieper.be", IEPER)
    world.sync(make_event(1))
    item = world.items()[0]
    with world.engine.begin() as conn:
        token = links.issue(conn, mid, links.SCOPE_UNSUBSCRIBE, world.clock(),
                            links.UNSUBSCRIBE_VALID_DAYS)
    for path in (f"/moderatie/wachtrij/{token}", f"/moderatie/wachtrij/{token}/item/{item.id}",
                 f"/moderatie/item/{token}", f"/moderatie/voorkeuren/{token}",
                 f"/moderatie/inzicht/{token}"):
        assert world.client.get(path).status_code == 403, path
    decided = world.post(f"/moderatie/wachtrij/{token}/goedkeuren",
                         {"item": f"{item.id}:{item.lock_version}"})
    assert decided.status_code == 403 and world.item(item.id).status == "open"
    page = world.client.get(f"/moderatie/afmelden/{token}")
    assert page.status_code == 200 and "/moderatie/wachtrij/" not in page.text
    resp = world.client.post(f"/moderatie/afmelden/{token}",
                             content=b"List-Unsubscribe=One-Click",
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200 and notify_mode(world, mid) == "off"
    world.clock.advance(days=links.UNSUBSCRIBE_VALID_DAYS - 1)  # still works from an old mail
    assert world.client.get(f"/moderatie/afmelden/{token}").status_code == 200
