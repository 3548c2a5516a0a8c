"""The one calendar computation and publiq's visibility rules, on real fixture shapes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mappings.uitdatabank import to_activity
from sync.domain.activity import NormalisedActivity, Skipped
from sync.domain.calendar import KIND_DATE, KIND_PERIOD, KIND_SLOT, last_end, next_occurrence
from sync.domain.visibility import (
    EXPIRED,
    MEMBERS_ONLY,
    NOT_YET,
    PUBLIC,
    visibility,
    visible_until,
)

from .mapping_helpers import load_fixture, minimal_event, prepare, region


def at(text: str) -> datetime:
    """A Brussels wall-clock moment, e.g. "2017-04-30 14:00" (CEST in spring)."""
    local = datetime.fromisoformat(text + ":00+02:00")
    return local.astimezone(UTC)


def mapped(doc: dict[str, Any], as_of: datetime) -> NormalisedActivity:
    result = to_activity(doc, region(), as_of=as_of)
    assert isinstance(result, NormalisedActivity), result
    return result


def fixture(name: str, as_of: datetime) -> NormalisedActivity:
    return mapped(prepare(load_fixture(name)), as_of)


# --- next occurrence -------------------------------------------------------------------------


def test_multiple_skips_cancelled_and_postponed_dates() -> None:
    # 30 April available, 1 May cancelled, 7 May postponed (whole days).
    act = fixture("multiple_with_mixed_subevent_statuses", at("2017-04-30 14:00"))
    on_the_day = next_occurrence(act.calendar, at("2017-04-30 23:00"))
    assert on_the_day is not None and on_the_day.kind == KIND_DATE and on_the_day.all_day
    assert on_the_day.start == at("2017-04-30 00:00")
    # After 30 April only a cancelled and a postponed date are left: nothing to turn up for.
    assert next_occurrence(act.calendar, at("2017-05-01 00:00")) is None


def test_a_whole_day_date_is_over_at_midnight_not_at_its_start() -> None:
    act = fixture("booking_availability_unavailable", at("2017-04-30 00:30"))
    nxt = next_occurrence(act.calendar, at("2017-04-30 23:59"))
    assert nxt is not None and nxt.start == at("2017-04-30 00:00") and nxt.all_day
    nxt = next_occurrence(act.calendar, at("2017-05-01 00:00"))
    assert nxt is not None and nxt.start == at("2017-05-01 00:00")


def test_periodic_with_opening_hours_gives_the_next_slot_not_the_clock() -> None:
    act = fixture("periodic_with_opening_hours", at("2017-04-30 14:00"))
    # Sunday afternoon: the next opening is Monday 09.00, whatever the time is now.
    nxt = next_occurrence(act.calendar, at("2017-04-30 14:00"))
    assert nxt is not None and nxt.kind == KIND_SLOT
    assert (nxt.start, nxt.end) == (at("2017-05-01 09:00"), at("2017-05-01 12:00"))
    # During a slot, that slot with its real times.
    during = next_occurrence(act.calendar, at("2017-05-01 10:30"))
    assert during is not None and during.start == at("2017-05-01 09:00")


def test_the_next_moment_is_over_when_upcoming_moves_past_it() -> None:
    """`over` is the first moment `next_occurrence` gives something else, per kind; the
    mapping keeps it with the activity, so a re-read before it need not map again."""
    slots = fixture("periodic_with_opening_hours", at("2017-05-01 10:30"))
    whole_days = fixture("booking_availability_unavailable", at("2017-04-30 00:30"))
    period = fixture("periodic_with_booking_info_contact_point_organizer", at("2017-04-30 14:00"))
    for act, now in ((slots, at("2017-05-01 10:30")), (whole_days, at("2017-04-30 12:00")),
                     (period, at("2017-04-30 14:00"))):
        nxt = next_occurrence(act.calendar, now)
        assert nxt is not None and nxt.over is not None
        assert act.next_occurrence_over == nxt.over.astimezone(UTC).isoformat()
        just_before = next_occurrence(act.calendar, nxt.over - timedelta(seconds=1))
        assert just_before is not None and just_before.start == nxt.start
        after = next_occurrence(act.calendar, nxt.over)
        assert after is None or after.start != nxt.start
    assert next_occurrence(slots.calendar, at("2017-05-01 10:30")).over == at(  # type: ignore[union-attr]
        "2017-05-01 12:00")
    assert next_occurrence(whole_days.calendar, at("2017-04-30 12:00")).over == at(  # type: ignore[union-attr]
        "2017-05-01 00:00")


def test_closed_days_are_skipped() -> None:
    act = fixture("periodic_with_opening_hours_and_closed_days", at("2017-04-30 14:00"))
    assert act.calendar.closed_days, "the fixture's closed days are kept in the calendar"
    closed = act.calendar.closed_days[0]
    first_closed = datetime.fromisoformat(closed.first + "T08:00:00+02:00")
    nxt = next_occurrence(act.calendar, first_closed)
    assert nxt is not None
    assert nxt.start.astimezone(UTC).date().isoformat() > closed.last or (
        nxt.start.date().isoformat() < closed.first)


def test_permanent_with_hours_and_without() -> None:
    act = fixture("permanent_with_opening_hours", at("2017-04-30 14:00"))
    assert last_end(act.calendar) is None
    nxt = next_occurrence(act.calendar, at("2017-04-30 14:00"))
    assert nxt is not None and nxt.start == at("2017-05-01 09:00")
    always = replace(act.calendar, opening_hours=())
    assert next_occurrence(always, at("2017-04-30 14:00")) is None


def test_a_period_without_hours_runs_the_whole_time() -> None:
    act = fixture("periodic_with_booking_info_contact_point_organizer", at("2017-04-30 14:00"))
    nxt = next_occurrence(act.calendar, at("2017-04-30 14:00"))
    assert nxt is not None and nxt.kind == KIND_PERIOD
    assert nxt.start.isoformat() == "2016-12-31T23:00:00+00:00"  # its start, not "now"
    assert nxt.sort_key(at("2017-04-30 14:00")) == at("2017-04-30 14:00")


def test_single_takes_its_sub_event_times_and_status() -> None:
    doc = minimal_event(subEvent=[{
        "startDate": "2030-03-02T19:30:00+01:00", "endDate": "2030-03-02T21:30:00+01:00",
        "status": {"type": "TemporarilyUnavailable"}}])
    act = mapped(doc, datetime(2030, 3, 1, tzinfo=UTC))
    assert act.calendar.occurrences[0].start == "2030-03-02T18:30:00+00:00"
    assert act.calendar.occurrences[0].status == "postponed"
    assert act.next_occurrence is None  # postponed: no date to turn up on


def test_legacy_multiple_without_sub_events_keeps_its_summary() -> None:
    act = fixture("visible_and_hidden_labels", at("2015-03-01 12:00"))
    assert act.calendar.type == "multiple" and len(act.calendar.occurrences) == 1
    assert act.calendar.summary and act.calendar.summary.startswith("ma 02/03/15 van 13:30")


# --- visibility ----------------------------------------------------------------------------------


def test_expired_when_the_last_date_passed() -> None:
    act = fixture("multiple_with_subevents", at("2017-04-30 14:00"))
    assert visibility(act, at("2017-05-07 12:00")) == PUBLIC
    assert visibility(act, at("2017-05-08 00:01")) == EXPIRED


def test_expired_when_available_to_passed_even_with_dates_ahead() -> None:
    doc = minimal_event(availableTo="2030-03-01T00:00:00+01:00")
    act = mapped(doc, datetime(2030, 2, 1, tzinfo=UTC))
    assert visible_until(act) == datetime(2030, 2, 28, 23, 0, tzinfo=UTC)
    assert visibility(act, datetime(2030, 3, 1, 12, tzinfo=UTC)) == EXPIRED


def test_not_public_before_available_from() -> None:
    doc = minimal_event(availableFrom="2030-02-15T00:00:00+01:00")
    act = mapped(doc, datetime(2030, 2, 1, tzinfo=UTC))
    assert visibility(act, datetime(2030, 2, 1, tzinfo=UTC)) == NOT_YET
    assert visibility(act, datetime(2030, 2, 15, tzinfo=UTC)) == PUBLIC


@pytest.mark.parametrize("event_type", ["0.3.1.0.0", "0.57.0.0.0"])  # Lessenreeks, Kamp
def test_course_series_and_camps_close_when_they_start(event_type: str) -> None:
    doc = minimal_event(
        calendarType="multiple", terms=[{"id": event_type, "domain": "eventtype"}],
        startDate="2030-03-02T19:00:00+01:00", endDate="2030-03-30T21:00:00+01:00",
        subEvent=[{"startDate": f"2030-03-{d:02d}T19:00:00+01:00",
                   "endDate": f"2030-03-{d:02d}T21:00:00+01:00"} for d in (2, 9, 16, 23, 30)])
    act = mapped(doc, datetime(2030, 2, 1, tzinfo=UTC))
    assert act.available_to is None  # publiq's default applies: the start
    assert visible_until(act) == datetime(2030, 3, 2, 18, 0, tzinfo=UTC)
    assert visibility(act, datetime(2030, 3, 5, tzinfo=UTC)) == EXPIRED


def test_permanent_never_expires() -> None:
    act = fixture("permanent_with_opening_hours_videos_status_acc", at("2021-11-01 12:00"))
    assert visibility(act, datetime(2099, 1, 1, tzinfo=UTC)) == PUBLIC
    # publiq writes availableTo 2100-01-01 for permanent offers.
    assert visible_until(act) == datetime(2100, 1, 1, tzinfo=UTC)


def test_members_only_is_not_public_unless_the_region_says_so() -> None:
    doc = minimal_event(audience={"audienceType": "members"})
    act = mapped(doc, datetime(2030, 2, 1, tzinfo=UTC))
    assert act.audience == "members"
    now = datetime(2030, 2, 1, tzinfo=UTC)
    assert visibility(act, now) == MEMBERS_ONLY
    assert visibility(act, now, include_members_only=True) == PUBLIC


@pytest.mark.parametrize("doc", [
    minimal_event(audience={"audienceType": "education"}),
    minimal_event(location={"name": {"nl": "School"}, "isDummyPlaceForEducationEvents": True,
                            "address": {"nl": {"postalCode": "8900"}}}),
])
def test_education_events_are_skipped(doc: dict[str, Any]) -> None:
    result = to_activity(doc, region(), as_of=datetime(2030, 2, 1, tzinfo=UTC))
    assert isinstance(result, Skipped) and result.reason == "education"


# --- fields a newcomer needs ---------------------------------------------------------------------


def test_uitpas_and_kansentarief_keep_their_category() -> None:
    doc = minimal_event(priceInfo=[
        {"category": "base", "name": {"nl": "Basistarief"}, "price": 8, "priceCurrency": "EUR"},
        {"category": "uitpas", "name": {"nl": "Kansentarief"}, "price": 1.6,
         "priceCurrency": "EUR"},
    ])
    price = mapped(doc, datetime(2030, 2, 1, tzinfo=UTC)).price
    assert price is not None and price.uitpas
    assert [(t.name["nl"], t.category, t.price) for t in price.tariffs] == [
        ("Kansentarief", "uitpas", 1.6)]


def test_age_range_from_zero_and_facilities_and_image_credit() -> None:
    doc = minimal_event(
        typicalAgeRange="0-12",
        terms=[{"id": "0.50.21.0.0", "domain": "eventtype"},
               {"id": "3.34.0.0.0", "label": "oud label", "domain": "facility"},
               {"id": "3.33.0.0.0", "domain": "facility"}],
        image="https://img/1.jpg",
        mediaObject=[{"contentUrl": "https://img/1.jpg", "description": "Mensen aan tafel",
                      "copyrightHolder": "Stad Ieper"}])
    act = mapped(doc, datetime(2030, 2, 1, tzinfo=UTC))
    assert act.age_range is not None and (act.age_range.min, act.age_range.max) == (0, 12)
    assert [f.label for f in act.facilities] == ["Tolken Vlaamse Gebarentaal",
                                                 "Vereenvoudigde informatie"]
    assert (act.image, act.image_alt, act.image_credit) == (
        "https://img/1.jpg", "Mensen aan tafel", "Stad Ieper")


def test_control_characters_are_stripped_and_sizes_capped() -> None:
    doc = minimal_event(name={"nl": "Taal\x1b[31mcafé\x00\r\nIeper"},
                        description={"nl": "Lijn één\nLijn\x07 twee " + "x" * 50_000})
    act = mapped(doc, datetime(2030, 2, 1, tzinfo=UTC))
    assert act.title["nl"] == "Taal[31mcafé Ieper"
    assert "\x07" not in act.description_text["nl"]
    assert "Lijn één\nLijn twee" in act.description_text["nl"]
    assert len(act.description_text["nl"]) <= 30_000


def test_stored_versions_read_back_as_typed_objects() -> None:
    act = fixture("docs_read_example_all_fields_schema_wrapper", at("2017-04-30 14:00"))
    again = NormalisedActivity.from_dict(act.to_dict())
    assert again == act
    # An older stored version without the new fields reads with their defaults.
    old = act.to_dict()
    for key in ("source_url", "facilities", "attendance_mode", "online_url"):
        old.pop(key)
    old["calendar"].pop("closed_days")
    back = NormalisedActivity.from_dict(old)
    assert back.facilities == () and back.attendance_mode == "offline"
