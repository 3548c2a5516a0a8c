"""Moderation pages behind a link: the link's context and form, and the item, queue and result
pages that the routes in `moderation` answer with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import structlog
from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from sync.bootstrap import App
from sync.domain import catalogue as cat
from sync.entrypoints.web import security as sec
from sync.service import links, notify
from sync.service import moderators as mods
from sync.service import review as rv
from sync.service import review_view as view

log = structlog.get_logger()

INVALID = 403  # one status for unknown, tampered, expired, used and revoked links
DECISIONS = {"goedkeuren": rv.APPROVE, "corrigeren": rv.APPROVE, "afkeuren": rv.REJECT,
             "bevestigen": rv.CONFIRM}
DONE_NL = {rv.APPROVE: "goedgekeurd", rv.REJECT: "afgekeurd",
           rv.CONFIRM: "bevestigd als ingetrokken"}


_paths = {links.SCOPE_ITEM: links.ITEM_PATH, links.SCOPE_QUEUE: links.QUEUE_PATH,
          links.SCOPE_UNSUBSCRIBE: links.UNSUBSCRIBE_PATH}
UNSUBSCRIBING = (links.SCOPE_UNSUBSCRIBE, links.SCOPE_QUEUE)  # mails sent before kept a queue token


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

    @property
    def link_path(self) -> str:
        """The link itself: the item link, the queue link or the unsubscribe link."""
        return _paths[self.grant.scope] + self.token

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
                        queue_path=queue_path, link_path=self.link_path,
                        prefs_path=(links.PREFERENCES_PATH + self.token if queue_path else None),
                        insight_path=(links.INSIGHT_PATH + self.token if queue_path else None),
                        undo_path=self.link_path + "/terugdraaien",
                        decides=self.grant.scope != links.SCOPE_UNSUBSCRIBE, **context)


def app_of(request: Request) -> App:
    application: App = request.app.state.app
    return application


def see_other(path: str, **query: Any) -> Response:
    """POST-redirect-GET: a reload shows the result again instead of posting again."""
    params = {k: v for k, v in query.items() if v not in (None, "", [])}
    return RedirectResponse(path + (f"?{urlencode(params, doseq=True)}" if params else ""),
                            status_code=303)


def invalid_link(request: Request) -> Response:
    """The same page and status whatever was wrong with the link."""
    return sec.page(request, "ongeldig.html", INVALID)


def refused(request: Request, tekst: str, status: int = 403) -> Response:
    return sec.page(request, "bericht.html", status, titel="Dat gaat niet", tekst=tekst)


def link_context(request: Request, token: str, scope: str | tuple[str, ...],
                 allow_used: bool = False) -> Ctx | Response:
    """The context of a valid link of `scope` (or one of several), or the one "link ongeldig"
    page."""
    scopes = (scope,) if isinstance(scope, str) else scope
    application = app_of(request)
    now = application.clock()
    with application.engine.connect() as conn:
        try:
            grant: links.LinkGrant | None = links.resolve(conn, token, now, allow_used)
        except links.InvalidLink:
            grant = None
        entitled = None
        if grant is not None and grant.scope in scopes:
            entitled = rv.entitlement(conn, grant.moderator_id,
                                      application.config.notifications.fallback_moderators,
                                      [m.nis for m in application.region.municipalities],
                                      now)
    if grant is None or grant.scope not in scopes or entitled is None:
        return invalid_link(request)
    base = _paths[grant.scope] + token
    return Ctx(request, application, token, grant, entitled, base)


async def post_context(request: Request, token: str, scope: str | tuple[str, ...]
                       ) -> tuple[Ctx, FormData] | Response:
    """Like `link_context` for a POST: same origin and the link's CSRF value are required."""
    application = app_of(request)
    if not sec.same_origin(request, application.config.web.base_url):
        log.warning("cross-site post refused", path=sec.redact(request.url.path))
        return refused(request, "Dit formulier kwam niet van onze eigen pagina.")
    ctx = link_context(request, token, scope, allow_used=True)
    if isinstance(ctx, Response):
        return ctx
    form = await sec.read_form(request)
    if isinstance(form, Response):
        return form
    secret: bytes = request.app.state.moderation_secret
    if not sec.check_csrf(secret, token, text(form.get("csrf"))):
        log.warning("csrf value mismatch", path=sec.redact(request.url.path))
        return refused(request, "Deze pagina is verouderd. Open de link uit je e-mail opnieuw.")
    return ctx, form


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


number = sec.form_id  # ASCII digits in the database's range, else None


def _ids(value: str | None) -> list[int]:
    return [i for i in (number(x) for x in (value or "").split(",")) if i is not None][
        :rv.BULK_MAX]


def _malformed(request: Request) -> Response:
    return sec.form_refused(request, 422, "Er klopt iets niet in dit formulier. Ga terug en "
                                          "probeer het opnieuw.")


def _bad_number(form: FormData, *names: str) -> bool:
    """A field that is there but is not an id (a number we would otherwise misread)."""
    return any(v not in (None, "") and number(v) is None
               for name in names for v in form.getlist(name))


def _filter(ctx: Ctx) -> str | None:
    """The queue's municipality filter (`?gemeente=NIS`), only one of the moderator's own."""
    nis = text(ctx.request.query_params.get("gemeente"))
    return nis if nis and nis in ctx.entitled.all else None


def _queue_scope(ctx: Ctx, only: str | None) -> frozenset[str]:
    return frozenset({only}) if only else ctx.entitled.all


# ---------------------------------------------------------------- item pages


def show_item(ctx: Ctx, item_id: int, status: int = 200, **extra: Any) -> Response:
    """The item, or the newest open item of its activity when a sync superseded it."""
    only = _filter(ctx)
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
        item = view.item_view(conn, row.id, ctx.names, ctx.application.clock())
        following = None
        if ctx.grant.scope == links.SCOPE_QUEUE:
            following = view.queue_view(conn, _queue_scope(ctx, only), ctx.names,
                                        ctx.application.clock()).next_after(row.id)
    assert item is not None
    return ctx.render("item.html", status, item=item, notice=notice,
                      reasons=rv.REJECT_REASONS, following=following, gemeente=only,
                      form=extra.pop("form", {}), open_form=extra.pop("open_form", None),
                      **extra)


def _allowed_item(ctx: Ctx, posted: int | None) -> bool:
    """An item link decides its own item, or the item that superseded it (a token of item A
    posted with item B's id is refused)."""
    if posted is None:
        return False
    if ctx.grant.scope == links.SCOPE_QUEUE:
        return True  # the scope check in `decide_review` applies
    if posted == ctx.grant.review_item_id:
        return True
    with ctx.application.engine.connect() as conn:
        own = view.item_row(conn, ctx.grant.review_item_id or 0)
        other = view.item_row(conn, posted)
    return own is not None and other is not None and own.activity_id == other.activity_id \
        and own.status == cat.ITEM_SUPERSEDED


def _corrections(form: FormData) -> rv.Corrections:
    types = tuple(v for v in form.getlist("activity_types") if isinstance(v, str))
    level = number(form.get("language_level"))
    return rv.Corrections(types or None, level)


def _typed(form: FormData) -> dict[str, Any]:
    """What the moderator typed or chose, to fill the form again after an error."""
    return {"reason_code": text(form.get("reason_code")) or "",
            "reason_text": text(form.get("reason_text")) or "",
            "activity_types": [v for v in form.getlist("activity_types") if isinstance(v, str)],
            "language_level": number(form.get("language_level"))}


def decide(ctx: Ctx, form: FormData) -> Response:
    application = ctx.application
    item_id = number(form.get("item_id"))
    lock = number(form.get("lock_version"))
    action = text(form.get("action")) or ""
    decision = DECISIONS.get(action)
    if _bad_number(form, "item_id", "lock_version", "language_level"):
        return _malformed(ctx.request)
    if decision is None or lock is None:
        return refused(ctx.request, "Er ontbreekt iets in het formulier.", 400)
    if not _allowed_item(ctx, item_id):
        log.warning("link used for another item", moderator=ctx.entitled.moderator_id,
                    token_id=ctx.grant.token_id, posted_item=item_id)
        return refused(ctx.request, "Deze link hoort bij een andere activiteit.")
    assert item_id is not None
    if ctx.grant.used:
        # A replay on a used item link: only tell what was decided (6: no-op, 7: 409).
        return _replay(ctx, item_id, decision)
    corrections = _corrections(form) if action == "corrigeren" else None
    now = application.clock()
    try:
        with application.uow() as uow:
            outcome = rv.decide_review(
                uow, item_id, decision, moderator=ctx.entitled.email, now=now,
                expected_lock_version=lock, reason=text(form.get("reason_text")),
                reason_code=text(form.get("reason_code")), corrections=corrections,
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
        return _conflict(ctx, item_id, exc)
    except rv.ReviewError as exc:
        # Not saved: the same page, with what was typed, and the form that was used open.
        return show_item(ctx, item_id, 400, error=str(exc), form=_typed(form),
                          open_form=action)
    log.info("review decided", item=item_id, decision=decision, via=ctx.via,
             moderator=ctx.entitled.moderator_id)
    return see_other(ctx.link_path + "/klaar", b=str(outcome.decision_id),
                     gemeente=_filter(ctx), next=_next_param(ctx))


def _next_param(ctx: Ctx) -> str | None:
    wanted = text(ctx.request.query_params.get("next"))
    return sec.safe_next(wanted, "") or None


def _replay(ctx: Ctx, item_id: int, decision: str) -> Response:
    with ctx.application.engine.connect() as conn:
        row = view.item_row(conn, item_id)
    if row is None or row.status == cat.ITEM_OPEN:
        return invalid_link(ctx.request)
    exc = rv.Conflict("replay", row.decided_by, row.decided_at, row.status,
                      row.status == rv.ITEM_STATUS[decision]
                      and row.decided_by == ctx.entitled.email)
    return _conflict(ctx, item_id, exc)


def _conflict(ctx: Ctx, item_id: int, exc: rv.Conflict) -> Response:
    if exc.status in (cat.ITEM_SUPERSEDED, cat.ITEM_OPEN) or exc.decided_by is None:
        # Stale: the item changed since the page was loaded; show the current version.
        return show_item(ctx, item_id, 409, notice=(
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


def done_page(ctx: Ctx) -> Response:
    """After a decision (GET, so a reload shows the same): what was decided, undo, next."""
    q = ctx.request.query_params
    only = _filter(ctx)
    skipped_codes = [(i, code) for i, code in
                     ((number(i), code) for i, _, code in
                      (part.partition(":") for part in (text(q.get("s")) or "").split(",")))
                     if i is not None][:rv.BULK_MAX]
    with ctx.application.engine.connect() as conn:
        done = view.decided(conn, _ids(text(q.get("b"))), ctx.entitled.moderator_id)
        titles = view.titles(conn, [i for i, _ in skipped_codes])
        deciders = view.decided_by(conn, [i for i, _ in skipped_codes])
        following = None
        if ctx.grant.scope == links.SCOPE_QUEUE:
            following = view.queue_view(conn, _queue_scope(ctx, only), ctx.names,
                                        ctx.application.clock()).next_after(0)
    skipped = [(titles.get(i, "Activiteit"), rv.skip_text(code, deciders.get(i)))
               for i, code in skipped_codes]
    live = [d for d in done if not d.undone]
    by_decision: dict[str, list[view.Decided]] = {}
    for d in live:
        by_decision.setdefault(d.decision, []).append(d)
    back = _next_param(ctx) or ctx.queue_home()
    if back and only and back == ctx.queue_home():
        back += "?" + urlencode({"gemeente": only})
    return ctx.render("klaar.html", 200, groups=[(DONE_NL[k], v) for k, v in
                                                 by_decision.items()],
                      live=live, skipped=skipped,
                      undo_minutes=ctx.application.config.moderation.undo_minutes,
                      next_path=back, following=following, gemeente=only,
                      item_link=ctx.grant.scope == links.SCOPE_ITEM)


def undo(ctx: Ctx, form: FormData) -> Response:
    if _bad_number(form, "decision_id"):
        return _malformed(ctx.request)
    ids = [i for i in (number(v) for v in form.getlist("decision_id")) if i is not None]
    if not ids:
        return refused(ctx.request, "Er ontbreekt iets in het formulier.", 400)
    application = ctx.application
    window = timedelta(minutes=application.config.moderation.undo_minutes)
    now = application.clock()
    only_link = ctx.grant.token_id if ctx.grant.scope == links.SCOPE_ITEM else None
    try:
        with application.uow() as uow:
            outcomes = [rv.undo_decision(uow, i, actor=ctx.actor(), now=now, window=window,
                                         entitled=ctx.entitled, only_link=only_link)
                        for i in ids]
            uow.commit()
    except rv.UndoError as exc:
        return ctx.render("bericht_link.html", 409, titel="Terugdraaien lukt niet",
                          tekst=str(exc))
    log.info("decision undone", decisions=ids, moderator=ctx.entitled.moderator_id)
    if ctx.grant.scope == links.SCOPE_ITEM:
        return see_other(ctx.link_path, teruggedraaid=1)
    return see_other(ctx.link_path, teruggedraaid=len(outcomes), gemeente=_filter(ctx))


def undone_notice(ctx: Ctx) -> str | None:
    n = number(ctx.request.query_params.get("teruggedraaid"))
    if not n or n < 1:
        return None
    if ctx.grant.scope == links.SCOPE_ITEM:
        return "Je beslissing is teruggedraaid. De activiteit staat weer open."
    return ("1 beslissing teruggedraaid." if n == 1 else f"{n} beslissingen teruggedraaid.")


def show_queue(ctx: Ctx, status: int = 200, **extra: Any) -> Response:
    only = _filter(ctx)
    application = ctx.application
    with application.engine.connect() as conn:
        everything = view.queue_view(conn, ctx.entitled.all, ctx.names,
                                         ctx.application.clock())
        routing = mods.routing(conn, application.config.notifications.fallback_moderators,
                               application.clock())
    q = everything.only(only) if only else everything
    per = everything.per_municipality()
    names = ctx.names
    own = sorted(ctx.entitled.own, key=lambda n: names.get(n, n))
    fallback = sorted(ctx.entitled.fallback, key=lambda n: names.get(n, n))
    away = {n: [f"{m.name} is afwezig tot {notify.day_month(m.away_until)}"
                for m in routing.away.get(n, []) if m.away_until]
            for n in ctx.entitled.fallback}
    # Per municipality when there are several (the fallback has up to 17), else one list.
    grouped = len(ctx.entitled.all) > 1 and only is None
    return ctx.render(
        "wachtrij.html", status, queue=q, groups=q.groups() if grouped else [],
        municipalities=[names.get(n, n) for n in own],
        fallback=[names.get(n, n) for n in fallback],
        choices=[(n, names.get(n, n), per.get(n, 0)) for n in own + fallback]
        if len(ctx.entitled.all) > 1 else [], all_total=everything.total, gemeente=only,
        away=away,
        all_checked=ctx.request.query_params.get("alles") == "1",
        notice=extra.pop("notice", None) or undone_notice(ctx), **extra)


def _picked(form: FormData) -> list[tuple[int, int]] | None:
    """The selected (item id, version) pairs; None when one is not two ASCII numbers."""
    picked: list[tuple[int, int]] = []
    for value in form.getlist("item"):
        item_id, _, lock = (value if isinstance(value, str) else "").partition(":")
        pair = number(item_id), number(lock)
        if pair[0] is None or pair[1] is None:
            return None
        picked.append((pair[0], pair[1]))
    return picked


async def bulk(request: Request, token: str, decision: str) -> Response:
    got = await post_context(request, token, links.SCOPE_QUEUE)
    if isinstance(got, Response):
        return got
    ctx, form = got
    picked = _picked(form)
    what = "goedkeuren" if decision == rv.APPROVE else "als ingetrokken bevestigen"
    if picked is None:
        return _malformed(request)
    if len(picked) > rv.BULK_MAX:
        # Refused whole, not cut: a silent cut would leave the moderator thinking all is done.
        return sec.form_refused(request, 413, f"Je kan hoogstens {rv.BULK_MAX} activiteiten "
                                              f"tegelijk {what}. Ga terug en duid er minder aan.")
    if not picked:
        return show_queue(ctx, 400, error=f"Duid eerst de activiteiten aan die je wil {what}.")
    application = ctx.application
    bulk = rv.bulk_approve if decision == rv.APPROVE else rv.bulk_confirm
    with application.uow() as uow:
        result = bulk(uow, picked, actor=ctx.actor(), now=application.clock(),
                      entitled=ctx.entitled)
        uow.commit()
    log.info("bulk decision", decision=decision, done=len(result.done),
             skipped=len(result.skipped), moderator=ctx.entitled.moderator_id)
    return see_other(ctx.link_path + "/klaar",
                     b=",".join(str(o.decision_id) for o in result.done),
                     s=",".join(f"{i}:{code}" for i, code in result.skipped),
                     gemeente=_filter(ctx))
