"""The outbox relay: delivery, retry with backoff through an SMTP outage, giving up, claiming."""
# ruff: noqa: F811 - the `world` fixture imported from tests.support.mail is used as a parameter

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from sync.adapters import tables as t
from sync.service import outbox_admin
from sync.service.outbox import Delivery, OutboxRelay, backoff_seconds
from sync.service.outbox_admin import OUTBOX_MAX_ATTEMPTS
from tests.support.mail import world as world  # noqa: F401 - the fixture
from tests.support.places import IEPER, ieper, poperinge


def outbox_rows(engine, topic="email.send"):
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.outbox).where(t.outbox.c.topic == topic)
                                 .order_by(t.outbox.c.id)))


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_seconds(n, 30, 600) for n in (1, 2, 3, 4, 5, 6)] == [30, 60, 120, 240, 480,
                                                                          600]


def test_smtp_outage_keeps_messages_with_attempts_then_delivers_each_once(world, smtp):
    world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync([ieper(1), ieper(2), poperinge(3)])
    world.relay()  # activity events: nobody is in immediate mode, so they are just done
    assert world.digest().mails == 2
    smtp.stop()
    failed = world.relay()
    assert failed.delivered == 0 and failed.failed == 1  # the rest waits, untouched
    rows = outbox_rows(world.engine)
    assert [r.attempts for r in rows] == [1, 0]
    assert rows[0].delivered_at is None and "Connection refused" in rows[0].last_error
    assert rows[0].available_at == world.clock() + timedelta(seconds=60)
    # Still down a minute later: the second attempt waits twice as long.
    world.clock.advance(seconds=61)
    world.relay()
    rows = outbox_rows(world.engine)
    assert rows[0].attempts == 2
    assert rows[0].available_at == world.clock() + timedelta(seconds=120)
    # Back up: the untried message goes at once, the failed one when its backoff has passed.
    smtp.start()
    assert world.relay().delivered == 1
    world.clock.advance(seconds=121)
    done = world.relay()
    assert done.delivered == 1 and done.failed == 0
    assert world.relay().delivered == 0
    rows = outbox_rows(world.engine)
    assert all(r.delivered_at is not None for r in rows)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["ann@ieper.test",
                                                            "regio@ikdoemee.test"]
    # Delivered bodies (they hold live link tokens) are not kept.
    assert rows[0].payload["text"] == "" and rows[0].payload["body_removed"] is True
    assert rows[0].payload["subject"]


def test_a_message_that_keeps_failing_gives_up_stays_visible_and_can_be_retried(world, smtp):
    world.moderator("Ann", "ann@ieper.test", IEPER)
    world.sync([ieper(1)])
    world.relay()
    world.digest()
    smtp.stop()
    for _ in range(OUTBOX_MAX_ATTEMPTS + 2):
        world.relay()
        world.clock.advance(hours=2)
    [row] = outbox_rows(world.engine)
    assert row.attempts == OUTBOX_MAX_ATTEMPTS and row.delivered_at is None
    with world.engine.connect() as conn:
        dead = outbox_admin.list_messages(conn, outbox_admin.DEAD)
    assert [d["id"] for d in dead] == [row.id]
    smtp.start()
    assert world.relay().delivered == 0  # dead until an admin retries it
    with world.engine.begin() as conn:
        outbox_admin.retry(conn, world.clock(), all_dead=True)
    assert world.relay().delivered == 1
    assert len(smtp.received) == 1


def test_a_failing_handler_rolls_back_its_own_writes_only(world):
    calls = []

    def flaky(d: Delivery) -> None:
        calls.append(d.outbox_id)
        d.conn.execute(t.outbox.insert().values(topic="side.effect", payload={},
                                                created_at=d.now, available_at=d.now))
        if len(calls) == 1:
            raise RuntimeError("webhook down")

    with world.engine.begin() as conn:
        conn.execute(t.outbox.insert().values(topic="test.flaky", payload={"n": 1},
                                              created_at=world.clock(), available_at=world.clock()))
    relay = OutboxRelay(world.engine, world.clock, handlers={"test.flaky": flaky},
                        backoff_initial=0)
    first = relay.run_once()
    assert first.failed == 1 and outbox_rows(world.engine, "side.effect") == []
    second = relay.run_once()
    assert second.delivered == 2  # the retried message and the side effect it wrote
    [row] = outbox_rows(world.engine, "test.flaky")
    assert row.attempts == 2 and row.delivered_at is not None and row.last_error is not None


def test_two_relays_at_once_deliver_every_message_exactly_once(world, smtp):
    for n in range(12):
        world.moderator(f"Mod {n}", f"mod{n}@ieper.test", IEPER)
    world.sync([ieper(1), ieper(2)])
    world.relay()
    assert world.digest().mails == 12  # Ieper has moderators: the fallback gets nothing
    relays = [world.app.relay() for _ in range(2)]
    barrier = threading.Barrier(2)

    def go(r: OutboxRelay) -> None:
        barrier.wait()
        r.run_once()

    threads = [threading.Thread(target=go, args=(r,)) for r in relays]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    ids = Counter(r.message["Message-ID"] for r in smtp.received)
    assert len(ids) == 12 and set(ids.values()) == {1}
    assert all(r.delivered_at is not None for r in outbox_rows(world.engine))
