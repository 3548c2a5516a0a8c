"""Coverage of the link UiT ↔ taaliconen per municipality, and the outreach list of organizers
with upcoming UiT events in the region but none with a taalicoon."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from sync.adapters import daily_store
from sync.adapters.queries import coverage as q
from sync.domain.calendar import local_day
from sync.domain.region import Region
from sync.service.stats import percentage


class UitSource(Protocol):
    """What coverage needs of a connector: cheap counts, a full read, and the labels."""

    request_count: int

    @property
    def labels(self) -> tuple[str, ...]: ...

    def count(self, postal_codes: Sequence[str], *, with_labels: bool) -> int: ...

    def browse(self, postal_codes: Sequence[str]) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class CoverageRow:
    nis: str
    name: str
    upcoming_events: int
    with_taalicoon: int

    @property
    def percentage(self) -> float:
        return percentage(self.with_taalicoon, self.upcoming_events)

    def to_json(self) -> dict[str, Any]:
        return {"nis": self.nis, "municipality": self.name,
                "upcoming_events": self.upcoming_events, "with_taalicoon": self.with_taalicoon,
                "percentage": self.percentage}


@dataclass(frozen=True, slots=True)
class CoverageRun:
    day: date
    rows: list[CoverageRow]
    requests: int

    @property
    def upcoming_events(self) -> int:
        return sum(r.upcoming_events for r in self.rows)

    @property
    def with_taalicoon(self) -> int:
        return sum(r.with_taalicoon for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "requests": self.requests,
                "upcoming_events": self.upcoming_events, "with_taalicoon": self.with_taalicoon,
                "percentage": percentage(self.with_taalicoon, self.upcoming_events),
                "municipalities": [r.to_json() for r in self.rows]}


def measure(source: UitSource, region: Region, now: datetime) -> CoverageRun:
    """Two `limit=0` counts per municipality (all, with a taalicoon): 34 requests for the
    Westhoek, no event documents. Done before any transaction opens."""
    before = source.request_count
    rows = [CoverageRow(m.nis, m.name, source.count(m.postal_codes, with_labels=False),
                        source.count(m.postal_codes, with_labels=True))
            for m in region.municipalities]
    return CoverageRun(local_day(now), rows, source.request_count - before)


def store(conn: sa.Connection, run: CoverageRun, now: datetime) -> None:
    """Today's measurement replaces an earlier one of the same day."""
    daily_store.replace_coverage(conn, run.day, [
        {"municipality_nis": r.nis, "upcoming_events": r.upcoming_events,
         "with_taalicoon": r.with_taalicoon, "measured_at": now} for r in run.rows])


def history(conn: sa.Connection, region: Region, lo: date | None = None,
            hi: date | None = None) -> list[CoverageRun]:
    """Stored measurements, oldest first (requests unknown afterwards: 0)."""
    names = {m.nis: m.name for m in region.municipalities}
    days: dict[date, list[CoverageRow]] = {}
    for r in q.counts(conn, lo, hi):
        days.setdefault(r.day, []).append(
            CoverageRow(r.municipality_nis, names.get(r.municipality_nis, r.municipality_nis),
                        r.upcoming_events, r.with_taalicoon))
    order = {m.nis: i for i, m in enumerate(region.municipalities)}
    return [CoverageRun(d, sorted(rows, key=lambda x: order.get(x.nis, 99)), 0)
            for d, rows in days.items()]


# ------------------------------------------------------------------ outreach


@dataclass
class Organizer:
    id: str
    name: str
    upcoming_events: int = 0
    with_taalicoon: int = 0
    municipalities: set[str] = field(default_factory=set)
    contact: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"organizer_id": self.id, "name": self.name,
                "upcoming_events": self.upcoming_events,
                "municipalities": sorted(self.municipalities), "contact": self.contact}


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _organizer_of(event: dict[str, Any]) -> tuple[str, str, dict[str, list[str]]] | None:
    org = event.get("organizer")
    if not isinstance(org, dict):
        return None
    at_id = org.get("@id")
    if not isinstance(at_id, str) or not at_id.strip("/"):
        return None
    oid = at_id.rstrip("/").rsplit("/", 1)[-1]
    names = org.get("name")
    name = ""
    if isinstance(names, dict):
        name = names.get("nl") or next((v for v in names.values() if isinstance(v, str)), "")
    elif isinstance(names, str):
        name = names
    contact = {"email": _texts(org.get("email")), "phone": _texts(org.get("phone")),
               "url": _texts(org.get("url"))}
    point = event.get("contactPoint") if isinstance(event.get("contactPoint"), dict) else {}
    for key in ("email", "phone", "url"):
        if not contact[key]:  # the organizer has none: the event's own contact point
            contact[key] = _texts((point or {}).get(key))
    return oid, name or oid, contact


def collect_outreach(source: UitSource, region: Region) -> tuple[list[Organizer], int]:
    """Read every upcoming UiT event of the region (one municipality at a time, so each read
    stays inside SAPI3's 10 000 window); return the organizers without any taalicoon event,
    most events first, and the requests it took."""
    before = source.request_count
    wanted = {label.casefold() for label in source.labels}
    organizers: dict[str, Organizer] = {}
    seen: set[str] = set()
    for m in region.municipalities:
        for event in source.browse(m.postal_codes):
            eid = str(event.get("@id") or "")
            if not eid or eid in seen:
                continue
            seen.add(eid)
            found = _organizer_of(event)
            if found is None:
                continue
            oid, name, contact = found
            org = organizers.setdefault(oid, Organizer(oid, name, contact=contact))
            org.upcoming_events += 1
            org.municipalities.add(m.name)
            tags = [*_texts(event.get("labels")), *_texts(event.get("hiddenLabels"))]
            # SAPI3 matches labels case-insensitively: so does this check.
            if any(tag.casefold() in wanted for tag in tags):
                org.with_taalicoon += 1
    out = [o for o in organizers.values() if o.with_taalicoon == 0]
    out.sort(key=lambda o: (-o.upcoming_events, o.name.casefold(), o.id))
    return out, source.request_count - before


def store_outreach(conn: sa.Connection, organizers: list[Organizer], now: datetime) -> date:
    day = local_day(now)
    daily_store.replace_outreach(conn, day, [
        {"organizer_id": org.id, "name": org.name, "upcoming_events": org.upcoming_events,
         "municipalities": sorted(org.municipalities), "contact": org.contact,
         "measured_at": now} for org in organizers])
    return day


def latest_outreach(conn: sa.Connection, until: date | None = None
                    ) -> tuple[date | None, list[Organizer]]:
    """The most recent list (on or before `until`)."""
    day = q.latest_outreach_day(conn, until)
    if day is None:
        return None, []
    rows = q.outreach(conn, day)
    return day, [Organizer(r.organizer_id, r.name, r.upcoming_events, 0,
                           set(r.municipalities or ()), dict(r.contact or {})) for r in rows]


OUTREACH_HEADERS = ["organisator", "organizer_id", "aankomende_activiteiten", "gemeenten",
                    "e-mail", "telefoon", "website"]


def outreach_csv(organizers: list[Organizer]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(OUTREACH_HEADERS)
    for org in organizers:
        writer.writerow([org.name, org.id, org.upcoming_events,
                         "; ".join(sorted(org.municipalities)),
                         "; ".join(org.contact.get("email") or []),
                         "; ".join(org.contact.get("phone") or []),
                         "; ".join(org.contact.get("url") or [])])
    return buf.getvalue()


def run_coverage(engine: sa.Engine, source: UitSource, region: Region,
                 now: datetime) -> CoverageRun:
    """Measure (HTTP, outside any transaction), then store in one transaction."""
    run = measure(source, region, now)
    with engine.begin() as conn:
        store(conn, run, now)
    return run


def run_outreach(engine: sa.Engine, source: UitSource, region: Region,
                 now: datetime) -> tuple[list[Organizer], int]:
    organizers, requests = collect_outreach(source, region)
    with engine.begin() as conn:
        store_outreach(conn, organizers, now)
    return organizers, requests
