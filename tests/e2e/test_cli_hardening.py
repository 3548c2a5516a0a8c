"""Hardening at the command line: config and database URL errors, weak secrets, escaped output
(in process: exit codes, stderr and stdout bytes as a shell sees them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from samplefeed.server import FakeSapi3
from tests.builders import make_event
from tests.support.cli import InProcess, plain_error
from tests.support.cli import _restore_logging as _restore_logging  # noqa: F401 - autouse
from tests.support.cli_process import write_config

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow

STRONG = "x" * 40


def run(config: Path, *args: str, **env: str) -> Any:
    return InProcess(config, env.pop("IKDOEMEE_DATABASE_URL", ""), client_id="c")(
        *args, check=None, **env)


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
    cli = InProcess(write_config(tmp_path, "http://127.0.0.1:9"), database_url)
    cli("db", "upgrade")
    env = {"IKDOEMEE_DATABASE_URL": database_url, "IKDOEMEE_ADMIN_TOKEN": STRONG,
           "IKDOEMEE_SECRET_KEY": STRONG, variable: value}
    plain_error(run(cli.config, *command, **env), 2, f"{variable}: too short", "at least 32")


# 6 ------------------------------------------------------------- control characters in the output

# (No NUL: PostgreSQL refuses it in text, so that record would fail to store, not show.)
EVIL = "Praatcafé\x1b[2J\x1b]0;pwned\x07\r\nvervalste regel\x9b31m\u202eesrever\x7f"
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def stdout_of(cli: InProcess, *args: str) -> str:
    """stdout exactly as written (bytes decoded, no newline translation that would hide CR)."""
    return cli(*args).stdout_bytes.decode("utf-8")


def test_control_characters_from_the_feed_and_people_are_escaped(tmp_path, database_url):
    docs = [make_event(1, title=EVIL), make_event(2, title=EVIL, start="\x1b[31mnope")]
    with FakeSapi3(docs, client_ids={"test-client"}) as fake:
        cli = InProcess(write_config(tmp_path, fake.base_url), database_url)
        cli("db", "upgrade")
        cli("sync")  # partial: event 2 fails to map, its raw payload is kept verbatim
    [failure] = cli.json("failures", "list")["failures"]
    fid = str(failure["id"])
    cli("failures", "ignore", fid, "--reason", "geen\x1b[31m rood\r\nvervalst\u202e")
    texts = {args: stdout_of(cli, *args) for args in [
        ("activities", "list"), ("queue", "list"), ("failures", "list", "--status", "ignored"),
        ("failures", "show", fid)]}
    for args, text in texts.items():
        assert not RAW_CONTROLS.search(text.replace("\n", "")), args
    shown = texts[("failures", "show", fid)]
    assert "geen\\x1b[31m rood\\r\\nvervalst\\u202e" in shown  # the reason, escaped visibly
    assert "\\u009b31m" in shown  # a C1 control in the raw payload, which json.dumps keeps raw
    for args in [("activities", "list"), ("failures", "show", fid)]:
        text = stdout_of(cli, *args, "--json")
        assert not RAW_CONTROLS.search(text.replace("\n", "")), args
        doc = json.loads(text)  # still one valid JSON document
    # Escaping changed the text, not the value.
    assert doc["failure"]["payload"]["name"]["nl"] == EVIL
