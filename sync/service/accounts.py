"""Moderator accounts by e-mail link: asking to join, the coordinators' decision, a new address."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.engine import Connection, Engine

from sync.adapters.mailer import clean_header
from sync.adapters.moderation import RequestRepository
from sync.service import links, mail
from sync.service import moderators as mods
from sync.service.notify import NotifySettings, first_name, greeting

log = structlog.get_logger()

REQUEST_VALID_DAYS = 14
UNCONFIRMED = "unconfirmed"  # the address is not confirmed yet
PENDING = "pending"  # confirmed: waiting for a coordinator
APPROVED = "approved"
DENIED = "denied"
EXPIRED = "expired"  # not stored: an open request past `expires_at`
# Abuse limits: a form anyone can post must not become a way to mail strangers.
PER_ADDRESS_PER_DAY = 3
PER_IP_PER_HOUR = 10
NAME_MAX, ORGANISATION_MAX, MOTIVATION_MAX = 200, 200, 1000
STATUS_NL = {UNCONFIRMED: "Adres niet bevestigd", PENDING: "Wacht op een coördinator",
             APPROVED: "Goedgekeurd", DENIED: "Afgewezen", EXPIRED: "Verlopen"}


class AccountError(Exception):
    """A request or change that cannot go ahead; the message says why (Dutch)."""


class Limited(AccountError):
    """Too many requests from this address or network."""


@dataclass(frozen=True, slots=True)
class JoinRequest:
    id: int
    name: str
    email: str
    municipalities: tuple[str, ...]
    organisation: str
    motivation: str
    status: str
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    moderator_id: int | None

    def state(self, now: datetime) -> str:
        open_ = self.status in (UNCONFIRMED, PENDING)
        return EXPIRED if open_ and self.expires_at <= now else self.status

    def to_json(self, now: datetime, names: dict[str, str]) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email,
                "municipalities": list(self.municipalities),
                "municipality_names": [names.get(n, n) for n in self.municipalities],
                "organisation": self.organisation, "motivation": self.motivation,
                "status": self.state(now), "created_at": self.created_at,
                "expires_at": self.expires_at, "confirmed_at": self.confirmed_at,
                "decided_at": self.decided_at, "decided_by": self.decided_by,
                "reason": self.reason, "moderator_id": self.moderator_id}


@dataclass(frozen=True, slots=True)
class Application:
    """A validated form: who asks, for which municipalities, and why."""

    name: str
    email: str
    municipalities: tuple[str, ...]
    organisation: str
    motivation: str


def validate(*, name: str, email: str, municipalities: Iterable[str], organisation: str,
             motivation: str, known_nis: Iterable[str]) -> tuple[Application | None,
                                                                 dict[str, str]]:
    """The application, or per field what to fix (Dutch)."""
    errors: dict[str, str] = {}
    clean_name = " ".join(name.split())
    if not clean_name or len(clean_name) > NAME_MAX:
        errors["name"] = f"Vul je naam in (hoogstens {NAME_MAX} tekens)."
    address = ""
    try:
        address = mods.normalise_email(email)
    except mods.ModeratorError:
        errors["email"] = "Vul een geldig e-mailadres in, bijvoorbeeld naam@gemeente.be."
    known = set(known_nis)
    chosen = tuple(sorted({n for n in municipalities if n in known}))
    if not chosen:
        errors["municipalities"] = "Kies minstens één gemeente."
    org = " ".join(organisation.split())
    if not org or len(org) > ORGANISATION_MAX:
        errors["organisation"] = (f"Vul je organisatie in, bijvoorbeeld je gemeente of "
                                  f"vereniging (hoogstens {ORGANISATION_MAX} tekens).")
    why = motivation.strip()
    if len(why) < 10 or len(why) > MOTIVATION_MAX:
        errors["motivation"] = (f"Schrijf in een paar woorden waarom je moderator wil worden "
                                f"(10 tot {MOTIVATION_MAX} tekens).")
    if errors:
        return None, errors
    return Application(clean_name, address, chosen, org, why), {}


def _row(row: Any) -> JoinRequest:
    return JoinRequest(row.id, row.name, row.email, tuple(row.municipalities or ()),
                       row.organisation, row.motivation, row.status, row.created_at,
                       row.expires_at, row.confirmed_at, row.decided_at, row.decided_by,
                       row.reason, row.moderator_id)


def get(conn: Connection, request_id: int) -> JoinRequest:
    row = RequestRepository(conn).get(request_id)
    if row is None:
        raise AccountError(f"no request {request_id}")
    return _row(row)


def list_requests(conn: Connection) -> list[JoinRequest]:
    return [_row(r) for r in RequestRepository(conn).newest_first()]


def _names(s: NotifySettings, nis: Iterable[str]) -> str:
    return ", ".join(s.municipality_names.get(n, n) for n in nis)


def _send(conn: Connection, s: NotifySettings, to: str, to_name: str, subject: str,
          template: str, context: dict[str, Any], now: datetime,
          moderator_id: int | None = None) -> None:
    outgoing = mail.compose(sender=s.sender, to=to, to_name=to_name, subject=subject,
                            template=template, context={"geldig_dagen": s.link_valid_days,
                                                        **context})
    mail.queue(conn, outgoing, now, template, moderator_id)


def submit(engine: Engine, s: NotifySettings, app: Application, ip: str | None,
           now: datetime) -> None:
    """Store the request and mail a confirmation link to its address; an address that is
    already a moderator's gets a fresh queue link instead. The caller answers the same either
    way. `Limited` when this address or network asked too often."""
    with engine.begin() as conn:
        requests = RequestRepository(conn)
        recent_address = requests.count_since(now - timedelta(days=1), email=app.email)
        recent_ip = requests.count_since(now - timedelta(hours=1), ip=ip) if ip else 0
        if recent_address >= PER_ADDRESS_PER_DAY or recent_ip >= PER_IP_PER_HOUR:
            log.warning("join request limited", per_address=recent_address, per_ip=recent_ip)
            raise Limited("Er kwamen al te veel aanvragen binnen. Probeer het morgen opnieuw.")
        # Counted like any other request, so the limits do not tell a known address either.
        request_id = requests.add(
            name=app.name, email=app.email, municipalities=list(app.municipalities),
            organisation=app.organisation, motivation=app.motivation, status=UNCONFIRMED,
            ip=(ip or "")[:64] or None, created_at=now,
            expires_at=now + timedelta(days=REQUEST_VALID_DAYS))
        known = mods.find_active(conn, app.email)
        if known is not None:
            requests.change(request_id, status=DENIED, decided_at=now, decided_by="system",
                            reason="al moderator", moderator_id=known.id)
            token = links.issue(conn, known.id, links.SCOPE_QUEUE, now, s.link_valid_days)
            _send(conn, s, known.email, known.name, "ikdoemee: je bent al moderator",
                  "al_moderator", {"aanhef": greeting(known),
                                   "url": links.queue_url(s.base_url, token)},
                  now, known.id)
            log.info("join request from a known moderator: queue link sent", moderator=known.id)
            return
        token = links.issue_action(conn, links.PURPOSE_CONFIRM, app.email, now,
                                   REQUEST_VALID_DAYS, request_id=request_id)
        _send(conn, s, app.email, app.name, "ikdoemee: bevestig je aanmelding als moderator",
              "aanmelden_bevestigen",
              {"aanhef": f"Beste {clean_header(first_name(app.name))}",
               "gemeenten": _names(s, app.municipalities), "dagen": REQUEST_VALID_DAYS,
               "url": links.action_url(s.base_url, links.CONFIRM_PATH, token)}, now)
    log.info("join request stored", request=request_id)


def confirm(engine: Engine, s: NotifySettings, grant: links.ActionGrant,
            now: datetime) -> JoinRequest:
    """The requester confirmed their address: the coordinators get approve/deny links."""
    with engine.begin() as conn:
        request = get(conn, grant.request_id or 0)
        if request.state(now) != UNCONFIRMED:
            return request  # already confirmed (a second click), decided or expired
        if not links.use_action(conn, grant.token_id, now):
            return get(conn, request.id)
        RequestRepository(conn).change(request.id, only_if_status=UNCONFIRMED, status=PENDING,
                                       confirmed_at=now)
        days = max(1, (request.expires_at - now).days)
        for address in s.coordinators:
            coordinator = mods.normalise_email(address)
            token = links.issue_action(conn, links.PURPOSE_COORDINATE, coordinator, now, days,
                                       request_id=request.id)
            _send(conn, s, coordinator, "", f"ikdoemee: {request.name} wil moderator worden",
                  "aanvraag_coordinator",
                  {"aanhef": "Beste coördinator", "naam": request.name,
                   "email": request.email, "organisatie": request.organisation,
                   "motivatie": request.motivation,
                   "gemeenten": _names(s, request.municipalities),
                   "url": links.action_url(s.base_url, links.COORDINATE_PATH, token),
                   "dagen": days}, now)
        if not s.coordinators:
            log.warning("no coordinators configured: a join request waits for the CLI",
                        request=request.id)
        log.info("join request confirmed", request=request.id,
                 coordinators=len(s.coordinators))
        return get(conn, request.id)


def decide(engine: Engine, s: NotifySettings, request_id: int, *, approve: bool, by: str,
           now: datetime, reason: str | None = None) -> JoinRequest:
    """Approve (the moderator exists, daily digest, with a welcome mail) or deny (a polite
    mail with the reason). Only a confirmed, open request can be decided, once."""
    words = " ".join((reason or "").split())
    if not approve and not words:
        raise AccountError("Geef een reden op: de aanvrager krijgt ze te lezen.")
    if len(words) > 500:
        raise AccountError("De reden is te lang: hoogstens 500 tekens.")
    with engine.begin() as conn:
        request = get(conn, request_id)
        state = request.state(now)
        if state != PENDING:
            raise AccountError({
                UNCONFIRMED: "Het e-mailadres van deze aanvraag is nog niet bevestigd.",
                EXPIRED: "Deze aanvraag is verlopen.",
            }.get(state, f"Over deze aanvraag werd al beslist ({STATUS_NL[state].lower()} "
                         f"door {request.decided_by})."))
        requests = RequestRepository(conn)
        if not requests.change(request.id, only_if_status=PENDING,
                               status=APPROVED if approve else DENIED, decided_at=now,
                               decided_by=by, reason=words or None):
            raise AccountError("Over deze aanvraag werd intussen al beslist.")
        links.use_request_tokens(conn, request.id, now)
        if approve:
            moderator = _make_moderator(conn, request, now)
            requests.change(request.id, moderator_id=moderator.id)
            token = links.issue(conn, moderator.id, links.SCOPE_QUEUE, now, s.link_valid_days)
            _send(conn, s, moderator.email, moderator.name, "ikdoemee: welkom als moderator",
                  "welkom", {"aanhef": greeting(moderator),
                             "gemeenten": _names(s, moderator.municipalities),
                             "queue_url": links.queue_url(s.base_url, token),
                             "voorkeuren_url": links.preferences_url(s.base_url, token),
                             "inzicht_url": links.insight_url(s.base_url, token)},
                  now, moderator.id)
        else:
            _send(conn, s, request.email, request.name, "ikdoemee: je aanmelding als moderator",
                  "afgewezen", {"aanhef": f"Beste {clean_header(first_name(request.name))}",
                                "reden": words}, now)
        log.info("join request decided", request=request.id, approved=approve, by=by)
        return get(conn, request.id)


def _make_moderator(conn: Connection, request: JoinRequest, now: datetime) -> mods.Moderator:
    """A new moderator; an address that became a moderator meanwhile gains the municipalities."""
    try:
        current = mods.find(conn, request.email)
    except mods.ModeratorError:
        return mods.add(conn, name=request.name, email=request.email,
                        municipalities=request.municipalities, now=now, notify=mods.DAILY)
    return mods.update(conn, str(current.id), now=now, active=True,
                       municipalities=set(current.municipalities) | set(request.municipalities))


def coordinator_allowed(s: NotifySettings, grant: links.ActionGrant) -> bool:
    """A coordinator's link acts only while its address is still a coordinator."""
    return grant.email.lower() in {c.strip().lower() for c in s.coordinators}


# ---------------------------------------------------------------- a new address


def request_email_change(engine: Engine, s: NotifySettings, moderator_id: int,
                         new_email: str, now: datetime) -> str:
    """Mail a confirmation link to the new address; nothing changes until it is used."""
    address = mods.normalise_email(new_email)
    with engine.begin() as conn:
        moderator = mods.get(conn, moderator_id)
        if address == moderator.email:
            raise AccountError("Dat is al je adres.")
        token = links.issue_action(conn, links.PURPOSE_EMAIL, address, now, 2,
                                   moderator_id=moderator_id)
        _send(conn, s, address, moderator.name, "ikdoemee: bevestig je nieuwe e-mailadres",
              "adres_bevestigen", {"aanhef": greeting(moderator), "oud": moderator.email,
                                   "nieuw": address,
                                   "url": links.action_url(s.base_url, links.EMAIL_PATH, token)},
              now, moderator_id)
    log.info("address change asked", moderator=moderator_id)
    return address


def confirm_email_change(engine: Engine, s: NotifySettings, grant: links.ActionGrant,
                         now: datetime) -> tuple[mods.Moderator, str]:
    """Take the new address; the old links stop working, so a fresh queue link is made."""
    with engine.begin() as conn:
        if not links.use_action(conn, grant.token_id, now):
            raise AccountError("Deze link werd al gebruikt.")
        try:
            moderator = mods.update(conn, str(grant.moderator_id), now=now, email=grant.email)
        except mods.ModeratorError as exc:
            raise AccountError("Dit adres is al in gebruik door een andere moderator.") from exc
        token = links.issue(conn, moderator.id, links.SCOPE_QUEUE, now, s.link_valid_days)
    log.info("address changed", moderator=moderator.id)
    return moderator, token

