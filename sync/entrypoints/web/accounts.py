"""Moderator pages outside the queue: joining, coordinators' decisions, preferences, insight."""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from sync.bootstrap import App
from sync.domain import dutch
from sync.domain.calendar import local_day
from sync.entrypoints.web import security as sec
from sync.entrypoints.web.moderation_pages import (
    invalid_link,
    link_context,
    number,
    post_context,
    refused,
    see_other,
    text,
)
from sync.entrypoints.web.routers import add_router
from sync.service import accounts, insight, links
from sync.service import moderators as mods

log = structlog.get_logger()
router = APIRouter(prefix="/moderatie", include_in_schema=False)

WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
NOTIFY_NL = {mods.IMMEDIATE: "Meteen: één e-mail per activiteit",
             mods.DAILY: "Elke ochtend één overzicht",
             mods.WEEKLY: "Eén overzicht per week",
             mods.OFF: "Geen e-mail (ik kijk zelf in mijn wachtrij)"}
JOIN_FORM = "aanmelden"  # the join form's CSRF value is bound to this, it has no link token


def app_of(request: Request) -> App:
    application: App = request.app.state.app
    return application


def _secret(request: Request) -> bytes:
    secret: bytes = request.app.state.moderation_secret
    return secret


def _names(application: App) -> dict[str, str]:
    return {m.nis: m.name for m in application.region.municipalities}


# ---------------------------------------------------------------- joining


def _join_form(request: Request, status: int = 200, **context: Any) -> Response:
    application = app_of(request)
    return sec.page(request, "aanmelden.html", status,
                    csrf=sec.csrf_value(_secret(request), JOIN_FORM),
                    municipalities=[(m.nis, m.name) for m in sorted(
                        application.region.municipalities, key=lambda m: m.name)],
                    form=context.pop("form", {}), errors=context.pop("errors", {}), **context)


@router.api_route("/aanmelden", methods=["GET", "HEAD"])
def join_page(request: Request) -> Response:
    return _join_form(request)


@router.post("/aanmelden")
async def join(request: Request) -> Response:
    """Same answer whether the address is known or not; the mail goes out after it."""
    application = app_of(request)
    if not sec.same_origin(request, application.config.web.base_url):
        return refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    form = await sec.read_form(request)
    if isinstance(form, Response):
        return form
    if not sec.check_csrf(_secret(request), JOIN_FORM, text(form.get("csrf"))):
        return refused(request, "Deze pagina is verouderd. Open het formulier opnieuw.")
    name, email = text(form.get("name")) or "", text(form.get("email")) or ""
    organisation, motivation = (text(form.get("organisation")) or "",
                                text(form.get("motivation")) or "")
    chosen = [v for v in form.getlist("municipality") if isinstance(v, str)]
    typed: dict[str, Any] = {"name": name, "email": email, "organisation": organisation,
                             "motivation": motivation, "municipalities": chosen}
    candidate, errors = accounts.validate(
        name=name[:1000], email=email[:400], municipalities=chosen,
        organisation=organisation[:1000], motivation=motivation[:5000],
        known_nis=_names(application))
    if candidate is None:
        return _join_form(request, 400, form=typed, errors=errors)
    try:
        accounts.submit(application.engine, application.notify_settings(), candidate,
                        sec.client_ip(request), application.clock())
    except accounts.Limited as exc:
        response = sec.page(request, "bericht.html", 429, titel="Even geduld", tekst=str(exc))
        response.headers["Retry-After"] = "3600"
        return response
    return see_other("/moderatie/aanmelden/verstuurd")


@router.api_route("/aanmelden/verstuurd", methods=["GET", "HEAD"])
def join_sent(request: Request) -> Response:
    return sec.page(request, "bericht.html", 200, titel="Kijk in je mailbox",
                    tekst="We stuurden je een e-mail met een link. Klik erop om je aanmelding "
                          "te bevestigen; daarna bekijkt de coördinator van de regio je "
                          "aanvraag. Kijk ook even bij je ongewenste mail.")


def _confirm_grant(request: Request, token: str, allow_used: bool = False
                   ) -> links.ActionGrant | None:
    application = app_of(request)
    with application.engine.connect() as conn:
        try:
            return links.resolve_action(conn, token, links.PURPOSE_CONFIRM, application.clock(),
                                        allow_used)
        except links.InvalidLink:
            return None


@router.api_route("/aanmelden/bevestigen/{token}", methods=["GET", "HEAD"])
def join_confirm_page(request: Request, token: str) -> Response:
    """A GET only asks (a mail scanner must not confirm); the button posts."""
    if _confirm_grant(request, token) is None:
        return invalid_link(request)
    return sec.page(request, "bevestigen.html", 200,
                    csrf=sec.csrf_value(_secret(request), token),
                    base=links.CONFIRM_PATH + token)


@router.post("/aanmelden/bevestigen/{token}")
async def join_confirm(request: Request, token: str) -> Response:
    application = app_of(request)
    if not sec.same_origin(request, application.config.web.base_url):
        return refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    grant = _confirm_grant(request, token, allow_used=True)
    form = await sec.read_form(request)
    if isinstance(form, Response):
        return form
    if grant is None or not sec.check_csrf(_secret(request), token, text(form.get("csrf"))):
        return invalid_link(request)
    accounts.confirm(application.engine, application.notify_settings(), grant,
                     application.clock())
    return see_other("/moderatie/aanmelden/bevestigd")


@router.api_route("/aanmelden/bevestigd", methods=["GET", "HEAD"])
def join_confirmed(request: Request) -> Response:
    return sec.page(request, "bericht.html", 200, titel="Bedankt, je adres is bevestigd",
                    tekst="De coördinator van de regio bekijkt je aanvraag. Je krijgt een "
                          "e-mail zodra er beslist is.")


# ---------------------------------------------------------------- a coordinator decides


def _coordinator(request: Request, token: str, allow_used: bool = False
                 ) -> tuple[links.ActionGrant, accounts.JoinRequest] | None:
    application = app_of(request)
    with application.engine.connect() as conn:
        try:
            grant = links.resolve_action(conn, token, links.PURPOSE_COORDINATE,
                                         application.clock(), allow_used)
        except links.InvalidLink:
            return None
        if not accounts.coordinator_allowed(application.notify_settings(), grant):
            return None
        return grant, accounts.get(conn, grant.request_id or 0)


def _request_page(request: Request, token: str, join: accounts.JoinRequest, status: int = 200,
                  **context: Any) -> Response:
    application = app_of(request)
    names = _names(application)
    now = application.clock()
    return sec.page(request, "aanvraag.html", status, join=join,
                    state=join.state(now), state_nl=accounts.STATUS_NL[join.state(now)],
                    gemeenten=", ".join(names.get(n, n) for n in join.municipalities),
                    csrf=sec.csrf_value(_secret(request), token),
                    base=links.COORDINATE_PATH + token, **context)


@router.api_route("/aanvraag/{token}", methods=["GET", "HEAD"])
def request_page(request: Request, token: str) -> Response:
    # A decided request's link still shows what was decided (and by whom).
    found = _coordinator(request, token, allow_used=True)
    if found is None:
        return invalid_link(request)
    return _request_page(request, token, found[1],
                         notice="Opgeslagen." if request.query_params.get("klaar") else None)


@router.post("/aanvraag/{token}")
async def request_decide(request: Request, token: str) -> Response:
    application = app_of(request)
    if not sec.same_origin(request, application.config.web.base_url):
        return refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    found = _coordinator(request, token, allow_used=True)
    form = await sec.read_form(request)
    if isinstance(form, Response):
        return form
    if found is None or not sec.check_csrf(_secret(request), token, text(form.get("csrf"))):
        return invalid_link(request)
    grant, join = found
    action = text(form.get("action"))
    if action not in ("goedkeuren", "afwijzen"):
        return refused(request, "Er ontbreekt iets in het formulier.", 400)
    reason = text(form.get("reason")) or ""
    try:
        accounts.decide(application.engine, application.notify_settings(), join.id,
                        approve=action == "goedkeuren", by=grant.email, reason=reason,
                        now=application.clock())
    except accounts.AccountError as exc:
        pending = join.state(application.clock()) == accounts.PENDING
        return _request_page(request, token, join, 400 if pending else 409, error=str(exc),
                             reason=reason, open_form=action)
    return see_other(links.COORDINATE_PATH + token, klaar=1)


# ---------------------------------------------------------------- preferences


def _preferences(request: Request, token: str, status: int = 200, **context: Any) -> Response:
    ctx = link_context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    application = ctx.application
    with application.engine.connect() as conn:
        me = mods.get(conn, ctx.grant.moderator_id)
    ctx.base_path = links.PREFERENCES_PATH + token
    return ctx.render("voorkeuren.html", status, me=me, modes=NOTIFY_NL, weekdays=WEEKDAYS,
                      today=local_day(application.clock()).isoformat(),
                      form=context.pop("form", None), errors=context.pop("errors", {}),
                      **context)


@router.api_route("/voorkeuren/{token}", methods=["GET", "HEAD"])
def preferences_page(request: Request, token: str) -> Response:
    q = request.query_params
    notice = None
    if q.get("opgeslagen"):
        notice = "Je voorkeuren zijn opgeslagen."
    if q.get("adres"):
        notice = (f"We stuurden een link naar {q.get('adres')}. Je adres verandert pas als je "
                  f"op die link klikt.")
    return _preferences(request, token, notice=notice)


@router.post("/voorkeuren/{token}")
async def preferences_save(request: Request, token: str) -> Response:
    got = await post_context(request, token, links.SCOPE_QUEUE)
    if isinstance(got, Response):
        return got
    ctx, form = got
    application = ctx.application
    now = application.clock()
    mode = text(form.get("notify")) or ""
    weekday = number(form.get("weekday"))
    away_text = text(form.get("away_until")) or ""
    email = (text(form.get("email")) or "").strip()
    typed: dict[str, Any] = {"notify": mode, "weekday": weekday, "away_until": away_text,
                             "email": email}
    errors: dict[str, str] = {}
    if mode not in NOTIFY_NL:
        errors["notify"] = "Kies hoe vaak je e-mail wil krijgen."
    if mode == mods.WEEKLY and (weekday is None or not 0 <= weekday <= 6):
        errors["weekday"] = "Kies de dag voor je wekelijkse overzicht."
    away: date | None = None
    if away_text:
        try:
            away = date.fromisoformat(away_text)
        except ValueError:
            errors["away_until"] = "Vul een datum in, bijvoorbeeld 2027-01-15."
        else:
            if away < local_day(now):
                errors["away_until"] = "Die datum ligt in het verleden."
    new_email = None
    if email:
        try:
            new_email = mods.normalise_email(email)
        except mods.ModeratorError:
            errors["email"] = "Vul een geldig e-mailadres in, of laat het veld leeg."
    if errors:
        return _preferences(request, token, 400, form=typed, errors=errors)
    with application.engine.begin() as conn:
        me = mods.update(conn, str(ctx.grant.moderator_id), now=now, notify=mode,
                         digest_weekday=weekday if mode == mods.WEEKLY else None,
                         away_until=away)
    log.info("preferences saved", moderator=me.id, notify=me.notify,
             away=bool(me.away_until))
    if new_email and new_email != me.email:
        accounts.request_email_change(application.engine, application.notify_settings(), me.id,
                                      new_email, now)
        return see_other(links.PREFERENCES_PATH + token, adres=new_email)
    return see_other(links.PREFERENCES_PATH + token, opgeslagen=1)


def _email_grant(request: Request, token: str) -> links.ActionGrant | None:
    application = app_of(request)
    with application.engine.connect() as conn:
        try:
            return links.resolve_action(conn, token, links.PURPOSE_EMAIL, application.clock())
        except links.InvalidLink:
            return None


@router.api_route("/adres/{token}", methods=["GET", "HEAD"])
def email_confirm_page(request: Request, token: str) -> Response:
    grant = _email_grant(request, token)
    if grant is None:
        return invalid_link(request)
    return sec.page(request, "adres.html", 200, nieuw=grant.email,
                    csrf=sec.csrf_value(_secret(request), token), base=links.EMAIL_PATH + token)


@router.post("/adres/{token}")
async def email_confirm(request: Request, token: str) -> Response:
    application = app_of(request)
    if not sec.same_origin(request, application.config.web.base_url):
        return refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    grant = _email_grant(request, token)
    form = await sec.read_form(request)
    if isinstance(form, Response):
        return form
    if grant is None or not sec.check_csrf(_secret(request), token, text(form.get("csrf"))):
        return invalid_link(request)
    try:
        _, queue_token = accounts.confirm_email_change(
            application.engine, application.notify_settings(), grant, application.clock())
    except accounts.AccountError as exc:
        return refused(request, str(exc), 409)
    # Every old link stopped working with the old address; a fresh one opens the queue.
    return see_other(links.PREFERENCES_PATH + queue_token, opgeslagen=1)


# ---------------------------------------------------------------- insight


@router.api_route("/inzicht/{token}", methods=["GET", "HEAD"])
def insight_page(request: Request, token: str) -> Response:
    ctx = link_context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    application = ctx.application
    names = _names(application)
    with application.engine.connect() as conn:
        seen = insight.insight(conn, ctx.entitled.all, names, application.clock())
    ctx.base_path = links.INSIGHT_PATH + token
    return ctx.render("inzicht.html", seen=seen,
                      gemeenten=sorted(names.get(n, n) for n in ctx.entitled.all),
                      wacht=dutch.duration(seen.wait_median_hours),
                      langst=dutch.duration(seen.wait_longest_hours),
                      dagen=insight.COMING_DAYS // 7)


def register(web: FastAPI) -> None:
    """After `moderation.register` (it installs the secret, the headers and the limits)."""
    add_router(web, router)

