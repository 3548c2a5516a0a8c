"""The review service: reasons, corrections, undo guards, stale versions, audit CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sync.service import links
from sync.service import review as rv
from tests.builders import changed
from tests.support.cli import InProcess
from tests.support.cli import _restore_logging as _restore_logging  # noqa: F401 - autouse
from tests.support.moderation import World
from tests.support.moderation import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, ieper

ROOT = Path(__file__).resolve().parents[2]
WINDOW = timedelta(minutes=10)


def actor(mid: int, email: str = "ann@ieper.test") -> rv.Actor:
    return rv.Actor(email, mid, rv.VIA_PAGE, scope_used=rv.SCOPE_OWN)


def test_reject_reasons() -> None:
    assert rv.reject_reason("dubbel", None) == "Dubbel: dit aanbod bestaat al."
    outside = rv.reject_reason("buiten de regio", " ligt  in\nGent ")
    assert outside.endswith("Westhoek. ligt in Gent")
    for code, text in (("andere", ""), ("onbekend", "x"), (None, "  ")):
        with pytest.raises(rv.ReviewError):
            rv.reject_reason(code, text)
    with pytest.raises(rv.ReviewError):
        rv.reject_reason("andere", "x" * 501)


def test_corrections_are_checked() -> None:
    several = {"language_levels": [1, 2]}
    assert rv.check_corrections(rv.Corrections(("Workshop", "Cursus")), several) == \
        rv.Corrections(("Cursus", "Workshop"))
    for bad in (rv.Corrections(("Dansen",)), rv.Corrections(language_level=5)):
        with pytest.raises(rv.ReviewError):
            rv.check_corrections(bad, several)
    # A single level from the feed is correctable too.
    assert rv.check_corrections(rv.Corrections(language_level=2), {"language_levels": [1]})
    assert rv.check_corrections(rv.Corrections(language_level=2), {"language_levels": []})


def test_stale_lock_version_conflicts(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    with world.app.uow() as uow, pytest.raises(rv.Conflict) as err:
        rv.decide_review(uow, item.id, rv.APPROVE, moderator="ann@ieper.test",
                         now=world.clock(), expected_lock_version=item.lock_version - 1,
                         actor=actor(ann))
    assert err.value.status == "open" and world.log() == []


def test_undo_refused_after_a_newer_sync(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    doc = ieper(1)
    world.sync(doc)
    item = world.items()[0]
    with world.app.uow() as uow:
        out = rv.decide_review(uow, item.id, rv.APPROVE, moderator="ann@ieper.test",
                               now=world.clock(), actor=actor(ann))
        uow.commit()
    world.sync(changed(doc, name={"nl": "Nieuw"}, modified="2026-11-21T10:00:00+00:00"))
    with world.app.uow() as uow, pytest.raises(rv.UndoError):
        rv.undo_decision(uow, out.decision_id or 0, actor=actor(ann), now=world.clock(),
                         window=WINDOW)


def test_undo_twice_is_refused_and_cli_may_undo_anyone(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    with world.app.uow() as uow:
        out = rv.decide_review(uow, item.id, rv.REJECT, moderator="ann@ieper.test",
                               now=world.clock(), reason_code="ongepast", actor=actor(ann))
        uow.commit()
    admin = rv.Actor("admin@ikdoemee.test", None, rv.VIA_CLI)
    with world.app.uow() as uow:
        rv.undo_decision(uow, out.decision_id or 0, actor=admin, now=world.clock(),
                         window=WINDOW)
        uow.commit()
    with world.app.uow() as uow, pytest.raises(rv.UndoError):
        rv.undo_decision(uow, out.decision_id or 0, actor=admin, now=world.clock(),
                         window=WINDOW)
    assert world.item(item.id).status == "open"
    assert world.item(item.id).activity_state == "pending"


def test_entitlement_own_and_fallback(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    regio = world.fallback()
    all_nis = [m.nis for m in world.region.municipalities]
    with world.engine.connect() as conn:
        mine = rv.entitlement(conn, ann, ["regio@ikdoemee.test"], all_nis)
        theirs = rv.entitlement(conn, regio, ["regio@ikdoemee.test"], all_nis)
    assert mine is not None and theirs is not None
    assert mine.scope_for(IEPER) == "own" and mine.fallback == frozenset()
    assert theirs.scope_for(IEPER) is None and len(theirs.fallback) == len(all_nis) - 1


def test_audit_list_json_cli(world: World, database_url: str, tmp_path: Path) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1))
    item = world.items()[0]
    with world.app.uow() as uow:
        rv.decide_review(uow, item.id, rv.REJECT, moderator="ann@ieper.test",
                         now=world.clock(), reason_code="dubbel", actor=actor(ann))
        uow.commit()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'region_file = "{ROOT / "config" / "westhoek_municipalities.json"}"\n'
                   '[[sources]]\nname = "uitdatabank"\nconnector = "uitdatabank"\n'
                   'base_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    # In this process (exit code 0 checked): a second Python costs ~1 s of CPU to start.
    [row] = InProcess(cfg, database_url).json("audit", "list")["decisions"]
    assert row["decision"] == "reject" and row["moderator_email"] == "ann@ieper.test"
    assert row["via"] == "page" and row["scope_used"] == "own"
    assert row["reason"].startswith("Dubbel")


def test_undo_through_an_item_link_only_of_what_that_link_decided(world: World) -> None:
    ann = world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync(ieper(1), ieper(2))
    first, second = world.items()
    tokens = [world.item_token(ann, i.id) for i in (first, second)]
    with world.engine.connect() as conn:
        grants = [links.resolve(conn, tok, world.clock()) for tok in tokens]
    with world.app.uow() as uow:
        done = [rv.decide_review(uow, item.id, rv.APPROVE, moderator="ann@ieper.test",
                                 now=world.clock(),
                                 actor=rv.Actor("ann@ieper.test", ann, rv.VIA_LINK,
                                                token_id=grant.token_id))
                for item, grant in zip((first, second), grants, strict=True)]
        for grant in grants:
            links.mark_used(uow.connection, grant.token_id, world.clock())
        uow.commit()
    with world.app.uow() as uow, pytest.raises(rv.UndoError):
        rv.undo_decision(uow, done[1].decision_id or 0, actor=actor(ann), now=world.clock(),
                         window=WINDOW, only_link=grants[0].token_id)
    with world.app.uow() as uow:
        rv.undo_decision(uow, done[0].decision_id or 0, actor=actor(ann), now=world.clock(),
                         window=WINDOW, only_link=grants[0].token_id)
        uow.commit()
    assert world.item(first.id).status == "open" and world.item(second.id).status == "approved"
    # The undone decision's link works again; the other one stays used.
    assert world.used_at(tokens[0]) is None and world.used_at(tokens[1]) is not None
