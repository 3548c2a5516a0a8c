"""`runs list|show`: the sync runs, newest first, and one run in detail."""

from __future__ import annotations

from typing import Annotated

import typer

from sync.entrypoints.cli.common import (
    JsonOpt,
    emit_json,
    local,
    open_app,
    parse_day,
    table,
    usage_or_failure,
)
from sync.entrypoints.terminal import clean
from sync.service import replay
from sync.service.errors import AdminError

runs_app = typer.Typer(no_args_is_help=True, help="Sync runs.")


@runs_app.command("list")
def runs_list(
    source: Annotated[str | None, typer.Option("--source")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Started on or after this day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Started on or before this day (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List sync runs, newest first."""
    lo, hi = replay.day_bounds(parse_day(since, "--since"), parse_day(until, "--until"))
    with open_app() as application, application.uow() as uow:
        rows = replay.list_runs(uow.connection, source=source, status=status, since=lo,
                                until=hi, limit=limit)
    if as_json:
        emit_json({"runs": rows})
        return
    table(
        [[r["id"], r["source"], r["kind"], r["status"], local(r["started_at"]),
          local(r["ended_at"]), r["counts"].get("fetched"), r["counts"].get("created"),
          r["counts"].get("updated"), r["counts"].get("withdrawn"), r["counts"].get("failed"),
          r["error"] or ""] for r in rows],
        ["run", "source", "kind", "status", "started", "ended", "fetched", "new", "changed",
         "withdrawn", "failed", "error"],
    )


@runs_app.command("show")
def runs_show(run_id: Annotated[int, typer.Argument(help="Run id.")],
              as_json: JsonOpt = False) -> None:
    """Show one run: counts, cursors, error and its failures per status."""
    with open_app() as application, application.uow() as uow:
        try:
            doc = replay.get_run(uow.connection, run_id)
        except AdminError as exc:
            raise usage_or_failure(exc) from None
    if as_json:
        emit_json({"run": doc})
        return
    for key in ("id", "source", "kind", "status"):
        typer.echo(f"{key:<10} {clean(doc[key])}")
    typer.echo(f"{'started':<10} {local(doc['started_at'])}")
    typer.echo(f"{'ended':<10} {local(doc['ended_at'])}")
    counts = doc["counts"]
    typer.echo("counts     " + clean(", ".join(
        f"{k} {v}" for k, v in counts.items() if k != "skipped")))
    if counts.get("skipped"):
        typer.echo("skipped    " + clean(", ".join(
            f"{k} {v}" for k, v in counts["skipped"].items())))
    typer.echo("failures   " + ", ".join(f"{k} {v}" for k, v in doc["failures"].items()))
    if doc["error"]:
        typer.echo(f"{'error':<10} {clean(doc['error'])}")
