"""Moderation pages over HTTP: item and queue links, decisions, corrections, undo, bulk."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from sync.adapters import tables as t
from sync.service.review import BULK_MAX
from tests.builders import changed
from tests.support.moderation import World, hidden, item_path, queue_path
from tests.support.moderation import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, POPERINGE, ieper, poperinge

# ---------------------------------------------------------------------------------- tests


def test_item_page_shows_the_activity_as_the_catalogue_will(world: World) -> None:
    ann = world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    world.sync(ieper(1, title="Praatcafé in de bib", labels=("één taalicoon", "twee taaliconen")))
    item = world.items()[0]
    page = world.client.get(item_path(world.item_token(ann, item.id)))
    assert page.status_code == 200
    html = page.text
    assert "Praatcafé in de bib" in html
    assert "Je beslist als Ann Peeters (ann@ieper.test)" in html
    assert "maandag 1 februari 2027, 18.00 tot 20.00 uur" in html  # Europe/Brussels, Dutch
    assert "Bibliotheek" in html and "Weverijstraat 1" in html and "Gemeente Ieper" in html
    assert "Je begrijpt of spreekt nog weinig Nederlands." in html  # level 1 meaning
    assert "Cursus" in html and "Gratis" in html and "Vzw Taal" in html
    # The link is the page for people on uitinvlaanderen.be, not the API's JSON document.
    assert "https://www.uitinvlaanderen.be/agenda/e/praatcafe-in-de-bib/" in html
    assert "https://io.uitdatabank.be/event/" not in html
    for button in ("Goedkeuren", "Afkeuren", "Goedkeuren met correcties"):
        assert f">{button}<" in html or f"<summary>{button}</summary>" in html
    assert 'name="language_level"' in html  # several levels: the moderator may pick one
    assert page.headers["cache-control"] == "no-store"


def test_approve_by_item_link_publishes_logs_and_uses_the_link(world: World) -> None:
    ann = world.moderator("Ann Peeters", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    token = world.item_token(ann, item.id)
    world.client.headers["user-agent"] = "Mozilla/5.0 test"
    done = world.decide(item_path(token), "goedkeuren", item.id, item.lock_version)
    assert done.status_code == 200, done.text
    assert "Opgeslagen" in done.text and "Terugdraaien" in done.text
    after = world.item(item.id)
    assert after.status == "approved" and after.activity_state == "published"
    assert after.decided_by == "ann@ieper.test"
    assert world.used_at(token) is not None
    [row] = world.log()
    assert (row.via, row.scope_used, row.decision) == ("link", "own", "approve")
    assert (row.before_state, row.after_state, row.moderator_id) == ("pending", "published", ann)
    assert row.link_token_id is not None and row.ip == "testclient"
    assert row.user_agent == "Mozilla/5.0 test"
    [event] = world.outbox("review.decided")
    assert event.payload["decision"] == "approve"
    # The link is single use: opening it again shows the generic page.
    assert world.client.get(item_path(token)).status_code == 403


def test_reject_needs_a_reason_and_stores_label_and_text(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    path = item_path(world.item_token(ann, item.id))
    missing = world.decide(path, "afkeuren", item.id, item.lock_version, reason_code="andere")
    assert missing.status_code == 400 and "Geef een reden op" in missing.text
    assert world.item(item.id).status == "open"
    ok = world.decide(path, "afkeuren", item.id, item.lock_version, reason_code="dubbel",
                      reason_text="Staat al in de catalogus als Praatcafé 7.")
    assert ok.status_code == 200
    after = world.item(item.id)
    assert after.status == "rejected" and after.activity_state == "rejected"
    assert after.decision_reason == ("Dubbel: dit aanbod bestaat al. Staat al in de catalogus "
                                     "als Praatcafé 7.")
    assert world.log()[0].reason == after.decision_reason


def test_approve_with_corrections_changes_the_published_version_only(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1, labels=("één taalicoon", "drie taaliconen")))
    item = world.items()[0]
    path = item_path(world.item_token(ann, item.id))
    done = world.decide(path, "corrigeren", item.id, item.lock_version,
                        activity_types=["Ontmoeting", "Cursus"], language_level="3")
    assert done.status_code == 200, done.text
    with world.engine.connect() as conn:
        a = conn.execute(sa.select(t.activities)).one()
        data = conn.execute(sa.select(t.activity_versions.c.data).where(
            t.activity_versions.c.id == a.approved_version_id)).scalar_one()
    assert a.state == "published" and a.approved_version_id != item.version_id
    assert data["activity_types"] == ["Cursus", "Ontmoeting"] and data["language_levels"] == [3]
    assert world.log()[0].corrections == {"activity_types": ["Cursus", "Ontmoeting"],
                                          "language_levels": [3]}
    # The feed did not change: the next sync leaves the corrected publication alone.
    world.sync(ieper(1, labels=("één taalicoon", "drie taaliconen")))
    assert world.items() == []
    public = world.client.get("/api/activities").json()
    assert public["items"][0]["activity_types"] == ["Cursus", "Ontmoeting"]


def test_a_single_wrong_level_from_the_feed_can_be_corrected(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    page = world.client.get(item_path(world.item_token(ann, item.id)))
    assert 'name="language_level"' in page.text and "Niet veranderen (1)" in page.text
    done = world.decide(item_path(world.item_token(ann, item.id)), "corrigeren", item.id,
                        item.lock_version, activity_types=["Cursus"], language_level="2")
    assert done.status_code == 200 and world.item(item.id).status == "approved"
    assert world.log()[0].corrections == {"activity_types": ["Cursus"], "language_levels": [2]}
    bad = ieper(2)
    world.sync(bad)
    other = world.items()[0]
    refused = world.decide(item_path(world.item_token(ann, other.id)), "corrigeren", other.id,
                           other.lock_version, activity_types=["Cursus"], language_level="7")
    assert refused.status_code == 400 and world.item(other.id).status == "open"


def test_changed_item_shows_the_diff_against_the_approved_version(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    doc = ieper(1, title="Praatcafé")
    world.sync(doc)
    first = world.items()[0]
    world.decide(item_path(world.item_token(ann, first.id)), "goedkeuren", first.id,
                 first.lock_version)
    world.sync(changed(doc, name={"nl": "Praatcafé op dinsdag"},
                       modified="2026-11-21T10:00:00+00:00"))
    item = world.items()[0]
    assert item.kind == "changed"
    html = world.client.get(item_path(world.item_token(ann, item.id))).text
    assert "Wat is er veranderd?" in html
    assert "<del>Praatcafé</del>" in html and "<ins>Praatcafé op dinsdag</ins>" in html
    assert "in de catalogus: Gepubliceerd" in html


def test_withdrawn_item_says_why_and_only_confirms(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    doc = ieper(1)
    world.sync(doc)
    first = world.items()[0]
    world.decide(item_path(world.item_token(ann, first.id)), "goedkeuren", first.id,
                 first.lock_version)
    world.sync(changed(doc, workflowStatus="DELETED", modified="2026-11-21T10:00:00+00:00"))
    item = world.items()[0]
    assert item.kind == "withdrawn"
    path = item_path(world.item_token(ann, item.id))
    html = world.client.get(path).text
    assert "Verwijderd in UiTdatabank." in html and "Intrekking bevestigen" in html
    assert ">Goedkeuren<" not in html
    wrong = world.decide(path, "goedkeuren", item.id, item.lock_version)
    assert wrong.status_code == 400 and world.item(item.id).status == "open"
    ok = world.decide(path, "bevestigen", item.id, item.lock_version)
    assert ok.status_code == 200
    after = world.item(item.id)
    assert after.status == "confirmed" and after.activity_state == "withdrawn"
    assert world.log()[-1].decision == "confirm"


@pytest.mark.parametrize("reason,text", [
    ("cancelled", "Geannuleerd door de organisator."),
    ("outside_region", "Verhuisd naar een plaats buiten de Westhoek."),
])
def test_withdrawal_reasons_in_dutch(world: World, reason: str, text: str) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    doc = ieper(1)
    world.sync(doc)
    if reason == "cancelled":
        world.sync(changed(doc, status={"type": "Unavailable"},
                           modified="2026-11-21T10:00:00+00:00"))
    else:
        gone = changed(doc, modified="2026-11-21T10:00:00+00:00")
        gone["location"]["address"]["nl"].update(postalCode="9000", addressLocality="Gent")
        world.sync(gone)
    item = world.items()[-1]
    assert item.kind == "withdrawn"
    assert text in world.client.get(item_path(world.item_token(ann, item.id))).text


def test_undo_restores_the_previous_state_within_the_window(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    token = world.item_token(ann, item.id)
    done = world.decide(item_path(token), "goedkeuren", item.id, item.lock_version)
    undo = world.post(item_path(token) + "/terugdraaien",
                      {"csrf": hidden(done.text, "csrf"),
                       "decision_id": hidden(done.text, "decision_id")})
    assert undo.status_code == 200 and "teruggedraaid" in undo.text
    after = world.item(item.id)
    assert after.status == "open" and after.activity_state == "pending"
    assert after.decided_by is None and world.used_at(token) is None
    assert [r.decision for r in world.log()] == ["approve", "undo"]
    assert world.log()[1].undo_of_id == world.log()[0].id
    assert [e.payload["decision"] for e in world.outbox("review.decided")] == ["approve", "undo"]
    # The same link decides anew, with the new version.
    again = world.decide(item_path(token), "afkeuren", item.id, after.lock_version,
                         reason_code="ongepast")
    assert again.status_code == 200 and world.item(item.id).status == "rejected"


def test_undo_after_the_window_is_refused(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    token = world.item_token(ann, item.id)
    done = world.decide(item_path(token), "goedkeuren", item.id, item.lock_version)
    world.clock.advance(minutes=11)
    undo = world.post(item_path(token) + "/terugdraaien",
                      {"csrf": hidden(done.text, "csrf"),
                       "decision_id": hidden(done.text, "decision_id")})
    assert undo.status_code == 409 and "voorbij" in undo.text
    assert world.item(item.id).status == "approved"


def test_undo_of_a_correction_restores_the_earlier_publication(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    doc = ieper(1)
    world.sync(doc)
    first = world.items()[0]
    world.decide(item_path(world.item_token(ann, first.id)), "goedkeuren", first.id,
                 first.lock_version)
    world.sync(changed(doc, name={"nl": "Nieuw"}, modified="2026-11-21T10:00:00+00:00"))
    item = world.items()[0]
    token = world.item_token(ann, item.id)
    done = world.decide(item_path(token), "corrigeren", item.id, item.lock_version,
                        activity_types=["Workshop"])
    world.post(item_path(token) + "/terugdraaien",
               {"csrf": hidden(done.text, "csrf"), "decision_id": hidden(done.text, "decision_id")})
    with world.engine.connect() as conn:
        a = conn.execute(sa.select(t.activities)).one()
    assert a.state == "published" and a.approved_version_id == first.version_id


def test_queue_page_lists_own_items_soonest_first_with_counts(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1, title="Later", start="2027-03-01T18:00:00+01:00",
                     end="2027-03-01T20:00:00+01:00"),
               ieper(2, title="Eerst", start="2027-01-10T10:00:00+01:00",
                     end="2027-01-10T12:00:00+01:00"),
               poperinge(3, title="Elders"))
    page = world.client.get(queue_path(world.queue_token(ann)))
    assert page.status_code == 200
    html = page.text
    assert html.index("Eerst") < html.index("Later") and "Elders" not in html
    assert "Nieuw: <strong>2</strong>" in html and "Geselecteerde goedkeuren" in html


def test_bulk_approve_selected_items_and_undo_them(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1), ieper(2), ieper(3))
    items = world.items()
    path = queue_path(world.queue_token(ann))
    page = world.client.get(path)
    picked = [f"{i.id}:{i.lock_version}" for i in items[:2]]
    done = world.post(path + "/goedkeuren", {"csrf": hidden(page.text, "csrf"), "item": picked})
    assert done.status_code == 200 and "Deze 2 activiteiten zijn goedgekeurd" in done.text
    assert [world.item(i.id).status for i in items] == ["approved", "approved", "open"]
    assert {r.via for r in world.log()} == {"page"}
    ids = re.findall(r'name="decision_id" value="(\d+)"', done.text)
    undo = world.post(path + "/terugdraaien", {"csrf": hidden(page.text, "csrf"),
                                               "decision_id": ids})
    assert undo.status_code == 200 and "2 beslissingen teruggedraaid" in undo.text
    assert [world.item(i.id).status for i in items] == ["open", "open", "open"]


def test_bulk_approve_skips_stale_and_foreign_items(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.moderator("Piet", "piet@poperinge.test", POPERINGE)
    world.sync(ieper(1), poperinge(2))
    mine, theirs = world.items()
    path = queue_path(world.queue_token(ann))
    csrf = hidden(world.client.get(path).text, "csrf")
    done = world.post(path + "/goedkeuren", {"csrf": csrf, "item": [
        f"{mine.id}:{mine.lock_version + 5}", f"{theirs.id}:{theirs.lock_version}"]})
    assert done.status_code == 200 and "Niet goedgekeurd" in done.text
    assert world.item(mine.id).status == "open" and world.item(theirs.id).status == "open"


def test_queue_item_page_decides_within_scope(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1), ieper(2))
    item = world.items()[0]
    token = world.queue_token(ann)
    path = f"{queue_path(token)}/item/{item.id}"
    done = world.decide(path, "goedkeuren", item.id, item.lock_version)
    assert done.status_code == 200 and world.item(item.id).status == "approved"
    assert f'href="{queue_path(token)}"' in done.text
    # The queue link stays valid after a decision.
    assert world.client.get(queue_path(token)).status_code == 200


def test_fallback_moderator_decides_unmoderated_municipalities(world: World) -> None:
    world.moderator("Ann", "ann@ieper.test", IEPER)
    regio = world.fallback()
    world.sync(ieper(1), poperinge(2))
    ieper_item, pop_item = world.items()
    token = world.queue_token(regio)
    html = world.client.get(queue_path(token)).text
    assert "Praatcafé 2" in html and "Praatcafé 1" not in html
    ok = world.decide(f"{queue_path(token)}/item/{pop_item.id}", "goedkeuren", pop_item.id,
                      pop_item.lock_version)
    assert ok.status_code == 200
    assert world.log()[0].scope_used == "fallback"
    no = world.client.get(f"{queue_path(token)}/item/{ieper_item.id}")
    assert no.status_code == 403


def ann_with_one_item(world: World) -> tuple[int, Any]:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    return ann, world.items()[0]


def dutch_refusal(resp: Any, status: int, back: str) -> None:
    """A Dutch page with a way back, not the framework's English JSON."""
    assert resp.status_code == status, resp.text[:200]
    assert resp.headers["content-type"].startswith("text/html")
    assert 'lang="nl-BE"' in resp.text and "Dat gaat niet" in resp.text
    assert f'href="{back}">Terug</a>' in resp.text


def test_too_many_too_large_or_foreign_bulk_forms_get_a_dutch_page_and_decide_nothing(
        world: World) -> None:
    ann, item = ann_with_one_item(world)
    mine = f"{item.id}:{item.lock_version}"
    path = queue_path(world.queue_token(ann))
    csrf = hidden(world.client.get(path).text, "csrf")
    many = [mine] + [f"{n}:1" for n in range(10_000, 10_000 + BULK_MAX)]
    dutch_refusal(world.post(path + "/goedkeuren", {"csrf": csrf, "item": many}), 413, path)
    dutch_refusal(world.post(path + "/goedkeuren", {"csrf": csrf, "item": mine,
                                                    "x": "a" * 70_000}), 413, path)
    dutch_refusal(world.client.post(path + "/bevestigen", json={"csrf": csrf, "item": [mine]}),
                  415, path)
    for bad in ("\u0663:1", "9" * 25 + ":1", "-1:1", f"{item.id}:x", f"{item.id}"):
        got = world.post(path + "/goedkeuren", {"csrf": csrf, "item": [mine, bad]})
        dutch_refusal(got, 422, path)
    assert world.item(item.id).status == "open" and world.log() == []


def test_a_thousand_items_at_once_is_still_accepted(world: World) -> None:
    ann, item = ann_with_one_item(world)
    path = queue_path(world.queue_token(ann))
    csrf = hidden(world.client.get(path).text, "csrf")
    others = [f"{n}:1" for n in range(10_000, 10_000 + BULK_MAX - 1)]  # unknown: skipped
    picked = [f"{item.id}:{item.lock_version}", *others]
    done = world.post(path + "/goedkeuren", {"csrf": csrf, "item": picked})
    assert done.status_code == 200 and world.item(item.id).status == "approved"


def test_item_and_undo_forms_with_malformed_ids_get_a_dutch_page(world: World) -> None:
    ann, item = ann_with_one_item(world)
    token = world.item_token(ann, item.id)
    csrf = hidden(world.client.get(item_path(token)).text, "csrf")
    for field, value in (("item_id", "9" * 25), ("item_id", "\u0663"), ("lock_version", "1e3")):
        form = {"csrf": csrf, "item_id": str(item.id), "lock_version": str(item.lock_version),
                "action": "goedkeuren", field: value}
        dutch_refusal(world.post(item_path(token), form), 422, item_path(token))
    undo = world.post(item_path(token) + "/terugdraaien",
                      {"csrf": csrf, "decision_id": "9" * 25})
    dutch_refusal(undo, 422, item_path(token))
    assert world.item(item.id).status == "open" and world.log() == []
    # A correction whose level is not a number is refused whole, not approved without it.
    for level in ("abc", "\u0663"):
        form = {"csrf": csrf, "item_id": str(item.id), "lock_version": str(item.lock_version),
                "action": "corrigeren", "activity_types": "Cursus", "language_level": level}
        dutch_refusal(world.post(item_path(token), form), 422, item_path(token))
    assert world.item(item.id).status == "open" and world.log() == []
    # The page after a decision reads ids from its address: nonsense there shows nothing.
    world.decide(item_path(token), "goedkeuren", item.id, item.lock_version)
    shown = world.client.get(item_path(token) + "/klaar?b=" + "9" * 25 + "&s=" + "9" * 25 + ":x")
    assert shown.status_code == 200
