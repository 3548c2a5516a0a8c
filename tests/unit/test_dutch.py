"""Dutch wording of numbers, percentages, months and waits: the one home of that copy."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sync.domain import dutch


@pytest.mark.parametrize(("n", "text"), [(0, "0"), (999, "999"), (1250, "1.250"),
                                         (1234567, "1.234.567")])
def test_numbers_put_a_dot_between_thousands(n, text):
    assert dutch.number(n) == text


def test_counted_writes_both_forms_and_separates_thousands():
    assert dutch.counted(1, "activiteit", "activiteiten") == "1 activiteit"
    assert dutch.counted(0, "activiteit", "activiteiten") == "0 activiteiten"
    assert dutch.counted(1250, "activiteit", "activiteiten") == "1.250 activiteiten"


@pytest.mark.parametrize(("value", "text"), [(54.26, "54,26 %"), (0.0, "0,00 %"),
                                             (100.0, "100,00 %")])
def test_percentages_have_a_decimal_comma_and_a_space_before_the_sign(value, text):
    assert dutch.percent(value) == text


def test_months_and_days_without_weekday():
    assert dutch.month(date(2026, 11, 5)) == "november 2026"
    assert dutch.MONTHS_SHORT_NL[2] == "mrt"
    assert dutch.day(date(2026, 12, 5), weekday=False) == "5 december 2026"


def test_short_day_abbreviates_weekday_and_month_in_brussels_time():
    # 23.30 UTC on Friday 4 December is already Saturday in Brussels.
    assert dutch.short_day(datetime(2026, 12, 4, 23, 30, tzinfo=UTC)) == "za 5 dec 2026"
    assert dutch.short_day(datetime(2027, 3, 1, 9, 0, tzinfo=UTC)) == "ma 1 mrt 2027"


@pytest.mark.parametrize(("hours", "text"), [
    (None, "nog niets beslist"), (0.5, "minder dan een uur"), (1.4, "1 uur"), (47.0, "47 uur"),
    (48.0, "2 dagen"), (30 * 24, "30 dagen"), (36.0, "36 uur")])
def test_durations_read_at_a_glance(hours, text):
    assert dutch.duration(hours) == text
