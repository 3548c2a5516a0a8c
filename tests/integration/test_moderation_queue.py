"""The queue cleared in few taps: rows that say enough, filters, bulk, next, PRG."""

from __future__ import annotations

import re
from datetime import timedelta

from sync.service import moderators as mods
from tests.builders import changed
from tests.support.moderation import World, hidden, item_path, queue_path
from tests.support.moderation import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, POPERINGE, ieper, poperinge


def test_rows_show_level_type_organizer_and_what_changed(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    doc = ieper(1, labels=("één taalicoon", "drie taaliconen"))
    world.sync(doc)
    first = world.items()[0]
    world.decide(item_path(world.item_token(ann, first.id)), "goedkeuren", first.id,
                 first.lock_version)
    world.sync(changed(doc, name={"nl": "Praatcafé op dinsdag"},
                       modified="2026-11-21T10:00:00+00:00"))
    html = world.client.get(queue_path(world.queue_token(ann))).text
    assert "Taalniveau 1, 3 · Cursus · Vzw Taal" in html
    assert "Veranderd: Titel" in html


def test_bulk_confirm_of_withdrawals_and_a_reload_posts_nothing(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    docs = [ieper(n) for n in (1, 2, 3)]
    world.sync(*docs)
    path = queue_path(world.queue_token(ann))
    csrf = hidden(world.client.get(path).text, "csrf")
    everything = [f"{i.id}:{i.lock_version}" for i in world.items()]
    world.post(path + "/goedkeuren", {"csrf": csrf, "item": everything})
    world.sync(*[changed(d, workflowStatus="DELETED", modified="2026-11-22T10:00:00+00:00")
                 for d in docs])
    gone = world.items()
    assert {i.kind for i in gone} == {"withdrawn"}
    page = world.client.get(path + "?alles=1")
    assert page.text.count(" checked>") == 3 and "Intrekkingen bevestigen" in page.text
    picked = [f"{i.id}:{i.lock_version}" for i in gone]
    wrong = world.post(path + "/goedkeuren", {"csrf": csrf, "item": picked})
    assert "Een intrekking bevestig je met de knop" in wrong.text
    done = world.post(path + "/bevestigen", {"csrf": csrf, "item": picked})
    assert done.status_code == 200 and "Deze 3 activiteiten zijn bevestigd als ingetrokken" \
        in done.text
    assert world.items() == []
    # The result page is a GET: reloading it shows the same and decides nothing again.
    log_before = len(world.log())
    again = world.client.get(str(done.url))
    assert "Deze 3 activiteiten zijn bevestigd als ingetrokken" in again.text
    assert len(world.log()) == log_before


def test_filter_per_municipality_and_groups_for_the_fallback_with_the_absence(
    world: World,
) -> None:
    ann = world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    regio = world.fallback()
    back = mods.local_day(world.clock()) + timedelta(days=3)
    with world.engine.begin() as conn:
        mods.update(conn, str(ann), now=world.clock(), away_until=back)
    world.sync(ieper(1), poperinge(2), poperinge(3))
    path = queue_path(world.queue_token(regio))
    html = world.client.get(path).text
    assert re.search(r'<h2 class="gemeente">Ieper <span class="meta">\(1\)', html)
    assert re.search(r'<h2 class="gemeente">Poperinge <span class="meta">\(2\)', html)
    assert "Ann Peeters is afwezig tot" in html and "daarom staat Ieper in jouw wachtrij" in html
    only = world.client.get(f"{path}?gemeente={POPERINGE}").text
    assert "Praatcafé 2" in only and "Praatcafé 1" not in only
    assert f'<option value="{POPERINGE}" selected>Poperinge (2)</option>' in only
    # Ann, though away, still sees and decides her own items.
    assert "Praatcafé 1" in world.client.get(queue_path(world.queue_token(ann))).text


def test_next_after_each_decision_and_from_a_mail_link_no_dead_end(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1), ieper(2), ieper(3))
    first, second, third = world.items()
    path = queue_path(world.queue_token(ann))
    done = world.decide(f"{path}/item/{first.id}", "goedkeuren", first.id, first.lock_version)
    assert done.history[0].status_code == 303  # POST-redirect-GET
    nxt = re.search(r'href="([^"]+)">Volgende: ([^<]+)<', done.text)
    assert nxt and nxt.group(2) == "Praatcafé 2" and nxt.group(1).endswith(f"/item/{second.id}")
    # From an item link in a mail: the result page leads on to the queue's next item.
    token = world.item_token(ann, second.id)
    mailed = world.decide(item_path(token), "goedkeuren", second.id, second.lock_version)
    assert "Volgende activiteit" in mailed.text and "Naar je wachtrij" in mailed.text
    onward = world.post(item_path(token) + "/wachtrij",
                        {"csrf": hidden(mailed.text, "csrf"), "ga": "volgende"})
    assert onward.status_code == 200 and "Praatcafé 3" in onward.text
    assert f"/item/{third.id}" in str(onward.url)


def test_a_failed_reject_keeps_the_reason_and_opens_its_form(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    path = item_path(world.item_token(ann, item.id))
    long = "x" * 600
    got = world.decide(path, "afkeuren", item.id, item.lock_version, reason_code="andere",
                       reason_text=long)
    assert got.status_code == 400 and "De reden is te lang" in got.text
    assert f">{long}</textarea>" in got.text
    assert '<details id="afkeuren" open>' in got.text
    assert '<option value="andere" selected>' in got.text
