"""Statistics like the region's annual report: types, levels, municipalities, queues, speed."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from sync.adapters.queries import moderation
from sync.domain.activity import ACTIVITY_TYPES, LANGUAGE_LEVELS
from sync.domain.region import Region
from sync.service.catalogue_query import Published, iter_published
from sync.service.history import organiser_key


def percentage(part: int, whole: int) -> float:
    """Half up to two decimals, as the annual report rounds (121 of 223 is 54.26)."""
    if whole == 0:
        return 0.0
    exact = Decimal(part) * 100 / Decimal(whole)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Share:
    key: str
    label: str
    count: int
    percentage: float

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "count": self.count,
                "percentage": self.percentage}


@dataclass(frozen=True, slots=True)
class Stats:
    generated_at: datetime
    total: int
    activity_types: list[Share]
    language_levels: list[Share]
    municipalities: list[Share]
    organisations: int
    with_moderator: list[str]
    without_moderator: list[str]
    queues: list[Share]  # open review items per municipality; percentage of all open items
    median_hours_to_decision: float | None
    decided_items: int

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "published_activities": self.total,
            "activity_types": [s.to_json() for s in self.activity_types],
            "language_levels": [s.to_json() for s in self.language_levels],
            "municipalities": [s.to_json() for s in self.municipalities],
            "organisations": self.organisations,
            "moderation": {
                "municipalities_with_moderator": self.with_moderator,
                "municipalities_without_moderator": self.without_moderator,
                "queues": [s.to_json() for s in self.queues],
                "open_items": sum(s.count for s in self.queues),
                "median_hours_to_decision": self.median_hours_to_decision,
                "decided_items": self.decided_items,
            },
        }


def _shares(counts: dict[str, int], labels: dict[str, str], whole: int) -> list[Share]:
    return [Share(k, labels[k], counts.get(k, 0), percentage(counts.get(k, 0), whole))
            for k in labels]


def compute(conn: sa.Connection, region: Region, now: datetime,
            published: Iterable[Published] | None = None) -> Stats:
    """Over the published catalogue at its approved versions (or the `published` given, e.g.
    what is public today), and the moderation tables."""
    types: dict[str, int] = {}
    levels: dict[str, int] = {}
    places: dict[str, int] = {}
    organisers: set[str] = set()
    total = 0
    for p in iter_published(conn) if published is None else published:
        total += 1
        d = p.data
        # An activity counts once under each of its types (and levels): sums exceed 100%.
        for name in set(d.get("activity_types") or ()):
            types[name] = types.get(name, 0) + 1
        for level in set(d.get("language_levels") or ()):
            levels[str(level)] = levels.get(str(level), 0) + 1
        nis = (d.get("place") or {}).get("nis")
        if nis:
            places[nis] = places.get(nis, 0) + 1
        key = organiser_key(d)
        if key:
            organisers.add(key)

    names = {m.nis: m.name for m in region.municipalities}
    moderated = set(moderation.active_moderators(conn))
    open_counts = moderation.open_per_municipality(conn)
    decided = [(decided_at - created_at).total_seconds() / 3600
               for created_at, decided_at in moderation.decided_spans(conn)]
    median = (float(Decimal(statistics.median(decided)).quantize(Decimal("0.01"), ROUND_HALF_UP))
              if decided else None)
    return Stats(
        generated_at=now,
        total=total,
        activity_types=_shares(types, {n: n for n in ACTIVITY_TYPES}, total),
        language_levels=_shares(levels, {str(k): v for k, v in LANGUAGE_LEVELS.items()}, total),
        municipalities=_shares(places, names, total),
        organisations=len(organisers),
        with_moderator=[names[n] for n in names if n in moderated],
        without_moderator=[names[n] for n in names if n not in moderated],
        queues=_shares(open_counts, names, sum(open_counts.get(n, 0) for n in names)),
        median_hours_to_decision=median,
        decided_items=len(decided),
    )


def rows(stats: Stats) -> list[list[Any]]:
    """Flat rows (section, key, label, count, percentage) for a table or CSV."""
    out: list[list[Any]] = [["total", "published_activities", "Gepubliceerde activiteiten",
                             stats.total, ""]]
    for section, shares in (("activity_type", stats.activity_types),
                            ("language_level", stats.language_levels),
                            ("municipality", stats.municipalities),
                            ("queue", stats.queues)):
        out += [[section, s.key, s.label, s.count, f"{s.percentage:.2f}"] for s in shares]
    out.append(["total", "organisations", "Organisaties", stats.organisations, ""])
    out += [["moderator", n, "met moderator", 1, ""] for n in stats.with_moderator]
    out += [["moderator", n, "zonder moderator", 0, ""] for n in stats.without_moderator]
    median = "" if stats.median_hours_to_decision is None else stats.median_hours_to_decision
    out.append(["moderation", "median_hours_to_decision", "Mediaan uren tot beslissing", median,
                ""])
    out.append(["moderation", "decided_items", "Besliste items", stats.decided_items, ""])
    return out


HEADERS = ["section", "key", "label", "count", "percentage"]


def to_csv(stats: Stats) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADERS)
    writer.writerows(rows(stats))
    return buf.getvalue()
