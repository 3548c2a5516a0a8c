"""`sync`, `remap` and `db upgrade`: read a source, map stored documents again, the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from connectors.base import Cursor
from sync.bootstrap import STARTUP_ERRORS, upgrade_database
from sync.domain.runs import FAILED
from sync.entrypoints.cli.common import EXIT_FAILED, JsonOpt, emit_json, fail, open_app
from sync.entrypoints.cli.progress import ProgressConnector, progress_bar, show_progress
from sync.entrypoints.terminal import clean
from sync.service.remap import remap_source
from sync.service.sync_source import sync_source
from sync.settings import ConfigError

db_app = typer.Typer(no_args_is_help=True, help="Database schema.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    try:
        at = upgrade_database()
    except STARTUP_ERRORS as exc:
        raise fail(str(exc)) from None
    typer.echo(f"database at schema {at}", err=True)


def _parse_since(value: str) -> str:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--since: not an ISO date or date-time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def _busy(source: str) -> typer.Exit:
    # A daemon (or another CLI) is syncing this source: two runs at once would close each
    # other's run as interrupted and read the same pages twice.
    return fail(f"source {source} is being synced by another process right now; "
                "try again when it has finished", EXIT_FAILED)


def sync_cmd(
    source: Annotated[str | None, typer.Option("--source", help="Source name.")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-read the source from the start.")
    ] = False,
    since: Annotated[str | None, typer.Option("--since", help="Backfill from this date.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one sync pass of a source (default: the first configured)."""
    if full and since:
        raise fail("--full and --since exclude each other")
    with open_app() as application:
        try:
            src = application.config.source(source)
            connector = application.connector(src)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        kind, start = "incremental", None
        if full:
            kind, start = "full", Cursor()
        elif since:
            kind, start = "since", Cursor(modified=_parse_since(since))
        with application.source_lock(src.name) as mine:
            if not mine:
                raise _busy(src.name)
            with progress_bar(show_progress(as_json), f"sync {src.name}") as adv:
                result = sync_source(application.uow, ProgressConnector(connector, adv),
                                     application.sync_service(src), kind=kind,
                                     start_cursor=start)
    doc = {"run_id": result.run_id, "source": src.name, "status": result.status,
           "counts": result.counts.to_json(), "error": result.error}
    if as_json:
        emit_json(doc)
    else:
        c = result.counts
        typer.echo(
            f"run {result.run_id} {result.status}: {c.fetched} fetched, {c.created} new, "
            f"{c.updated} changed, {c.unchanged} unchanged, {c.withdrawn} withdrawn, "
            f"{sum(c.skipped.values())} skipped, {c.failed} failed"
        )
        if result.error:
            typer.echo(f"error: {clean(result.error)}", err=True)
    if result.status == FAILED:
        raise typer.Exit(EXIT_FAILED)


def remap_cmd(
    source: Annotated[str | None, typer.Option("--source", help="Source name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Map the stored raw documents again with today's rules (no refetch).

    A review item opens only where what the moderator sees changed.
    """
    with open_app() as application:
        try:
            src = application.config.source(source)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        with application.source_lock(src.name) as mine:
            if not mine:
                raise _busy(src.name)
            result = remap_source(application.uow, application.sync_service(src))
    doc = {"run_id": result.run_id, "source": src.name, "status": result.status,
           "counts": result.counts.to_json(), "error": result.error}
    if as_json:
        emit_json(doc)
    else:
        c = result.counts
        typer.echo(
            f"remap run {result.run_id} {result.status}: {c.fetched} re-mapped, "
            f"{c.updated} changed, {c.unchanged} unchanged, {c.withdrawn} withdrawn, "
            f"{c.failed} failed")
    if result.status == FAILED:
        raise typer.Exit(EXIT_FAILED)
