"""`ikdoemee-sync run` as a subprocess: SIGTERM and restart, digests over SMTP, two instances."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from samplefeed.generator import generate_events
from samplefeed.server import FakeSapi3
from tests.support.cli_process import Cli, events, snapshot
from tests.support.web import free_port

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "https://moderatie.ikdoemee.example"


def write_daemon_config(tmp_path: Path, feed_url: str, *, smtp_port: int = 9, web_port: int = 9,
                        limit: int = 5, name: str = "ikdoemee.toml", metrics_port: int = 0,
                        **notifications: Any) -> Path:
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in notifications.items())
    text = f"""
region_file = "{ROOT / 'config' / 'westhoek_municipalities.json'}"
[[sources]]
name = "uitdatabank"
connector = "uitdatabank"
base_url = "{feed_url}"
client_id_env = "TEST_SAPI_CLIENT_ID"
limit = {limit}
max_attempts = 3
backoff_initial_seconds = 0
backoff_max_seconds = 0
[web]
host = "127.0.0.1"
port = {web_port}
base_url = "{BASE_URL}"
{f"metrics_port = {metrics_port}" if metrics_port else ""}
[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "ikdoemee Westhoek <noreply@ikdoemee.example>"
timeout_seconds = 5
[notifications]
{extra}
[daemon]
relay_interval_seconds = 0.2
"""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class Daemon:
    """One `ikdoemee-sync run` process, its stderr kept in a file for the failure message."""

    def __init__(self, cli: Cli, log: Path, *args: str) -> None:
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(cli.argv("run", *args), env=cli.env, cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=self._out)

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._out.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()

    def text(self) -> str:
        return self.log.read_text()


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def scalar(url: str, sql: str) -> Any:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        eng.dispose()


def test_sigterm_during_a_sync_then_restart_loses_and_doubles_nothing(tmp_path, database_url):
    with FakeSapi3(events(150), client_ids={"test-client"}) as fake:
        fake.on_request = lambda params: time.sleep(0.05)
        cli = Cli(write_daemon_config(tmp_path, fake.base_url), database_url)
        cli("db", "upgrade")
        first = Daemon(cli, tmp_path / "first.log", "--no-web")
        try:
            stored = wait_for(lambda: (n := scalar(database_url,
                                                   "SELECT count(*) FROM activities")) >= 40 and n,
                              what="40 activities")
            assert first.terminate() == 0, first.text()
        finally:
            first.kill()
        assert stored < 150, "the stop must land in the middle of the sync"
        log = first.text()
        assert "stop requested" in log and "daemon stopped" in log
        runs = cli.json("runs", "list")["runs"]
        assert runs[0]["status"] == "failed" and runs[0]["error"].startswith("stopped")
        fake.on_request = None
        second = Daemon(cli, tmp_path / "second.log", "--no-web")
        try:
            wait_for(lambda: scalar(database_url, "SELECT count(*) FROM sync_runs "
                                                  "WHERE status = 'succeeded'"),
                     what="the resumed run")
            assert second.terminate() == 0, second.text()
        finally:
            second.kill()
        clean_url = f"sqlite:///{tmp_path / 'clean.sqlite3'}"
        clean = Cli(cli.config, clean_url)
        clean("db", "upgrade")
        clean.json("sync")
    stopped, reference = snapshot(database_url), snapshot(clean_url)
    assert len(reference["activities"]) == 150
    assert stopped == reference


def test_run_against_the_sample_feed_sends_digests_with_links_to_the_base_url(
        tmp_path, database_url, smtp):
    web_port, metrics_port = free_port(), free_port()
    with FakeSapi3(generate_events(300, seed=1), client_ids={"test-client"}) as fake:
        cli = Cli(write_daemon_config(tmp_path, fake.base_url, smtp_port=smtp.port,
                                      web_port=web_port, limit=100, metrics_port=metrics_port,
                                      fallback_moderators=["regio@ikdoemee.example"],
                                      digest_interval_seconds=2), database_url)
        cli("db", "upgrade")
        cli("moderators", "add", "--name", "Ann Peeters", "--email", "ann@ieper.example",
            "--municipality", "Ieper")
        daemon = Daemon(cli, tmp_path / "daemon.log")
        try:
            wait_for(lambda: smtp.to("ann@ieper.example") and smtp.to("regio@ikdoemee.example"),
                     what="digests for Ann and the fallback moderator")
            health = wait_for(lambda: _get(f"http://127.0.0.1:{web_port}/healthz"),
                              what="/healthz answering 200")
            assert health["sources"][0]["status"] == "ok"
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            assert 'ikdoemee_review_queue_open{kind="new",municipality="Ieper"' in metrics
            assert httpx.get(f"http://127.0.0.1:{web_port}/metrics").status_code == 404
            assert daemon.terminate() == 0, daemon.text()
        finally:
            daemon.kill()
    digest = smtp.to("ann@ieper.example")[0]
    text = digest.get_body(("plain",)).get_content()
    urls = re.findall(r"https?://\S+", text)
    assert urls and all(u.startswith(BASE_URL + "/moderatie/") for u in urls)
    assert any("/moderatie/item/" in u for u in urls)
    assert any("/moderatie/wachtrij/" in u for u in urls)
    assert text.startswith("Beste Ann,")
    assert "SQLite" in daemon.text() or "postgresql" in daemon.text()


def _get(url: str) -> Any:
    try:
        r = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def test_two_daemons_sync_once_per_tick_and_send_each_message_once(
        tmp_path, database_url, smtp):
    if not database_url.startswith("postgresql"):
        pytest.skip("two daemons need PostgreSQL (advisory locks, SKIP LOCKED); on SQLite the "
                    "daemon runs as a single instance")
    with FakeSapi3(generate_events(120, seed=2), client_ids={"test-client"}) as fake:
        fake.on_request = lambda params: time.sleep(0.05)  # both ticks overlap the sync
        cli = Cli(write_daemon_config(tmp_path, fake.base_url, smtp_port=smtp.port, limit=10,
                                      fallback_moderators=["regio@ikdoemee.example"],
                                      digest_interval_seconds=1), database_url)
        cli("db", "upgrade")
        _add_moderators(database_url)
        daemons = [Daemon(cli, tmp_path / f"d{n}.log", "--no-web") for n in range(2)]
        try:
            wait_for(lambda: scalar(database_url, "SELECT count(*) FROM sync_runs "
                                                  "WHERE status = 'succeeded'"),
                     what="the first sync")
            # Let both relays and digest jobs work through everything.
            def settled() -> bool:
                pending = scalar(database_url, "SELECT count(*) FROM outbox "
                                               "WHERE delivered_at IS NULL")
                mails = scalar(database_url, "SELECT count(*) FROM outbox "
                                             "WHERE topic = 'email.send'")
                return pending == 0 and mails > 0 and len(smtp.received) == mails
            wait_for(settled, timeout=60, what="every message delivered")
            time.sleep(2.5)  # more digest and relay ticks on both: nothing new may go out
            for d in daemons:
                assert d.terminate() == 0, d.text()
        finally:
            for d in daemons:
                d.kill()
    runs = scalar(database_url, "SELECT count(*) FROM sync_runs")
    assert runs == 1, "one sync per tick across both instances"
    logs = daemons[0].text() + daemons[1].text()
    assert "skipping" in logs
    mails = scalar(database_url, "SELECT count(*) FROM outbox WHERE topic = 'email.send'")
    ids = Counter(r.message["Message-ID"] for r in smtp.received)
    assert len(smtp.received) == mails and set(ids.values()) == {1}
    # Digests go out as pages arrive; no item is ever announced twice to one moderator.
    twice = scalar(database_url, "SELECT count(*) FROM (SELECT moderator_id, review_item_id "
                                 "FROM notifications WHERE kind IN ('digest', 'immediate') "
                                 "GROUP BY moderator_id, review_item_id "
                                 "HAVING count(*) > 1) AS x")
    assert twice == 0


def _add_moderators(url: str) -> None:
    # In-process: fifteen CLI subprocesses would cost more time than the test itself.
    from datetime import UTC, datetime

    from sync.service import moderators as mods

    eng = sa.create_engine(url)
    towns = {"Ieper": "33011", "Poperinge": "33021", "Diksmuide": "32003", "Veurne": "38025"}
    with eng.begin() as conn:
        for i, (town, nis) in enumerate(towns.items()):
            for j in range(2):
                mods.add(conn, name=f"Mod {i}{j}", email=f"mod{i}{j}@{town.lower()}.example",
                         municipalities=[nis], notify="immediate" if j == 0 else "daily",
                         now=datetime.now(UTC))
    eng.dispose()
