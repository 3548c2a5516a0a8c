"""Fixtures of the end-to-end CLI tests: the fake feed they read and a migrated CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from samplefeed.server import FakeSapi3
from tests.support.cli_process import Cli, events, write_config


@pytest.fixture
def feed() -> Iterator[FakeSapi3]:
    with FakeSapi3(events(40), client_ids={"test-client"}) as fake:
        yield fake


@pytest.fixture
def cli(tmp_path: Path, feed: FakeSapi3, database_url: str) -> Cli:
    c = Cli(write_config(tmp_path, feed.base_url), database_url)
    c("db", "upgrade")
    return c
