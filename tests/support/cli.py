"""The CLI in-process: typer's CliRunner, with structlog restored after each test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import Result
from typer.testing import CliRunner

from sync.entrypoints.cli import app as cli_app


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # The CLI points structlog at CliRunner's stderr, which is closed after each invoke.
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def invoke(*args: str, code: int = 0) -> Any:
    """Run one command; its parsed JSON document with --json, else its stdout."""
    result = CliRunner().invoke(cli_app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


class InProcess:
    """The CLI in this process with its own config and environment: exit codes, stderr and
    stdout exactly as a shell would see them, without starting Python again per command."""

    def __init__(self, config: Path, database_url: str, client_id: str = "test-client") -> None:
        self.config = config
        self.env: dict[str, str | None] = {"IKDOEMEE_DATABASE_URL": database_url,
                                           "TEST_SAPI_CLIENT_ID": client_id}

    def __call__(self, *args: str, check: int | None = 0, **env: str | None) -> Result:
        """Run one command; an environment variable given as None is unset for it."""
        result = CliRunner().invoke(cli_app, ["--config", str(self.config), *args],
                                    env={**self.env, **env})
        if check is not None:
            assert result.exit_code == check, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


def plain_error(result: Result, code: int, *words: str) -> None:
    """Exit `code` with a message naming `words`, and no traceback (no stray exception)."""
    assert result.exit_code == code, result.stderr
    assert isinstance(result.exception, SystemExit), result.exception
    for word in words:
        assert word in result.stderr, result.stderr
