"""The ikdoemee part of the annual report for any period: what was public, where, of what type
and level, who moderates, how much of UiT carries a taalicoon, and the trend per month."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sync.adapters.queries import moderation
from sync.domain import dutch
from sync.domain.activity import ACTIVITY_TYPES, LANGUAGE_LEVELS
from sync.domain.calendar import local_day
from sync.domain.dutch import counted, number, percent
from sync.domain.region import Region
from sync.service import coverage as cov
from sync.service import history
from sync.service.stats import Share, percentage

FORMATS = ("md", "html", "csv", "json")

# Where the period's activities come from, said in the report itself.
SOURCE_NOTE = ("Een activiteit telt mee als ze op minstens één dag van de periode publiek was. "
               "Die dagen komen uit de dagelijkse momentopnames; voor de dagen vóór de eerste "
               "momentopname uit het beslissingslogboek van de moderatoren (goedkeuring tot "
               "afkeuring of intrekking).")


def nl_date(d: date) -> str:
    """"5 december 2026" (the report names days without their weekday)."""
    return dutch.day(d, weekday=False)


class ReportError(ValueError):
    """A period that cannot be reported (end before start)."""


@dataclass(frozen=True, slots=True)
class MunicipalityLine:
    nis: str
    name: str
    activities: int
    percentage: float
    moderators: list[str]  # active moderators' names with an account for this municipality

    @property
    def has_account(self) -> bool:
        return bool(self.moderators)


@dataclass(frozen=True, slots=True)
class Month:
    first: date
    active: int  # public on at least one day of the month (inside the period)
    new: int  # public for the first time that month
    coverage: float | None  # last measurement of the month, region-wide
    end_public: int | None = None  # public at the month's last snapshot
    end_pending: int | None = None  # waiting for a moderator then

    @property
    def label(self) -> str:
        return dutch.month(self.first)

    @property
    def short(self) -> str:
        return dutch.MONTHS_SHORT_NL[self.first.month - 1]


@dataclass(frozen=True, slots=True)
class Report:
    period_from: date
    period_to: date
    generated_at: datetime
    total: int
    types: list[Share]
    type_mentions: int
    levels: list[Share]
    municipalities: list[MunicipalityLine]
    organisations: int
    coverage: cov.CoverageRun | None  # the period's last measurement
    coverage_first: cov.CoverageRun | None
    months: list[Month]
    outreach_day: date | None
    outreach: list[cov.Organizer]
    first_snapshot: date | None
    derived_before: date | None

    @property
    def with_activities(self) -> list[MunicipalityLine]:
        return [m for m in self.municipalities if m.activities]

    @property
    def with_account(self) -> list[MunicipalityLine]:
        return [m for m in self.municipalities if m.has_account]

    @property
    def without_account(self) -> list[MunicipalityLine]:
        return [m for m in self.municipalities if not m.has_account]

    def to_json(self) -> dict[str, Any]:
        c = self.coverage
        return {
            "period": {"from": self.period_from.isoformat(), "to": self.period_to.isoformat()},
            "generated_at": self.generated_at.isoformat(),
            "activities": self.total,
            "municipalities_with_activities": len(self.with_activities),
            "organisations": self.organisations,
            "activity_types": [s.to_json() for s in self.types],
            "activity_types_total": {"count": self.total, "mentions": self.type_mentions},
            "language_levels": [s.to_json() for s in self.levels],
            "municipalities": [
                {"nis": m.nis, "name": m.name, "activities": m.activities,
                 "percentage": m.percentage, "moderators": m.moderators,
                 "moderator_account": m.has_account} for m in self.municipalities],
            "moderation": {
                "municipalities_with_account": [m.name for m in self.with_account],
                "municipalities_without_account": [m.name for m in self.without_account]},
            "coverage": None if c is None else c.to_json(),
            "coverage_first": None if self.coverage_first is None
            else self.coverage_first.to_json(),
            "months": [{"month": m.first.strftime("%Y-%m"), "active": m.active, "new": m.new,
                        "coverage_percentage": m.coverage, "public_at_end": m.end_public,
                        "pending_at_end": m.end_pending} for m in self.months],
            "outreach": {"day": self.outreach_day.isoformat() if self.outreach_day else None,
                         "organizers": [o.to_json() for o in self.outreach]},
            "history": {"first_snapshot": self.first_snapshot.isoformat()
                        if self.first_snapshot else None,
                        "from_decision_log_before": self.derived_before.isoformat()
                        if self.derived_before else None},
        }


def _months(lo: date, hi: date) -> list[tuple[date, date, date]]:
    """(first of month, clipped start, clipped end) for each month the period touches."""
    out = []
    first = lo.replace(day=1)
    while first <= hi:
        nxt = (first + timedelta(days=32)).replace(day=1)
        out.append((first, max(lo, first), min(hi, nxt - timedelta(days=1))))
        first = nxt
    return out


def build(conn: sa.Connection, region: Region, lo: date, hi: date, now: datetime) -> Report:
    """Everything counted over the activities public on any day from `lo` to `hi` inclusive."""
    if hi < lo:
        raise ReportError(f"the period ends ({hi}) before it starts ({lo})")
    periods = history.load_periods(conn, local_day(now))
    ids = periods.public_between(lo, hi)
    facts = history.activity_facts(conn, ids)
    total = len(facts)
    types: dict[str, int] = {}
    levels: dict[str, int] = {}
    places: dict[str, int] = {}
    organisers: set[str] = set()
    for f in facts.values():
        # Several types (levels) per activity: it counts under each, shares pass 100 %.
        for name in f.activity_types:
            types[name] = types.get(name, 0) + 1
        for level in f.language_levels:
            levels[str(level)] = levels.get(str(level), 0) + 1
        places[f.municipality_nis] = places.get(f.municipality_nis, 0) + 1
        if f.organiser:
            organisers.add(f.organiser)
    moderators = moderation.active_moderators(conn)
    runs = cov.history(conn, region, lo, hi)
    by_month = {(r.day.year, r.day.month): r for r in runs}  # the month's last measurement
    ends = {(d.year, d.month): totals for d, totals in history.snapshot_days(conn, lo, hi)}
    months = []
    for first, mlo, mhi in _months(lo, hi):
        active = periods.public_between(mlo, mhi)
        new = sum(1 for a in active if (fp := periods.first_public(a)) and mlo <= fp <= mhi)
        run = by_month.get((first.year, first.month))
        end = ends.get((first.year, first.month), {})
        months.append(Month(first, len(active), new, None if run is None
                            else percentage(run.with_taalicoon, run.upcoming_events),
                            end.get("public", 0) if end else None,
                            end.get("pending", 0) if end else None))
    outreach_day, outreach = cov.latest_outreach(conn, until=hi)
    return Report(
        period_from=lo, period_to=hi, generated_at=now, total=total,
        types=[Share(k, k, types.get(k, 0), percentage(types.get(k, 0), total))
               for k in ACTIVITY_TYPES],
        type_mentions=sum(types.values()),
        levels=[Share(str(k), f"{k}", levels.get(str(k), 0),
                      percentage(levels.get(str(k), 0), total)) for k in LANGUAGE_LEVELS],
        municipalities=[MunicipalityLine(m.nis, m.name, places.get(m.nis, 0),
                                         percentage(places.get(m.nis, 0), total),
                                         moderators.get(m.nis, []))
                        for m in region.municipalities],
        organisations=len(organisers),
        coverage=runs[-1] if runs else None,
        coverage_first=runs[0] if len(runs) > 1 else None,
        months=months, outreach_day=outreach_day, outreach=outreach,
        first_snapshot=periods.first_snapshot, derived_before=periods.derived_before,
    )


# ------------------------------------------------------------------ plain formats


def level_label(key: str) -> str:
    n = int(key)
    return f"{n} taalicoon" if n == 1 else f"{n} taaliconen"


def to_csv(r: Report) -> str:
    """Flat rows: section, key, label, count, percentage (plain numbers, for a spreadsheet)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "key", "label", "count", "percentage"])
    w.writerow(["period", r.period_from.isoformat(), r.period_to.isoformat(), "", ""])
    w.writerow(["total", "activities", "Activiteiten", r.total, ""])
    w.writerow(["total", "municipalities_with_activities", "Gemeenten met activiteiten",
                len(r.with_activities), ""])
    w.writerow(["total", "organisations", "Organisaties", r.organisations, ""])
    for s in r.types:
        w.writerow(["activity_type", s.key, s.label, s.count, f"{s.percentage:.2f}"])
    w.writerow(["activity_type", "total", "Totaal", r.total, "100.00" if r.total else "0.00"])
    for s in r.levels:
        w.writerow(["language_level", s.key, level_label(s.key), s.count, f"{s.percentage:.2f}"])
    for m in r.municipalities:
        w.writerow(["municipality", m.nis, m.name, m.activities, f"{m.percentage:.2f}"])
    for m in r.municipalities:
        w.writerow(["moderator_account", m.nis, m.name, len(m.moderators), ""])
    if r.coverage is not None:
        for c in r.coverage.rows:
            w.writerow(["coverage", c.nis, c.name, c.with_taalicoon, f"{c.percentage:.2f}"])
            w.writerow(["coverage_upcoming", c.nis, c.name, c.upcoming_events, ""])
    for mo in r.months:
        w.writerow(["month_active", mo.first.strftime("%Y-%m"), mo.label, mo.active,
                    "" if mo.coverage is None else f"{mo.coverage:.2f}"])
        w.writerow(["month_new", mo.first.strftime("%Y-%m"), mo.label, mo.new, ""])
        w.writerow(["month_end_public", mo.first.strftime("%Y-%m"), mo.label,
                    "" if mo.end_public is None else mo.end_public, ""])
    for o in r.outreach:
        w.writerow(["outreach", o.id, o.name, o.upcoming_events, ""])
    return buf.getvalue()


def _md_table(headers: list[str], rows: list[list[str]], right: int = 0) -> list[str]:
    """`right`: how many last columns are numbers (right-aligned)."""
    align = ["---"] * (len(headers) - right) + ["---:"] * right
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def to_markdown(r: Report) -> str:
    lines = [f"# ikdoemee: rapport {nl_date(r.period_from)} – {nl_date(r.period_to)}", ""]
    lines += [
        f"- **{counted(r.total, 'activiteit', 'activiteiten')}** publiek in de periode",
        f"- **{counted(len(r.with_activities), 'gemeente', 'gemeenten')}** met activiteiten "
        f"(van {len(r.municipalities)})",
        f"- **{counted(r.organisations, 'organisatie', 'organisaties')}** met activiteiten",
        f"- **{counted(len(r.with_account), 'gemeente', 'gemeenten')}** met een lokale "
        f"moderator, {counted(len(r.without_account), 'gemeente', 'gemeenten')} zonder",
        "", f"_{SOURCE_NOTE}_", "", "## Activiteiten per type", ""]
    lines += _md_table(["Type", "Aantal", "%"],
                       [[s.label, number(s.count), percent(s.percentage)] for s in r.types]
                       + [["**Totaal**", f"**{number(r.total)}**",
                           f"**{percent(100.0 if r.total else 0.0)}**"]], right=2)
    lines += ["", "Een activiteit kan meer dan één type hebben: de percentages tellen samen op "
              f"tot meer dan 100 % ({counted(r.type_mentions, 'vermelding', 'vermeldingen')}).",
              "", "## Taalniveau", ""]
    lines += _md_table(["Taalniveau", "Aantal", "%"],
                       [[level_label(s.key), number(s.count), percent(s.percentage)]
                        for s in r.levels], right=2)
    lines += ["", "## Gemeenten en moderatoren", ""]
    lines += _md_table(["Gemeente", "Moderator", "Activiteiten", "%"],
                       [[m.name, ", ".join(m.moderators) if m.moderators else "geen account",
                         number(m.activities), percent(m.percentage)]
                        for m in r.municipalities], right=2)
    lines += ["", "## Koppeling UiT en taaliconen", ""]
    c = r.coverage
    if c is None:
        lines.append("Nog geen meting in deze periode.")
    else:
        lines.append(f"Meting van {nl_date(c.day)}: {number(c.with_taalicoon)} van "
                     f"{number(c.upcoming_events)} komende UiT-activiteiten in de regio "
                     f"hebben een taalicoon "
                     f"({percent(percentage(c.with_taalicoon, c.upcoming_events))}).")
        if r.coverage_first is not None:
            f0 = r.coverage_first
            lines.append(f"Bij de eerste meting van de periode ({nl_date(f0.day)}): "
                         f"{number(f0.with_taalicoon)} van {number(f0.upcoming_events)} "
                         f"({percent(percentage(f0.with_taalicoon, f0.upcoming_events))}).")
        lines.append("")
        lines += _md_table(["Gemeente", "Komende activiteiten", "Met taalicoon", "%"],
                           [[x.name, number(x.upcoming_events), number(x.with_taalicoon),
                             percent(x.percentage)] for x in c.rows], right=3)
    lines += ["", "## Verloop per maand", ""]
    lines += _md_table(["Maand", "Publiek", "Nieuw", "Einde maand", "Met taalicoon in UiT"],
                       [[mo.label, number(mo.active), number(mo.new),
                         "–" if mo.end_public is None else number(mo.end_public),
                         "–" if mo.coverage is None else percent(mo.coverage)]
                        for mo in r.months], right=4)
    lines += ["", "Publiek: op minstens één dag van de maand publiek. Nieuw: voor het eerst "
              "publiek. Einde maand: publiek bij de laatste momentopname van de maand."]
    lines += ["", "## Organisaties om aan te spreken", ""]
    if r.outreach_day is None:
        lines.append("Nog geen lijst opgemaakt.")
    else:
        lines.append(f"Organisaties met komende UiT-activiteiten in de regio, maar geen enkele "
                     f"met een taalicoon (lijst van {nl_date(r.outreach_day)}).")
        lines.append("")
        lines += _md_table(["Organisatie", "Gemeenten", "Contact", "Activiteiten"],
                           [[o.name, ", ".join(sorted(o.municipalities)), _contact(o),
                             number(o.upcoming_events)] for o in r.outreach], right=1)
    return "\n".join(lines) + "\n"


def _contact(o: cov.Organizer) -> str:
    parts = [*(o.contact.get("email") or [])[:1], *(o.contact.get("phone") or [])[:1]]
    return ", ".join(parts) or "–"
