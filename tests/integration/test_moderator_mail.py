"""Mail that arrives and respects its reader: priority, size, greeting, unsubscribe, rhythm."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sync.service import moderators as mods
from sync.service import notify
from tests.support.mail import BASE_URL, SmtpSink, World, bodies
from tests.support.mail import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, POPERINGE, ieper, poperinge


def events(n: int, **kw: Any) -> list[dict[str, Any]]:
    return [ieper(i, modified=f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}+00:00", **kw)
            for i in range(1, n + 1)]


def raw_header(msg: Any, name: str) -> str:
    return next(v for k, v in msg.raw_items() if k.lower() == name.lower())


def test_digest_goes_out_before_the_internal_events_of_the_sync(world: World,
                                                                 smtp: SmtpSink) -> None:
    world.sync(events(30))  # 30 activity.discovered events, older than the digest
    world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    assert world.digest().mails == 1
    relay = world.app.relay()
    relay.batch_size = 5  # far fewer than the pending internal events
    first = relay.run_once()
    assert first.mails == 1 and len(smtp.to("ann@ieper.test")) == 1
    # `notify digest --now` delivers e-mail only and counts e-mails, not events.
    world.clock.advance(days=1)
    world.sync([ieper(99, modified="2026-11-21T10:00:00+00:00")])
    world.digest()
    sent = world.app.relay().run_once(mail_only=True)
    assert (sent.delivered, sent.mails) == (1, 1)


def test_a_digest_of_60_items_stays_small_lists_40_and_points_to_the_queue(
    world: World, smtp: SmtpSink,
) -> None:
    world.sync(events(60))
    world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    report = world.digest()
    assert (report.mails, report.items) == (1, 60)
    world.relay()
    [msg] = smtp.to("ann@ieper.test")
    size = len(msg.as_bytes())
    print(f"digest of 60 items: {size} bytes")
    assert size < 90_000, size
    text, html = bodies(msg)
    assert text.startswith("Beste Ann,")
    queue_at = html.index("/moderatie/wachtrij/")
    assert queue_at < html.index("/moderatie/item/")  # the queue link comes first
    assert html.count("/moderatie/item/") == notify.DIGEST_LISTED == 40
    assert "… en nog 20 activiteiten" in text and "… en nog 20 activiteiten" in html
    assert "Taalniveau 1 · Cursus" in text  # level and type on every row
    assert f"{BASE_URL}/moderatie/voorkeuren/" in text and "/moderatie/voorkeuren/" in html
    assert f"{BASE_URL}/moderatie/inzicht/" in text
    # RFC 2369/8058: bare <https://…> (not RFC 2047-encoded) and the one-click header.
    unsubscribe = raw_header(msg, "List-Unsubscribe")
    assert unsubscribe.startswith(f"<{BASE_URL}/moderatie/afmelden/") and "=?" not in unsubscribe
    assert "<mailto:noreply@ikdoemee.test?subject=afmelden>" in unsubscribe
    assert raw_header(msg, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"


def test_weekly_digest_only_on_the_chosen_weekday(world: World, smtp: SmtpSink) -> None:
    ann = world.moderator("Ann Peeters", "ann@ieper.test", IEPER, notify_="weekly")
    today = mods.local_day(world.clock())
    with world.engine.begin() as conn:
        mods.update(conn, str(ann), now=world.clock(), digest_weekday=(today.weekday() + 2) % 7)
    world.sync([ieper(1)])
    assert world.digest().mails == 0
    world.clock.advance(days=1)
    assert world.digest().mails == 0
    world.clock.advance(days=1)
    assert world.digest().mails == 1


def test_an_absent_moderators_items_go_to_the_fallback_who_sees_why(
    world: World, smtp: SmtpSink,
) -> None:
    ann = world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    world.moderator("Piet Claeys", "piet@poperinge.test", POPERINGE)
    back = mods.local_day(world.clock()) + timedelta(days=5)
    with world.engine.begin() as conn:
        mods.update(conn, str(ann), now=world.clock(), away_until=back)
    world.sync([ieper(1), poperinge(2)])
    world.digest()
    world.relay()
    assert smtp.to("ann@ieper.test") == []
    [regio] = smtp.to("regio@ikdoemee.test")
    text, _ = bodies(regio)
    assert "Praatcafé 1" in text and "Praatcafé 2" not in text
    assert f"Ieper: Ann Peeters is afwezig tot {notify.day_month(back)}" in text
    assert back == date(2026, 11, 30)
    # Back at work: her new items are hers again.
    world.clock.advance(days=6)
    world.sync([ieper(3, modified="2026-11-26T10:00:00+00:00")])
    world.digest()
    world.relay()
    assert len(smtp.to("ann@ieper.test")) == 1
