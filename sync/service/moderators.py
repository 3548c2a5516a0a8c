"""Moderators: who reviews which municipality's queue, how they are notified, and routing."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import structlog
from sqlalchemy.engine import Connection

from sync.adapters.moderation import ModeratorRepository
from sync.domain.calendar import local_day
from sync.service import links

log = structlog.get_logger()

IMMEDIATE = "immediate"
DAILY = "daily"
WEEKLY = "weekly"  # one digest a week, on `digest_weekday`
OFF = "off"  # unsubscribed: no mail at all; the queue link still works
NOTIFY_MODES = (IMMEDIATE, DAILY, WEEKLY, OFF)

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
    repo = ModeratorRepository(conn)
    address = normalise_email(email)
    if repo.id_of(address) is not None:
        raise ModeratorError(f"a moderator with e-mail {address} already exists")
    moderator_id = repo.add(name=_clean_name(name), email=address, notify=_check_notify(notify),
                            active=active, now=now)
    repo.set_municipalities(moderator_id, set(municipalities))
    return get(conn, moderator_id)


def find(conn: Connection, email_or_id: str) -> Moderator:
    key = email_or_id.strip()
    repo = ModeratorRepository(conn)
    if key.isdigit():
        found = get(conn, int(key)) if repo.exists(int(key)) else None
    else:
        moderator_id = repo.id_of(key.lower())
        found = None if moderator_id is None else get(conn, moderator_id)
    if found is None:
        raise ModeratorError(f"no moderator {email_or_id!r}")
    return found


def find_active(conn: Connection, email: str) -> Moderator | None:
    """The active moderator with this (normalised) address, if any."""
    moderator_id = ModeratorRepository(conn).id_of(email, active_only=True)
    return None if moderator_id is None else get(conn, moderator_id)


def get(conn: Connection, moderator_id: int) -> Moderator:
    found = list_all(conn, ids=[moderator_id])
    if not found:
        raise ModeratorError(f"no moderator with id {moderator_id}")
    return found[0]


def list_all(conn: Connection, ids: Sequence[int] | None = None,
             active_only: bool = False) -> list[Moderator]:
    return [Moderator(r.id, r.name, r.email, r.notify, bool(r.active), nis, r.created_at,
                      r.updated_at, r.digest_weekday, r.away_until)
            for r, nis in ModeratorRepository(conn).rows(ids, active_only)]


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
    repo = ModeratorRepository(conn)
    values: dict[str, object] = {"updated_at": now}
    if name is not None:
        values["name"] = _clean_name(name)
    if email is not None:
        address = normalise_email(email)
        if repo.id_of(address, other_than=current.id) is not None:
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
    repo.change(current.id, values)
    if municipalities is not None:
        wanted = set(municipalities)
        taken = set(current.municipalities) - wanted
        links.revoke_municipalities(conn, current.id, taken, now)
        repo.set_municipalities(current.id, wanted)
    if active is False or (email is not None and values["email"] != current.email):
        # Links mailed to an old address, or held by someone who stopped, must stop working.
        links.revoke_moderator(conn, current.id, now)
    return get(conn, current.id)


def remove(conn: Connection, email_or_id: str, now: datetime) -> Moderator:
    """Delete a moderator; their links are revoked first (then go with the row)."""
    current = find(conn, email_or_id)
    links.revoke_moderator(conn, current.id, now)
    ModeratorRepository(conn).delete(current.id)
    return current


def ensure_fallback(conn: Connection, emails: Iterable[str], now: datetime) -> list[Moderator]:
    """The configured fallback moderators, registered on first use so links can name them."""
    out: list[Moderator] = []
    repo = ModeratorRepository(conn)
    for email in emails:
        address = normalise_email(email)
        moderator_id = repo.id_of(address)
        if moderator_id is None:
            # Another daemon may register the same address at the same moment.
            if repo.add_unless_there(name=address.split("@", 1)[0], email=address,
                                     notify=DAILY, now=now):
                log.info("registered fallback moderator from the config", email=address)
            moderator_id = repo.id_of(address)
            assert moderator_id is not None
        out.append(get(conn, moderator_id))
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
    by = _present(mods.values(), today)
    away: dict[str, list[Moderator]] = {}
    for mod in mods.values():
        if mod.away_on(today):
            for nis in mod.municipalities:
                away.setdefault(nis, []).append(mod)
    if not fallback:
        log.warning("no active fallback moderator: unmoderated municipalities get no mail")
    return Routing(mods, by, fallback, {n for n in known_nis if not by.get(n)},
                   {n: ms for n, ms in away.items() if not by.get(n)})


def covered(conn: Connection, now: datetime) -> set[str]:
    """The one rule for "this municipality has a moderator": an active one who is not away.
    Every other municipality is the fallback moderators' to decide."""
    return set(_present(list_all(conn, active_only=True), local_day(now)))


def _present(active: Iterable[Moderator], today: date) -> dict[str, list[int]]:
    """Per municipality, its active moderators who are not away `today` (`covered`'s rule)."""
    by: dict[str, list[int]] = {}
    for mod in active:
        if not mod.away_on(today):
            for nis in mod.municipalities:
                by.setdefault(nis, []).append(mod.id)
    return by
