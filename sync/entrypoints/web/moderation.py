"""Moderation routes: an e-mail link shows (GET), a button decides (POST, then a redirect)."""

from __future__ import annotations

from dataclasses import replace

import structlog
from fastapi import APIRouter, FastAPI, Request
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sync.bootstrap import App
from sync.entrypoints.web import moderation_pages as pages
from sync.entrypoints.web import security as sec
from sync.entrypoints.web.problems import http_problem
from sync.entrypoints.web.routers import add_router
from sync.service import links, notify
from sync.service import moderators as mods
from sync.service import review as rv
from sync.service import review_view as view

log = structlog.get_logger()
router = APIRouter(prefix="/moderatie", include_in_schema=False)

FRESH_LINK_REQUESTS_PER_HOUR = 5  # per address, in this process


@router.api_route("/item/{token}", methods=["GET", "HEAD"])
def item_page(request: Request, token: str) -> Response:
    ctx = pages.link_context(request, token, links.SCOPE_ITEM)
    if isinstance(ctx, Response):
        return ctx
    return pages.show_item(ctx, ctx.grant.review_item_id or 0, notice=pages.undone_notice(ctx))


@router.post("/item/{token}")
async def item_decide(request: Request, token: str) -> Response:
    got = await pages.post_context(request, token, links.SCOPE_ITEM)
    if isinstance(got, Response):
        return got
    return pages.decide(*got)


@router.api_route("/item/{token}/klaar", methods=["GET", "HEAD"])
def item_done(request: Request, token: str) -> Response:
    # The link is used up by its decision; its own result page still opens.
    ctx = pages.link_context(request, token, links.SCOPE_ITEM, allow_used=True)
    if isinstance(ctx, Response):
        return ctx
    return pages.done_page(ctx)


@router.post("/item/{token}/wachtrij")
async def item_to_queue(request: Request, token: str) -> Response:
    """From an item link to the whole queue (or its next item): the link proved who this is,
    so a fresh queue link is made; no decision ends on a dead end."""
    got = await pages.post_context(request, token, links.SCOPE_ITEM)
    if isinstance(got, Response):
        return got
    ctx, form = got
    application = ctx.application
    now = application.clock()
    with application.engine.begin() as conn:
        queue_token = links.issue(conn, ctx.grant.moderator_id, links.SCOPE_QUEUE, now,
                                  application.config.notifications.link_valid_days)
        following = view.queue_view(conn, ctx.entitled.all, ctx.names,
                                        ctx.application.clock()).next_after(0)
    home = links.QUEUE_PATH + queue_token
    if pages.text(form.get("ga")) == "volgende" and following is not None:
        return pages.see_other(f"{home}/item/{following.id}")
    return pages.see_other(home)


@router.post("/item/{token}/terugdraaien")
async def item_undo(request: Request, token: str) -> Response:
    got = await pages.post_context(request, token, links.SCOPE_ITEM)
    if isinstance(got, Response):
        return got
    ctx, form = got
    ctx.grant = replace(ctx.grant, used=False)
    return pages.undo(ctx, form)


# ---------------------------------------------------------------- queue pages


@router.api_route("/wachtrij/{token}", methods=["GET", "HEAD"])
def queue_page(request: Request, token: str) -> Response:
    ctx = pages.link_context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    return pages.show_queue(ctx)


@router.api_route("/wachtrij/{token}/klaar", methods=["GET", "HEAD"])
def queue_done(request: Request, token: str) -> Response:
    ctx = pages.link_context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    return pages.done_page(ctx)


@router.api_route("/wachtrij/{token}/item/{item_id}", methods=["GET", "HEAD"])
def queue_item_page(request: Request, token: str, item_id: str) -> Response:
    ctx = pages.link_context(request, token, links.SCOPE_QUEUE)
    if isinstance(ctx, Response):
        return ctx
    item_number = pages.number(item_id)
    if item_number is None:
        return pages.invalid_link(request)
    ctx.base_path = f"{links.QUEUE_PATH}{token}/item/{item_number}"
    return pages.show_item(ctx, item_number)


@router.post("/wachtrij/{token}/item/{item_id}")
async def queue_item_decide(request: Request, token: str, item_id: str) -> Response:
    got = await pages.post_context(request, token, links.SCOPE_QUEUE)
    if isinstance(got, Response):
        return got
    ctx, form = got
    item_number = pages.number(item_id)
    if item_number is None:
        return pages.invalid_link(request)
    # The form's item may differ from the path's: a newer version was shown in its place.
    ctx.base_path = f"{links.QUEUE_PATH}{token}/item/{item_number}"
    return pages.decide(ctx, form)


@router.post("/wachtrij/{token}/goedkeuren")
async def queue_bulk_approve(request: Request, token: str) -> Response:
    return await pages.bulk(request, token, rv.APPROVE)


@router.post("/wachtrij/{token}/bevestigen")
async def queue_bulk_confirm(request: Request, token: str) -> Response:
    return await pages.bulk(request, token, rv.CONFIRM)


@router.post("/wachtrij/{token}/terugdraaien")
async def queue_undo(request: Request, token: str) -> Response:
    got = await pages.post_context(request, token, links.SCOPE_QUEUE)
    if isinstance(got, Response):
        return got
    return pages.undo(*got)


# ---------------------------------------------------------------- unsubscribe


ONE_CLICK = b"List-Unsubscribe=One-Click"


@router.api_route("/afmelden/{token}", methods=["GET", "HEAD"])
def unsubscribe_page(request: Request, token: str) -> Response:
    """The mail's List-Unsubscribe link: a GET only asks; the button posts."""
    ctx = pages.link_context(request, token, pages.UNSUBSCRIBING)
    if isinstance(ctx, Response):
        return ctx
    ctx.base_path = links.UNSUBSCRIBE_PATH + token
    return ctx.render("afmelden.html", afgemeld=False)


@router.post("/afmelden/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """Stop every mail to the link's moderator: from our button, or RFC 8058 one-click.

    A mail provider's one-click POST carries no CSRF value and no Origin; it is accepted on
    the exact one-click body because the token itself is the secret and the change only
    stops mail (the queue link keeps working, and the preferences page turns mail on again).
    """
    body = await sec.read_body(request)
    if body is None:
        return sec.form_refused(request, 413, "Dit formulier is te groot.")
    if body.strip() == ONE_CLICK:
        ctx = pages.link_context(request, token, pages.UNSUBSCRIBING)
    else:
        got = await pages.post_context(request, token, pages.UNSUBSCRIBING)
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


# ---------------------------------------------------------------- a fresh link, the front door


@router.post("/nieuwe-link")
async def fresh_link(request: Request) -> Response:
    """Always the same answer, known address or not; the mail is written after the response
    so the timing does not tell either."""
    application = pages.app_of(request)
    if not sec.same_origin(request, application.config.web.base_url):
        return pages.refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    form = await sec.read_form(request)
    if isinstance(form, Response):
        return form
    address = (pages.text(form.get("email")) or "")[:320]
    response = sec.page(request, "bericht.html", 200, titel="Bedankt",
                        tekst="Als dit adres bekend is, krijg je een nieuwe link in je "
                              "mailbox. Kijk ook even bij je ongewenste mail.")
    limiter: sec.RateLimiter = request.app.state.fresh_link_limiter
    if not limiter.allow(" ".join(address.split()).lower()):
        log.warning("fresh link requests limited for an address")
        return response  # the same answer: a limit must not tell whether the address is known
    response.background = BackgroundTask(notify.write_fresh_link, application.engine,
                                         application.notify_settings(), address,
                                         application.clock())
    return response


@router.api_route("", methods=["GET", "HEAD"])
@router.api_route("/", methods=["GET", "HEAD"])
def front_door(request: Request) -> Response:
    """`/moderatie` itself: what this is, a fresh link, and how to become a moderator."""
    return sec.page(request, "start.html", 200)


def not_found_page(request: Request, exc: StarletteHTTPException) -> Response:
    """Under /moderatie a person gets a Dutch page; elsewhere the API's JSON problem."""
    path = request.url.path
    if path != "/moderatie" and not path.startswith(sec.MODERATION_PREFIX):
        return http_problem(request, exc)
    if exc.status_code == 405:
        response = sec.page(request, "bericht.html", 405, titel="Dat gaat niet",
                            tekst="Deze pagina open je niet rechtstreeks: gebruik de knop op "
                                  "de pagina zelf.")
    elif exc.status_code == 404:
        response = sec.page(request, "bericht.html", 404, titel="Pagina niet gevonden",
                            tekst="Deze pagina bestaat niet. Controleer de link, of open de "
                                  "link uit je e-mail opnieuw.", start_link=True)
    else:
        response = sec.page(request, "bericht.html", exc.status_code, titel="Dat gaat niet",
                            tekst="Dit verzoek kunnen we niet verwerken.", start_link=True)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def register(web: FastAPI) -> None:
    application: App = web.state.app
    web.state.moderation_secret = sec.load_secret(application.env.secret_key)
    m = application.config.moderation
    web.state.rate_limiter = sec.RateLimiter(m.rate_limit_per_minute, m.rate_limit_burst)
    web.state.fresh_link_limiter = sec.RateLimiter(FRESH_LINK_REQUESTS_PER_HOUR / 60,
                                                   FRESH_LINK_REQUESTS_PER_HOUR)
    sec.install(web, web.state.rate_limiter)
    web.add_exception_handler(StarletteHTTPException, not_found_page)  # type: ignore[arg-type]
    add_router(web, router)
