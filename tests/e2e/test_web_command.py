"""`ikdoemee-sync web` says where it listens, and serves the Dutch front door there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.support.apps import ROOT
from tests.support.web import free_port

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow


def test_web_logs_the_address_it_serves_on(tmp_path: Path, database_url: str,
                                           engine: Engine) -> None:
    port = free_port()
    config = (ROOT / "config" / "ikdoemee.toml").read_text(encoding="utf-8")
    config = config.replace("port = 8080", f"port = {port}").replace(
        'region_file = "westhoek_municipalities.json"',
        f'region_file = "{ROOT / "config" / "westhoek_municipalities.json"}"')
    path = tmp_path / "ikdoemee.toml"
    path.write_text(config, encoding="utf-8")
    env = {**os.environ, "IKDOEMEE_DATABASE_URL": database_url}
    proc = subprocess.Popen([sys.executable, "-m", "sync.entrypoints.cli", "--config", str(path),
                             "web"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "web listening" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "web listening" in seen and f"http://127.0.0.1:{port}" in seen, seen
        for _ in range(100):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/moderatie")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert page.status_code == 200 and "Activiteiten valideren" in page.text
    finally:
        proc.terminate()
        proc.wait(10)
