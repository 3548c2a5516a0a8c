"""Issue 11 at the command line: config and database URL errors, weak secrets, escaped output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_cli import ROOT, Cli, write_config

STRONG = "x" * 40


def run(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync.entrypoints.cli", "--config", str(config), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "TEST_SAPI_CLIENT_ID": "c", **env})


def plain_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_config_not_utf8_or_a_folder_is_a_plain_error(tmp_path, database_url):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    config.write_bytes(config.read_bytes() + "# café\n".encode("latin-1"))
    plain_error(run(config, "runs", "list", IKDOEMEE_DATABASE_URL=database_url), 2,
                "not UTF-8 text")
    plain_error(run(tmp_path, "runs", "list", IKDOEMEE_DATABASE_URL=database_url), 2,
                "is a folder")


def test_bad_cron_is_refused_at_start(tmp_path, database_url):
    config = write_config(tmp_path, "http://127.0.0.1:9", reconcile_cron='"0 3 * *"')
    plain_error(run(config, "run", "--no-web", IKDOEMEE_DATABASE_URL=database_url), 2,
                "sources[0].reconcile_cron")


@pytest.mark.parametrize(("url", "words"), [
    ("sqlite:///", ("in-memory",)),
    ("sqlite://", ("in-memory",)),
    ("postgres://postgres@127.0.0.1:5432/test", ("postgresql+psycopg://",)),
    ("sqlite:////nonexistent-folder-ikdoemee/x.sqlite3", ("does not exist",)),
])
def test_db_upgrade_refuses_urls_that_cannot_work(tmp_path, url, words):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    plain_error(run(config, "db", "upgrade", IKDOEMEE_DATABASE_URL=url), 2,
                "IKDOEMEE_DATABASE_URL", *words)


@pytest.mark.parametrize("command", [["web"], ["run", "--no-web"]])
@pytest.mark.parametrize(("variable", "value"), [("IKDOEMEE_ADMIN_TOKEN", "1"),
                                                 ("IKDOEMEE_SECRET_KEY", "x")])
def test_web_and_run_refuse_weak_secrets(tmp_path, database_url, command, variable, value):
    cli = Cli(write_config(tmp_path, "http://127.0.0.1:9"), database_url)
    cli("db", "upgrade")
    env = {"IKDOEMEE_DATABASE_URL": database_url, "IKDOEMEE_ADMIN_TOKEN": STRONG,
           "IKDOEMEE_SECRET_KEY": STRONG, variable: value}
    plain_error(run(cli.config, *command, **env), 2, f"{variable}: too short", "at least 32")
