"""The review state machine, without a database: open → approved | rejected | confirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.domain import catalogue as cat
from sync.domain import review as rules

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def item(kind: str = cat.KIND_NEW, status: str = cat.ITEM_OPEN, lock: int = 1,
         by: str | None = None) -> rules.ItemState:
    return rules.ItemState(kind, status, lock, by, NOW if by else None)


@pytest.mark.parametrize(("kind", "decision", "status", "state", "reason"), [
    (cat.KIND_NEW, rules.APPROVE, cat.ITEM_APPROVED, cat.PUBLISHED, False),
    (cat.KIND_CHANGED, rules.APPROVE, cat.ITEM_APPROVED, cat.PUBLISHED, False),
    (cat.KIND_NEW, rules.REJECT, cat.ITEM_REJECTED, cat.REJECTED, True),
    (cat.KIND_WITHDRAWN, rules.CONFIRM, cat.ITEM_CONFIRMED, None, False),
])
def test_each_kind_moves_as_decided(kind: str, decision: str, status: str, state: str | None,
                                    reason: bool) -> None:
    move = rules.decide(item(kind, lock=3), decision, "ann@ieper.test", 3)
    assert (move.item_status, move.activity_state, move.needs_reason, move.lock_version) == (
        status, state, reason, 4)


@pytest.mark.parametrize(("kind", "decision"), [
    (cat.KIND_WITHDRAWN, rules.APPROVE), (cat.KIND_WITHDRAWN, rules.REJECT),
    (cat.KIND_NEW, rules.CONFIRM), (cat.KIND_NEW, "publish"),
])
def test_a_decision_that_does_not_fit_the_kind_is_refused(kind: str, decision: str) -> None:
    with pytest.raises(rules.ReviewError) as err:
        rules.decide(item(kind), decision, "ann@ieper.test")
    assert not isinstance(err.value, rules.Conflict)


def test_stale_page_or_someone_first_conflicts_and_tells_a_replay() -> None:
    with pytest.raises(rules.Conflict) as stale:
        rules.decide(item(lock=2), rules.APPROVE, "ann@ieper.test", expected_lock_version=1)
    assert stale.value.status == cat.ITEM_OPEN and not stale.value.same_decision
    done = item(status=cat.ITEM_APPROVED, lock=2, by="ann@ieper.test")
    with pytest.raises(rules.Conflict) as replay:
        rules.decide(done, rules.APPROVE, "ann@ieper.test")
    assert replay.value.same_decision and replay.value.decided_by == "ann@ieper.test"
    with pytest.raises(rules.Conflict) as other:
        rules.decide(done, rules.REJECT, "ann@ieper.test")
    assert not other.value.same_decision


def test_undo_by_whom_and_until_when() -> None:
    rules.check_undo_by(decision=rules.APPROVE, taken_by=1, actor_id=1, by_cli=False)
    rules.check_undo_by(decision=rules.APPROVE, taken_by=1, actor_id=None, by_cli=True)
    for decision, actor in ((rules.APPROVE, 2), (rules.UNDO, 1)):
        with pytest.raises(rules.UndoError):
            rules.check_undo_by(decision=decision, taken_by=1, actor_id=actor, by_cli=False)
    window = timedelta(minutes=10)
    rules.check_undo_time(taken_at=NOW, now=NOW + window, window=window)
    with pytest.raises(rules.UndoError):
        rules.check_undo_time(taken_at=NOW, now=NOW + window + timedelta(seconds=1),
                              window=window)
    same = {"decision": rules.APPROVE, "item_status": cat.ITEM_APPROVED, "item_lock": 2,
            "decided_lock": 2, "activity_state": cat.PUBLISHED, "after_state": cat.PUBLISHED,
            "approved_version": 7, "after_version": 7, "newer_open": False}
    assert rules.unchanged_since(**same)
    assert not rules.unchanged_since(**{**same, "newer_open": True})
    assert not rules.unchanged_since(**{**same, "item_lock": 3})
