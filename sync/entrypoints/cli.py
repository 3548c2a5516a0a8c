"""The `ikdoemee-sync` command line (Typer)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import exc as sa_exc

from connectors.base import Cursor
from sync.adapters import migrate
from sync.adapters.database import DatabaseUrlError, make_engine
from sync.adapters.locks import source_lock, try_lock
from sync.adapters.region_file import RegionFileError
from sync.bootstrap import App, bootstrap
from sync.domain.region import Region
from sync.domain.runs import FAILED
from sync.entrypoints.terminal import clean, json_safe
from sync.logs import configure_logging
from sync.service import review
from sync.service.remap import remap_source
from sync.service.sync_source import sync_source
from sync.settings import DEFAULT_CONFIG_PATH, ConfigError, EnvSettings

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Sync UiTdatabank taalicoon events into the ikdoemee catalogue.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
runs_app = typer.Typer(no_args_is_help=True, help="Sync runs.")
failures_app = typer.Typer(no_args_is_help=True, help="Records that could not be synced.")
activities_app = typer.Typer(no_args_is_help=True, help="The catalogue.")
queue_app = typer.Typer(no_args_is_help=True, help="Review queues per municipality.")
app.add_typer(db_app, name="db")
app.add_typer(runs_app, name="runs")
app.add_typer(failures_app, name="failures")
app.add_typer(activities_app, name="activities")
app.add_typer(queue_app, name="queue")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

EXIT_FAILED = 1
EXIT_USAGE = 2


class _State:
    config_path: Path = DEFAULT_CONFIG_PATH


state = _State()


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"ikdoemee-sync: {message}", err=True)
    return typer.Exit(code)


@app.callback()
def _main(
    config: Annotated[Path, typer.Option("--config", help="TOML config file.")] = (
        DEFAULT_CONFIG_PATH
    ),
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "INFO",
) -> None:
    state.config_path = config
    configure_logging(log_level)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(doc: Any) -> None:
    text = json.dumps(doc, default=_json_default, ensure_ascii=False, indent=2)
    sys.stdout.write(json_safe(text) + "\n")


STATES = ("pending", "published", "rejected", "withdrawn", "expired")


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


@contextmanager
def open_app(check_schema: bool = True, live: bool = False) -> Iterator[App]:
    """The composition root for a command; `live` (web, run) also refuses weak secrets."""
    try:
        application = bootstrap(state.config_path)
    except (ConfigError, RegionFileError, DatabaseUrlError) as exc:
        raise fail(str(exc)) from None
    weak = application.env.weak_secrets() if live else []
    if weak:
        application.close()
        raise fail("\n".join(weak))
    try:
        if check_schema:
            head = migrate.head()
            have = migrate.current(application.engine)
            if have != head:
                raise fail(
                    f"the database is at schema {have or 'none'}, this version needs {head}: "
                    "run `ikdoemee-sync db upgrade` first"
                )
        yield application
    finally:
        application.close()


def _municipality(region: Region, value: str | None) -> str | None:
    if value is None:
        return None
    m = region.find(value)
    if m is None:
        names = ", ".join(x.name for x in region.municipalities)
        raise fail(f"--municipality: unknown municipality {value!r}; known: {names}")
    return m.nis


def _names(region: Region) -> dict[str, str]:
    return {m.nis: m.name for m in region.municipalities}


def _table(rows: list[list[Any]], headers: list[str]) -> None:
    # Titles, errors and reasons come from the feed or from people: shown, never obeyed.
    cells = [[clean(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    widths = [min(w, 60) for w in widths]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for r in cells:
        typer.echo("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)))


def _local(dt: datetime | None) -> str:
    if dt is None:
        return "-"
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m-%d %H:%M")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    env = EnvSettings()
    try:
        engine = make_engine(env.database_url, create_folder=env.uses_default_database)
    except DatabaseUrlError as exc:
        raise fail(str(exc)) from None
    try:
        migrate.upgrade(engine)
        typer.echo(f"database at schema {migrate.current(engine)}", err=True)
    finally:
        engine.dispose()


def _parse_since(value: str) -> str:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--since: not an ISO date or date-time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


@app.command("sync")
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
        with try_lock(application.engine, source_lock(src.name)) as mine:
            if not mine:
                # A daemon (or another CLI) is syncing this source: two runs at once would
                # close each other's run as interrupted and read the same pages twice.
                raise fail(f"source {src.name} is being synced by another process right now; "
                           "try again when it has finished", EXIT_FAILED)
            with cli_admin.progress_bar(cli_admin.show_progress(as_json),
                                        f"sync {src.name}") as adv:
                result = sync_source(application.uow,
                                     cli_admin.ProgressConnector(connector, adv),
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


@app.command("remap")
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
        with try_lock(application.engine, source_lock(src.name)) as mine:
            if not mine:
                raise fail(f"source {src.name} is being synced by another process right now; "
                           "try again when it has finished", EXIT_FAILED)
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
    lo, hi = replay.day_bounds(cli_admin.parse_day(since, "--since", fail),
                               cli_admin.parse_day(until, "--until", fail))
    with open_app() as application, application.uow() as uow:
        rows = replay.list_runs(uow.connection, source=source, status=status, since=lo,
                                until=hi, limit=limit)
    if as_json:
        emit_json({"runs": rows})
        return
    _table(
        [[r["id"], r["source"], r["kind"], r["status"], _local(r["started_at"]),
          _local(r["ended_at"]), r["counts"].get("fetched"), r["counts"].get("created"),
          r["counts"].get("updated"), r["counts"].get("withdrawn"), r["counts"].get("failed"),
          r["error"] or ""] for r in rows],
        ["run", "source", "kind", "status", "started", "ended", "fetched", "new", "changed",
         "withdrawn", "failed", "error"],
    )


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
        rows = [_row(r) for r in uow.runs.failures(source, run, status, stage)]
    if as_json:
        emit_json({"failures": rows})
        return
    _table([[r["id"], r["run_id"], r["source"], r["source_id"], r["stage"], r["status"],
             r["error"]] for r in rows],
           ["id", "run", "source", "source id", "stage", "status", "error"])


@activities_app.command("list")
def activities_list(
    municipality: Annotated[str | None, typer.Option("--municipality", help="Name or NIS.")] = None,
    state_: Annotated[
        str | None, typer.Option(
            "--state", help="pending, published, rejected, withdrawn, expired")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List catalogue activities, soonest first (expired ones too: admins see everything)."""
    if state_ and state_ not in STATES:
        raise fail(f"--state: unknown state {state_!r}; use {', '.join(STATES)}")
    with open_app() as application, application.uow() as uow:
        nis = _municipality(application.region, municipality)
        rows = [_row(r) for r in uow.catalogue.list_activities(nis, state_)]
        names = _names(application.region)
    for r in rows:
        r["municipality"] = names.get(r["municipality_nis"], r["municipality_nis"])
    if as_json:
        emit_json({"activities": rows})
        return
    _table([[r["id"], r["state"], r["municipality"], _local(r["next_occurrence"]), r["title"]]
            for r in rows], ["id", "state", "municipality", "next", "title"])


@queue_app.command("list")
def queue_list(
    municipality: Annotated[str | None, typer.Option("--municipality", help="Name or NIS.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List open review items per municipality, soonest activity first."""
    with open_app() as application, application.uow() as uow:
        nis = _municipality(application.region, municipality)
        rows = [_row(r) for r in uow.catalogue.queue(nis)]
        names = _names(application.region)
    for r in rows:
        r["municipality"] = names.get(r["municipality_nis"], r["municipality_nis"])
    if as_json:
        emit_json({"items": rows})
        return
    per: dict[str, int] = {}
    for r in rows:
        per[r["municipality"]] = per.get(r["municipality"], 0) + 1
    _table([[r["id"], r["municipality"], r["kind"], r["reason"] or "", _local(r["next_occurrence"]),
             r["title"]] for r in rows], ["item", "municipality", "kind", "why", "next", "title"])
    typer.echo("")
    typer.echo("open per municipality: " + (", ".join(f"{k} {v}" for k, v in sorted(per.items()))
                                            or "none"))


@queue_app.command("approve")
def queue_approve(
    ids: Annotated[list[int] | None, typer.Argument(help="Review item ids.")] = None,
    all_open: Annotated[bool, typer.Option("--all", help="Every open item (of --municipality).")]
    = False,
    municipality: Annotated[str | None, typer.Option("--municipality", help="Name or NIS.")] = None,
    moderator: Annotated[str, typer.Option("--as", help="Who decides (e-mail), for the audit log.")]
    = "admin",
    as_json: JsonOpt = False,
) -> None:
    """Approve open items from the terminal (withdrawals are confirmed); logged as `cli`."""
    if bool(ids) == all_open:
        raise fail("give item ids, or --all")
    now_decided: list[int] = []
    skipped: list[dict[str, Any]] = []
    with open_app() as application, application.uow() as uow:
        nis = _municipality(application.region, municipality)
        open_items = {r.id: r.kind for r in uow.catalogue.queue(nis)}
        wanted = list(open_items) if all_open else list(ids or [])
        for item_id in wanted:
            kind = open_items.get(item_id)
            if kind is None:
                skipped.append({"id": item_id, "why": "not an open item"})
                continue
            decision = review.CONFIRM if kind == "withdrawn" else review.APPROVE
            try:
                with uow.savepoint():
                    review.decide_review(uow, item_id, decision, moderator=moderator,
                                         now=application.clock())
            except review.ReviewError as exc:
                skipped.append({"id": item_id, "why": str(exc)})
                continue
            now_decided.append(item_id)
        uow.commit()
    if as_json:
        emit_json({"decided": now_decided, "skipped": skipped})
        return
    typer.echo(f"{len(now_decided)} decided, {len(skipped)} skipped")
    for s in skipped:
        typer.echo(f"  item {s['id']}: {s['why']}", err=True)
    if skipped and not now_decided:
        raise typer.Exit(EXIT_FAILED)


from sync.entrypoints import cli_admin  # noqa: E402 - registers into the apps defined above
from sync.service import replay  # noqa: E402

cli_admin.register(app, failures_app, runs_app, sys.modules[__name__])

from sync.entrypoints import cli_daemon  # noqa: E402 - run, moderators, notify

cli_daemon.register(app, open_app, fail, emit_json)

from sync.entrypoints import cli_moderation  # noqa: E402 - web, audit

cli_moderation.register(app, open_app, emit_json)

from sync.entrypoints import cli_report  # noqa: E402 - report, stats snapshot|coverage

cli_report.register(app, open_app, fail, emit_json)


def main() -> None:
    try:
        app()
    except sa_exc.OperationalError as exc:
        # The database is down or unreachable: say so plainly, no traceback.
        typer.echo(f"ikdoemee-sync: database unavailable: {exc.orig}", err=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
