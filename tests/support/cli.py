"""The CLI in-process: typer's CliRunner, with structlog restored after each test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
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
