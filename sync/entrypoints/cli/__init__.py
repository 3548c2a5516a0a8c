"""The `ikdoemee-sync` command line (Typer): the root app and every command group."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import exc as sa_exc

from sync.entrypoints.cli.audit import audit_app
from sync.entrypoints.cli.catalogue import activities_app, queue_app
from sync.entrypoints.cli.common import EXIT_FAILED, state
from sync.entrypoints.cli.failures import failures_app
from sync.entrypoints.cli.moderators import moderators_app
from sync.entrypoints.cli.notify import notify_app
from sync.entrypoints.cli.outbox import outbox_app
from sync.entrypoints.cli.report import report_app
from sync.entrypoints.cli.runs import runs_app
from sync.entrypoints.cli.serve import run_cmd, web_cmd
from sync.entrypoints.cli.stats import stats_app
from sync.entrypoints.cli.sync import db_app, remap_cmd, sync_cmd
from sync.logs import configure_logging
from sync.settings import DEFAULT_CONFIG_PATH

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Sync UiTdatabank taalicoon events into the ikdoemee catalogue.")

# The order here is the order of `--help`.
app.command("sync")(sync_cmd)
app.command("remap")(remap_cmd)
app.command("run")(run_cmd)
app.command("web")(web_cmd)
app.add_typer(db_app, name="db")
app.add_typer(runs_app, name="runs")
app.add_typer(failures_app, name="failures")
app.add_typer(activities_app, name="activities")
app.add_typer(queue_app, name="queue")
app.add_typer(outbox_app, name="outbox")
app.add_typer(stats_app, name="stats")
app.add_typer(moderators_app, name="moderators")
app.add_typer(notify_app, name="notify")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")


@app.callback()
def _main(
    config: Annotated[Path, typer.Option("--config", help="TOML config file.")] = (
        DEFAULT_CONFIG_PATH
    ),
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "INFO",
) -> None:
    state.config_path = config
    configure_logging(log_level)


def main() -> None:
    """The console script: a database that is down is one plain line, exit 1, no traceback."""
    try:
        app()
    except sa_exc.OperationalError as exc:
        typer.echo(f"ikdoemee-sync: database unavailable: {exc.orig}", err=True)
        sys.exit(EXIT_FAILED)


__all__ = ["app", "main"]
