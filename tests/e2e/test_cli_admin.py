"""Admin commands end to end: subprocesses against the fake SAPI3 server over loopback."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa

from samplefeed.server import FakeSapi3
from sync.service.outbox_admin import OUTBOX_MAX_ATTEMPTS
from tests.builders import event_id, make_event
from tests.support.cli_process import events

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture
def feed() -> Iterator[FakeSapi3]:
    broken = [make_event(n) for n in (101, 102)]
    for doc in broken:
        doc["name"] = 42  # garbage from the source: a map failure with its raw payload
    with FakeSapi3(events(12) + broken, client_ids={"test-client"}) as fake:
        yield fake


def test_failures_show_replay_refetch_and_ignore(cli, feed):
    run = cli.json("sync")
    assert run["status"] == "partial" and run["counts"]["failed"] == 2
    failures = cli.json("failures", "list")["failures"]
    first, second = (f["id"] for f in failures)
    shown = cli.json("failures", "show", str(first))["failure"]
    assert shown["payload"]["name"] == 42 and shown["stage"] == "map"
    assert shown["attempts"] == 1 and shown["source_id"] == event_id(101)
    assert "raw payload:" in cli("failures", "show", str(first)).stdout

    # The stored payload is still garbage: the failure stays open with one more attempt.
    proc = cli("failures", "replay", str(first), "--json", check=1)
    doc = json.loads(proc.stdout)
    assert doc["still_failing"] == 1 and doc["runs"][0]["status"] == "partial"
    assert cli.json("failures", "show", str(first))["failure"]["attempts"] == 2
    assert len(cli.json("failures", "list", "--status", "open")["failures"]) == 2

    feed.update(event_id(101), name={"nl": "Praatcafé (hersteld)"})
    fixed = cli.json("failures", "replay", str(first), "--refetch")
    assert fixed["resolved"] == 1 and fixed["items"][0]["outcome"] == "created"
    replay_run = fixed["runs"][0]["run_id"]
    shown = cli.json("runs", "show", str(replay_run))["run"]
    assert shown["kind"] == "replay" and shown["counts"]["created"] == 1
    assert shown["failures"] == {"open": 0, "resolved": 0, "ignored": 0}
    assert "kind       replay" in cli("runs", "show", str(replay_run)).stdout
    resolved = cli.json("failures", "show", str(first))["failure"]
    assert resolved["status"] == "resolved" and f"run {replay_run}" in resolved["resolution"]

    ignored = cli.json("failures", "ignore", str(second), "--reason", "testevent")["failure"]
    assert ignored["status"] == "ignored" and ignored["resolution"] == "ignored: testevent"
    assert "is ignored" in cli("failures", "ignore", str(second), "--reason", "x",
                               check=1).stderr
    nothing = cli("failures", "replay", "--all-open")
    assert "nothing to replay" in nothing.stdout
    kinds = [r["kind"] for r in cli.json("runs", "list")["runs"]]
    assert kinds == ["replay", "replay", "incremental"]


def test_unknown_ids_and_bad_usage_exit_2(cli):
    cli.json("sync")
    for args in (("runs", "show", "999"), ("failures", "show", "999"),
                 ("failures", "replay", "999"), ("failures", "ignore", "999", "--reason", "x"),
                 ("outbox", "retry", "999")):
        proc = cli(*args, check=2)
        assert "999" in proc.stderr and "Traceback" not in proc.stderr, args
    assert "--run RUN_ID" in cli("failures", "replay", check=2).stderr
    cli("failures", "replay", "1", "--all-open", check=2)
    cli("failures", "replay", "--run", "999", check=2)
    cli("stats", "--format", "xml", check=2)
    cli("outbox", "list", "--status", "lost", check=2)
    cli("runs", "list", "--since", "gisteren", check=2)


def test_backfill_since_and_runs_date_filters(cli):
    cli.json("sync")
    backfill = cli.json("sync", "--since", "2026-11-20")
    assert backfill["counts"]["fetched"] == 14 and backfill["counts"]["unchanged"] == 12
    assert backfill["counts"]["created"] == 0
    runs = cli.json("runs", "list")["runs"]
    assert [r["kind"] for r in runs] == ["since", "incremental"]
    assert runs[0]["cursor_before"]["modified"].startswith("2026-11-20T00:00:00")
    today = date.today().isoformat()
    assert len(cli.json("runs", "list", "--since", today)["runs"]) == 2
    assert cli.json("runs", "list", "--until", "2020-01-01")["runs"] == []
    assert len(cli.json("runs", "list", "--since", "2020-01-01", "--until", "2999-12-31",
                        "--status", "partial")["runs"]) == 2


def test_stats_as_table_json_and_csv(cli):
    cli.json("sync")
    doc = cli.json("stats")
    assert doc["published_activities"] == 0  # nothing approved yet
    assert doc["moderation"]["open_items"] == 12 and len(doc["municipalities"]) == 17
    assert json.loads(cli("stats", "--format", "json").stdout)["activity_types"] == doc[
        "activity_types"]
    rows = list(csv.reader(io.StringIO(cli("stats", "--format", "csv").stdout)))
    assert rows[0] == ["section", "key", "label", "count", "percentage"]
    queue_total = sum(int(r[3]) for r in rows if r[0] == "queue")
    assert queue_total == 12
    table = cli("stats").stdout
    assert "Activiteitstype" in table and "Zonder moderator" in table


def test_outbox_list_and_retry(cli, database_url):
    cli.json("sync")
    messages = cli.json("outbox", "list")["messages"]
    assert len(messages) == 12 and {m["status"] for m in messages} == {"pending"}
    dead_ids = [m["id"] for m in messages[:3]]
    eng = sa.create_engine(database_url)
    with eng.begin() as conn:
        conn.execute(sa.text(
            "UPDATE outbox SET attempts = :n, last_error = 'SMTP 451' WHERE id IN (:a, :b, :c)"),
            {"n": OUTBOX_MAX_ATTEMPTS, "a": dead_ids[0], "b": dead_ids[1], "c": dead_ids[2]})
    eng.dispose()
    dead = cli.json("outbox", "list", "--status", "dead")
    assert [m["id"] for m in dead["messages"]] == dead_ids
    assert dead["counts"] == {"pending": 9, "delivered": 0, "dead": 3}
    assert cli.json("outbox", "retry", str(dead_ids[0]))["retried"] == [dead_ids[0]]
    assert cli.json("outbox", "retry", "--all-dead")["retried"] == dead_ids[1:]
    after = cli.json("outbox", "list")
    assert after["counts"] == {"pending": 12, "delivered": 0, "dead": 0}
    assert {m["last_error"] for m in after["messages"] if m["id"] in dead_ids} == {"SMTP 451"}
    assert "dead 0" in cli("outbox", "list").stdout
