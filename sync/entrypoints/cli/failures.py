"""`failures list|show|replay|ignore`: records that could not be synced, and what to do."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sync.entrypoints.cli.common import (
    EXIT_FAILED,
    JsonOpt,
    emit_json,
    fail,
    local,
    open_app,
    parse_ids,
    row,
    table,
    usage_or_failure,
)
from sync.entrypoints.cli.progress import progress_bar, show_progress
from sync.entrypoints.terminal import clean, json_safe
from sync.service import replay
from sync.service.errors import AdminError
from sync.settings import ConfigError

failures_app = typer.Typer(no_args_is_help=True, help="Records that could not be synced.")


@failures_app.command("list")
def failures_list(
    source: Annotated[str | None, typer.Option("--source")] = None,
    run: Annotated[int | None, typer.Option("--run")] = None,
    stage: Annotated[str | None, typer.Option("--stage")] = None,
    status: Annotated[str | None, typer.Option("--status")] = "open",
    as_json: JsonOpt = False,
) -> None:
    """List recorded failures (default: the open ones)."""
    with open_app() as application, application.uow() as uow:
        rows = [row(r) for r in uow.runs.failures(source, run, status, stage)]
    if as_json:
        emit_json({"failures": rows})
        return
    table([[r["id"], r["run_id"], r["source"], r["source_id"], r["stage"], r["status"],
            r["error"]] for r in rows],
          ["id", "run", "source", "source id", "stage", "status", "error"])


@failures_app.command("show")
def failures_show(failure_id: Annotated[int, typer.Argument(help="Failure id.")],
                  as_json: JsonOpt = False) -> None:
    """Show one failure with its raw payload, stage, error and attempts."""
    with open_app() as application, application.uow() as uow:
        try:
            doc = replay.get_failure(uow.connection, failure_id)
        except AdminError as exc:
            raise usage_or_failure(exc) from None
    if as_json:
        emit_json({"failure": doc})
        return
    for key in ("id", "run_id", "source", "source_id", "stage", "status", "attempts",
                "error", "resolution"):
        typer.echo(f"{key:<11} {clean(doc[key])}")
    typer.echo(f"{'created':<11} {local(doc['created_at'])}")
    typer.echo(f"{'resolved':<11} {local(doc['resolved_at'])}")
    typer.echo("raw payload:")
    if doc["payload"] is not None:
        typer.echo(json_safe(json.dumps(doc["payload"], ensure_ascii=False, indent=2)))
    else:
        typer.echo(clean(doc["raw_payload"], lines=True) or "(none)")


@failures_app.command("replay")
def failures_replay(
    failure_ids: Annotated[list[str] | None, typer.Argument(help="Failure ids.")] = None,
    run: Annotated[int | None, typer.Option(
        "--run", help="The open failures of a run.")] = None,
    all_open: Annotated[bool, typer.Option("--all-open", help="Every open failure.")] = False,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    refetch: Annotated[bool, typer.Option(
        "--refetch", help="Fetch each record again from the source first.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Map failed records again (stored payload, or --refetch) in a run of kind `replay`.

    Exits 0 when every replayed failure is resolved, 1 when some still fail.
    """
    ids = parse_ids(failure_ids, "failure id")
    if sum((bool(ids), run is not None, all_open)) != 1:
        raise fail("give failure ids, or --run RUN_ID, or --all-open")
    with open_app() as application:
        with application.uow() as uow:
            try:
                chosen = replay.select_failures(uow.connection, ids=ids, run_id=run,
                                                all_open=all_open, source=source)
            except AdminError as exc:
                raise usage_or_failure(exc) from None
        try:
            sources = {f["source"]: application.config.source(f["source"]) for f in chosen}
            services = {n: application.sync_service(s) for n, s in sources.items()}
            connectors = ({n: application.connector(s) for n, s in sources.items()}
                          if refetch else None)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        todo = sum(1 for f in chosen if f["status"] == replay.OPEN)
        with progress_bar(show_progress(as_json), "replay", todo) as advance:
            report = replay.replay_failures(
                application.uow, chosen, services, connectors=connectors,
                progress=lambda item: advance(1, None))
    if as_json:
        emit_json(report.to_json())
    else:
        for r in report.runs:
            c = r.counts
            typer.echo(f"replay run {r.run_id} ({r.source}) {r.status}: {c.fetched} replayed, "
                       f"{c.created} new, {c.updated} changed, {c.unchanged} unchanged, "
                       f"{c.withdrawn} withdrawn, {sum(c.skipped.values())} skipped, "
                       f"{c.failed} still failing")
        for item in report.items:
            if item.outcome in ("failed", "not_open"):
                typer.echo(f"failure {item.failure_id}: {item.outcome}: "
                           f"{clean(item.error)}", err=True)
        if not report.items:
            typer.echo("nothing to replay")
    if report.still_failing:
        raise typer.Exit(EXIT_FAILED)


@failures_app.command("ignore")
def failures_ignore(
    failure_id: Annotated[int, typer.Argument(help="Failure id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it needs no fix.")],
    as_json: JsonOpt = False,
) -> None:
    """Close a failure deliberately (status `ignored`), with the reason."""
    with open_app() as application, application.uow() as uow:
        try:
            doc = replay.ignore_failure(uow, failure_id, reason, application.clock())
        except AdminError as exc:
            raise usage_or_failure(exc) from None
        uow.commit()
    if as_json:
        doc.pop("raw_payload", None)
        emit_json({"failure": doc})
    else:
        typer.echo(f"failure {failure_id} ignored: {clean(reason)}")
