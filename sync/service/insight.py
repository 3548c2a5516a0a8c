"""Supply on a moderator's territory: what is published, what is on soon, what is missing."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from sync.adapters.queries import moderation
from sync.domain.activity import ACTIVITY_TYPES, LANGUAGE_LEVELS
from sync.service.review_view import day_nl, pick

COMING_DAYS = 28
WAIT_WINDOW_DAYS = 90  # decisions counted for "how long items wait"


@dataclass(frozen=True, slots=True)
class Coming:
    when: str
    title: str
    municipality: str
    levels: str
    types: str


@dataclass(slots=True)
class Insight:
    published: int = 0
    by_type: list[tuple[str, int]] = field(default_factory=list)
    by_level: list[tuple[int, str, int]] = field(default_factory=list)
    missing_types: list[str] = field(default_factory=list)
    missing_levels: list[tuple[int, str]] = field(default_factory=list)
    coming: list[Coming] = field(default_factory=list)
    coming_total: int = 0
    organizers: list[tuple[str, int]] = field(default_factory=list)
    decided: int = 0
    wait_median_hours: float | None = None
    wait_longest_hours: float | None = None
    open_items: int = 0
    oldest_open_days: int | None = None


def insight(conn: Connection, nis: Iterable[str], names: dict[str, str],
            now: datetime) -> Insight:
    wanted = sorted(set(nis))
    out = Insight()
    if not wanted:
        return out
    rows = moderation.published_in(conn, wanted)
    types: Counter[str] = Counter()
    levels: Counter[int] = Counter()
    organizers: Counter[str] = Counter()
    horizon = now + timedelta(days=COMING_DAYS)
    for row in rows:
        data = dict(row.data or {})
        types.update(data.get("activity_types") or ())
        levels.update(int(n) for n in data.get("language_levels") or ())
        organizer = pick((data.get("organizer") or {}).get("name"), data.get("main_language"))
        if organizer:
            organizers[organizer] += 1
        if row.next_occurrence is not None and now <= row.next_occurrence <= horizon:
            out.coming_total += 1
            if len(out.coming) < 50:
                out.coming.append(Coming(
                    day_nl(row.next_occurrence), row.title,
                    names.get(row.municipality_nis, row.municipality_nis),
                    ", ".join(str(n) for n in data.get("language_levels") or ()),
                    ", ".join(data.get("activity_types") or ())))
    out.published = len(rows)
    out.by_type = [(x, types[x]) for x in ACTIVITY_TYPES if types[x]]
    out.by_level = [(n, meaning, levels[n]) for n, meaning in LANGUAGE_LEVELS.items()
                    if levels[n]]
    out.missing_types = [x for x in ACTIVITY_TYPES if not types[x]]
    out.missing_levels = [(n, m) for n, m in LANGUAGE_LEVELS.items() if not levels[n]]
    out.organizers = sorted(organizers.items(), key=lambda kv: (-kv[1], kv[0]))[:30]
    waits = [(at - created).total_seconds() / 3600 for at, created in moderation.decision_waits(
        conn, wanted, now - timedelta(days=WAIT_WINDOW_DAYS))]
    out.decided = len(waits)
    if waits:
        out.wait_median_hours = statistics.median(waits)
        out.wait_longest_hours = max(waits)
    open_created = moderation.open_created(conn, wanted)
    out.open_items = len(open_created)
    if open_created:
        out.oldest_open_days = (now - min(open_created)).days
    return out
