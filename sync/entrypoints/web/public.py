"""Public catalogue API, schema.org JSON-LD, the Dutch listing page and the statistics."""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import orjson
import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from sync.bootstrap import App
from sync.domain import dutch
from sync.domain.activity import (
    ACTIVITY_TYPES,
    LANGUAGE_LEVELS,
    AgeRange,
    Booking,
    Calendar,
    Contact,
    Organizer,
    Place,
    Price,
)
from sync.domain.search_text import MAX_QUERY_CHARS, MAX_QUERY_WORDS, QueryTooLong, query_words
from sync.entrypoints.web import guards
from sync.entrypoints.web.problems import (
    ApiProblem,
    install_api_problems,
    problem,
    problem_responses,
)
from sync.entrypoints.web.routers import add_router
from sync.entrypoints.web.security import RateLimiter, client_ip
from sync.entrypoints.web.templating import pages
from sync.service import catalogue_query as cq
from sync.service import stats as stats_service
from sync.service.public_view import public_view

JSONLD = "application/ld+json"
Lang = Literal["nl", "fr", "en", "de"]


class Municipality(BaseModel):
    nis: str
    name: str


class Translations(BaseModel):
    title: dict[str, str]
    description: dict[str, str]


class ActivityOut(BaseModel):
    id: int
    source: str
    source_id: str
    url: str = Field(description="The activity's page for people on uitinvlaanderen.be.")
    source_url: str | None = Field(
        description="The activity's document in the UiTdatabank API (JSON, not for people).")
    language: str | None = Field(description="Language of title and description served.")
    title: str | None
    description: str | None = Field(description="Plain text.")
    description_html: str | None = Field(description="Sanitised HTML.")
    translations: Translations
    main_language: str
    languages: list[str]
    activity_types: list[str]
    language_levels: list[int]
    municipality: Municipality
    next_occurrence: datetime | None = Field(
        description="Start of the next date, opening slot or running period to turn up for.")
    next_occurrence_end: datetime | None
    status: str
    sold_out: bool
    place: Place
    calendar: Calendar
    price: Price | None
    booking: Booking | None
    contact: Contact | None
    organizer: Organizer | None
    image: str | None
    age_range: AgeRange | None
    audience: str
    accessibility: list[str] = Field(description="Accessibility facilities, in Dutch.")
    attendance_mode: str = Field(description="offline, or mixed (also online: see online_url).")
    online_url: str | None
    children_only: bool
    image_alt: str | None
    image_credit: str | None
    page: str = Field(description="This activity's Dutch page in our catalogue.")
    jsonld: str = Field(description="The schema.org Event rendering of this activity.")


class Links(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    self_: str = Field(alias="self")
    first: str
    last: str
    prev: str | None
    next: str | None


class ActivityPage(BaseModel):
    items: list[ActivityOut]
    total: int
    page: int
    per_page: int
    pages: int
    links: Links


class ShareOut(BaseModel):
    key: str
    label: str
    count: int
    percentage: float


class ModerationStats(BaseModel):
    municipalities_with_moderator: list[str]
    municipalities_without_moderator: list[str]
    queues: list[ShareOut]
    open_items: int
    median_hours_to_decision: float | None
    decided_items: int


class StatsOut(BaseModel):
    generated_at: datetime
    published_activities: int
    activity_types: list[ShareOut] = Field(
        description="An activity counts under each of its types: percentages can sum past 100.")
    language_levels: list[ShareOut]
    municipalities: list[ShareOut]
    organisations: int
    moderation: ModerationStats


def _app(request: Request) -> App:
    application: App = request.app.state.app
    return application


def _filters(
    application: App, municipality: str | None, activity_type: str | None,
    language_level: int | None, date_from: date | None, date_to: date | None, q: str | None,
) -> cq.Filters:
    try:
        return cq.Filters(
            municipality_nis=cq.municipality_nis(application.region, municipality)
            if municipality else None,
            activity_type=cq.activity_type(activity_type) if activity_type else None,
            language_level=language_level,
            date_from=date_from,
            date_to=date_to,
            q=_checked_q(q),
        )
    except (cq.QueryError, QueryTooLong) as exc:
        raise ApiProblem(422, "Invalid request", str(exc)) from None


def _checked_q(q: str | None) -> str | None:
    """The search words, or None for none; QueryTooLong past the caps (before any search)."""
    if not q or not q.strip():
        return None
    query_words(q)
    return q.strip()


def activity_out(application: App, p: cq.Published, lang: str, now: datetime) -> ActivityOut:
    d = p.data
    act = p.activity
    nxt = p.next_up(now)
    main = d.get("main_language") or cq.DEFAULT_LANGUAGE
    title, language = cq.pick(d.get("title"), lang, main)
    text, _ = cq.pick(d.get("description_text"), language or lang, main)
    html, _ = cq.pick(d.get("description_html"), language or lang, main)
    place = d.get("place") or {}
    nis = place.get("nis") or ""
    m = application.region.find(nis) if nis else None
    return ActivityOut(
        id=p.id, source=p.source, source_id=p.source_id, url=act.url,
        source_url=act.source_url,
        language=language, title=title, description=text, description_html=html,
        translations=Translations(title=d.get("title") or {},
                                  description=d.get("description_text") or {}),
        main_language=main, languages=list(d.get("languages") or []),
        activity_types=list(d.get("activity_types") or []),
        language_levels=list(d.get("language_levels") or []),
        municipality=Municipality(nis=nis, name=m.name if m else place.get("municipality") or ""),
        next_occurrence=None if nxt is None else nxt.start,
        next_occurrence_end=None if nxt is None else nxt.end,
        status=d.get("status") or "available",
        sold_out=act.sold_out, place=act.place, calendar=act.calendar,
        price=act.price, booking=act.booking, contact=act.contact,
        organizer=act.organizer, image=act.image, age_range=act.age_range,
        audience=d.get("audience") or "everyone",
        accessibility=[f.label for f in act.facilities], attendance_mode=act.attendance_mode,
        online_url=act.online_url, children_only=act.children_only, image_alt=act.image_alt,
        image_credit=act.image_credit, page=_page_url(application, p.id),
        jsonld=_self_url(application, p.id) + ".jsonld",
    )


def _page_url(application: App, activity_id: int) -> str:
    return f"{application.config.web.base_url.rstrip('/')}/activiteiten/{activity_id}"


def _members(application: App) -> bool:
    return application.config.catalogue.include_members_only


def _self_url(application: App, activity_id: int) -> str:
    return f"{application.config.web.base_url.rstrip('/')}/api/activities/{activity_id}"


router = APIRouter(tags=["public catalogue"])

MunicipalityQ = Annotated[str | None, Query(description="Municipality name or NIS code.")]
TypeQ = Annotated[str | None, Query(description="One of the ten catalogue activity types.")]
LevelQ = Annotated[int | None, Query(
    ge=1, le=4, description="Up to my level: activities whose lowest language level "
                            "(taaliconen) is at or below this one.")]
FromQ = Annotated[date | None, Query(description="Takes place on or after this day.")]
ToQ = Annotated[date | None, Query(description="Takes place on or before this day.")]
TextQ = Annotated[str | None, Query(
    max_length=MAX_QUERY_CHARS,
    description=f"Words in title or description, each the start of a word, all required; "
                f"case and accents do not count. At most {MAX_QUERY_WORDS} words.")]
LangQ = Annotated[Lang, Query(description="Language of the texts; Dutch when missing.")]


@router.get("/api/activities", response_model=ActivityPage,
            responses=problem_responses(422, 429), summary="Published activities")
def list_activities(
    request: Request,
    municipality: MunicipalityQ = None,
    activity_type: TypeQ = None,
    language_level: LevelQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    q: TextQ = None,
    lang: LangQ = "nl",
    page: guards.PageQuery = 1,
    per_page: Annotated[int, Query(ge=1, le=cq.MAX_PER_PAGE)] = 20,
) -> Response:
    """Published activities at their approved version, soonest first."""
    application = _app(request)
    guards.check_days(date_from, date_to)
    filters = _filters(application, municipality, activity_type, language_level, date_from,
                       date_to, q)
    now = application.clock()
    with application.reading() as conn:
        found = cq.search(conn, filters, page, per_page, now, _members(application),
                          application.catalogue)

    def link(n: int) -> str:
        return guards.absolute_url(application.config.web.base_url, request, page=n,
                                   per_page=per_page)

    links = Links.model_validate({
        "self": link(page), "first": link(1), "last": link(found.pages),
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < found.pages else None})
    # Each item's JSON is made once a minute and the page put together around it: FastAPI
    # would validate and serialise all twenty again on every request (response_model still
    # documents the shape; a test holds the two the same).
    items = [_remembered(application, "api", p, now, lang,
                         partial(_item_json, application, p, lang, now)) for p in found.items]
    rest = orjson.dumps({"total": found.total, "page": page, "per_page": per_page,
                         "pages": found.pages, "links": links.model_dump(by_alias=True)})
    return Response(b'{"items":[' + b",".join(items) + b"]," + rest[1:],
                    media_type="application/json")


def _item_json(application: App, p: cq.Published, lang: str, now: datetime) -> bytes:
    return activity_out(application, p, lang, now).model_dump_json().encode()


def _remembered(application: App, kind: str, p: cq.Published, now: datetime, lang: str,
                make: Callable[[], Any]) -> Any:
    """A listing's rendering of one version, made once a minute: it changes with the clock
    (the next date, "vandaag") only at that grain, and costs more than the search itself."""
    if p.version_id is None:
        return make()
    key = (kind, p.id, p.version_id, lang, now.replace(second=0, microsecond=0))
    found = application.catalogue.views.get(key)
    if found is None:
        found = make()
        application.catalogue.views.put(key, found)
    return found


def _published(application: App, activity_id: int) -> cq.Published:
    with application.reading() as conn:
        found = cq.get_published(conn, activity_id)
    if found is None or not found.is_public(application.clock(), _members(application)):
        raise ApiProblem(404, "Not Found", f"activity {activity_id} is not in the catalogue")
    return found


def _jsonld(application: App, activity_id: int, lang: str) -> JSONResponse:
    p = _published(application, activity_id)
    return JSONResponse(cq.to_jsonld(p, lang, _self_url(application, activity_id)),
                        media_type=JSONLD)


_JSONLD_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A schema.org Event.", "content": {JSONLD: {}}}}


@router.get("/api/activities/{activity_id}.jsonld", response_class=JSONResponse,
            responses={**_JSONLD_RESPONSE, **problem_responses(404, 422, 429)},
            summary="One activity as schema.org Event (JSON-LD)")
def get_activity_jsonld(request: Request, activity_id: guards.IdPath,
                        lang: LangQ = "nl") -> JSONResponse:
    return _jsonld(_app(request), activity_id, lang)


@router.get("/api/activities/{activity_id}", response_model=ActivityOut,
            responses={**_JSONLD_RESPONSE, **problem_responses(404, 422, 429)},
            summary="One published activity")
def get_activity(
    request: Request, activity_id: guards.IdPath, lang: LangQ = "nl",
    format: Annotated[Literal["json", "jsonld"], Query(  # noqa: A002 - the public name
        description="jsonld: the schema.org Event rendering.")] = "json",
) -> Any:
    application = _app(request)
    if format == "jsonld":
        return _jsonld(application, activity_id, lang)
    return activity_out(application, _published(application, activity_id), lang,
                        application.clock())


@router.get("/api/stats", response_model=StatsOut, tags=["statistics"],
            summary="Statistics of the catalogue and of moderation")
def get_stats(request: Request) -> Any:
    application = _app(request)
    with application.reading() as conn:
        return stats_service.compute(conn, application.region,
                                     application.clock()).to_json()


# --------------------------------------------------------------------------- HTML listing



def _form_value(value: str | None) -> str | None:
    # A GET form sends every field, empty ones as "": those mean "no filter".
    return value.strip() if value and value.strip() else None


@router.get("/activiteiten", response_class=HTMLResponse, tags=["public pages"],
            summary="Dutch listing page with the same filters")
def activities_page(
    request: Request,
    gemeente: str | None = None,
    type: str | None = None,  # noqa: A002 - the form field's Dutch-facing name
    taalniveau: str | None = None,
    van: str | None = None,
    tot: str | None = None,
    q: str | None = None,
    pagina: str | None = None,
) -> HTMLResponse:
    """The catalogue for people: Dutch, a GET form, no script, works on a small phone."""
    application = _app(request)
    errors: list[str] = []
    values = {k: _form_value(v) for k, v in (("gemeente", gemeente), ("type", type),
                                               ("taalniveau", taalniveau), ("van", van),
                                               ("tot", tot), ("q", q))}

    def parsed(key: str, parse: Any, message: str) -> Any:
        raw = values[key]
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError:
            errors.append(message)
            values[key] = None
            return None

    nis = parsed("gemeente", lambda v: cq.municipality_nis(application.region, v),
                 "Die gemeente kennen we niet.")
    kind = parsed("type", cq.activity_type, "Dat soort activiteit kennen we niet.")
    level = parsed("taalniveau", _level, "Kies een taalniveau van 1 tot 4.")
    lo = parsed("van", guards.parse_day, "De begindatum is geen geldige datum.")
    hi = parsed("tot", guards.parse_day, "De einddatum is geen geldige datum.")
    if lo and hi and lo > hi:
        errors.append("De einddatum ligt voor de begindatum.")
        hi = values["tot"] = None
    try:
        page = min(guards.MAX_PAGE, max(1, int(pagina or "1")))
    except ValueError:
        page = 1
    try:
        text = _checked_q(values["q"])
    except QueryTooLong:
        return _too_long(values)
    filters = cq.Filters(nis, kind, level, lo, hi, text)
    now = application.clock()
    with application.reading() as conn:
        found = cq.search(conn, filters, page, 20, now, _members(application),
                          application.catalogue)
    names = {m.nis: m.name for m in application.region.municipalities}
    items = [_remembered(application, "page", p, now, "nl", partial(public_view, p, now, names))
             for p in found.items]

    def page_link(n: int) -> str:
        return guards.absolute_url(application.config.web.base_url, request, pagina=n)

    html = pages.get_template("public/activiteiten.html").render(
        items=items, total=found.total, page=found.page, pages=found.pages,
        prev=page_link(page - 1) if page > 1 else None,
        next=page_link(page + 1) if page < found.pages else None,
        values=values, errors=errors, municipalities=application.region.municipalities,
        types=ACTIVITY_TYPES, levels=[(n, dutch.levels(n), text)
                                      for n, text in LANGUAGE_LEVELS.items()],
        found_text=_found_text(found.total),
    )
    return HTMLResponse(html, status_code=200)


def _too_long(values: dict[str, str | None]) -> HTMLResponse:
    """422 for a search text past the caps: say why, and go back with the other choices."""
    kept = urlencode({k: v for k, v in values.items() if v and k != "q"})
    html = pages.get_template("public/fout.html").render(
        title="Je zoekopdracht is te lang",
        message=f"Zoek met hoogstens {MAX_QUERY_WORDS} woorden en {MAX_QUERY_CHARS} tekens. "
                "Een of twee woorden volstaan meestal, bijvoorbeeld ‘praatcafé Ieper’.",
        back="/activiteiten" + (f"?{kept}" if kept else ""),
        back_text="Opnieuw zoeken")
    return HTMLResponse(html, status_code=422)


def _found_text(total: int) -> str:
    if total == 0:
        return "We vonden geen activiteiten. Probeer minder keuzes."
    return f"We vonden {dutch.count(total, 'activiteit', 'activiteiten')}."


@router.get("/activiteiten/{activity_id}", response_class=HTMLResponse, tags=["public pages"],
            summary="Dutch page of one activity: when, where, price, booking, contact")
def activity_page(request: Request, activity_id: str) -> HTMLResponse:
    application = _app(request)
    now = application.clock()
    found = None
    if activity_id.isascii() and activity_id.isdigit() and len(activity_id) <= 12:
        with application.reading() as conn:
            found = cq.get_published(conn, int(activity_id))
    if found is None or not found.is_public(now, _members(application)):
        html = pages.get_template("public/niet_gevonden.html").render()
        return HTMLResponse(html, status_code=404)
    names = {m.nis: m.name for m in application.region.municipalities}
    html = pages.get_template("public/activiteit.html").render(
        a=public_view(found, now, names),
        following_text=_following_text,
    )
    return HTMLResponse(html, status_code=200)


def _following_text(n: int) -> str:
    return f"en nog {dutch.count(n, 'datum', 'data')}"


def _level(value: str) -> int:
    level = int(value)
    if level not in LANGUAGE_LEVELS:
        raise ValueError(value)
    return level


def start_warm_up(application: App) -> threading.Thread:
    """Read the published set into memory in the background when a server starts: the
    first visitor should not wait seconds for 10 000 activities to be parsed."""

    def warm() -> None:
        try:
            with application.reading() as conn:
                cq.search(conn, cq.Filters(), 1, 20, application.clock(),
                          _members(application), application.catalogue)
        except Exception as exc:  # noqa: BLE001 - the first request will try again and say why
            structlog.get_logger().warning("public catalogue warm-up failed", error=repr(exc))
            return
        # What is loaded now (the code, the facts of every published activity) lives as long
        # as the process: out of the collector's way. A full collection otherwise walks it all,
        # ~100 ms at 10 000 activities with every request of the moment waiting on it.
        gc.freeze()

    thread = threading.Thread(target=warm, name="catalogue-warm-up", daemon=True)
    thread.start()
    return thread


PUBLIC_PREFIXES = ("/activiteiten", "/api/activities")


def _limit_public(web: FastAPI, per_minute: int, burst: int) -> None:
    """429 past the per-address budget on the public catalogue (pages and API); the client
    address is the socket's, or a forwarded one only from `[web] forwarded_allow_ips`."""
    limiter = RateLimiter(per_minute, burst)
    web.state.public_limiter = limiter
    web.add_middleware(PublicLimit, limiter=limiter, per_minute=per_minute)


class PublicLimit:
    """The public routes' rate limit, as plain ASGI (see security.SecurityMiddleware)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, per_minute: int) -> None:
        self.app, self.limiter, self.per_minute = app, limiter, per_minute
        # Refused with less than one token left: the next one is at most this far away.
        self.retry_after = str(max(1, math.ceil(60 / per_minute)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if self.limiter.allow(client_ip(request)):
            await self.app(scope, receive, send)
            return
        if path.startswith("/api/"):
            resp: Response = problem(429, "Too Many Requests",
                                     f"At most {self.per_minute} requests a minute per "
                                     f"address; try again in {self.retry_after} s.")
        else:
            again = path + (f"?{request.url.query}" if request.url.query else "")
            resp = HTMLResponse(pages.get_template("public/fout.html").render(
                title="Even geduld",
                message="Je hebt op korte tijd heel veel pagina’s opgevraagd. Wacht even en "
                        "probeer het dan opnieuw.",
                back=again, back_text="Opnieuw proberen"), status_code=429)
        resp.headers["Retry-After"] = self.retry_after
        await resp(scope, receive, send)


def register(web: FastAPI) -> None:
    install_api_problems(web)
    add_router(web, router)
    config = web.state.app.config.web
    if config.public_rate_limit_per_minute:
        _limit_public(web, config.public_rate_limit_per_minute, config.public_rate_limit_burst)
