"""Fault drills (`make drills`; a short mode runs in the test suite).

    .venv/bin/python bench/drills.py [--short] [--db sqlite|postgresql|both]
        [--only kill,http,pg,smtp] [--cases http_500,...] [--http-repeat N] [--out FILE]

1. kill -9 the sync at random moments during a 20 000-event sync, 20 times, then finish it:
   catalogue, queues and outbox must equal one clean sync; no orphans, no doubled open items.
2. HTTP fault matrix (timeouts, resets, 500/502/503, 429 + Retry-After, truncated JSON, an
   empty page in the middle, a repeated page, a burst longer than the retries): each run ends
   with the clean catalogue, or fails with a clear message and the next run resumes correctly.
3. PostgreSQL restart during a sync (full mode, PostgreSQL only).
4. SMTP outage during a digest run: digests built into the outbox, the SMTP server (aiosmtpd)
   stops in the middle of a relay pass and comes back; every digest arrives, none twice.
Writes bench/out/drills-<mode>.json (or --out) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.common import OUT, ROOT, Cli, Database, database, wait_until, write_config  # noqa: E402
from samplefeed.generator import generate_events  # noqa: E402
from samplefeed.server import FakeSapi3, Fault  # noqa: E402

SEED = 11
HTTP_TIMEOUT = 1.0  # the client's timeout in the fault matrix; the `timeout` fault waits longer


# --------------------------------------------------------------------------- checks

def snapshot(url: str) -> dict[str, Any]:
    """What a moderator and the outbox see, independent of row ids and clocks."""
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            q = lambda sql: conn.execute(sa.text(sql)).all()  # noqa: E731
            return {
                "activities": sorted(tuple(r) for r in q(
                    "SELECT source_id, state, content_hash FROM activities")),
                "items": sorted(tuple(r) for r in q(
                    "SELECT a.source_id, r.kind, r.status FROM review_items r "
                    "JOIN activities a ON a.id = r.activity_id")),
                "versions": q("SELECT count(*) FROM activity_versions")[0][0],
                "outbox": sorted(r[0] for r in q("SELECT topic FROM outbox")),
            }
    finally:
        eng.dispose()


def integrity(url: str) -> dict[str, int]:
    """Rows that must not exist: orphans, doubled open items, runs left running."""
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            one = lambda sql: int(conn.execute(sa.text(sql)).scalar_one())  # noqa: E731
            return {
                "orphan_review_items": one(
                    "SELECT count(*) FROM review_items r WHERE NOT EXISTS "
                    "(SELECT 1 FROM activities a WHERE a.id = r.activity_id)"),
                "orphan_versions": one(
                    "SELECT count(*) FROM activity_versions v WHERE NOT EXISTS "
                    "(SELECT 1 FROM activities a WHERE a.id = v.activity_id)"),
                "items_on_foreign_version": one(
                    "SELECT count(*) FROM review_items r JOIN activity_versions v "
                    "ON v.id = r.version_id WHERE v.activity_id <> r.activity_id"),
                "activities_doubled_open_items": one(
                    "SELECT count(*) FROM (SELECT activity_id FROM review_items "
                    "WHERE status = 'open' GROUP BY activity_id HAVING count(*) > 1) d"),
                "doubled_source_ids": one(
                    "SELECT count(*) FROM (SELECT source, source_id FROM activities "
                    "GROUP BY source, source_id HAVING count(*) > 1) d"),
                "runs_left_running": one(
                    "SELECT count(*) FROM sync_runs WHERE status = 'running'"),
            }
    finally:
        eng.dispose()


def diff(got: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """Rows lost and doubled per part of the snapshot (multiset difference)."""
    from collections import Counter

    out: dict[str, Any] = {}
    for key in ("activities", "items", "outbox"):
        g, w = Counter(got[key]), Counter(want[key])
        out[key] = {"lost": sum((w - g).values()), "doubled": sum((g - w).values())}
    out["versions"] = {"got": got["versions"], "want": want["versions"]}
    return out


def count(url: str, table: str) -> int:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    except sa.exc.SQLAlchemyError:
        return -1
    finally:
        eng.dispose()


def clean_reference(kind: str, events: list[dict[str, Any]], limit: int,
                    base_url: str | None) -> dict[str, Any]:
    with FakeSapi3(events) as fake, database(kind, "ref", base_url=base_url) as db:
        cli = Cli(write_config(OUT / f"drill-ref-{kind}.toml", fake.base_url, limit=limit), db.url)
        cli.upgrade()
        proc = cli.run("sync", "--json")
        if proc.returncode != 0:
            raise RuntimeError(f"clean sync failed: {proc.stdout} {proc.stderr[-2000:]}")
        return snapshot(db.url)


def verdict(db: Database, reference: dict[str, Any]) -> dict[str, Any]:
    got = snapshot(db.url)
    bad = integrity(db.url)
    d = diff(got, reference)
    return {"equal": got == reference, "diff": d, "integrity": bad,
            "ok": got == reference and not any(bad.values())}


# --------------------------------------------------------------------------- 1. kill -9

def kill_drill(kind: str, n_events: int, kills: int, *, limit: int, max_delay: float,
               base_url: str | None = None, seed: int = SEED,
               reference: dict[str, Any] | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    events = generate_events(n_events, seed=seed)
    reference = reference or clean_reference(kind, events, limit, base_url)
    moments: list[dict[str, Any]] = []
    with FakeSapi3(events) as fake, database(kind, "kill", base_url=base_url) as db:
        cli = Cli(write_config(OUT / f"drill-kill-{kind}.toml", fake.base_url, limit=limit),
                  db.url)
        cli.upgrade()
        for i in range(kills):
            before = max(0, count(db.url, "activities"))
            proc = subprocess.Popen(cli.argv("sync", "--json"), env=cli.env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t0 = time.monotonic()
            if i % 4 == 0:
                # Now and then a blind moment: start-up, first request, first page.
                phase, delay = "blind", rng.uniform(0.2, max_delay)
                finished = wait_until(lambda p=proc: p.poll() is not None, delay)
            else:
                # Otherwise inside the run: once this run has committed a page, at a random
                # moment within about one more page (fetching, mapping, storing or committing).
                phase = "mid-run"
                wait_until(lambda p=proc, b=before: p.poll() is not None
                           or count(db.url, "activities") > b, 120, step=0.02)
                page_time = time.monotonic() - t0
                delay = rng.uniform(0, min(max_delay, page_time))
                finished = wait_until(lambda p=proc: p.poll() is not None, delay)
            if not finished:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            moments.append({"phase": phase, "after_s": round(time.monotonic() - t0, 2),
                            "killed": not finished, "activities_before": before,
                            "activities_after": count(db.url, "activities")})
        final = cli.run("sync", "--json")
        doc = json.loads(final.stdout) if final.stdout.strip() else {}
        result = {"kind": kind, "events": n_events, "kills": sum(m["killed"] for m in moments),
                  "kills_mid_sync": sum(m["killed"] and 0 < m["activities_after"] < n_events
                                        for m in moments),
                  "attempts": moments, "final_status": doc.get("status"),
                  "final_rc": final.returncode, **verdict(db, reference)}
        runs = json.loads(cli.run("runs", "list", "--json", "--limit", "1000").stdout)["runs"]
        result["runs"] = {s: sum(r["status"] == s for r in runs)
                          for s in ("succeeded", "failed", "partial", "running")}
        result["ok"] = result["ok"] and final.returncode == 0
    return result


# --------------------------------------------------------------------------- 2. HTTP faults

def fault_cases(max_attempts: int) -> dict[str, list[Fault]]:
    return {
        "timeout": [Fault(delay=HTTP_TIMEOUT + 1.5)],
        "reset": [Fault(reset=True)],
        "http_500": [Fault(status=500)],
        "http_502_html": [Fault(status=502, body=b"<html><h1>502 Bad Gateway</h1></html>")],
        "http_503": [Fault(status=503)],
        "http_429_retry_after": [Fault(status=429, retry_after="1")],
        "truncated_json": [Fault(truncate=True)],
        "empty_page_in_middle": [Fault(empty_page=True)],
        "repeated_previous_page": [Fault(repeat_previous=True)],
        "burst_503_beyond_retries": [Fault(status=503)] * max_attempts,
        "timeouts_beyond_retries": [Fault(delay=HTTP_TIMEOUT + 1.5)] * max_attempts,
    }


def http_drill(kind: str, n_events: int, *, limit: int, at_request: int = 3,
               base_url: str | None = None, only: list[str] | None = None,
               max_attempts: int = 3, timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    events = generate_events(n_events, seed=SEED + 1)
    reference = clean_reference(kind, events, limit, base_url)
    results: dict[str, Any] = {}
    for name, faults in fault_cases(max_attempts).items():
        if only and name not in only:
            continue
        with FakeSapi3(events) as fake, database(kind, "http", base_url=base_url) as db:
            cli = Cli(write_config(OUT / f"drill-http-{kind}.toml", fake.base_url, limit=limit,
                                   timeout=timeout, max_attempts=max_attempts), db.url)
            cli.upgrade()
            seen = {"n": 0}

            def arm(params: dict[str, str], seen: dict[str, int] = seen,
                    faults: list[Fault] = faults) -> None:
                # Faults are taken before this hook runs: arming at request k-1 hits request k.
                seen["n"] += 1
                if seen["n"] == at_request - 1:
                    fake.faults.extend(faults)

            fake.on_request = arm
            runs: list[dict[str, Any]] = []
            t0 = time.monotonic()
            for attempt in range(3):
                proc = cli.run("sync", "--json", timeout=300)
                doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
                equal = snapshot(db.url) == reference
                runs.append({"rc": proc.returncode, "status": doc.get("status"),
                             "error": doc.get("error"), "equal_after": equal,
                             "fetched": (doc.get("counts") or {}).get("fetched")})
                if attempt == 0:
                    fake.on_request = None
                if equal and proc.returncode == 0:
                    break
            first = runs[0]
            v = verdict(db, reference)
            if first["status"] in ("succeeded", "partial") and first["equal_after"]:
                outcome = "clean in one run"
            elif first["status"] == "failed" and first["error"] and v["ok"]:
                outcome = f"failed clearly, resumed in run {len(runs)}"
            elif v["ok"]:
                outcome = (f"FLAG: run 1 reported {first['status']} with an incomplete "
                           f"catalogue; complete after run {len(runs)}")
            else:
                outcome = "MISMATCH"
            results[name] = {"outcome": outcome, "runs": runs, "seconds":
                             round(time.monotonic() - t0, 1), **v}
    return {"kind": kind, "events": n_events, "limit": limit, "cases": results,
            "ok": all(r["ok"] for r in results.values())}


# --------------------------------------------------------------------------- 3. PG restart

def pg_cluster() -> tuple[str, str] | None:
    root = Path("/etc/postgresql")
    if not root.is_dir():
        return None
    for version in sorted(root.iterdir(), reverse=True):
        for cluster in sorted(version.iterdir()):
            return version.name, cluster.name
    return None


def pg_ready(timeout: float = 60) -> bool:
    return wait_until(lambda: subprocess.run(
        ["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True).returncode == 0,
        timeout, step=0.5)


def pg_restart_drill(n_events: int, *, limit: int, restart_after: float = 4.0) -> dict[str, Any]:
    cluster = pg_cluster()
    if cluster is None:
        return {"skipped": "no /etc/postgresql cluster"}
    events = generate_events(n_events, seed=SEED + 2)
    reference = clean_reference("postgresql", events, limit, None)
    with FakeSapi3(events) as fake, database("postgresql", "pgrestart") as db:
        cli = Cli(write_config(OUT / "drill-pg.toml", fake.base_url, limit=limit), db.url)
        cli.upgrade()
        proc = subprocess.Popen(cli.argv("sync", "--json"), env=cli.env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(restart_after)
        before = count(db.url, "activities")
        restart = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster,
                                  "restart"], capture_output=True, text=True)
        up = pg_ready()
        try:
            out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        first = json.loads(out) if out.strip() else {}
        last_err = [line for line in err.splitlines() if line.strip()][-3:]
        runs = [{"rc": proc.returncode, "status": first.get("status"),
                 "error": first.get("error"), "stderr_tail": last_err}]
        for _ in range(2):
            p = cli.run("sync", "--json")
            doc = json.loads(p.stdout) if p.stdout.strip() else {}
            runs.append({"rc": p.returncode, "status": doc.get("status"),
                         "error": doc.get("error")})
            if p.returncode == 0 and snapshot(db.url) == reference:
                break
        result = {"events": n_events, "activities_at_restart": before,
                  "restart_rc": restart.returncode, "restart_err": restart.stderr[-500:],
                  "pg_up_again": up, "runs": runs, **verdict(db, reference)}
    if not pg_ready(5):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "start"])
        result["pg_up_again"] = pg_ready()
    return result


# --------------------------------------------------------------------------- 4. SMTP outage

def smtp_outage_drill(kind: str, *, moderators: int = 60, items: int = 5, stop_after: int = 20,
                      base_url: str | None = None) -> dict[str, Any]:
    """Digests for `moderators` moderators go to the outbox; the relay sends them to a local
    aiosmtpd server that stops after accepting `stop_after` mails (in the middle of the pass).
    During the outage: another relay pass and another digest run. Then the server comes back on
    the same port, the clock moves past the back-off, and the relay finishes. Every digest must
    arrive exactly once (by Message-ID), and the outbox must end fully delivered."""
    import email
    import socket
    import threading
    from datetime import timedelta

    from aiosmtpd.controller import Controller

    from bench.bench_digest import NOW, seed
    from sync.adapters import migrate
    from sync.adapters import tables as t
    from sync.adapters.database import make_engine
    from sync.adapters.mailer import SmtpMailer
    from sync.service.notify import NotifySettings, build_digests
    from sync.service.outbox import OutboxRelay
    from sync.settings import SmtpConfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])

    received: list[str] = []  # Message-IDs, in arrival order
    state: dict[str, Any] = {"controller": None, "stopper": None}

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            msg = email.message_from_bytes(envelope.original_content or envelope.content)
            received.append(str(msg["Message-ID"]))
            if len(received) == stop_after and state["stopper"] is None:
                # The outage: the server goes away right after accepting this mail.
                state["stopper"] = threading.Thread(target=state["controller"].stop)
                state["stopper"].start()
            return "250 OK"

    def start_server() -> None:
        state["controller"] = Controller(Sink(), hostname="127.0.0.1", port=port)
        state["controller"].start()

    clock = {"now": NOW}
    settings = NotifySettings(
        base_url="https://moderatie.ikdoemee.test", sender="ikdoemee <noreply@bench.test>",
        link_valid_days=14, fallback_emails=(), reminder_after_days=3, escalate_after_days=7)
    with database(kind, "smtp", base_url=base_url) as db:
        engine = make_engine(db.url)
        try:
            migrate.upgrade(engine)
            seed(engine, moderators, items)
            relay = OutboxRelay(engine, lambda: clock["now"], batch_size=100_000,
                                mailer=SmtpMailer(SmtpConfig(host="127.0.0.1", port=port,
                                                             timeout_seconds=5)))

            def outbox() -> dict[str, int]:
                o = t.outbox
                with engine.connect() as conn:
                    rows = conn.execute(sa.select(o.c.delivered_at, o.c.attempts)).all()
                return {"rows": len(rows),
                        "delivered": sum(r.delivered_at is not None for r in rows),
                        "undelivered": sum(r.delivered_at is None for r in rows),
                        "with_failed_attempts": sum(
                            r.attempts > (1 if r.delivered_at is not None else 0)
                            for r in rows)}

            built = build_digests(engine, settings, clock["now"])
            start_server()
            t0 = time.monotonic()
            during = relay.run_once()  # the server stops after `stop_after` mails
            if state["stopper"] is not None:
                state["stopper"].join(10)
            after_pass1 = outbox()
            clock["now"] += timedelta(hours=2)  # past any back-off
            rebuilt = build_digests(engine, settings, clock["now"])  # digest run in the outage
            down_pass = relay.run_once()  # server still down
            after_pass2 = outbox()
            start_server()  # back, same port
            clock["now"] += timedelta(hours=2)
            passes = []
            for _ in range(5):
                r = relay.run_once()
                passes.append({"delivered": r.delivered, "failed": r.failed})
                if outbox()["undelivered"] == 0:
                    break
                clock["now"] += timedelta(hours=2)
            seconds = round(time.monotonic() - t0, 2)
            state["controller"].stop()
            final = outbox()
        finally:
            engine.dispose()
    unique = len(set(received))
    lost = built.mails - unique
    doubled = len(received) - unique
    return {
        "kind": kind, "moderators": moderators, "items_each": items,
        "digests_built": built.mails, "stop_after": stop_after,
        "pass_1_server_stops": {"delivered": during.delivered, "failed": during.failed,
                                "gave_up": during.gave_up, "outbox": after_pass1},
        "digest_run_during_outage": rebuilt.to_json(),
        "pass_2_server_down": {"delivered": down_pass.delivered, "failed": down_pass.failed,
                               "gave_up": down_pass.gave_up, "outbox": after_pass2},
        "passes_after_restart": passes, "final_outbox": final,
        "received": len(received), "unique_received": unique,
        "lost": lost, "doubled": doubled, "seconds": seconds,
        "ok": (lost == 0 and doubled == 0 and final["undelivered"] == 0
               and rebuilt.mails == 0 and during.failed >= 1),
    }


# --------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--db", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--only", default="kill,http,pg,smtp")
    parser.add_argument("--cases", default=None,
                        help="HTTP matrix cases to run (comma-separated; default all)")
    parser.add_argument("--http-repeat", type=int, default=1,
                        help="run the (selected) HTTP matrix this many times")
    parser.add_argument("--out", default=None)
    parser.add_argument("--kills", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    parts = args.only.split(",")
    short = args.short
    report: dict[str, Any] = {"mode": "short" if short else "full"}
    out = Path(args.out) if args.out else OUT / f"drills-{report['mode']}.json"
    cases = args.cases.split(",") if args.cases else None
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")

    for kind in kinds:
        if "kill" in parts:
            n = args.events or (2000 if short else 20000)
            kills = args.kills or (3 if short else 20)
            print(f"[{kind}] kill -9 drill: {n} events, {kills} kills", file=sys.stderr,
                  flush=True)
            report[f"kill/{kind}"] = kill_drill(kind, n, kills, limit=50 if short else 250,
                                                max_delay=1.0 if short else 3.0)
            save()
        if "http" in parts:
            print(f"[{kind}] HTTP fault matrix", file=sys.stderr, flush=True)
            for rep in range(args.http_repeat):
                key = f"http/{kind}" + (f"/{rep + 1}" if args.http_repeat > 1 else "")
                report[key] = http_drill(kind, 600 if short else 3000,
                                         limit=100 if short else 500, only=cases)
                save()
    if "pg" in parts and not short and "postgresql" in kinds:
        print("[postgresql] restart during a sync", file=sys.stderr, flush=True)
        report["pg_restart"] = pg_restart_drill(args.events or 10000, limit=500)
        save()
    if "smtp" in parts and not short:
        for kind in kinds:
            print(f"[{kind}] SMTP outage during a digest run", file=sys.stderr, flush=True)
            report[f"smtp_outage/{kind}"] = smtp_outage_drill(kind)
            save()
    ok = all(v.get("ok", True) for v in report.values() if isinstance(v, dict))
    print(json.dumps(report, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
