"""The `ikdoemee-sync` command line (Typer): the root app; each command loads when it runs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

# The order here is the order of `--help`. Command name: (module in this package, the command
# function or Typer group in it, its one line for `--help`). The modules are imported only
# when their command runs: together they import the whole service (~1.4 s), and `--help` or a
# sync needs none of that. The line must be the command's own first help line (a test
# compares them).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "sync": ("sync", "sync_cmd",
             "Run one sync pass of a source (default: the first configured)."),
    "remap": ("sync", "remap_cmd",
              "Map the stored raw documents again with today's rules (no refetch)."),
    "run": ("serve", "run_cmd",
            "Run the daemon: scheduled syncs, reconciliation, outbox relay, e-mail, web "
            "(health)."),
    "web": ("serve", "web_cmd",
            "Serve the web part alone (moderation pages, APIs, health) on [web] host and port."),
    "db": ("sync", "db_app", "Database schema."),
    "runs": ("runs", "runs_app", "Sync runs."),
    "failures": ("failures", "failures_app", "Records that could not be synced."),
    "activities": ("catalogue", "activities_app", "The catalogue."),
    "queue": ("catalogue", "queue_app", "Review queues per municipality."),
    "outbox": ("outbox", "outbox_app", "Messages to deliver (e-mail, webhooks)."),
    "stats": ("stats", "stats_app",
              "Statistics of the published catalogue and of moderation, like the annual "
              "report."),
    "moderators": ("moderators", "moderators_app", "Moderators and their municipalities."),
    "notify": ("notify", "notify_app", "Moderator e-mail on demand."),
    "audit": ("audit", "audit_app", "The moderators' decision log."),
    "report": ("report", "report_app",
               "The ikdoemee part of the annual report for a period (public on any day of "
               "it)."),
}

# Kept equal to `sync.settings.DEFAULT_CONFIG_PATH` by a test: importing the settings (pydantic)
# costs a third of a second that `--help` does not need.
DEFAULT_CONFIG = Path("config/ikdoemee.toml")


def load_command(name: str) -> Any:
    """The click command of `name`, its module imported now."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_command(single)


class _LazyGroup(TyperGroup):
    """The root group: lists every command from `COMMANDS`, loads one when it is used."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            if self._listing:  # `--help` shows one line per command: no import for that
                return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][2])
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(cls=_LazyGroup, no_args_is_help=True, add_completion=False,
                  help="Sync UiTdatabank taalicoon events into the ikdoemee catalogue.")


@app.callback()
def _main(
    config: Annotated[Path, typer.Option("--config", help="TOML config file.")] = DEFAULT_CONFIG,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING.")] = "INFO",
) -> None:
    from sync.entrypoints.cli.common import state
    from sync.logs import configure_logging

    state.config_path = config
    configure_logging(log_level)


def main() -> None:
    """The console script: a database that is down is one plain line, exit 1, no traceback."""
    try:
        app()
    except Exception as exc:
        # Only a command that used the database can raise its error; --help never loads it.
        sa_exc = sys.modules.get("sqlalchemy.exc")
        if sa_exc is None or not isinstance(exc, sa_exc.OperationalError):
            raise
        from sync.entrypoints.cli.common import EXIT_FAILED

        typer.echo(f"ikdoemee-sync: database unavailable: {exc.orig}", err=True)
        sys.exit(EXIT_FAILED)


__all__ = ["COMMANDS", "app", "load_command", "main"]
