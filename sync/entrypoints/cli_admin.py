"""Admin commands: show runs and failures, replay or ignore failures, statistics, the outbox."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from types import ModuleType
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from connectors.base import Cursor, Page
from sync.entrypoints.terminal import clean, json_safe
from sync.service import outbox_admin, replay, stats
from sync.settings import ConfigError

Advance = Callable[[int, int | None], None]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


class _Feed(Protocol):
    name: str

    def pages(self, cursor: Cursor) -> Iterator[Page]: ...

    def fetch_one(self, source_id: str) -> Any: ...
FORMATS = ("table", "json", "csv")


def show_progress(as_json: bool) -> bool:
    """A bar only for a person at a terminal: never in --json mode or into a pipe."""
    return not as_json and sys.stdout.isatty()


def _no_progress(n: int, total: int | None = None) -> None:
    return None


@contextmanager
def progress_bar(enabled: bool, description: str, total: int | None = None) -> Iterator[Advance]:
    """Yields advance(n, total): drawn on stderr with rich, or a no-op when not enabled."""
    if not enabled:
        yield _no_progress
        return
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int, new_total: int | None = None) -> None:
            bar.advance(task, n)
            done = bar.tasks[0].completed
            if new_total is not None or (bar.tasks[0].total or 0) < done:
                # Totals from the source are estimates per query: never let the bar run over.
                bar.update(task, total=max(done, new_total or 0, bar.tasks[0].total or 0))

        yield advance


class ProgressConnector:
    """Wraps a connector so each page stored advances the bar (the generator resumes only
    after the sync engine committed the page)."""

    def __init__(self, inner: _Feed, advance: Advance) -> None:
        self.inner = inner
        self.name = inner.name
        self._advance = advance
        self._total: int | None = None

    def pages(self, cursor: Cursor) -> Iterator[Page]:
        for page in self.inner.pages(cursor):
            yield page
            if self._total is None and page.total is not None:
                self._total = page.total
                self._advance(len(page.records), page.total)
            else:
                self._advance(len(page.records), None)

    def fetch_one(self, source_id: str) -> Any:
        return self.inner.fetch_one(source_id)


def _parse_ids(values: list[str] | None, what: str, fail: Callable[..., typer.Exit]) -> list[int]:
    ids: list[int] = []
    for v in values or []:
        try:
            ids.append(int(v))
        except ValueError:
            raise fail(f"{what}: not an id: {v!r}") from None
    return ids


def register(app: typer.Typer, failures_app: typer.Typer, runs_app: typer.Typer,
             base: ModuleType) -> None:
    """Add the admin commands; `base` is the running CLI module (its state, helpers)."""
    fail, emit_json, table, local = base.fail, base.emit_json, base._table, base._local
    outbox_app = typer.Typer(no_args_is_help=True, help="Messages to deliver (e-mail, webhooks).")
    app.add_typer(outbox_app, name="outbox")

    def usage_or_failure(exc: replay.AdminError) -> typer.Exit:
        return fail(str(exc), base.EXIT_USAGE if exc.usage else base.EXIT_FAILED)

    @runs_app.command("show")
    def runs_show(run_id: Annotated[int, typer.Argument(help="Run id.")],
                  as_json: JsonOpt = False) -> None:
        """Show one run: counts, cursors, error and its failures per status."""
        with base.open_app() as application, application.uow() as uow:
            try:
                doc = replay.get_run(uow.connection, run_id)
            except replay.AdminError as exc:
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

    @failures_app.command("show")
    def failures_show(failure_id: Annotated[int, typer.Argument(help="Failure id.")],
                      as_json: JsonOpt = False) -> None:
        """Show one failure with its raw payload, stage, error and attempts."""
        with base.open_app() as application, application.uow() as uow:
            try:
                doc = replay.get_failure(uow.connection, failure_id)
            except replay.AdminError as exc:
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
            import json

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
        ids = _parse_ids(failure_ids, "failure id", fail)
        if sum((bool(ids), run is not None, all_open)) != 1:
            raise fail("give failure ids, or --run RUN_ID, or --all-open")
        with base.open_app() as application:
            with application.uow() as uow:
                try:
                    chosen = replay.select_failures(uow.connection, ids=ids, run_id=run,
                                                    all_open=all_open, source=source)
                except replay.AdminError as exc:
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
            raise typer.Exit(base.EXIT_FAILED)

    @failures_app.command("ignore")
    def failures_ignore(
        failure_id: Annotated[int, typer.Argument(help="Failure id.")],
        reason: Annotated[str, typer.Option("--reason", help="Why it needs no fix.")],
        as_json: JsonOpt = False,
    ) -> None:
        """Close a failure deliberately (status `ignored`), with the reason."""
        with base.open_app() as application, application.uow() as uow:
            try:
                doc = replay.ignore_failure(uow, failure_id, reason, application.clock())
            except replay.AdminError as exc:
                raise usage_or_failure(exc) from None
            uow.commit()
        if as_json:
            doc.pop("raw_payload", None)
            emit_json({"failure": doc})
        else:
            typer.echo(f"failure {failure_id} ignored: {clean(reason)}")

    # A group, so `stats snapshot` and `stats coverage` (cli_report) live under it too.
    stats_app = typer.Typer(invoke_without_command=True)
    app.add_typer(stats_app, name="stats")

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
        with base.open_app() as application, application.uow() as uow:
            result = stats.compute(uow.connection, application.region, application.clock())
        if fmt == "json":
            emit_json(result.to_json())
        elif fmt == "csv":
            sys.stdout.write(stats.to_csv(result))
        else:
            _stats_table(result, table)

    @outbox_app.command("list")
    def outbox_list(
        status: Annotated[str | None, typer.Option(
            "--status", help="pending, delivered or dead.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 200,
        as_json: JsonOpt = False,
    ) -> None:
        """List outbox messages, oldest first, with their delivery status."""
        if status is not None and status not in outbox_admin.STATUSES:
            raise fail(f"--status: unknown status {status!r}; use pending, delivered or dead")
        with base.open_app() as application, application.uow() as uow:
            rows = outbox_admin.list_messages(uow.connection, status, limit)
            totals = outbox_admin.counts(uow.connection)
        if as_json:
            emit_json({"messages": rows, "counts": totals})
            return
        table([[r["id"], r["topic"], r["status"], r["attempts"], local(r["created_at"]),
                local(r["available_at"]), local(r["delivered_at"]), r["last_error"] or ""]
               for r in rows],
              ["id", "topic", "status", "attempts", "created", "next try", "delivered", "error"])
        typer.echo("")
        typer.echo(", ".join(f"{k} {v}" for k, v in totals.items()))

    @outbox_app.command("retry")
    def outbox_retry(
        message_ids: Annotated[list[str] | None, typer.Argument(help="Message ids.")] = None,
        all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead message.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Make messages deliverable again now, with a fresh attempt budget."""
        ids = _parse_ids(message_ids, "message id", fail)
        if bool(ids) == all_dead:
            raise fail("give message ids or --all-dead")
        with base.open_app() as application, application.uow() as uow:
            try:
                done = outbox_admin.retry(uow.connection, application.clock(), ids, all_dead)
            except replay.AdminError as exc:
                raise usage_or_failure(exc) from None
            uow.commit()
        skipped = sorted(set(ids) - set(done))
        if as_json:
            emit_json({"retried": done, "already_delivered": skipped})
            return
        typer.echo(f"{len(done)} message(s) will be retried"
                   + (f"; already delivered: {', '.join(map(str, skipped))}" if skipped else ""))


def parse_day(value: str | None, option: str, fail: Callable[..., typer.Exit]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


def _stats_table(result: stats.Stats, table: Callable[..., None]) -> None:
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
