"""Read model of the moderation pages: an item as the catalogue will show it, diffs, queues."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nh3
from sqlalchemy.engine import Connection

from sync.adapters.moderation import ReviewRepository
from sync.domain import catalogue as cat
from sync.domain import dutch
from sync.domain.activity import ACTIVITY_TYPES, AUDIENCE_MEMBERS, LANGUAGE_LEVELS
from sync.domain.calendar import calendar_of, is_whole_day, parse
from sync.domain.dutch import next_when
from sync.domain.html import HTML_ATTRIBUTES, HTML_TAGS, LINK_REL, URL_SCHEMES
from sync.domain.review import BULK_MAX
from sync.service.notify import WITHDRAWN_REASON_NL

KIND_NL = {cat.KIND_NEW: "Nieuw", cat.KIND_CHANGED: "Gewijzigd",
           cat.KIND_WITHDRAWN: "Ingetrokken"}
ITEM_STATUS_NL = {cat.ITEM_OPEN: "Te valideren", cat.ITEM_APPROVED: "Goedgekeurd",
                  cat.ITEM_REJECTED: "Afgekeurd", cat.ITEM_CONFIRMED: "Intrekking bevestigd",
                  cat.ITEM_SUPERSEDED: "Vervangen door een nieuwere versie"}
STATE_NL = {cat.PENDING: "Niet gepubliceerd", cat.PUBLISHED: "Gepubliceerd",
            cat.REJECTED: "Publicatie afgewezen", cat.WITHDRAWN: "Ingetrokken"}
EVENT_STATUS_NL = {"available": "Gaat door", "postponed": "Uitgesteld",
                   "cancelled": "Geannuleerd"}


def clean_html(html: str | None) -> str:
    """The mapping's allow-list once more: what reaches a page is clean whatever is stored."""
    return nh3.clean(html or "", tags=set(HTML_TAGS), attributes=HTML_ATTRIBUTES,
                     url_schemes=set(URL_SCHEMES) - {"tel"}, link_rel=LINK_REL)


def safe_url(url: str | None, https_only: bool = False) -> str | None:
    """Only web links reach an href or src: no javascript:, data: or relative tricks."""
    if not url or any(c in url for c in "\r\n\t <>\"'`"):
        return None
    lower = url.lower()
    if lower.startswith("https://") or (not https_only and lower.startswith("http://")):
        return url
    return None


def day_nl(dt: datetime | str | None, with_time: bool = True) -> str:
    if dt is None:
        return "Datum onbekend"
    moment = parse(dt) if isinstance(dt, str) else dt
    assert moment is not None
    return dutch.moment(moment) if with_time else dutch.day(moment)




def pick(texts: dict[str, str] | None, main: str | None = None) -> str:
    texts = texts or {}
    for lang in ("nl", main):
        if lang and texts.get(lang):
            return texts[lang]
    return next((v for v in texts.values() if v), "")


_money = dutch.money


def dates(data: dict[str, Any]) -> list[str]:
    """Every date of the calendar as the public pages word it (whole days without a time)."""
    cal = calendar_of(data)
    if cal is None:
        return []
    lines = []
    for o in cal.occurrences:
        start, end = parse(o.start), parse(o.end)
        assert start is not None
        line = dutch.span(start, end, all_day=o.all_day or is_whole_day(start, end))
        if o.status != "available":
            line += f" ({EVENT_STATUS_NL.get(o.status, o.status).lower()})"
        lines.append(line)
    if not lines:
        start, end = parse(cal.start), parse(cal.end)
        if cal.type == "permanent" or (start is None and end is None):
            lines.append("Doorlopend")
        elif start is not None and end is not None:
            lines.append(f"van {dutch.day(start)} tot en met {dutch.day(end)}")
        elif start is not None:
            lines.append(f"vanaf {dutch.day(start)}")
    if cal.summary and len(cal.occurrences) <= 1:
        lines.append(f"Volgens de organisator: {cal.summary}")
    return lines


def opening_hours(data: dict[str, Any]) -> list[str]:
    cal = calendar_of(data)
    return dutch.opening_hours(cal.opening_hours) if cal is not None else []


def audience_nl(data: dict[str, Any]) -> str:
    if data.get("audience") == AUDIENCE_MEMBERS:
        return "Alleen voor leden van de organisator (niet in de publieke catalogus)"
    return "Iedereen"


def price(data: dict[str, Any]) -> str:
    p = data.get("price")
    if not p:
        return "Niet opgegeven"
    currency = p.get("currency") or "EUR"
    parts = ["Gratis" if p.get("is_free")
             else f"Basistarief {_money(p.get('base_price'), currency)}"]
    for tariff in p.get("tariffs") or []:
        amount = _money(tariff.get("price"), tariff.get("currency") or currency)
        parts.append(f"{pick(tariff.get('name'))}: {amount}")
    if p.get("uitpas"):
        parts.append("UiTPAS")
    return "; ".join(parts)


def place_lines(data: dict[str, Any], main: str | None) -> list[str]:
    pl = data.get("place") or {}
    lines = [pick(pl.get("name"), main)]
    street = pl.get("street_address")
    town = " ".join(x for x in (pl.get("postal_code"),
                                pl.get("locality") or pl.get("municipality")) if x)
    lines += [x for x in (street, town) if x]
    return [x for x in lines if x]


def booking(data: dict[str, Any]) -> dict[str, str | None] | None:
    b = data.get("booking")
    if not b or not any(b.get(k) for k in ("url", "phone", "email")):
        return None
    return {"url": safe_url(b.get("url")), "label": pick(b.get("url_label")) or None,
            "phone": b.get("phone"), "email": b.get("email")}


_EMAIL = re.compile(r"^[^@\s<>\"'`]+@[^@\s<>\"'`]+\.[a-z]{2,}$", re.IGNORECASE)
# Descriptions longer than this start folded on the item page: the decision comes first.
LONG_DESCRIPTION = 400
WITHDRAWN_STATUS_NL = {"cancelled": "Geannuleerd", "deleted": "Verwijderd",
                       "rejected": "Afgekeurd in UiTdatabank", "draft": "Kladversie"}


def contact_lines(data: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(label, text, href) to reach the organizer: the activity's contact point and, when the
    mapping stores it, the organizer's own contact. Read defensively: older versions carry
    neither, newer ones may carry `organizer.contact` as well."""
    out: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    org = data.get("organizer") or {}
    for contact in (data.get("contact"), org.get("contact") if isinstance(org, dict) else None):
        if not isinstance(contact, dict):
            continue
        for key, label in (("emails", "E-mail"), ("phones", "Telefoon"), ("urls", "Website")):
            for value in contact.get(key) or ():
                text = str(value).strip()
                if not text or text in seen:
                    continue
                seen.add(text)
                href: str | None
                if key == "emails":
                    href = f"mailto:{text}" if _EMAIL.match(text) else None
                elif key == "phones":
                    digits = "".join(c for c in text if c.isdigit() or c == "+")
                    href = f"tel:{digits}" if len(digits) >= 6 else None
                else:
                    href = safe_url(text)
                out.append((label, text, href))
    return out


def levels(data: dict[str, Any]) -> list[tuple[int, str]]:
    return [(n, LANGUAGE_LEVELS.get(n, "")) for n in data.get("language_levels") or ()]


@dataclass(frozen=True, slots=True)
class DiffRow:
    label: str
    before: str
    after: str


@dataclass(slots=True)
class ItemView:
    """One review item, as the catalogue will show the activity."""

    id: int
    activity_id: int
    kind: str
    kind_nl: str
    status: str
    status_nl: str
    lock_version: int
    municipality_nis: str
    municipality: str
    activity_state_nl: str
    title: str
    description_html: str
    dates: list[str]
    opening_hours: list[str]
    place: list[str]
    levels: list[tuple[int, str]]
    activity_types: list[str]
    price: str
    organizer: str | None
    booking: dict[str, str | None] | None
    image: str | None
    event_status: str
    source_url: str | None
    withdrawn_reason: str | None
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None
    diff: list[DiffRow] = field(default_factory=list)
    level_correctable: bool = True
    contact: list[tuple[str, str, str | None]] = field(default_factory=list)
    status_reason: str | None = None
    description_long: bool = False
    next_when: str = ""
    audience: str = "Iedereen"
    all_activity_types: tuple[str, ...] = ACTIVITY_TYPES
    all_levels: dict[int, str] = field(default_factory=lambda: dict(LANGUAGE_LEVELS))

    @property
    def is_open(self) -> bool:
        return self.status == cat.ITEM_OPEN


def _flat(data: dict[str, Any]) -> dict[str, str]:
    """Each field a moderator compares, as displayed text."""
    main = data.get("main_language")
    b = booking(data) or {}
    org = data.get("organizer") or {}
    status = EVENT_STATUS_NL.get(data.get("status") or "", data.get("status") or "")
    if data.get("sold_out"):
        status += ", volzet"
    return {
        "Titel": pick(data.get("title"), main),
        "Beschrijving": pick(data.get("description_text"), main),
        "Data": "\n".join(dates(data)),
        "Openingsuren": "\n".join(opening_hours(data)),
        "Plaats": "\n".join(place_lines(data, main)),
        "Gemeente": (data.get("place") or {}).get("municipality") or "",
        "Taalniveau": ", ".join(str(n) for n in data.get("language_levels") or ()),
        "Soort activiteit": ", ".join(data.get("activity_types") or ()),
        "Prijs": price(data),
        "Organisator": pick(org.get("name"), main),
        "Reserveren": " · ".join(str(v) for v in (b.get("url"), b.get("phone"), b.get("email"))
                                 if v),
        "Afbeelding": data.get("image") or "",
        "Status": status,
        "Link naar de bron": data.get("url") or "",
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[DiffRow]:
    old, new = _flat(before), _flat(after)
    return [DiffRow(k, old[k], new[k]) for k in new if old[k] != new[k]]


def item_row(conn: Connection, item_id: int) -> Any:
    return ReviewRepository(conn).item(item_id)


def titles(conn: Connection, item_ids: Iterable[int]) -> dict[int, str]:
    """Review item id → its activity's title."""
    return ReviewRepository(conn).titles(item_ids)


def newest_open(conn: Connection, activity_id: int) -> Any:
    """The open review item of an activity (a newer sync supersedes older ones)."""
    return ReviewRepository(conn).newest_open(activity_id)


def item_view(conn: Connection, item_id: int, names: dict[str, str],
              now: datetime | None = None) -> ItemView | None:
    reviews = ReviewRepository(conn)
    row = reviews.item_with_activity(item_id)
    if row is None:
        return None
    data = reviews.version_data_or_none(row.version_id) or {}
    main = data.get("main_language")
    org = data.get("organizer") or {}
    approved = reviews.version_data_or_none(row.approved_version_id)
    rows = diff(approved, data) if approved is not None and row.kind == cat.KIND_CHANGED else []
    status = EVENT_STATUS_NL.get(data.get("status") or "", data.get("status") or "Onbekend")
    if data.get("sold_out"):
        status += ", volzet"
    withdrawn = None
    if row.kind == cat.KIND_WITHDRAWN:
        withdrawn = WITHDRAWN_REASON_NL.get(row.reason or "", "Niet langer in het aanbod.")
        # The stored version is the last one in the catalogue, from before the withdrawal:
        # its own status ("Gaat door") would contradict the reason.
        status = WITHDRAWN_STATUS_NL.get(row.reason or "", "Niet langer in het aanbod")
    description = clean_html(pick(data.get("description_html"), main)
                             or pick(data.get("description_text"), main))
    return ItemView(
        id=row.id, activity_id=row.activity_id, kind=row.kind,
        kind_nl=KIND_NL.get(row.kind, row.kind), status=row.status,
        status_nl=ITEM_STATUS_NL.get(row.status, row.status), lock_version=row.lock_version,
        municipality_nis=row.municipality_nis,
        municipality=names.get(row.municipality_nis, row.municipality_nis),
        activity_state_nl=STATE_NL.get(row.activity_state, row.activity_state),
        title=pick(data.get("title"), main) or "(zonder titel)",
        description_html=description,
        dates=dates(data), opening_hours=opening_hours(data), place=place_lines(data, main),
        levels=levels(data), activity_types=list(data.get("activity_types") or ()),
        price=price(data), organizer=pick(org.get("name"), main) or None,
        booking=booking(data), image=safe_url(data.get("image"), https_only=True),
        event_status=status, source_url=safe_url(data.get("url")),
        withdrawn_reason=withdrawn, decided_by=row.decided_by,
        decided_at=day_nl(row.decided_at) if row.decided_at else None,
        decision_reason=row.decision_reason, diff=rows,
        contact=contact_lines(data), status_reason=pick(data.get("status_reason"), main) or None,
        description_long=len(pick(data.get("description_text"), main)) > LONG_DESCRIPTION,
        next_when=next_when(data, now) if now is not None else "",
        audience=audience_nl(data),
    )


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    kind: str
    kind_nl: str
    title: str
    when: str
    municipality: str
    lock_version: int
    reason: str | None
    municipality_nis: str = ""
    levels: str = ""
    types: str = ""
    organizer: str = ""
    changed: str = ""  # for a changed item: which fields


@dataclass(slots=True)
class QueueView:
    rows: list[QueueRow]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return len(self.rows)

    def per_municipality(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.municipality_nis] = out.get(row.municipality_nis, 0) + 1
        return out

    def only(self, nis: str) -> QueueView:
        rows = [r for r in self.rows if r.municipality_nis == nis]
        counts = {k: sum(1 for r in rows if r.kind == k) for k in KIND_NL}
        return QueueView(rows, counts)

    def groups(self) -> list[tuple[str, str, list[QueueRow]]]:
        """(NIS, name, rows) per municipality, by name; rows keep their order."""
        per: dict[str, list[QueueRow]] = {}
        for row in self.rows:
            per.setdefault(row.municipality_nis, []).append(row)
        return sorted(((n, rows[0].municipality, rows) for n, rows in per.items()),
                      key=lambda g: g[1])

    def next_after(self, item_id: int) -> QueueRow | None:
        """The row after `item_id` (or the first one, when it is not in the queue)."""
        ids = [r.id for r in self.rows]
        if item_id in ids:
            later = self.rows[ids.index(item_id) + 1:]
            return later[0] if later else (self.rows[0] if self.rows[0].id != item_id else None)
        return self.rows[0] if self.rows else None


def queue_view(conn: Connection, nis: Iterable[str], names: dict[str, str],
               now: datetime | None = None) -> QueueView:
    """Open items of the given municipalities, soonest activity first. Only the few fields a
    row shows are read from the stored versions (a fallback queue holds hundreds of items);
    the full versions are read only for changed items, to name what changed."""
    wanted = sorted(set(nis))
    if not wanted:
        return QueueView([], {k: 0 for k in KIND_NL})
    rows = ReviewRepository(conn).queue_rows(wanted)
    changes = _changed_fields(conn, [(row.id, row.version_id, row.approved_version_id)
                                     for row in rows if row.kind == cat.KIND_CHANGED
                                     and row.approved_version_id is not None])
    out, counts = [], {k: 0 for k in KIND_NL}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
        reason = (WITHDRAWN_REASON_NL.get(row.reason or "", "Niet langer in het aanbod.")
                  if row.kind == cat.KIND_WITHDRAWN else None)
        out.append(QueueRow(
            row.id, row.kind, KIND_NL.get(row.kind, row.kind), row.title,
            next_when({"calendar": row.calendar}, now) if now is not None
            else day_nl(row.next_occurrence) if row.next_occurrence
            else "Doorlopend of datum onbekend",
            names.get(row.municipality_nis, row.municipality_nis), row.lock_version, reason,
            row.municipality_nis,
            ", ".join(str(n) for n in row.levels or ()),
            ", ".join(row.types or ()),
            pick(row.organizer if isinstance(row.organizer, dict) else None, row.main_language),
            changes.get(row.id, "")))
    return QueueView(out, counts)


def _changed_fields(conn: Connection, items: list[tuple[int, int, int]]) -> dict[int, str]:
    """Review item id → the labels of the fields that changed since the approved version."""
    if not items:
        return {}
    data = ReviewRepository(conn).versions_data({i for _, new, old in items for i in (new, old)})
    return {item: ", ".join(d.label for d in diff(data[old], data[new]))
            for item, new, old in items if new in data and old in data}


@dataclass(frozen=True, slots=True)
class Decided:
    """One of my decisions, for the page after a decision (read again on every reload)."""

    decision_id: int
    item_id: int
    decision: str
    title: str
    undone: bool


def decided(conn: Connection, decision_ids: Iterable[int], moderator_id: int) -> list[Decided]:
    """The moderator's own decisions among `decision_ids` (others' ids show nothing)."""
    ids = list(decision_ids)[:BULK_MAX]
    if not ids:
        return []
    reviews = ReviewRepository(conn)
    undone = reviews.undone(ids)
    return [Decided(row.id, row.review_item_id, row.decision, row.title, row.id in undone)
            for row in reviews.decisions_of(moderator_id, ids)]


def decided_by(conn: Connection, item_ids: Iterable[int]) -> dict[int, str | None]:
    return ReviewRepository(conn).decided_by(item_ids)
