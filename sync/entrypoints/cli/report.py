"""`report`, `report link|outreach`: the coordinator's annual-report view from the terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sync.entrypoints.cli.common import JsonOpt, emit_json, fail, open_app, parse_day
from sync.entrypoints.cli.stats import SourceOpt
from sync.service import coordinator_links as links
from sync.service import coverage as cov
from sync.service import report

report_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)


@report_app.callback()
def report_cmd(
    ctx: typer.Context,
    date_from: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html, csv or json.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to this file.")] = None,
) -> None:
    """The ikdoemee part of the annual report for a period (public on any day of it)."""
    if ctx.invoked_subcommand is not None:
        return
    if fmt not in report.FORMATS:
        raise fail(f"--format: unknown format {fmt!r}; use md, html, csv or json")
    lo, hi = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    if lo is None or hi is None:
        raise fail("give the period with --from DATE --to DATE")
    from sync.entrypoints.web.report import render

    with open_app() as application, application.uow() as uow:
        try:
            r = report.build(uow.connection, application.region, lo, hi, application.clock())
        except report.ReportError as exc:
            raise fail(f"--to: {exc}") from None
    text = render(r, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"report written to {output}", err=True)


@report_app.command("link")
def link_cmd(
    email: Annotated[str, typer.Argument(help="A coordinator's e-mail address.")],
    days: Annotated[int, typer.Option("--days", min=1, max=366)] = 90,
) -> None:
    """Print a coordinator's link to /rapport (valid --days days, while still a coordinator)."""
    with open_app() as application:
        n = application.config.notifications
        allowed = links.coordinators(n.coordinators, n.fallback_moderators)
        if email.strip().casefold() not in {a.casefold() for a in allowed}:
            raise fail(f"{email} is not a coordinator; add it to [notifications] "
                       "coordinators (default: fallback_moderators)")
        if not application.env.secret_key:
            raise fail("set IKDOEMEE_SECRET_KEY: the link is signed with it and the web "
                       "process must know the same key")
        token = links.issue(application.env.secret_key.encode("utf-8"), email,
                            application.clock(), days)
        typer.echo(links.url(application.config.web.base_url, token))


@report_app.command("outreach")
def outreach_cmd(
    refresh: Annotated[bool, typer.Option("--refresh", help="Read UiT now first.")] = False,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Organizers with upcoming UiT events in the region but none with a taalicoon (CSV)."""
    with open_app() as application:
        requests = None
        if refresh:
            connector = application.connector(application.config.source(source))
            _, requests = cov.run_outreach(application.engine, connector, application.region,
                                           application.clock())
        with application.engine.connect() as conn:
            day, organizers = cov.latest_outreach(conn)
    if as_json:
        emit_json({"day": day, "requests": requests,
                   "organizers": [o.to_json() for o in organizers]})
    else:
        sys.stdout.write(cov.outreach_csv(organizers))
