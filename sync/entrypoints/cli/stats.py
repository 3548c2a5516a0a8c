"""`stats` (catalogue and moderation figures), `stats snapshot` and `stats coverage`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sync.domain import dutch
from sync.entrypoints.cli.common import JsonOpt, emit_json, fail, open_app, table
from sync.service import coverage as cov
from sync.service import history, stats

FORMATS = ("table", "json", "csv")
SourceOpt = Annotated[str | None, typer.Option("--source", help="Source to measure.")]

# A group with a callback, so the bare `stats` prints figures and `stats snapshot` still works.
stats_app = typer.Typer(invoke_without_command=True)


@stats_app.callback()
def stats_cmd(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    as_json: JsonOpt = False,
) -> None:
    """Statistics of the published catalogue and of moderation, like the annual report."""
    if ctx.invoked_subcommand is not None:
        return
    if fmt not in FORMATS:
        raise fail(f"--format: unknown format {fmt!r}; use table, json or csv")
    if as_json:
        fmt = "json"
    with open_app() as application, application.uow() as uow:
        result = stats.compute(uow.connection, application.region, application.clock())
    if fmt == "json":
        emit_json(result.to_json())
    elif fmt == "csv":
        sys.stdout.write(stats.to_csv(result))
    else:
        _stats_table(result)


def _stats_table(result: stats.Stats) -> None:
    typer.echo(f"Gepubliceerde activiteiten: {result.total}")
    typer.echo("")
    for title, shares in (("Activiteitstype", result.activity_types),
                          ("Taalniveau", result.language_levels),
                          ("Gemeente", result.municipalities)):
        table([[s.label if title != "Taalniveau" else f"{s.key} taalicoon(en)", s.count,
                f"{s.percentage:.2f}%"] for s in shares], [title, "aantal", "%"])
        typer.echo("")
    typer.echo(f"Organisaties: {result.organisations}")
    typer.echo("Met moderator: " + (", ".join(result.with_moderator) or "geen"))
    typer.echo("Zonder moderator: " + (", ".join(result.without_moderator) or "geen"))
    typer.echo("")
    table([[s.label, s.count] for s in result.queues], ["Wachtrij", "open"])
    median = result.median_hours_to_decision
    typer.echo("")
    typer.echo("Mediaan tijd tot beslissing: "
               + ("-" if median is None else f"{median:.2f} uur")
               + f" ({result.decided_items} beslist)")


@stats_app.command("snapshot")
def snapshot_cmd(as_json: JsonOpt = False) -> None:
    """Write today's snapshot (counts and publication days); again today replaces it."""
    with open_app() as application:
        try:
            result = history.run_snapshot(application.engine, application.clock())
        except history.HistoryError as exc:
            raise fail(str(exc)) from None
    if as_json:
        emit_json({"snapshot": result.to_json()})
        return
    typer.echo(f"snapshot {result.day}: {result.public} public; "
               + ", ".join(f"{k} {v}" for k, v in result.totals.items() if k != "public")
               + f"; periods opened {result.periods_opened}, extended {result.periods_extended}")


@stats_app.command("coverage")
def coverage_cmd(source: SourceOpt = None, as_json: JsonOpt = False) -> None:
    """Measure today's coverage: UiT events per municipality, all and with a taalicoon."""
    with open_app() as application:
        connector = application.connector(application.config.source(source))
        run = cov.run_coverage(application.engine, connector, application.region,
                               application.clock())
    if as_json:
        emit_json({"coverage": run.to_json()})
        return
    for r in run.rows:
        typer.echo(f"{r.name:<24} {r.with_taalicoon:>6} / {r.upcoming_events:<6} "
                   f"{dutch.percent(r.percentage)}")
    typer.echo(f"{'Westhoek':<24} {run.with_taalicoon:>6} / {run.upcoming_events:<6} "
               f"({run.requests} requests)")
