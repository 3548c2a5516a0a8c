"""The keyset paging policy on its own: next request, overlap check, advancing the cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import FatalSourceError, TransientSourceError
from connectors.paging import MAX_RESCANS, MAX_SHORT_PAGES, KeysetPaging, Request, Step

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def ev(name: str, second: int) -> dict[str, Any]:
    return {"id": name, "second": second}


def key(member: Any) -> tuple[str, datetime] | None:
    if not isinstance(member, dict) or "id" not in member:
        return None
    return member["id"], at(member["second"])


def paging(modified: datetime | None = None, seen: tuple[str, ...] = (), *, limit: int = 4,
           window: int = 100) -> KeysetPaging:
    return KeysetPaging(modified, seen, key=key, limit=limit, window=window, name="feed",
                        show=lambda moment: moment.isoformat())


def test_a_fresh_pass_asks_for_the_first_page_from_the_beginning():
    assert paging().next_request() == Request(start=0, limit=4, modified_from=None)


def test_a_stored_cursor_rereads_its_second_from_zero():
    assert paging(at(5), ("a",)).next_request() == Request(0, 4, at(5))


def test_take_skips_what_the_cursor_has_seen_and_advances_it():
    p = paging(at(1), ("a",))
    records, behind = p.take([ev("a", 1), ev("b", 1), ev("c", 2), ev("d", 2)])
    assert [r["id"] for r in records] == ["b", "c", "d"] and behind == []
    assert (p.modified, p.seen) == (at(2), {"c", "d"})


def test_members_before_the_cursor_are_reported_not_taken():
    p = paging(at(3), ("x",))
    records, behind = p.take([ev("old", 1), ev("y", 3)])
    assert [r["id"] for r in records] == ["y"] and behind == [("old", at(1))]


def read_first(p: KeysetPaging, page: list[dict[str, Any]], total: int) -> Step:
    request = p.next_request()
    assert request is not None
    p.take(page)
    return p.advance(request, page, total)


def test_a_full_page_moves_on_with_an_overlap_the_next_page_must_begin_with():
    p = paging(limit=4)
    assert read_first(p, [ev("a", 1), ev("b", 1), ev("c", 1), ev("d", 1)], total=10) == Step()
    # The query starts at the cursor second; limit 4 re-reads one position: the next page
    # starts at 3 and must begin with "d".
    assert p.next_request() == Request(3, 4, at(1))
    assert p.lines_up([ev("d", 1), ev("e", 1)])
    assert not p.lines_up([ev("e", 1), ev("f", 1)])


def test_when_the_cursor_moves_to_a_later_second_the_query_starts_there():
    p = paging(limit=4)
    read_first(p, [ev("a", 1), ev("b", 2), ev("c", 3), ev("d", 3)], total=10)
    # Two members read from second 3 on, one of them re-read.
    assert p.next_request() == Request(1, 4, at(3))


def test_shifted_positions_rescan_the_second_from_zero_a_bounded_number_of_times():
    p = paging(at(1), ("a",))
    p.start, p.expected = 3, [("event", "x", at(1).isoformat())]
    p.rescan()
    assert p.next_request() == Request(0, 4, at(1)) and p.expected is None
    for _ in range(MAX_RESCANS - 1):
        p.rescan()
    with pytest.raises(TransientSourceError, match="kept shifting"):
        p.rescan()


def test_a_short_page_ends_the_pass_only_when_the_total_says_so():
    p = paging()
    request = Request(0, 4, None)
    assert p.advance(request, [ev("a", 1)], total=1) == Step(done=True)
    assert p.advance(request, [ev("a", 1)], total=None) == Step(done=True)


def test_an_empty_page_in_the_middle_asks_again_then_gives_up():
    p = paging()
    request = Request(0, 4, None)
    for n in range(1, MAX_SHORT_PAGES + 1):
        assert p.advance(request, [], total=9) == Step(short=n)
        assert p.next_request() == request
    with pytest.raises(TransientSourceError, match="short pages"):
        p.advance(request, [], total=9)


def test_a_full_page_resets_the_short_page_count():
    p = paging()
    request = Request(0, 4, None)
    p.advance(request, [], total=9)
    page = [ev(name, 1) for name in "abcd"]
    p.take(page)
    p.advance(request, page, total=9)
    assert p.short_pages == 0


def test_a_tie_larger_than_the_window_is_read_by_postal_code():
    p = paging(at(1), ("a",), limit=4, window=8)
    p.start = 7  # only 1 of 4 fits: less than half a page
    assert p.next_request() is None
    p.second_read()
    assert p.next_request() == Request(0, 4, at(2))


def test_the_window_without_a_usable_second_is_fatal():
    p = paging(limit=4, window=8)
    p.start = 7
    with pytest.raises(FatalSourceError, match="Result window exceeded"):
        p.next_request()


def test_a_cursor_second_fuller_than_the_window_allows_is_split_first():
    assert paging(at(1), tuple("abcde"), limit=4, window=8).tie_too_large()
    assert not paging(at(1), tuple("abcd"), limit=4, window=8).tie_too_large()
    assert not paging().tie_too_large()


def test_broken_members_are_taken_once_across_overlapping_reads():
    p = paging()
    broken = {"name": "no id"}
    assert p.take([broken, ev("a", 1)])[0] == [broken, ev("a", 1)]
    assert p.take([broken, ev("a", 1)])[0] == []


def test_a_split_read_takes_only_new_members_of_the_cursor_second():
    p = paging(at(1), ("a",))
    assert p.take_in_second([ev("a", 1), ev("b", 1), ev("c", 2)]) == [ev("b", 1)]
    assert p.seen == {"a", "b"}
