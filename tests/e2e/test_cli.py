"""The CLI end to end against the fake SAPI3 server over loopback: subprocesses where the
process matters (one JSON document on stdout, a kill, a lock between processes), in process
for exit codes and messages."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from samplefeed.server import FakeSapi3
from tests.support.cli import InProcess
from tests.support.cli import _restore_logging as _restore_logging  # noqa: F401 - autouse
from tests.support.cli_process import ROOT, Cli, events, snapshot, write_config

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture
def inproc(tmp_path: Path, feed: FakeSapi3, database_url: str) -> InProcess:
    c = InProcess(write_config(tmp_path, feed.base_url), database_url)
    c("db", "upgrade")
    return c


def test_sync_then_list_everything_as_json(cli, feed):
    doc = cli.json("sync")
    assert doc["status"] == "succeeded"
    assert doc["counts"]["created"] == 40 and doc["counts"]["fetched"] == 40
    items = cli.json("queue", "list")["items"]
    assert len(items) == 40 and {i["kind"] for i in items} == {"new"}
    ieper = cli.json("queue", "list", "--municipality", "ieper")["items"]
    assert ieper and {i["municipality"] for i in ieper} == {"Ieper"}
    acts = cli.json("activities", "list", "--state", "pending")["activities"]
    assert len(acts) == 40
    runs = cli.json("runs", "list")["runs"]
    assert runs[0]["status"] == "succeeded" and runs[0]["counts"]["created"] == 40
    assert cli.json("failures", "list")["failures"] == []
    # Incremental: nothing new since the cursor.
    again = cli.json("sync")
    assert again["counts"]["created"] == 0 and again["counts"]["updated"] == 0


def test_incremental_sync_sees_changes_and_deletions(cli, feed):
    cli.json("sync")
    feed.update(feed.events()[0]["@id"], name={"nl": "Nieuwe titel"})
    feed.delete(feed.events()[5]["@id"])
    doc = cli.json("sync")
    assert doc["counts"]["updated"] == 1 and doc["counts"]["withdrawn"] == 1
    assert doc["counts"]["fetched"] == 2  # only what changed since the cursor
    kinds = sorted(i["kind"] for i in cli.json("queue", "list")["items"])
    assert kinds.count("withdrawn") == 1 and len(kinds) == 40


def test_bad_config_names_the_key_and_shows_no_traceback(cli, tmp_path, feed):
    bad = write_config(tmp_path, feed.base_url, limit=99999)
    proc = subprocess.run(cli.argv()[:3] + ["--config", str(bad), "sync"], capture_output=True,
                          text=True, env=cli.env, cwd=ROOT)
    assert proc.returncode == 2
    assert "sources[0].limit: Input should be less than or equal to 2000" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_municipality_and_state_are_usage_errors(inproc):
    result = inproc("queue", "list", "--municipality", "Brugge", check=2)
    assert "unknown municipality 'Brugge'" in result.stderr and "Ieper" in result.stderr
    result = inproc("activities", "list", "--state", "gepubliceerd", check=2)
    assert "--state" in result.stderr


def test_unmigrated_database_says_to_upgrade(tmp_path, feed):
    c = InProcess(write_config(tmp_path, feed.base_url),
                  f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = c("queue", "list", check=2)
    assert "ikdoemee-sync db upgrade" in result.stderr


def test_refused_client_fails_the_run_with_the_problem(inproc):
    result = inproc("sync", "--json", check=1, TEST_SAPI_CLIENT_ID="wrong-client")
    doc = json.loads(result.stdout)
    assert doc["status"] == "failed" and "401" in doc["error"]
    assert inproc.json("runs", "list")["runs"][0]["status"] == "failed"


def test_missing_client_id_variable_is_a_config_error(inproc):
    result = inproc("sync", check=2, TEST_SAPI_CLIENT_ID=None)
    assert "TEST_SAPI_CLIENT_ID is not set" in result.stderr


def test_kill_during_sync_then_resume_loses_and_doubles_nothing(tmp_path, database_url):
    with FakeSapi3(events(150), client_ids={"test-client"}) as fake:
        # Slow answers so the kill lands in the middle of the run.
        fake.on_request = lambda params: time.sleep(0.05)
        c = Cli(write_config(tmp_path, fake.base_url, limit=5), database_url)
        c("db", "upgrade")
        proc = subprocess.Popen(c.argv("sync"), env=c.env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eng = sa.create_engine(database_url)
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and stored < 40:
            time.sleep(0.05)
            with eng.connect() as conn:
                stored = conn.execute(sa.text("SELECT count(*) FROM activities")).scalar_one()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        eng.dispose()
        assert 0 < stored < 150, "the kill must land in the middle of the sync"
        fake.on_request = None
        resumed = c.json("sync")
        assert resumed["status"] == "succeeded"
        runs = c.json("runs", "list")["runs"]
        assert [r["status"] for r in runs] == ["succeeded", "failed"]  # the killed one is closed
        assert "interrupted" in runs[1]["error"]

        clean_url = f"sqlite:///{tmp_path / 'clean.sqlite3'}"
        clean = Cli(c.config, clean_url)
        clean("db", "upgrade")
        clean.json("sync")
    killed, reference = snapshot(database_url), snapshot(clean_url)
    assert len(reference["activities"]) == 150
    assert killed == reference


def test_unreachable_database_is_a_plain_error(tmp_path, feed):
    c = Cli(write_config(tmp_path, feed.base_url),
            "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2")
    proc = c("queue", "list", check=1)
    assert "database unavailable" in proc.stderr and "Traceback" not in proc.stderr


def test_sync_refuses_while_another_process_syncs_the_source(cli, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("cross-process source locks exist on PostgreSQL only; SQLite is one process")
    from sync.adapters.database import make_engine
    from sync.adapters.locks import source_lock, try_lock

    eng = make_engine(database_url)
    try:
        with try_lock(eng, source_lock("uitdatabank")) as mine:
            assert mine
            proc = cli("sync", check=1)
        assert "being synced by another process" in proc.stderr
        assert cli.json("runs", "list")["runs"] == []  # nothing started, nothing closed
        assert cli.json("sync")["status"] == "succeeded"  # free again
    finally:
        eng.dispose()
