"""Moderation pages: an e-mail link shows (GET), a button decides (POST), in Dutch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.engine import Connection
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.responses import Response

from sync.bootstrap import App
from sync.domain import catalogue as cat
from sync.entrypoints.web import security as sec
from sync.service import links, notify
from sync.service import moderators as mods
from sync.service import review as rv
from sync.service import review_view as view

log = structlog.get_logger()
router = APIRouter(prefix="/moderatie", include_in_schema=False)

INVALID = 403  # one status for unknown, tampered, expired, used and revoked links


@dataclass
class Ctx:
    """One request's link: who it acts for and where its forms post."""

    request: Request
    application: App
    token: str
    grant: links.LinkGrant
    entitled: rv.Entitlement
    base_path: str  # the link's own path, forms post there

    @property
    def names(self) -> dict[str, str]:
        return {m.nis: m.name for m in self.application.region.municipalities}

    @property
    def via(self) -> str:
        return rv.VIA_LINK if self.grant.scope == links.SCOPE_ITEM else rv.VIA_PAGE

    def actor(self) -> rv.Actor:
        r = self.request
        return rv.Actor(email=self.entitled.email, moderator_id=self.entitled.moderator_id,
                        via=self.via, token_id=self.grant.token_id,
                        scope_used=rv.SCOPE_OWN,  # replaced by the scope checked per item
                        ip=sec.client_ip(r),
                        user_agent=r.headers.get("user-agent"))

    def queue_home(self) -> str:
        return f"{links.QUEUE_PATH}{self.token}" if self.grant.scope == links.SCOPE_QUEUE else ""

    def render(self, name: str, status: int = 200, **context: Any) -> Response:
        secret: bytes = self.request.app.state.moderation_secret
        queue_path = self.queue_home() or None
        return sec.page(self.request, name, status, moderator=self.entitled,
                        csrf=sec.csrf_value(secret, self.token), base=self.base_path,
                        queue_path=queue_path,
                        undo_path=(queue_path or self.base_path) + "/terugdraaien", **context)


def _app(request: Request) -> App:
    application: App = request.app.state.app
    return application


def invalid_link(request: Request) -> Response:
    """The same page and status whatever was wrong with the link."""
    return sec.page(request, "ongeldig.html", INVALID)


def refused(request: Request, tekst: str, status: int = 403) -> Response:
    return sec.page(request, "bericht.html", status, titel="Dat gaat niet", tekst=tekst)


def _context(request: Request, token: str, scope: str, allow_used: bool = False
             ) -> Ctx | Response:
    application = _app(request)
    now = application.clock()
    with application.engine.connect() as conn:
        try:
            grant: links.LinkGrant | None = links.resolve(conn, token, now, allow_used)
        except links.InvalidLink:
            grant = None
        entitled = None
        if grant is not None and grant.scope == scope:
            entitled = rv.entitlement(conn, grant.moderator_id,
                                      application.config.notifications.fallback_moderators,
                                      [m.nis for m in application.region.municipalities],
                                      now)
    if grant is None or grant.scope != scope or entitled is None:
        return invalid_link(request)
    base = (links.ITEM_PATH if scope == links.SCOPE_ITEM else links.QUEUE_PATH) + token
    return Ctx(request, application, token, grant, entitled, base)


async def _post_context(request: Request, token: str, scope: str
                        ) -> tuple[Ctx, FormData] | Response:
    application = _app(request)
    if not sec.same_origin(request, application.config.web.base_url):
        log.warning("cross-site post refused", path=sec.redact(request.url.path))
        return refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    ctx = _context(request, token, scope, allow_used=True)
    if isinstance(ctx, Response):
        return ctx
    form = await request.form()
    secret: bytes = request.app.state.moderation_secret
    if not sec.check_csrf(secret, token, _str(form.get("csrf"))):
        log.warning("csrf value mismatch", path=sec.redact(request.url.path))
        return refused(request, "Deze pagina is verouderd. Open de link uit je e-mail opnieuw.")
    return ctx, form


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if isinstance(value, str) else None
    except ValueError:
        return None


# ---------------------------------------------------------------- item pages


def _show_item(ctx: Ctx, item_id: int, status: int = 200, **extra: Any) -> Response:
    """The item, or the newest open item of its activity when a sync superseded it."""
    with ctx.application.engine.connect() as conn:
        row = view.item_row(conn, item_id)
        if row is None:
            return invalid_link(ctx.request)
        notice = extra.pop("notice", None)
        if row.status == cat.ITEM_SUPERSEDED:
            newest = view.newest_open(conn, row.activity_id)
            if newest is None or ctx.entitled.scope_for(newest.municipality_nis) is None:
                return refused(ctx.request, "Deze activiteit werd intussen gewijzigd en hoort "
                               "niet meer bij een gemeente waarvoor jij beslist.")
            notice = notice or ("Deze activiteit werd na je e-mail opnieuw gewijzigd in "
                                "UiTdatabank. Je ziet hieronder de nieuwste versie: beslis "
                                "daarover opnieuw.")
            row = newest
        if ctx.entitled.scope_for(row.municipality_nis) is None:
            log.warning("item outside the moderator's municipalities",
                        moderator=ctx.entitled.moderator_id, item=row.id)
            return refused(ctx.request, "Deze activiteit hoort niet bij een gemeente waarvoor "
                           "jij beslist.")
        item = view.item_view(conn, row.id, ctx.names)
    assert item is not None
    return ctx.render("item.html", status, item=item, notice=notice,
                      reasons=rv.REJECT_REASONS, **extra)


def _allowed_item(ctx: Ctx, posted: int | None, conn: Connection) -> bool:
    """An item link decides its own item, or the item that superseded it (case 4: a token of
    item A posted with item B's id is refused)."""
    if posted is None:
        return False
    if ctx.grant.scope == links.SCOPE_QUEUE:
        return True  # the scope check in `decide_review` applies
    if posted == ctx.grant.review_item_id:
        return True
    own = view.item_row(conn, ctx.grant.review_item_id or 0)
    other = view.item_row(conn, posted)
    return own is not None and other is not None and own.activity_id == other.activity_id \
        and own.status == cat.ITEM_SUPERSEDED


def _corrections(form: FormData) -> rv.Corrections:
    types = tuple(v for v in form.getlist("activity_types") if isinstance(v, str))
    level = _int(form.get("language_level"))
    return rv.Corrections(types or None, level)


def _decide(ctx: Ctx, form: FormData) -> Response:
    application = ctx.application
    item_id = _int(form.get("item_id"))
    lock = _int(form.get("lock_version"))
    action = _str(form.get("action")) or ""
    decision = {"goedkeuren": rv.APPROVE, "corrigeren": rv.APPROVE, "afkeuren": rv.REJECT,
                "bevestigen": rv.CONFIRM}.get(action)
    if decision is None or lock is None:
        return refused(ctx.request, "Er ontbreekt iets in het formulier.", 400)
    now = application.clock()
    with application.engine.connect() as conn:
        if not _allowed_item(ctx, item_id, conn):
            log.warning("link used for another item", moderator=ctx.entitled.moderator_id,
                        token_id=ctx.grant.token_id, posted_item=item_id)
            return refused(ctx.request, "Deze link hoort bij een andere activiteit.")
    assert item_id is not None
    if ctx.grant.used:
        # A replay on a used item link: only tell what was decided (6: no-op, 7: 409).
        return _replay(ctx, item_id, decision)
    corrections = _corrections(form) if action == "corrigeren" else None
    try:
        with application.uow() as uow:
            outcome = rv.decide_review(
                uow, item_id, decision, moderator=ctx.entitled.email, now=now,
                expected_lock_version=lock, reason=_str(form.get("reason_text")),
                reason_code=_str(form.get("reason_code")), corrections=corrections,
                actor=ctx.actor(), entitled=ctx.entitled,
                reason_max_length=application.config.moderation.reason_max_length)
            if ctx.grant.scope == links.SCOPE_ITEM:
                links.mark_used(uow.connection, ctx.grant.token_id, now)
            uow.commit()
    except rv.OutOfScope as exc:
        log.warning("decision outside scope refused", moderator=ctx.entitled.moderator_id,
                    item=item_id)
        return refused(ctx.request, str(exc))
    except rv.Conflict as exc:
        return _conflict(ctx, item_id, exc, decision)
    except rv.ReviewError as exc:
        return _show_item(ctx, item_id, 400, error=str(exc))
    log.info("review decided", item=item_id, decision=decision, via=ctx.via,
             moderator=ctx.entitled.moderator_id)
    return _done(ctx, [outcome], decision)


def _replay(ctx: Ctx, item_id: int, decision: str) -> Response:
    with ctx.application.engine.connect() as conn:
        row = view.item_row(conn, item_id)
    if row is None or row.status == cat.ITEM_OPEN:
        return invalid_link(ctx.request)
    exc = rv.Conflict("replay", row.decided_by, row.decided_at, row.status,
                      row.status == rv.ITEM_STATUS[decision]
                      and row.decided_by == ctx.entitled.email)
    return _conflict(ctx, item_id, exc, decision)


def _conflict(ctx: Ctx, item_id: int, exc: rv.Conflict, decision: str) -> Response:
    if exc.status in (cat.ITEM_SUPERSEDED, cat.ITEM_OPEN) or exc.decided_by is None:
        # Stale: the item changed since the page was loaded; show the current version.
        return _show_item(ctx, item_id, 409, notice=(
            "Deze activiteit werd intussen gewijzigd. Bekijk de nieuwste versie en beslis "
            "opnieuw."))
    when = view.day_nl(exc.decided_at) if exc.decided_at else "onbekend"
    status_nl = view.ITEM_STATUS_NL.get(exc.status or "", exc.status or "")
    if exc.same_decision:
        return ctx.render("bericht_link.html", 200, titel="Al beslist",
                          tekst=f"Je had deze activiteit al beslist: {status_nl.lower()} door "
                                f"{exc.decided_by} op {when}. Er is niets veranderd.")
    return ctx.render("bericht_link.html", 409, titel="Iemand was je voor",
                      tekst=f"Deze activiteit werd al beslist: {status_nl.lower()} door "
                            f"{exc.decided_by} op {when}. Je beslissing is niet opgeslagen.")


def _done(ctx: Ctx, outcomes: list[rv.Outcome], decision: str,
          skipped: list[tuple[int, str]] | None = None) -> Response:
    minutes = ctx.application.config.moderation.undo_minutes
    next_path = sec.safe_next(_str(ctx.request.query_params.get("next")),
                              ctx.queue_home())
    with ctx.application.engine.connect() as conn:
        titles = view.titles(conn, [o.item_id for o in outcomes] + [i for i, _ in skipped or []])
    label = {rv.APPROVE: "goedgekeurd", rv.REJECT: "afgekeurd",
             rv.CONFIRM: "bevestigd als ingetrokken"}[decision]
    return ctx.render("klaar.html", 200, outcomes=outcomes, titles=titles, label=label,
                      skipped=skipped or [], undo_minutes=minutes, next_path=next_path)


def _undo(ctx: Ctx, form: FormData) -> Response:
    ids = [i for i in (_int(v) for v in form.getlist("decision_id")) if i is not None]
    if not ids:
        return refused(ctx.request, "Er ontbreekt iets in het formulier.", 400)
    application = ctx.application
    window = timedelta(minutes=application.config.moderation.undo_minutes)
    now = application.clock()
    try:
        with application.uow() as uow:
            outcomes = [rv.undo_decision(uow, i, actor=ctx.actor(), now=now, window=window,
                                         entitled=ctx.entitled) for i in ids]
            uow.commit()
    except rv.UndoError as exc:
        return ctx.render("bericht_link.html", 409, titel="Terugdraaien lukt niet",
                          tekst=str(exc))
    log.info("decision undone", decisions=ids, moderator=ctx.entitled.moderator_id)
    if ctx.grant.scope == links.SCOPE_ITEM:
        ctx.grant = replace(ctx.grant, used=False)
        return _show_item(ctx, outcomes[0].item_id, notice="Je beslissing is teruggedraaid. "
                          "De activiteit staat weer open.")
    return _queue(ctx, notice=f"{len(outcomes)} beslissing(en) teruggedraaid.")


@router.api_route("/item/{token}", methods=["GET", "HEAD"])
def item_page(request: Request, token: str) -> Response:
    ctx = _context(request, token, links.SCOPE_ITEM)
    if isinstance(ctx, Response):
        return ctx
    return _show_item(ctx, ctx.grant.review_item_id or 0)


@router.post("/item/{token}")
async def item_decide(request: Request, token: str) -> Response:
    got = await _post_context(request, token, links.SCOPE_ITEM)
    if isinstance(got, Response):
        return got
    return _decide(*got)


@router.post("/item/{token}/terugdraaien")
async def item_undo(request: Request, token: str) -> Response:
    got = await _post_context(request, token, links.SCOPE_ITEM)
    if isinstance(got, Response):
        return got
    return _undo(*got)


# ---------------------------------------------------------------- queue pages


def _queue(ctx: Ctx, status: int = 200, **extra: Any) -> Response:
    with ctx.application.engine.connect() as conn:
        q = view.queue_view(conn, ctx.entitled.all, ctx.names)
    municipalities = sorted(ctx.names.get(n, n) for n in ctx.entitled.own)
    fallback = sorted(ctx.names.get(n, n) for n in ctx.entitled.fallback)
    return ctx.render("wachtrij.html", status, queue=q, municipalities=municipalities,
                      fallback=fallback, **extra)


@router.api_route("/wachtrij/{token}", methods=["GET", "HEAD"])
def queue_page(request: Request, token: str) -> Response:
    ctx = _context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    return _queue(ctx)


@router.api_route("/wachtrij/{token}/item/{item_id}", methods=["GET", "HEAD"])
def queue_item_page(request: Request, token: str, item_id: str) -> Response:
    ctx = _context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    number = _int(item_id)
    if number is None:
        return invalid_link(request)
    ctx.base_path = f"{links.QUEUE_PATH}{token}/item/{number}"
    return _show_item(ctx, number)


@router.post("/wachtrij/{token}/item/{item_id}")
async def queue_item_decide(request: Request, token: str, item_id: str) -> Response:
    got = await _post_context(request, token, links.SCOPE_QUEUE)
    if isinstance(got, Response):
        return got
    ctx, form = got
    number = _int(item_id)
    if number is None:
        return invalid_link(request)
    # The form's item may differ from the path's: a newer version was shown in its place.
    ctx.base_path = f"{links.QUEUE_PATH}{token}/item/{number}"
    return _decide(ctx, form)


@router.post("/wachtrij/{token}/goedkeuren")
async def queue_bulk_approve(request: Request, token: str) -> Response:
    got = await _post_context(request, token, links.SCOPE_QUEUE)
    if isinstance(got, Response):
        return got
    ctx, form = got
    picked: list[tuple[int, int]] = []
    for value in form.getlist("item"):
        item_id, _, lock = (value if isinstance(value, str) else "").partition(":")
        if item_id.isdigit() and lock.isdigit():
            picked.append((int(item_id), int(lock)))
    if not picked:
        return _queue(ctx, 400, error="Duid eerst de activiteiten aan die je wil goedkeuren.")
    application = ctx.application
    with application.uow() as uow:
        result = rv.bulk_approve(uow, picked[:500], actor=ctx.actor(), now=application.clock(),
                                 entitled=ctx.entitled)
        uow.commit()
    log.info("bulk approve", approved=len(result.done), skipped=len(result.skipped),
             moderator=ctx.entitled.moderator_id)
    return _done(ctx, result.done, rv.APPROVE, result.skipped)


@router.post("/wachtrij/{token}/terugdraaien")
async def queue_undo(request: Request, token: str) -> Response:
    got = await _post_context(request, token, links.SCOPE_QUEUE)
    if isinstance(got, Response):
        return got
    return _undo(*got)


# ---------------------------------------------------------------- unsubscribe


ONE_CLICK = b"List-Unsubscribe=One-Click"


@router.api_route("/afmelden/{token}", methods=["GET", "HEAD"])
def unsubscribe_page(request: Request, token: str) -> Response:
    """The mail's List-Unsubscribe link: a GET only asks; the button posts."""
    ctx = _context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    ctx.base_path = links.UNSUBSCRIBE_PATH + token
    return ctx.render("afmelden.html", afgemeld=False)


@router.post("/afmelden/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """Stop every mail to the link's moderator: from our button, or RFC 8058 one-click.

    A mail provider's one-click POST carries no CSRF value and no Origin; it is accepted on
    the exact one-click body because the token itself is the secret and the change only
    stops mail (the queue link keeps working, and an admin can turn mail on again).
    """
    body = await request.body()
    if body.strip() == ONE_CLICK:
        ctx = _context(request, token, links.SCOPE_QUEUE)
    else:
        got = await _post_context(request, token, links.SCOPE_QUEUE)
        ctx = got if isinstance(got, Response) else got[0]
    if isinstance(ctx, Response):
        return ctx
    application = ctx.application
    with application.engine.begin() as conn:
        mods.update(conn, str(ctx.grant.moderator_id), now=application.clock(), notify=mods.OFF)
    log.info("moderator unsubscribed", moderator=ctx.grant.moderator_id,
             one_click=body.strip() == ONE_CLICK)
    ctx.base_path = links.UNSUBSCRIBE_PATH + token
    return ctx.render("afmelden.html", afgemeld=True)


# ---------------------------------------------------------------- a fresh link


@router.post("/nieuwe-link")
async def fresh_link(request: Request) -> Response:
    """Always the same answer, known address or not; the mail is written after the response
    so the timing does not tell either."""
    application = _app(request)
    if not sec.same_origin(request, application.config.web.base_url):
        return refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    form = await request.form()
    address = _str(form.get("email")) or ""
    response = sec.page(request, "bericht.html", 200, titel="Bedankt",
                        tekst="Als dit adres bekend is, krijg je een nieuwe link in je "
                              "mailbox. Kijk ook even bij je ongewenste mail.")
    response.background = BackgroundTask(notify.write_fresh_link, application.engine,
                                         application.notify_settings(), address[:320],
                                         application.clock())
    return response


def register(web: FastAPI) -> None:
    application: App = web.state.app
    web.state.moderation_secret = sec.load_secret(application.env.secret_key)
    m = application.config.moderation
    web.state.rate_limiter = sec.RateLimiter(m.rate_limit_per_minute, m.rate_limit_burst)
    sec.install(web, web.state.rate_limiter)
    web.include_router(router)
