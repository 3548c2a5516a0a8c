"""Link tokens: random, hashed at rest, scoped, expiring, single use, revocable."""
# ruff: noqa: F811 - the `world` fixture imported from tests.support.mail is used as a parameter

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from sync.adapters import tables as t
from sync.service import links
from sync.service import moderators as mods
from tests.support.mail import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, POPERINGE, ieper, poperinge

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def item_ids(engine, nis):
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.review_items.c.id).where(
            t.review_items.c.municipality_nis == nis).order_by(t.review_items.c.id)).scalars())


@pytest.fixture
def setup(world):
    ann = world.moderator("Ann", "ann@ieper.test", IEPER, POPERINGE)
    world.sync([ieper(1), poperinge(2)])
    return world, ann, item_ids(world.engine, IEPER)[0], item_ids(world.engine, POPERINGE)[0]


def test_a_token_is_random_hashed_at_rest_and_resolves_to_its_scope(setup):
    world, ann, item, _ = setup
    with world.engine.begin() as conn:
        token = links.issue(conn, ann, links.SCOPE_ITEM, NOW, 14, review_item_id=item)
        queue = links.issue(conn, ann, links.SCOPE_QUEUE, NOW, 14)
    assert len(token) >= 43 and token != queue  # 256 bits, URL-safe
    with world.engine.connect() as conn:
        stored = list(conn.execute(sa.select(t.link_tokens.c.token_hash)).scalars())
        assert token not in stored and links.token_hash(token) in stored
        grant = links.resolve(conn, token, NOW + timedelta(days=13))
        assert (grant.moderator_id, grant.scope, grant.review_item_id) == (ann, "item", item)
        assert links.resolve(conn, queue, NOW).scope == "queue"
    assert links.item_url("https://x.test/", token) == f"https://x.test/moderatie/item/{token}"
    assert links.queue_url("https://x.test", queue) == f"https://x.test/moderatie/wachtrij/{queue}"


def test_unknown_expired_used_and_revoked_tokens_fail_alike(setup):
    world, ann, item, _ = setup
    with world.engine.begin() as conn:
        expired = links.issue(conn, ann, links.SCOPE_QUEUE, NOW - timedelta(days=15), 14)
        used = links.issue(conn, ann, links.SCOPE_ITEM, NOW, 14, review_item_id=item)
        revoked = links.issue(conn, ann, links.SCOPE_QUEUE, NOW, 14)
        grant = links.resolve(conn, used, NOW)
        assert links.mark_used(conn, grant.token_id, NOW) is True
        assert links.mark_used(conn, grant.token_id, NOW) is False  # single use
        links.revoke_moderator(conn, ann, NOW)
    errors = []
    with world.engine.connect() as conn:
        for token in ("not-a-token", "", expired, used, revoked, "x" * 500):
            with pytest.raises(links.InvalidLink) as exc:
                links.resolve(conn, token, NOW)
            errors.append(str(exc.value))
    assert set(errors) == {"invalid link"}


def test_taking_a_municipality_away_revokes_only_its_item_links(setup):
    world, ann, item_ieper, item_pop = setup
    with world.engine.begin() as conn:
        t_ieper = links.issue(conn, ann, links.SCOPE_ITEM, NOW, 14, review_item_id=item_ieper)
        t_pop = links.issue(conn, ann, links.SCOPE_ITEM, NOW, 14, review_item_id=item_pop)
        t_queue = links.issue(conn, ann, links.SCOPE_QUEUE, NOW, 14)
        mods.update(conn, "ann@ieper.test", now=NOW, municipalities=[IEPER])
    with world.engine.connect() as conn:
        links.resolve(conn, t_ieper, NOW)
        links.resolve(conn, t_queue, NOW)
        with pytest.raises(links.InvalidLink):
            links.resolve(conn, t_pop, NOW)


def test_removed_or_inactive_moderators_links_stop_working(setup):
    world, ann, item, _ = setup
    bob = world.moderator("Bob", "bob@ieper.test", IEPER)
    with world.engine.begin() as conn:
        t_ann = links.issue(conn, ann, links.SCOPE_ITEM, NOW, 14, review_item_id=item)
        t_bob = links.issue(conn, bob, links.SCOPE_QUEUE, NOW, 14)
        mods.update(conn, "ann@ieper.test", now=NOW, active=False)
        mods.remove(conn, "bob@ieper.test", NOW)
    with world.engine.connect() as conn:
        for token in (t_ann, t_bob):
            with pytest.raises(links.InvalidLink):
                links.resolve(conn, token, NOW)


def test_a_new_queue_link_retires_the_older_ones_only(setup):
    world, ann, item, _ = setup
    bob = world.moderator("Bob", "bob@ieper.test", IEPER)
    with world.engine.begin() as conn:
        old_queue = links.issue(conn, ann, links.SCOPE_QUEUE, NOW, 14)
        item_link = links.issue(conn, ann, links.SCOPE_ITEM, NOW, 14, review_item_id=item)
        unsubscribe = links.issue(conn, ann, links.SCOPE_UNSUBSCRIBE, NOW, 60)
        bobs = links.issue(conn, bob, links.SCOPE_QUEUE, NOW, 14)
        new_queue = links.issue(conn, ann, links.SCOPE_QUEUE, NOW, 14)
    with world.engine.connect() as conn:
        with pytest.raises(links.InvalidLink):
            links.resolve(conn, old_queue, NOW)
        for token in (new_queue, item_link, unsubscribe, bobs):
            links.resolve(conn, token, NOW)
        assert links.resolve(conn, unsubscribe, NOW + timedelta(days=59)).scope == "unsubscribe"
