"""Daily history of the catalogue: counts per municipality × type × level × state, and the
days on which each activity was public (what the annual report counts per period)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from sync.adapters import history_store
from sync.adapters.queries import history as q
from sync.domain import catalogue as cat
from sync.domain.calendar import BRUSSELS, local_day
from sync.service import catalogue_query as cq

NONE = ""  # no activity type or no language level in a count row


class HistoryError(ValueError):
    """A snapshot that would rewrite the past (a later day was already taken)."""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Belgian day starts and the next one starts."""
    return (datetime.combine(day, time(), BRUSSELS),
            datetime.combine(day + timedelta(days=1), time(), BRUSSELS))


def public_now(conn: sa.Connection, now: datetime,
               include_members_only: bool = False) -> Iterator[cq.Published]:
    """THE rule for "public right now", in one place for history, report and /statistieken:
    published, and shown at `now` by publiq's rules (not expired, not before availableFrom,
    audience)."""
    return cq.iter_public(conn, now, include_members_only)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the report needs of one activity, from the version the public saw."""

    id: int
    state: str
    municipality_nis: str
    activity_types: tuple[str, ...]
    language_levels: tuple[int, ...]
    organiser: str | None  # "id:…" or "name:…", as stats counts organisations


def organiser_key(data: dict[str, Any]) -> str | None:
    """One organisation: its UiTdatabank id, else its name (case-insensitive)."""
    org = data.get("organizer") or {}
    if org.get("id"):
        return "id:" + str(org["id"])
    name = next((n.strip().casefold() for n in (org.get("name") or {}).values()
                 if n and n.strip()), None)
    return "name:" + name if name else None


def _facts(row: Any, data: dict[str, Any]) -> Facts:
    return Facts(
        id=row.id, state=row.state,
        municipality_nis=(data.get("place") or {}).get("nis") or row.municipality_nis,
        activity_types=tuple(dict.fromkeys(data.get("activity_types") or ())),
        language_levels=tuple(sorted({int(x) for x in data.get("language_levels") or ()})),
        organiser=organiser_key(data),
    )


def activity_facts(conn: sa.Connection, ids: Iterable[int] | None = None) -> dict[int, Facts]:
    """Facts from the approved version (what was public), else the latest synced version."""
    return {row.id: _facts(row, dict(row.data)) for row in q.public_versions(conn, ids)}


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    day: date
    totals: dict[str, int]
    count_rows: int
    public: int
    periods_opened: int
    periods_extended: int

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "totals": self.totals, "count_rows": self.count_rows,
                "public": self.public, "periods_opened": self.periods_opened,
                "periods_extended": self.periods_extended}


def _current_facts(conn: sa.Connection) -> list[Facts]:
    """Each activity with the data of its state: approved version when published, else the
    latest synced one (a pending or withdrawn activity is counted as it now stands)."""
    return [_facts(r, dict(r.data)) for r in q.standing_versions(conn)]


def _touched_public(conn: sa.Connection, day: date) -> set[int]:
    """Activities a moderator published or unpublished during `day`: public for part of it,
    though the snapshot's moment may not show it."""
    return q.published_or_unpublished(conn, *day_bounds(day))


def take_snapshot(conn: sa.Connection, now: datetime) -> SnapshotResult:
    """Write today's counts and extend the publication periods; running it again the same day
    replaces the counts with fresh ones and changes no period twice."""
    day = local_day(now)
    latest = q.latest_day(conn)
    if latest is not None and latest > day:
        raise HistoryError(f"a snapshot of {latest} exists already; {day} cannot be taken now")
    previous = q.latest_day(conn, before=day)

    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for f in _current_facts(conn):
        totals[f.state] += 1
        for kind in f.activity_types or (NONE,):
            for level in [str(x) for x in f.language_levels] or [NONE]:
                counts[(f.municipality_nis, kind, level, f.state)] += 1
    public = {p.id for p in public_now(conn, now)}
    totals["public"] = len(public)

    history_store.replace_day(conn, day, now, dict(sorted(totals.items())), [
        {"municipality_nis": nis, "activity_type": kind, "language_level": level,
         "state": state, "count": n}
        for (nis, kind, level, state), n in sorted(counts.items())])

    opened, extended = _extend_periods(conn, public | _touched_public(conn, day), day, previous)
    return SnapshotResult(day, dict(sorted(totals.items())), len(counts), len(public), opened,
                          extended)


def _extend_periods(conn: sa.Connection, members: set[int], day: date,
                    previous: date | None) -> tuple[int, int]:
    """A period goes on when the activity was public at the previous snapshot too: a day the
    daemon missed does not split it (it was public on both sides); otherwise a new one starts."""
    live = q.live_periods(conn, previous if previous is not None else day)
    to_extend = [live[a][0] for a in sorted(members) if a in live and live[a][1] < day]
    to_open = [a for a in sorted(members) if a not in live]
    history_store.extend_periods(conn, to_extend, day)
    history_store.open_periods(conn, to_open, day)
    return len(to_open), len(to_extend)


# ------------------------------------------------------------------ reading the history


@dataclass
class Periods:
    """Public days per activity, and where they came from."""

    by_activity: dict[int, list[tuple[date, date]]] = field(default_factory=dict)
    first_snapshot: date | None = None
    derived_before: date | None = None  # days before this came from the decision log

    def public_between(self, lo: date, hi: date) -> set[int]:
        return {a for a, spans in self.by_activity.items()
                if any(first <= hi and last >= lo for first, last in spans)}

    def first_public(self, activity_id: int) -> date | None:
        spans = self.by_activity.get(activity_id)
        return min(first for first, _ in spans) if spans else None


def _decision_log_periods(conn: sa.Connection, today: date) -> dict[int, list[tuple[date, date]]]:
    """Public days before snapshots existed, from moderators' decisions: an approval starts a
    period, a later decision away from `published` ends it; an activity no longer published
    without such a decision (the sync withdrew it) ends at its last update."""
    opened: dict[int, date] = {}
    out: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for row in q.publication_decisions(conn):
        if row.after_state == cat.PUBLISHED and row.before_state != cat.PUBLISHED:
            opened.setdefault(row.activity_id, local_day(row.at))
        elif row.before_state == cat.PUBLISHED and row.after_state != cat.PUBLISHED:
            start = opened.pop(row.activity_id, None)
            if start is not None:
                out[row.activity_id].append((start, local_day(row.at)))
    if opened:
        states = q.states(conn, opened)
        for activity_id, start in opened.items():
            state, updated = states.get(activity_id, (cat.PUBLISHED, None))
            end = today if state == cat.PUBLISHED or updated is None else local_day(updated)
            out[activity_id].append((start, max(start, end)))
    return out


def load_periods(conn: sa.Connection, today: date) -> Periods:
    """Recorded periods from the daily snapshots; for the days before the first snapshot,
    periods derived from the decision log (clipped so the two never overlap)."""
    first = q.first_day(conn)
    result = Periods(first_snapshot=first)
    spans: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for row in q.periods(conn):
        spans[row.activity_id].append((row.first_day, row.last_day))
    cutoff = first or today + timedelta(days=1)
    derived = _decision_log_periods(conn, today)
    if derived:
        result.derived_before = cutoff
    for activity_id, items in derived.items():
        for lo, hi in items:
            if lo < cutoff:
                spans[activity_id].append((lo, min(hi, cutoff - timedelta(days=1))))
    result.by_activity = {k: sorted(v) for k, v in spans.items()}
    return result


def snapshot_days(conn: sa.Connection, lo: date, hi: date) -> list[tuple[date, dict[str, int]]]:
    return q.days(conn, lo, hi)


def run_snapshot(engine: sa.Engine, now: datetime) -> SnapshotResult:
    """Today's snapshot in its own transaction (the daemon's daily job, `stats snapshot`)."""
    with engine.begin() as conn:
        return take_snapshot(conn, now)
