"""The coordinators' report at /rapport (admin token or a coordinator's link) and the public
charts of today's catalogue at /statistieken; also renders the report's HTML for the CLI."""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from markupsafe import Markup

from sync.bootstrap import App
from sync.domain import dutch
from sync.domain.calendar import local_day
from sync.domain.region import Region
from sync.entrypoints.web import charts
from sync.entrypoints.web import security as sec
from sync.entrypoints.web.routers import add_router
from sync.entrypoints.web.templating import pages
from sync.service import coordinator_links as links
from sync.service import coverage as cov
from sync.service import history, report
from sync.service import stats as stats_service
from sync.service.stats import Share, percentage

NBSP = "\u00a0"


def _pct(value: float) -> str:
    # A no-break space: "54,26 %" never wraps between number and sign.
    return dutch.percent(value).replace(" ", NBSP)


def _common() -> dict[str, Any]:
    return {"n": dutch.number, "pct": _pct, "d": report.nl_date, "level": report.level_label}


def _type_chart(shares: list[Share], title: str) -> Markup:
    return charts.hbars(title, [charts.Bar(s.label, s.count, f"{dutch.number(s.count)} · "
                                           f"{_pct(s.percentage)}") for s in shares])


def _level_chart(shares: list[Share], title: str) -> Markup:
    return charts.hbars(title, [charts.Bar(report.level_label(s.key), s.count,
                                           f"{dutch.number(s.count)} · {_pct(s.percentage)}")
                                for s in shares])


def render_html(r: report.Report, *, keep: list[tuple[str, str]] | None = None,
                base: str = "/rapport") -> str:
    """The report as one self-contained page: inline CSS and SVG, nothing to fetch."""
    keep = keep or []

    def link(fmt: str) -> str:
        query = [("van", r.period_from.isoformat()), ("tot", r.period_to.isoformat()),
                 ("formaat", fmt), *keep]
        return f"{base}?{urlencode(query)}"

    c = r.coverage
    chart_set: dict[str, Markup | str] = {
        "types": _type_chart(r.types, "Activiteiten per type"),
        "levels": _level_chart(r.levels, "Activiteiten per taalniveau"),
        "municipalities": charts.hbars("Activiteiten per gemeente", [
            charts.Bar(m.name, m.activities, dutch.number(m.activities))
            for m in r.municipalities]),
        "months": charts.columns("Activiteiten per maand", [
            charts.Bar(m.short, m.new, dutch.number(m.active), whole=m.active)
            for m in r.months]),
        "coverage": "" if c is None else charts.hbars(
            "Komende UiT-activiteiten met taalicoon per gemeente", [
                charts.Bar(x.name, x.with_taalicoon,
                           f"{dutch.number(x.with_taalicoon)} van "
                           f"{dutch.number(x.upcoming_events)} · {_pct(x.percentage)}",
                           whole=x.upcoming_events) for x in c.rows]),
    }
    csv_link = f"{base}/organisaties.csv" + (f"?{urlencode(keep)}" if keep else "")
    return pages.get_template("report/rapport.html").render(
        r=r, van=report.nl_date(r.period_from), tot=report.nl_date(r.period_to),
        charts=chart_set, behoud=keep, link=link, csv_link=csv_link,
        bron=report.SOURCE_NOTE,
        cover_pct=percentage(c.with_taalicoon, c.upcoming_events) if c else 0.0,
        first_pct=percentage(r.coverage_first.with_taalicoon, r.coverage_first.upcoming_events)
        if r.coverage_first else 0.0, generated=local_day(r.generated_at), **_common(),
    )


def render(r: report.Report, fmt: str, **kw: Any) -> str:
    if fmt == "md":
        return report.to_markdown(r)
    if fmt == "csv":
        return report.to_csv(r)
    if fmt == "html":
        return render_html(r, **kw)
    return json.dumps(r.to_json(), ensure_ascii=False, indent=2) + "\n"


# ------------------------------------------------------------------ routes

router = APIRouter(tags=["report"])


def _page(name: str, status: int, **context: Any) -> HTMLResponse:
    html = pages.get_template(f"report/{name}").render(**_common(), **context)
    return HTMLResponse(html, status_code=status)


def _refuse(status: int, text: str) -> HTMLResponse:
    resp = _page("bericht.html", status, titel="Geen toegang", tekst=text)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="ikdoemee-admin"'
    return resp


Keep = list[tuple[str, str]]


def _access(request: Request, application: App) -> tuple[Keep, HTMLResponse | None]:
    """Who may read: the admin token (bearer header or `?token=`), or a coordinator's link
    (`?sleutel=`). Returns what the page's own links must carry, or a refusal page."""
    expected = application.env.admin_token
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
    token = request.query_params.get("token", "")
    for given, keep in ((bearer, []), (token, [("token", token)])):
        if given and expected and secrets.compare_digest(given.encode(), expected.encode()):
            return keep, None
    key = request.query_params.get("sleutel", "")
    if key:
        n = application.config.notifications
        allowed = links.coordinators(n.coordinators, n.fallback_moderators)
        try:
            links.verify(request.app.state.report_secret, key, allowed, application.clock())
        except links.InvalidCoordinatorLink:
            return [], _refuse(403, "Deze link is niet (meer) geldig. Vraag een nieuwe link "
                                    "aan de beheerder van ikdoemee.")
        return [("sleutel", key)], None
    if bearer or token:
        return [], _refuse(403, "Deze toegangscode is niet geldig.")
    return [], _refuse(401, "Het rapport is voor de coördinatoren. Open het met de link die je "
                            "van de beheerder kreeg.")


def _period(request: Request, today: date) -> tuple[date, date] | str:
    q = request.query_params
    try:
        lo = date.fromisoformat(q["van"]) if q.get("van") else date(today.year, 1, 1)
        hi = date.fromisoformat(q["tot"]) if q.get("tot") else today
    except ValueError:
        return "Geef de datums als JJJJ-MM-DD, bijvoorbeeld 2026-01-01."
    if hi < lo:
        return "De einddatum ligt vóór de begindatum."
    return lo, hi


def _private(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/rapport", response_class=HTMLResponse, summary="The coordinators' report",
            description="Admin token as bearer or `?token=`, or a coordinator's `?sleutel=`. "
                        "`van`/`tot` (YYYY-MM-DD; default this year), "
                        "`formaat` html, md, csv or json.")
def report_page(request: Request) -> Response:
    application: App = request.app.state.app
    keep, refusal = _access(request, application)
    if refusal is not None:
        return _private(refusal)
    now = application.clock()
    period = _period(request, local_day(now))
    if isinstance(period, str):
        return _private(_page("bericht.html", 400, titel="Ongeldige periode", tekst=period))
    fmt = request.query_params.get("formaat", "html")
    if fmt not in report.FORMATS:
        return _private(_page("bericht.html", 400, titel="Onbekend formaat",
                              tekst="Kies html, md, csv of json."))
    with application.uow() as uow:
        r = report.build(uow.connection, application.region, period[0], period[1], now)
    if fmt == "json":
        return _private(JSONResponse(r.to_json()))
    if fmt in ("md", "csv"):
        media = "text/markdown" if fmt == "md" else "text/csv"
        name = f"ikdoemee-rapport-{r.period_from}-{r.period_to}.{fmt}"
        return _private(PlainTextResponse(
            render(r, fmt), media_type=f"{media}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'}))
    return _private(HTMLResponse(render_html(r, keep=keep)))


@router.get("/rapport/organisaties.csv", summary="Organizers to approach, as CSV")
def outreach_csv(request: Request) -> Response:
    application: App = request.app.state.app
    _, refusal = _access(request, application)
    if refusal is not None:
        return _private(refusal)
    with application.uow() as uow:
        day, organizers = cov.latest_outreach(uow.connection)
    name = f"ikdoemee-organisaties-{day or 'leeg'}.csv"
    return _private(PlainTextResponse(
        cov.outreach_csv(organizers), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'}))


def statistics_html(application: App, region: Region, now: datetime) -> str:
    with application.uow() as uow:
        conn = uow.connection
        s = stats_service.compute(conn, region, now, history.public_now(conn, now))
    places = sorted((m for m in s.municipalities if m.count), key=lambda m: -m.count)
    chart_set = {
        "types": _type_chart(s.activity_types, "Activiteiten per soort"),
        "levels": _level_chart(s.language_levels, "Activiteiten per taalniveau"),
        "municipalities": charts.hbars("Activiteiten per gemeente", [
            charts.Bar(m.label, m.count, dutch.number(m.count)) for m in places]),
    }
    return pages.get_template("report/statistieken.html").render(
        s=s, charts=chart_set, gemeenten=len(places), dag=local_day(now), **_common())


@router.get("/statistieken", response_class=HTMLResponse, tags=["public pages"],
            summary="Charts of today's public catalogue")
def statistics_page(request: Request) -> HTMLResponse:
    application: App = request.app.state.app
    return HTMLResponse(statistics_html(application, application.region, application.clock()))


def register(web: FastAPI) -> None:
    application: App = web.state.app
    web.state.report_secret = sec.load_secret(application.env.secret_key)
    add_router(web, router)
