"""The root command line: `--help` lists every command without loading them."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

import sync.entrypoints.cli as cli
from sync.settings import DEFAULT_CONFIG_PATH

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(cli.app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    rows = [line.strip("│ ").split(" ", 1)[0] for line in result.stdout.splitlines()]
    listed = [name for name in rows if name in cli.COMMANDS]
    assert listed == list(cli.COMMANDS)
    assert "Statistics of the published catalogue and of moderation" in result.stdout


def test_every_command_loads_and_its_help_line_is_the_listed_one() -> None:
    for name, (_, _, line) in cli.COMMANDS.items():
        command = cli.load_command(name)
        assert command.name == name
        assert (command.help or "").split("\n\n")[0].strip() == line, name


def test_every_command_group_of_the_package_is_listed() -> None:
    # A group added to a module of the package but not to COMMANDS would never be reachable.
    reachable: list[typer.Typer] = []
    todo = [getattr(importlib.import_module(f"{cli.__name__}.{module}"), attribute)
            for module, attribute, _ in cli.COMMANDS.values()]
    while todo:
        group = todo.pop()
        if isinstance(group, typer.Typer):
            reachable.append(group)
            todo += [info.typer_instance for info in group.registered_groups]
    for info in pkgutil.iter_modules(cli.__path__):
        if info.name == "__main__":  # runs the command line when imported
            continue
        module = importlib.import_module(f"{cli.__name__}.{info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, typer.Typer):
                assert any(value is r for r in reachable), f"{info.name}.{attribute}"


def test_the_default_config_path_is_the_settings_one() -> None:
    assert cli.DEFAULT_CONFIG == DEFAULT_CONFIG_PATH


def test_help_loads_neither_the_database_nor_the_settings() -> None:
    probe = ("import sys\n"
             "sys.argv = ['ikdoemee-sync', '--help']\n"
             "from sync.entrypoints.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('sqlalchemy', 'sync.settings', 'sync.bootstrap', 'httpx')"
             " if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert "sync" in done.stdout and "report" in done.stdout


def test_the_sync_command_loads_no_mail_templates() -> None:
    # A sync from cron starts often: the notification and review-page modules (Jinja) wait
    # until something uses them.
    probe = ("import sys\n"
             "import sync.entrypoints.cli.sync\n"
             "print(sorted(m for m in ('jinja2', 'sync.service.notify', 'sync.service.review_view')"
             " if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
