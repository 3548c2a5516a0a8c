"""The moderators' mail words dates and counts as the pages do (sync.domain.dutch)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sync.service import notify


def test_when_nl_shortens_the_date_and_leaves_out_the_time_of_a_whole_day():
    assert notify.when_nl(datetime(2027, 1, 10, 9, 0, tzinfo=UTC)) == "zo 10 jan 2027, 10.00 uur"
    # Midnight in Brussels is a whole day: no time.
    assert notify.when_nl(datetime(2027, 3, 4, 23, 0, tzinfo=UTC)) == "vr 5 mrt 2027"
    assert notify.when_nl(None) == "Doorlopend of datum onbekend"


def test_counts_and_absences_write_both_forms_out():
    assert notify.digest_subject(1) == "ikdoemee: 1 activiteit te valideren"
    assert notify.digest_subject(3) == "ikdoemee: 3 activiteiten te valideren"
    assert notify.day_month(date(2026, 12, 24)) == "24 december 2026"
