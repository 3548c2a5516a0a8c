"""Moderators: who reviews which municipality's queue, how they are notified, and routing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from sync.adapters import tables as t
from sync.service import links

log = structlog.get_logger()

IMMEDIATE = "immediate"
DAILY = "daily"
WEEKLY = "weekly"  # one digest a week, on `digest_weekday`
OFF = "off"  # unsubscribed: no mail at all; the queue link still works
NOTIFY_MODES = (IMMEDIATE, DAILY, WEEKLY, OFF)
BRUSSELS = ZoneInfo("Europe/Brussels")

# Deliberately simple: one @, no whitespace or control characters (they would end up in headers).
_PART = r"[^@\s\x00-\x1f\x7f<>,;]+"
_EMAIL = re.compile(rf"^{_PART}@{_PART}\.{_PART}$")


class ModeratorError(Exception):
    """A moderator change that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class Moderator:
    id: int
    name: str
    email: str
    notify: str
    active: bool
    municipalities: tuple[str, ...]  # NIS codes, sorted
    created_at: datetime | None = None
    updated_at: datetime | None = None
    digest_weekday: int | None = None  # 0 = Monday; for the weekly digest
    away_until: date | None = None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "email": self.email, "notify": self.notify,
                "active": self.active, "municipalities": list(self.municipalities),
                "created_at": self.created_at, "updated_at": self.updated_at,
                "digest_weekday": self.digest_weekday,
                "away_until": self.away_until.isoformat() if self.away_until else None}

    def away_on(self, today: date) -> bool:
        """Away (their items go to the fallback moderators) until and including `away_until`."""
        return self.away_until is not None and today <= self.away_until

    @property
    def named(self) -> bool:
        """False for a moderator registered from the config, whose name is only the address's
        local part (the regional fallback): a mail does not greet them by it."""
        return self.name.lower() != self.email.split("@", 1)[0].lower()


def local_day(now: datetime) -> date:
    """The date in Belgium: absence and the weekly digest count in local days."""
    return now.astimezone(BRUSSELS).date()


def normalise_email(email: str) -> str:
    value = email.strip()
    if not _EMAIL.match(value) or len(value) > 320:
        raise ModeratorError(f"not a valid e-mail address: {email!r}")
    return value.lower()


def _clean_name(name: str) -> str:
    value = " ".join(name.split())  # also drops CR/LF: names go into mail headers
    if not value or len(value) > 200:
        raise ModeratorError("a name is needed (at most 200 characters)")
    return value


def _check_notify(notify: str) -> str:
    if notify not in NOTIFY_MODES:
        raise ModeratorError(f"notify must be immediate, daily, weekly or off, not {notify!r}")
    return notify


def add(
    conn: Connection, *, name: str, email: str, municipalities: Iterable[str], now: datetime,
    notify: str = DAILY, active: bool = True,
) -> Moderator:
    m = t.moderators
    address = normalise_email(email)
    if conn.execute(sa.select(m.c.id).where(m.c.email == address)).first() is not None:
        raise ModeratorError(f"a moderator with e-mail {address} already exists")
    inserted = conn.execute(
        m.insert().values(name=_clean_name(name), email=address, notify=_check_notify(notify),
                          active=active, created_at=now, updated_at=now)
    ).inserted_primary_key
    assert inserted is not None
    moderator_id = int(inserted[0])
    _set_municipalities(conn, moderator_id, set(municipalities))
    return get(conn, moderator_id)


def _set_municipalities(conn: Connection, moderator_id: int, nis: set[str]) -> None:
    mm = t.moderator_municipalities
    conn.execute(mm.delete().where(mm.c.moderator_id == moderator_id))
    if nis:
        conn.execute(mm.insert(), [{"moderator_id": moderator_id, "municipality_nis": n}
                                   for n in sorted(nis)])


def find(conn: Connection, email_or_id: str) -> Moderator:
    m = t.moderators
    key = email_or_id.strip()
    where = m.c.id == int(key) if key.isdigit() else m.c.email == key.lower()
    row = conn.execute(sa.select(m.c.id).where(where)).first()
    if row is None:
        raise ModeratorError(f"no moderator {email_or_id!r}")
    return get(conn, row.id)


def find_active(conn: Connection, email: str) -> Moderator | None:
    """The active moderator with this (normalised) address, if any."""
    m = t.moderators
    row = conn.execute(sa.select(m.c.id).where(m.c.email == email, m.c.active.is_(True))
                       ).first()
    return None if row is None else get(conn, row.id)


def get(conn: Connection, moderator_id: int) -> Moderator:
    found = list_all(conn, ids=[moderator_id])
    if not found:
        raise ModeratorError(f"no moderator with id {moderator_id}")
    return found[0]


def list_all(conn: Connection, ids: Sequence[int] | None = None,
             active_only: bool = False) -> list[Moderator]:
    m, mm = t.moderators, t.moderator_municipalities
    q = sa.select(m).order_by(m.c.name, m.c.id)
    if ids is not None:
        q = q.where(m.c.id.in_(list(ids)))
    if active_only:
        q = q.where(m.c.active.is_(True))
    rows = list(conn.execute(q))
    per: dict[int, list[str]] = {}
    mq = sa.select(mm.c.moderator_id, mm.c.municipality_nis)
    if ids is not None:
        mq = mq.where(mm.c.moderator_id.in_(list(ids)))
    for mid, nis in conn.execute(mq):
        per.setdefault(mid, []).append(nis)
    return [Moderator(r.id, r.name, r.email, r.notify, bool(r.active),
                      tuple(sorted(per.get(r.id, []))), r.created_at, r.updated_at,
                      r.digest_weekday, r.away_until)
            for r in rows]


def update(
    conn: Connection, email_or_id: str, *, now: datetime, name: str | None = None,
    email: str | None = None, municipalities: Iterable[str] | None = None,
    notify: str | None = None, active: bool | None = None,
    digest_weekday: int | None = None, away_until: date | None | bool = False,
) -> Moderator:
    """Change a moderator (`away_until=None` clears an absence; False leaves it); links for
    municipalities taken away (or all, when made inactive)
    are revoked in the same transaction."""
    current = find(conn, email_or_id)
    m = t.moderators
    values: dict[str, object] = {"updated_at": now}
    if name is not None:
        values["name"] = _clean_name(name)
    if email is not None:
        address = normalise_email(email)
        clash = conn.execute(sa.select(m.c.id).where(m.c.email == address,
                                                     m.c.id != current.id)).first()
        if clash is not None:
            raise ModeratorError(f"a moderator with e-mail {address} already exists")
        values["email"] = address
    if notify is not None:
        values["notify"] = _check_notify(notify)
    if active is not None:
        values["active"] = active
    if digest_weekday is not None:
        if not 0 <= digest_weekday <= 6:
            raise ModeratorError("digest weekday must be 0 (Monday) to 6 (Sunday)")
        values["digest_weekday"] = digest_weekday
    if away_until is not False:
        values["away_until"] = away_until
    conn.execute(m.update().where(m.c.id == current.id).values(**values))
    if municipalities is not None:
        wanted = set(municipalities)
        taken = set(current.municipalities) - wanted
        links.revoke_municipalities(conn, current.id, taken, now)
        _set_municipalities(conn, current.id, wanted)
    if active is False or (email is not None and values["email"] != current.email):
        # Links mailed to an old address, or held by someone who stopped, must stop working.
        links.revoke_moderator(conn, current.id, now)
    return get(conn, current.id)


def remove(conn: Connection, email_or_id: str, now: datetime) -> Moderator:
    """Delete a moderator; their links are revoked first (then go with the row)."""
    current = find(conn, email_or_id)
    links.revoke_moderator(conn, current.id, now)
    conn.execute(t.moderators.delete().where(t.moderators.c.id == current.id))
    return current


def ensure_fallback(conn: Connection, emails: Iterable[str], now: datetime) -> list[Moderator]:
    """The configured fallback moderators, registered on first use so links can name them."""
    out: list[Moderator] = []
    m = t.moderators
    for email in emails:
        address = normalise_email(email)
        row = conn.execute(sa.select(m.c.id).where(m.c.email == address)).first()
        if row is None:
            try:
                # Another daemon may register the same address at the same moment.
                with conn.begin_nested():
                    conn.execute(m.insert().values(
                        name=address.split("@", 1)[0], email=address, notify=DAILY,
                        active=True, created_at=now, updated_at=now))
                log.info("registered fallback moderator from the config", email=address)
            except IntegrityError:
                pass
            row = conn.execute(sa.select(m.c.id).where(m.c.email == address)).one()
        out.append(get(conn, row.id))
    return out


@dataclass(frozen=True, slots=True)
class Routing:
    """Who receives the items of which municipality."""

    moderators: dict[int, Moderator]
    by_municipality: dict[str, list[int]]  # active moderators per NIS, not away
    fallback: list[int]  # active fallback moderators
    fallback_nis: set[str] = field(default_factory=set)  # known NIS routed to fallback
    # Why a municipality goes to the fallback while it has moderators: they are away.
    away: dict[str, list[Moderator]] = field(default_factory=dict)

    def recipients(self, nis: str) -> list[int]:
        """Active moderators of the municipality, else the fallback moderators."""
        return self.by_municipality.get(nis) or self.fallback

    def is_fallback_for(self, moderator_id: int, nis: str) -> bool:
        return not self.by_municipality.get(nis) and moderator_id in self.fallback

    def scope(self, moderator_id: int, all_nis: Iterable[str]) -> set[str]:
        """Municipalities whose queue this moderator serves: their own, plus unmoderated ones
        for a fallback moderator."""
        own = {n for n, ids in self.by_municipality.items() if moderator_id in ids}
        if moderator_id in self.fallback:
            own |= {n for n in all_nis if not self.by_municipality.get(n)}
        return own


def routing(conn: Connection, fallback_emails: Iterable[str], now: datetime,
            known_nis: Iterable[str] = ()) -> Routing:
    fallback = [f.id for f in ensure_fallback(conn, fallback_emails, now) if f.active]
    today = local_day(now)
    mods = {m.id: m for m in list_all(conn, active_only=True)}
    by: dict[str, list[int]] = {}
    away: dict[str, list[Moderator]] = {}
    for mod in mods.values():
        for nis in mod.municipalities:
            if mod.away_on(today):
                away.setdefault(nis, []).append(mod)
            else:
                by.setdefault(nis, []).append(mod.id)
    if not fallback:
        log.warning("no active fallback moderator: unmoderated municipalities get no mail")
    return Routing(mods, by, fallback, {n for n in known_nis if not by.get(n)},
                   {n: ms for n, ms in away.items() if not by.get(n)})


def covered(conn: Connection, now: datetime) -> set[str]:
    """The one rule for "this municipality has a moderator": an active one who is not away.
    Every other municipality is the fallback moderators' to decide."""
    today = local_day(now)
    return {n for m in list_all(conn, active_only=True) if not m.away_on(today)
            for n in m.municipalities}
