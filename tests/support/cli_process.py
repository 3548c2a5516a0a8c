"""The CLI as a separate process, as admins and cron run it: config files, a runner that
checks exit codes, a feed of events whose ties straddle pages, and a snapshot of the outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.builders import make_event

ROOT = Path(__file__).resolve().parents[2]


def events(n: int, start: int = 1) -> list[dict[str, Any]]:
    # Three events share each `modified` second, so ties straddle page boundaries.
    postal = ["8900", "8600", "8970", "8670", "8620", "8950"]
    return [make_event(i, postal_code=postal[i % len(postal)],
                       modified=f"2026-11-20T10:{(i // 3) // 60:02d}:{(i // 3) % 60:02d}+00:00")
            for i in range(start, start + n)]


def write_config(tmp_path: Path, base_url: str, limit: int = 7, **extra: Any) -> Path:
    lines = [
        f'region_file = "{ROOT / "config" / "westhoek_municipalities.json"}"',
        "[[sources]]",
        'name = "uitdatabank"',
        'connector = "uitdatabank"',
        f'base_url = "{base_url}"',
        'client_id_env = "TEST_SAPI_CLIENT_ID"',
        f"limit = {limit}",
        "max_attempts = 3",
        "backoff_initial_seconds = 0",
        "backoff_max_seconds = 0",
    ] + [f"{k} = {v}" for k, v in extra.items()]
    path = tmp_path / "ikdoemee.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Cli:
    """`python -m sync.entrypoints.cli --config …` with its own database URL and client id."""

    def __init__(self, config: Path, database_url: str) -> None:
        self.config = config
        self.env = {**os.environ, "IKDOEMEE_DATABASE_URL": database_url,
                    "TEST_SAPI_CLIENT_ID": "test-client"}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sync.entrypoints.cli", "--config", str(self.config), *args]

    def __call__(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True, env=self.env,
                              cwd=ROOT, timeout=120)
        if check is not None:
            assert proc.returncode == check, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        proc = self(*args, "--json")
        return json.loads(proc.stdout)  # exactly one JSON document, nothing else on stdout


def snapshot(url: str) -> dict[str, Any]:
    """What a moderator and the outbox would see, independent of row ids."""
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        acts = sorted(conn.execute(sa.text(
            "SELECT source_id, state, content_hash FROM activities")).all())
        items = sorted(conn.execute(sa.text(
            "SELECT a.source_id, r.kind, r.status FROM review_items r "
            "JOIN activities a ON a.id = r.activity_id")).all())
        versions = conn.execute(sa.text("SELECT count(*) FROM activity_versions")).scalar_one()
        outbox = sorted(conn.execute(sa.text("SELECT topic FROM outbox")).scalars().all())
    eng.dispose()
    return {"activities": acts, "items": items, "versions": versions, "outbox": outbox}
