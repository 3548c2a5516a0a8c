"""Moderator mail against a real SMTP server on loopback: digest, immediate, fallback, reminders."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.adapters import tables as t
from sync.service import links, notify
from sync.service import moderators as mods
from tests.builders import changed, make_event
from tests.support.mail import BASE_URL, bodies
from tests.support.mail import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, POPERINGE, ieper, poperinge


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------------- tests


def test_digest_lists_new_changed_and_withdrawn_soonest_first_with_links(world, smtp):
    world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    later = ieper(1, title="Later praatcafé", start="2027-03-01T18:00:00+01:00",
                  end="2027-03-01T20:00:00+01:00")
    soon = ieper(2, title="Snel praatcafé", start="2027-01-10T10:00:00+01:00",
                 end="2027-01-10T12:00:00+01:00")
    gone = ieper(3, title="Wandeling", start="2027-02-01T09:00:00+01:00",
                 end="2027-02-01T12:00:00+01:00")
    elsewhere = poperinge(4, title="Hopfeest")
    world.sync([later, soon, gone, elsewhere])
    # Approve one, then change it: a "changed" item; delete another: a "withdrawn" item.
    from sync.service.review import APPROVE, decide_review
    with world.app.uow() as uow:
        first = uow.catalogue.queue(IEPER)[0]
        decide_review(uow, first.id, APPROVE, moderator="ann@ieper.test", now=world.clock())
        uow.commit()
    world.sync([changed(soon, name={"nl": "Snel praatcafé (nieuw uur)"},
                        modified="2026-11-21T10:00:00+00:00"),
                changed(gone, workflowStatus="DELETED", modified="2026-11-21T10:00:00+00:00")])

    report = world.digest()
    assert report.mails == 2  # Ann, and the fallback moderator for Poperinge
    world.relay()
    [msg] = smtp.to("ann@ieper.test")
    assert msg["To"].addresses[0].username == "ann"
    assert "te valideren" in msg["Subject"]
    assert msg["List-Unsubscribe"].startswith(f"<{BASE_URL}/moderatie/afmelden/")
    assert "mailto:noreply@ikdoemee.test" in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = bodies(msg)
    assert text.startswith("Beste Ann,")
    assert "Vriendelijke groet,\nhet ikdoemee-team Westhoek" in text
    assert "Beste Ann," in html and "het ikdoemee-team Westhoek" in html
    # Soonest activity first, each kind labelled, Poperinge not in Ann's mail.
    order = [text.index(x) for x in ("Snel praatcafé (nieuw uur)", "Wandeling", "Later praatcafé")]
    assert order == sorted(order)
    assert "[Gewijzigd] Snel praatcafé" in text and "[Ingetrokken] Wandeling" in text
    assert "[Nieuw] Later praatcafé" in text and "Verwijderd in UiTdatabank." in text
    assert "Hopfeest" not in text
    assert "1 nieuwe activiteit, 1 gewijzigde activiteit en 1 ingetrokken activiteit" in text
    urls = links_in(text)
    item_urls = [u for u in urls if "/moderatie/item/" in u]
    queue_urls = [u for u in urls if "/moderatie/wachtrij/" in u]
    assert len(item_urls) == 3 and len(queue_urls) == 1
    assert all(u.startswith(BASE_URL + "/moderatie/") for u in item_urls + queue_urls)
    for u in item_urls:
        assert u in html
    with world.engine.connect() as conn:
        grants = [links.resolve(conn, token_of(u), world.clock()) for u in item_urls]
        queue = links.resolve(conn, token_of(queue_urls[0]), world.clock())
        open_ids = {r.id for r in conn.execute(sa.select(t.review_items.c.id).where(
            t.review_items.c.status == "open", t.review_items.c.municipality_nis == IEPER))}
    assert {g.scope for g in grants} == {"item"} and queue.scope == "queue"
    assert {g.review_item_id for g in grants} == open_ids
    # Nothing new: no second digest.
    assert world.digest().mails == 0
    # One new item: a digest with only that one.
    world.sync([ieper(5, title="Kookles", modified="2026-11-22T10:00:00+00:00")])
    assert world.digest().mails == 1
    world.relay()
    msgs = smtp.to("ann@ieper.test")
    assert len(msgs) == 2
    text2, _ = bodies(msgs[1])
    assert "Kookles" in text2 and "Wandeling" not in text2
    assert "(4 open)" in text2


def test_unmoderated_municipalities_route_to_the_fallback_moderator(world, smtp):
    world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync([ieper(1, title="In Ieper"), poperinge(2, title="In Poperinge"),
                make_event(3, postal_code="8600", locality="Diksmuide", title="In Diksmuide")])
    world.digest()
    world.relay()
    ann_text, _ = bodies(smtp.to("ann@ieper.test")[0])
    [fallback] = smtp.to("regio@ikdoemee.test")
    fb_text, _ = bodies(fallback)
    assert "In Ieper" in ann_text and "In Poperinge" not in ann_text
    assert "In Poperinge" in fb_text and "In Diksmuide" in fb_text and "In Ieper" not in fb_text
    assert fb_text.startswith("Beste moderator,")  # not "Beste regio," (the address)
    # An inactive moderator's municipality falls back too.
    with world.engine.begin() as conn:
        mods.update(conn, "ann@ieper.test", now=world.clock(), active=False)
    world.sync([ieper(4, title="Nog in Ieper", modified="2026-11-22T10:00:00+00:00")])
    world.digest()
    world.relay()
    assert len(smtp.to("ann@ieper.test")) == 1
    fb2, _ = bodies(smtp.to("regio@ikdoemee.test")[1])
    assert "Nog in Ieper" in fb2 and "In Ieper" in fb2  # Ieper's open items, now the fallback's


def test_immediate_mode_mails_each_item_when_the_relay_sees_its_event(world, smtp):
    world.moderator("Bert", "bert@ieper.test", IEPER, notify_="immediate")
    world.moderator("Carla", "carla@ieper.test", IEPER)  # daily: waits for the digest
    world.sync([ieper(1, title="Eerste"), ieper(2, title="Tweede")])
    # Pass 1 turns the activity events into mails; pass 2 (or the same pass) sends them.
    world.relay()
    world.relay()
    bert = smtp.to("bert@ieper.test")
    assert sorted(m["Subject"] for m in bert) == [
        "ikdoemee: nieuw te valideren: Eerste", "ikdoemee: nieuw te valideren: Tweede"]
    assert smtp.to("carla@ieper.test") == []
    text, _ = bodies(bert[0])
    assert len([u for u in links_in(text) if "/moderatie/item/" in u]) == 1
    # The digest does not repeat what Bert already got; Carla gets both.
    world.digest()
    world.relay()
    assert len(smtp.to("bert@ieper.test")) == 2
    assert len(smtp.to("carla@ieper.test")) == 1


def test_reminder_after_n_days_and_escalation_after_m_days_each_once(world, smtp):
    world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync([ieper(1, title="Blijft liggen")])
    world.digest()
    s = world.app.notify_settings()
    assert notify.build_reminders(world.engine, s, world.clock()).mails == 0
    world.clock.advance(days=3, minutes=1)
    assert notify.build_reminders(world.engine, s, world.clock()).mails == 1
    assert notify.build_reminders(world.engine, s, world.clock()).mails == 0  # once
    assert notify.build_escalations(world.engine, s, world.clock()).mails == 0
    world.clock.advance(days=4)
    assert notify.build_escalations(world.engine, s, world.clock()).mails == 1
    assert notify.build_escalations(world.engine, s, world.clock()).mails == 0
    world.relay()
    reminder = [m for m in smtp.to("ann@ieper.test") if m["Subject"].startswith("Herinnering")]
    assert len(reminder) == 1
    text, _ = bodies(reminder[0])
    assert "meer dan 3 dagen" in text and "Blijft liggen" in text
    [esc] = smtp.to("regio@ikdoemee.test")
    assert esc["Subject"].startswith("Escalatie: 1 activiteit wacht al meer dan 7 dagen")
    esc_text, _ = bodies(esc)
    assert "Ieper" in esc_text and "Blijft liggen" in esc_text
    [url] = [u for u in links_in(esc_text) if "/moderatie/item/" in u]
    with world.engine.connect() as conn:
        grant = links.resolve(conn, token_of(url), world.clock())
        fallback_id = conn.execute(sa.select(t.moderators.c.id).where(
            t.moderators.c.email == "regio@ikdoemee.test")).scalar_one()
    assert grant.moderator_id == fallback_id


def test_a_title_cannot_inject_mail_headers(world, smtp):
    world.moderator("Bert", "bert@ieper.test", IEPER, notify_="immediate")
    evil = "Praatcafé\r\nBcc: evil@x\r\nX-Evil: 1"
    world.sync([ieper(1, title=evil)])
    world.relay()
    world.relay()
    [got] = smtp.received
    assert got.rcpt_tos == ["bert@ieper.test"]
    msg = got.message
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert msg["Subject"].endswith("Praatcafé Bcc: evil@x X-Evil: 1")
    raw_headers = msg.as_string().split("\n\n", 1)[0]
    assert not re.search(r"^Bcc:", raw_headers, re.MULTILINE)


def every_stored_text(engine: Engine) -> list[str]:
    """Every value of every column of every table in the database, as text."""
    found: list[str] = []
    with engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(bind=conn)
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                found.extend(str(value) for value in row if value is not None)
    return found


def test_after_a_digest_run_no_working_token_is_stored_anywhere(world, smtp):
    world.moderator("Ann Peeters", "ann@ieper.test", IEPER, POPERINGE)
    world.sync([ieper(1), ieper(2), poperinge(3)])
    world.clock.advance(minutes=1)
    assert world.digest().mails == 1
    assert world.relay().mails == 1
    world.clock.advance(minutes=1)  # a fresh link after the digest (it retires the digest's)
    assert notify.write_fresh_link(world.engine, world.app.notify_settings(), "ann@ieper.test",
                                   world.clock())
    assert world.relay().mails == 1
    tokens: set[str] = set()
    for msg in smtp.to("ann@ieper.test"):
        text, html = bodies(msg)
        found = links_in(text + html + str(msg["List-Unsubscribe"] or ""))
        tokens |= {token_of(u.strip("<>\"'")) for u in found}
    with world.engine.connect() as conn:
        working = [tok for tok in tokens if _resolves(conn, tok, world.clock())]
    assert len(working) == 5  # the fresh queue link, the unsubscribe link, three item links
    stored = every_stored_text(world.engine)
    assert stored and not [tok for tok in working if any(tok in value for value in stored)]


def _resolves(conn: Any, token: str, now: datetime) -> bool:
    try:
        links.resolve(conn, token, now)
    except links.InvalidLink:
        return False
    return True


def test_the_mails_unsubscribe_link_carries_an_unsubscribe_only_token(world, smtp):
    world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    world.sync([ieper(1)])
    world.digest()
    world.relay()
    [msg] = smtp.to("ann@ieper.test")
    header = token_of(msg["List-Unsubscribe"].split(",")[0].strip().strip("<>"))
    text, _ = bodies(msg)
    footer = token_of(next(u for u in links_in(text) if "/moderatie/afmelden/" in u))
    queue = token_of(next(u for u in links_in(text) if "/moderatie/wachtrij/" in u))
    with world.engine.connect() as conn:
        scopes = {links.resolve(conn, tok, world.clock()).scope for tok in (header, footer)}
        assert scopes == {links.SCOPE_UNSUBSCRIBE}
        assert links.resolve(conn, queue, world.clock()).scope == links.SCOPE_QUEUE
        assert header not in (queue,)
