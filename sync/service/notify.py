"""Moderator e-mail: digests, immediate mails, reminders and escalation, written to the outbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from sync.adapters.mailer import clean_header
from sync.adapters.moderation import MailOutbox, ModeratorRepository, ReviewRepository
from sync.domain import catalogue as cat
from sync.domain import dutch
from sync.domain.calendar import is_whole_day, local_day
from sync.service import links, mail
from sync.service import moderators as mods

log = structlog.get_logger()

DIGEST = "digest"
IMMEDIATE = "immediate"
REMINDER = "reminder"
ESCALATION = "escalation"
ANNOUNCED = (DIGEST, IMMEDIATE)  # an item announced either way is not announced again


KIND_NL = {cat.KIND_NEW: "Nieuw", cat.KIND_CHANGED: "Gewijzigd",
           cat.KIND_WITHDRAWN: "Ingetrokken"}
KIND_COLOUR = {cat.KIND_NEW: "#1e7a34", cat.KIND_CHANGED: "#9a6700",
               cat.KIND_WITHDRAWN: "#b3261e"}
# Why an activity left the catalogue, as a moderator reads it.
WITHDRAWN_REASON_NL = {
    "deleted": "Verwijderd in UiTdatabank.",
    "cancelled": "Geannuleerd door de organisator.",
    "outside_region": "Verhuisd naar een plaats buiten de Westhoek.",
    "no_language_icon": "Heeft geen taalicoon meer.",
    "online_only": "Vindt enkel nog online plaats.",
    "rejected": "Afgekeurd in UiTdatabank.",
    "draft": "Teruggezet naar een kladversie in UiTdatabank.",
    "vanished": "Niet meer te vinden in UiTdatabank.",
}


@dataclass(frozen=True, slots=True)
class NotifySettings:
    base_url: str
    sender: str
    link_valid_days: int
    fallback_emails: tuple[str, ...]
    reminder_after_days: int
    escalate_after_days: int
    municipality_names: dict[str, str] = field(default_factory=dict)
    coordinators: tuple[str, ...] = ()  # who approves join requests


# A digest lists at most this many items, then "en nog M" with the queue link: mail programs
# clip messages past ~100 KB, and a phone reader wants the queue, not a 250-row mail.
DIGEST_LISTED = 40


@dataclass(frozen=True, slots=True)
class OpenItem:
    id: int
    kind: str
    reason: str | None
    municipality_nis: str
    created_at: datetime
    title: str
    next_occurrence: datetime | None
    levels: tuple[int, ...] = ()
    types: tuple[str, ...] = ()


@dataclass(slots=True)
class Report:
    """What one pass wrote: mails (outbox rows) and the items they announced."""

    mails: int = 0
    items: int = 0

    def to_json(self) -> dict[str, int]:
        return {"mails": self.mails, "items": self.items}


def when_nl(dt: datetime | None) -> str:
    """The stored next date (the domain's one computation), worded as on the public pages:
    a whole day (00.00) without a time."""
    if dt is None:
        return "Doorlopend of datum onbekend"
    day = dutch.short_day(dt)
    return day if is_whole_day(dt, None) else f"{day}, {dutch.clock(dt)} uur"


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def _open_item(row: Any) -> OpenItem:
    data = dict(row.data or {})
    return OpenItem(row.id, row.kind, row.reason, row.municipality_nis, row.created_at,
                    row.title, row.next_occurrence,
                    tuple(int(n) for n in data.get("language_levels") or ()),
                    tuple(str(x) for x in data.get("activity_types") or ()))


def open_items(conn: Connection) -> list[OpenItem]:
    """Every open review item, soonest activity first."""
    return [_open_item(row) for row in ReviewRepository(conn).open_items()]


def notified(conn: Connection, kinds: Sequence[str]) -> set[tuple[int, int]]:
    """(moderator, review item) pairs already mailed in one of `kinds`, for open items."""
    return ReviewRepository(conn).notified(kinds)


def _item_context(s: NotifySettings, item: OpenItem, token: str) -> dict[str, Any]:
    reason = None
    if item.kind == cat.KIND_WITHDRAWN:
        reason = WITHDRAWN_REASON_NL.get(item.reason or "", "Niet langer in het aanbod.")
    return {
        "soort": KIND_NL.get(item.kind, item.kind),
        "kleur": KIND_COLOUR.get(item.kind, "#222222"),
        "titel": clean_header(item.title),
        "wanneer": when_nl(item.next_occurrence),
        "gemeente": s.municipality_names.get(item.municipality_nis, item.municipality_nis),
        "reden": reason,
        "niveaus": ", ".join(str(n) for n in item.levels) or "geen",
        "soorten": ", ".join(item.types) or "niet opgegeven",
        "url": links.item_url(s.base_url, token),
    }


def _waiting(n: int) -> str:
    """"1 activiteit wacht", "3 activiteiten wachten"."""
    return dutch.count(n, "activiteit wacht", "activiteiten wachten")


def _summary(items: Sequence[OpenItem]) -> str:
    new = sum(1 for i in items if i.kind == cat.KIND_NEW)
    changed = sum(1 for i in items if i.kind == cat.KIND_CHANGED)
    gone = sum(1 for i in items if i.kind == cat.KIND_WITHDRAWN)
    parts = []
    if new:
        parts.append(dutch.count(new, "nieuwe activiteit", "nieuwe activiteiten"))
    if changed:
        parts.append(dutch.count(changed, "gewijzigde activiteit", "gewijzigde activiteiten"))
    if gone:
        parts.append(dutch.count(gone, "ingetrokken activiteit", "ingetrokken activiteiten"))
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]
    return f"In je wachtrij {'staat' if len(items) == 1 else 'staan'} {listed} om na te kijken."


def greeting(moderator: mods.Moderator) -> str:
    """"Beste Ann" for a moderator with a name; the regional fallback, registered from the
    config by address only, is not greeted by that address's local part."""
    if moderator.named:
        return f"Beste {clean_header(first_name(moderator.name))}"
    return "Beste moderator"


def write_mail(
    conn: Connection, s: NotifySettings, moderator: mods.Moderator, kind: str,
    items: Sequence[OpenItem], now: datetime, subject: str, open_total: int,
    extra: dict[str, Any] | None = None,
) -> int:
    """Render one mail with fresh links and write it to the outbox together with its
    `notifications` rows, in the caller's transaction. Returns the outbox id. A mail lists
    at most `DIGEST_LISTED` items; the rest are counted and reached through the queue link."""
    queue_token = links.issue(conn, moderator.id, links.SCOPE_QUEUE, now, s.link_valid_days)
    unsubscribe_token = links.issue(conn, moderator.id, links.SCOPE_UNSUBSCRIBE, now,
                                    links.UNSUBSCRIBE_VALID_DAYS)
    unsubscribe_url = links.unsubscribe_url(s.base_url, unsubscribe_token)
    listed = list(items[:DIGEST_LISTED])
    tokens = links.issue_items(conn, moderator.id, [i.id for i in listed], now,
                               s.link_valid_days)
    more = len(items) - len(listed)
    context = {
        "aanhef": greeting(moderator),
        "subject": subject,
        "items": [_item_context(s, i, tok) for i, tok in zip(listed, tokens, strict=True)],
        "meer": more,
        "meer_tekst": (dutch.count(more, "activiteit", "activiteiten") if more else ""),
        "queue_url": links.queue_url(s.base_url, queue_token),
        "voorkeuren_url": links.preferences_url(s.base_url, queue_token),
        "inzicht_url": links.insight_url(s.base_url, queue_token),
        "afmelden_url": unsubscribe_url,
        "open_totaal": open_total,
        "open_tekst": _waiting(open_total),
        "geldig_dagen": s.link_valid_days,
        "samenvatting": _summary(items),
        **(extra or {}),
    }
    outgoing = mail.compose(
        sender=s.sender, to=moderator.email, to_name=moderator.name, subject=subject,
        template=kind, context=context,
        unsubscribe_url=unsubscribe_url)
    outbox_id = mail.queue(conn, outgoing, now, kind, moderator.id, [i.id for i in items])
    ReviewRepository(conn).record_notified(moderator.id, [i.id for i in items], kind,
                                           outbox_id, now)
    return outbox_id


def claim_items(conn: Connection, moderator_id: int, items: Sequence[OpenItem],
                kinds: Sequence[str]) -> list[OpenItem]:
    """The items not yet mailed to this moderator in `kinds`, decided under a lock on the
    moderator's row: the digest job and the relay (maybe in another instance) both announce
    items, and the second to get here must see what the first wrote."""
    ModeratorRepository(conn).lock(moderator_id)
    taken = ReviewRepository(conn).told(moderator_id, kinds, [i.id for i in items])
    return [i for i in items if i.id not in taken]


def _all_nis(s: NotifySettings, items: Iterable[OpenItem]) -> set[str]:
    return set(s.municipality_names) | {i.municipality_nis for i in items}


def _per_moderator(
    engine: Engine, s: NotifySettings, now: datetime, kind: str,
    pick: Any,
) -> Report:
    """For each active moderator, mail what `pick(routing, moderator, items, done)` returns;
    one transaction per mail so one bad address does not hold back the others."""
    report = Report()
    kinds = ANNOUNCED if kind == DIGEST else (kind,)
    with engine.begin() as conn:
        routing = mods.routing(conn, s.fallback_emails, now, s.municipality_names)
        items = open_items(conn)
        done = notified(conn, kinds)
    all_nis = _all_nis(s, items)
    for moderator in routing.moderators.values():
        if moderator.notify == mods.OFF or moderator.away_on(local_day(now)):
            continue  # unsubscribed (List-Unsubscribe), or away: the fallback has their items
        scope = routing.scope(moderator.id, all_nis)
        mine = [i for i in items if i.municipality_nis in scope]
        chosen, subject, extra = pick(routing, moderator, mine, done)
        if not chosen:
            continue  # no mail when nothing new is open
        try:
            with engine.begin() as conn:
                chosen = claim_items(conn, moderator.id, chosen, kinds)
                if not chosen:
                    continue
                if kind == DIGEST:
                    subject = digest_subject(len(chosen))
                write_mail(conn, s, moderator, kind, chosen, now, subject, len(mine), extra)
        except IntegrityError:
            # Another instance announced the same items first (unique per moderator/item/kind).
            log.info("already notified by another instance", moderator=moderator.id, kind=kind)
            continue
        report.mails += 1
        report.items += len(chosen)
    log.info("notifications written", kind=kind, **report.to_json())
    return report


def digest_subject(n: int) -> str:
    return f"ikdoemee: {dutch.count(n, 'activiteit', 'activiteiten')} te valideren"


def build_digests(engine: Engine, s: NotifySettings, now: datetime) -> Report:
    """One digest per moderator with the open items not yet announced to them."""

    def pick(routing: mods.Routing, m: mods.Moderator, mine: list[OpenItem],
             done: set[tuple[int, int]]) -> tuple[list[OpenItem], str, dict[str, Any]]:
        if m.notify == mods.WEEKLY and local_day(now).weekday() != (m.digest_weekday or 0):
            return [], "", {}  # a weekly reader gets everything new on their weekday
        new = [i for i in mine if (m.id, i.id) not in done]
        return new, digest_subject(len(new)), {"afwezig": _away_lines(routing, s, m, new)}

    return _per_moderator(engine, s, now, DIGEST, pick)


def _away_lines(routing: mods.Routing, s: NotifySettings, m: mods.Moderator,
                items: Sequence[OpenItem]) -> list[str]:
    """For a fallback moderator: why municipalities with a moderator are in their digest."""
    if m.id not in routing.fallback:
        return []
    nis = sorted({i.municipality_nis for i in items if i.municipality_nis in routing.away})
    return [f"{s.municipality_names.get(n, n)}: "
            + ", ".join(f"{a.name} is afwezig tot {day_month(a.away_until)}"
                        for a in routing.away[n] if a.away_until)
            for n in nis]


def day_month(d: date) -> str:
    """"5 december 2026" (the moderation pages word an absence the same way)."""
    return dutch.day(d, weekday=False)


def build_reminders(engine: Engine, s: NotifySettings, now: datetime) -> Report:
    """Remind each moderator once of items open longer than `reminder_after_days`."""
    cutoff = now - timedelta(days=s.reminder_after_days)

    def pick(routing: mods.Routing, m: mods.Moderator, mine: list[OpenItem],
             done: set[tuple[int, int]]) -> tuple[list[OpenItem], str, dict[str, Any]]:
        due = [i for i in mine if i.created_at <= cutoff and (m.id, i.id) not in done]
        subject = (f"Herinnering: {_waiting(len(due))}"
                   f" al meer dan {s.reminder_after_days} dagen")
        return due, subject, {"dagen": s.reminder_after_days}

    return _per_moderator(engine, s, now, REMINDER, pick)


def build_escalations(engine: Engine, s: NotifySettings, now: datetime) -> Report:
    """Items of moderated municipalities open longer than `escalate_after_days` go, once, to
    the fallback moderators (who already receive the unmoderated municipalities' items)."""
    cutoff = now - timedelta(days=s.escalate_after_days)
    with engine.connect() as conn:
        all_items = open_items(conn)

    def pick(routing: mods.Routing, m: mods.Moderator, mine: list[OpenItem],
             done: set[tuple[int, int]]) -> tuple[list[OpenItem], str, dict[str, Any]]:
        if m.id not in routing.fallback:
            return [], "", {}
        due = [i for i in all_items if i.created_at <= cutoff
               and routing.by_municipality.get(i.municipality_nis)
               and m.id not in routing.by_municipality[i.municipality_nis]
               and (m.id, i.id) not in done]
        names = sorted({s.municipality_names.get(i.municipality_nis, i.municipality_nis)
                        for i in due})
        subject = (f"Escalatie: {_waiting(len(due))}"
                   f" al meer dan {s.escalate_after_days} dagen")
        return due, subject, {"dagen": s.escalate_after_days, "gemeenten": ", ".join(names)}

    return _per_moderator(engine, s, now, ESCALATION, pick)


def notify_immediately(conn: Connection, s: NotifySettings, review_item_id: int,
                       now: datetime) -> int:
    """Relay handler for activity events: mail immediate-mode recipients about one item, in
    the relay's transaction. Returns the number of mails written."""
    items = open_items_by_id(conn, [review_item_id])
    if not items:
        return 0  # superseded or decided before the relay got to it
    item = items[0]
    routing = mods.routing(conn, s.fallback_emails, now, s.municipality_names)
    done = notified(conn, ANNOUNCED)
    written = 0
    for mid in routing.recipients(item.municipality_nis):
        moderator = routing.moderators.get(mid)
        if (moderator is None or moderator.notify != mods.IMMEDIATE or (mid, item.id) in done
                or moderator.away_on(local_day(now))):
            continue
        if not claim_items(conn, mid, [item], ANNOUNCED):
            continue
        scope = routing.scope(mid, _all_nis(s, [item]))
        open_total = ReviewRepository(conn).open_count(scope)
        kind_nl = KIND_NL.get(item.kind, item.kind).lower()
        subject = f"ikdoemee: {kind_nl} te valideren: {clean_header(item.title)[:120]}"
        write_mail(conn, s, moderator, IMMEDIATE, [item], now, subject, int(open_total))
        written += 1
    return written


def open_items_by_id(conn: Connection, ids: Sequence[int]) -> list[OpenItem]:
    return [_open_item(row) for row in ReviewRepository(conn).open_items(ids)]


# Asking for a fresh link again and again must not flood a moderator's mailbox.
FRESH_LINK_MAILS_PER_HOUR = 3
FRESH_LINK = "link"  # the outbox kind of a fresh-link mail


def fresh_links_sent(conn: Connection, moderator_id: int, since: datetime) -> int:
    """Fresh-link mails written for a moderator since `since`, counted in the outbox so the
    limit holds across web processes."""
    return MailOutbox(conn).count(FRESH_LINK, moderator_id, since)


def write_fresh_link(engine: Engine, s: NotifySettings, address: str, now: datetime) -> bool:
    """Write a queue-link mail to the outbox for an active moderator; links always use the
    configured base URL, never the request's Host (a forged Host header must not
    send a moderator a link to someone else's site)."""
    try:
        email = mods.normalise_email(address)
    except mods.ModeratorError:
        return False
    with engine.begin() as conn:
        moderator = mods.find_active(conn, email)
        if moderator is None:
            return False
        if fresh_links_sent(conn, moderator.id, now - timedelta(hours=1)) \
                >= FRESH_LINK_MAILS_PER_HOUR:
            log.warning("fresh link limited", moderator=moderator.id)
            return False
        token = links.issue(conn, moderator.id, links.SCOPE_QUEUE, now, s.link_valid_days)
        context = {"aanhef": greeting(moderator),
                   "url": links.queue_url(s.base_url, token), "dagen": s.link_valid_days}
        outgoing = mail.compose(sender=s.sender, to=moderator.email, to_name=moderator.name,
                                subject="ikdoemee: je nieuwe link naar je wachtrij",
                                template="nieuwe_link", context=context)
        mail.queue(conn, outgoing, now, FRESH_LINK, moderator.id)
    log.info("fresh link written", moderator=moderator.id)
    return True
