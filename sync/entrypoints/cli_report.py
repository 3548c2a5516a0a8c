"""CLI of the coordinator's view: `report`, `report link|outreach`, `stats snapshot|coverage`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from sync.bootstrap import App
from sync.service import coordinator_links as links
from sync.service import coverage as cov
from sync.service import history, report

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Source to measure.")]

report_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)


class _Base:
    open_app: Callable[..., AbstractContextManager[App]]
    fail: Callable[..., typer.Exit]
    emit_json: Callable[[Any], None]


base = _Base()


def register(app: typer.Typer, open_app: Callable[..., AbstractContextManager[App]],
             fail: Callable[..., typer.Exit], emit_json: Callable[[Any], None]) -> None:
    base.open_app, base.fail, base.emit_json = open_app, fail, emit_json
    app.add_typer(report_app, name="report")
    stats_app = next(g.typer_instance for g in app.registered_groups if g.name == "stats")
    assert stats_app is not None, "cli_admin registers the `stats` group first"
    stats_app.command("snapshot")(snapshot_cmd)
    stats_app.command("coverage")(coverage_cmd)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise base.fail(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


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
        raise base.fail(f"--format: unknown format {fmt!r}; use md, html, csv or json")
    lo, hi = _day(date_from, "--from"), _day(date_to, "--to")
    if lo is None or hi is None:
        raise base.fail("give the period with --from DATE --to DATE")
    from sync.entrypoints.web.report import render

    with base.open_app() as application, application.uow() as uow:
        try:
            r = report.build(uow.connection, application.region, lo, hi, application.clock())
        except report.ReportError as exc:
            raise base.fail(f"--to: {exc}") from None
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
    with base.open_app() as application:
        n = application.config.notifications
        allowed = links.coordinators(n.coordinators, n.fallback_moderators)
        if email.strip().casefold() not in {a.casefold() for a in allowed}:
            raise base.fail(f"{email} is not a coordinator; add it to [notifications] "
                            "coordinators (default: fallback_moderators)")
        if not application.env.secret_key:
            raise base.fail("set IKDOEMEE_SECRET_KEY: the link is signed with it and the web "
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
    with base.open_app() as application:
        requests = None
        if refresh:
            connector = application.connector(application.config.source(source))
            _, requests = cov.run_outreach(application.engine, connector, application.region,
                                           application.clock())
        with application.engine.connect() as conn:
            day, organizers = cov.latest_outreach(conn)
    if as_json:
        base.emit_json({"day": day, "requests": requests,
                        "organizers": [o.to_json() for o in organizers]})
    else:
        sys.stdout.write(cov.outreach_csv(organizers))


def snapshot_cmd(as_json: JsonOpt = False) -> None:
    """Write today's snapshot (counts and publication days); again today replaces it."""
    with base.open_app() as application:
        try:
            result = history.run_snapshot(application.engine, application.clock())
        except history.HistoryError as exc:
            raise base.fail(str(exc)) from None
    if as_json:
        base.emit_json({"snapshot": result.to_json()})
        return
    typer.echo(f"snapshot {result.day}: {result.public} public; "
               + ", ".join(f"{k} {v}" for k, v in result.totals.items() if k != "public")
               + f"; periods opened {result.periods_opened}, extended {result.periods_extended}")


def coverage_cmd(source: SourceOpt = None, as_json: JsonOpt = False) -> None:
    """Measure today's coverage: UiT events per municipality, all and with a taalicoon."""
    with base.open_app() as application:
        connector = application.connector(application.config.source(source))
        run = cov.run_coverage(application.engine, connector, application.region,
                               application.clock())
    if as_json:
        base.emit_json({"coverage": run.to_json()})
        return
    for r in run.rows:
        typer.echo(f"{r.name:<24} {r.with_taalicoon:>6} / {r.upcoming_events:<6} "
                   f"{report.nl_percent(r.percentage)}")
    typer.echo(f"{'Westhoek':<24} {run.with_taalicoon:>6} / {run.upcoming_events:<6} "
               f"({run.requests} requests)")
