"""Benchmarks (`make bench`): our `ikdoemee-sync sync` against dlt on the same fake SAPI3 feed.

    .venv/bin/python bench/run.py [--sizes 10000,100000] [--dbs sqlite,postgresql]
                                  [--feeds generated,publiq] [--repeat 3] [--repeat-large 1]
                                  [--no-dlt] [--no-freshness]

Writes bench/out/results.json (raw figures) and prints a Markdown summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    BENCH,
    CLIENT_ID,
    OUT,
    ROOT,
    Cli,
    cli_bin,
    compile_sources,
    database,
    measured,
    median,
    write_config,
)
from bench.feeds import feed  # noqa: E402
from bench.freshness import freshness  # noqa: E402
from samplefeed.generator import generate_events  # noqa: E402
from samplefeed.server import FakeSapi3  # noqa: E402

DLT_PYTHON = BENCH / ".venv" / "bin" / "python"
SEED = 7
# The fake's clock for the availability default filters, fixed for the whole bench: on the
# real clock it filters and sorts every event again for each page (100 000 events: ~0.3 s a
# page, in this process, on the cores both syncs need). Fixed, a query's list is kept.
SERVER_NOW = datetime.now(UTC)


def postal_codes() -> str:
    from sync.adapters.region_file import load_region

    return ",".join(load_region(ROOT / "config" / "westhoek_municipalities.json").postal_codes)


def avg_json_size(events: list[dict[str, Any]]) -> float:
    sample = events[:2000]
    return sum(len(json.dumps(e, ensure_ascii=False).encode()) for e in sample) / len(sample)


def fixture_json_size() -> float | None:
    folder = ROOT.parent / "shared" / "uitdatabank" / "events"
    if not folder.is_dir():
        folder = ROOT / "tests" / "fixtures"
    sizes = [len(json.dumps(json.loads(p.read_text()), ensure_ascii=False).encode())
             for p in sorted(folder.glob("*.json"))]
    return sum(sizes) / len(sizes) if sizes else None


def rate(n: int, wall: float) -> float:
    return n / wall if wall > 0 else float("nan")


def sync_row(m: Any) -> dict[str, Any]:
    doc = m.json() if m.stdout.strip() else {}
    if m.rc != 0 or doc.get("status") not in ("succeeded", "partial"):
        raise RuntimeError(f"sync failed rc={m.rc}: {m.stdout[-1000:]} {m.stderr[-2000:]}")
    return {"wall": m.wall, "cpu_s": m.cpu_s, "rss_mb": m.maxrss_kb / 1024,
            "counts": doc["counts"]}


def reconcile_once(cli: Cli, *args: str) -> dict[str, Any]:
    """One reconciliation as the daemon's job runs it: the process' wall, CPU and RSS, and
    the job's own wall and CPU (`job_wall`, `job_cpu_s`)."""
    m = measured([sys.executable, str(BENCH / "reconcile_once.py"), "--config",
                  str(cli.config), *args], cli.env)
    lines = m.stdout.strip().splitlines()
    if m.rc != 0 or not lines:
        raise RuntimeError(f"reconcile failed rc={m.rc}: {m.stdout[-500:]} {m.stderr[-2000:]}")
    return {"wall": m.wall, "cpu_s": m.cpu_s, "rss_mb": m.maxrss_kb / 1024,
            **json.loads(lines[-1])}


def one_round(kind: str, events: list[dict[str, Any]], size: int) -> dict[str, Any]:
    """Fresh database: initial sync, no-change syncs (incremental and --full), 1% changed."""
    with FakeSapi3(events, now=SERVER_NOW) as fake, database(kind, f"s{size}") as db:
        fake.encode_members(uitpas_prices=True)  # our connector asks embedUitpasPrices
        cli = Cli(write_config(OUT / f"bench-{kind}-{size}.toml", fake.base_url), db.url)
        cli.upgrade()
        initial = sync_row(cli.measured("sync", "--json"))
        initial["events_per_s"] = rate(initial["counts"]["fetched"], initial["wall"])
        initial["db_bytes"] = db.size_bytes()
        nochange = sync_row(cli.measured("sync", "--json"))
        nochange_full = sync_row(cli.measured("sync", "--full", "--json"))
        nochange_full["events_per_s"] = rate(nochange_full["counts"]["fetched"],
                                             nochange_full["wall"])
        # The same re-read as the daemon's weekly job runs it (`full_reconcile_day`): the
        # process above also pays Python's start-up and our imports, which the job does not.
        nochange_full["job_wall"] = reconcile_once(cli, "--full")["job_wall"]
        # The nightly job: id lists compared, only what is new fetched in full.
        reconcile = reconcile_once(cli)
        rng = random.Random(size)
        changed_ids = rng.sample([e["@id"] for e in events], k=max(1, size // 100))
        for eid in changed_ids:
            current = fake.get(eid)
            name = dict(current["name"])
            name["nl"] = name["nl"] + " (gewijzigd)"
            fake.update(eid, name=name)
        changed = sync_row(cli.measured("sync", "--json"))
        changed["changed"] = len(changed_ids)
        changed["db_bytes"] = db.size_bytes()
    return {"initial": initial, "nochange_incremental": nochange, "nochange_full": nochange_full,
            "reconcile": reconcile, "changed_1pct": changed}


def dlt_round(kind: str, events: list[dict[str, Any]], size: int) -> dict[str, Any] | None:
    if not DLT_PYTHON.exists():
        return None
    with FakeSapi3(events, now=SERVER_NOW) as fake, database(kind, f"dlt{size}") as db:
        fake.encode_members(uitpas_prices=False)  # the peer's query does not
        destination = db.url
        argv = [str(DLT_PYTHON), str(BENCH / "peer_dlt.py"), "--base-url", fake.base_url,
                "--destination", destination, "--postal-codes", postal_codes(),
                "--client-id", CLIENT_ID]
        env = {**os.environ, "RUNTIME__LOG_LEVEL": "WARNING", "PYTHONWARNINGS": "ignore"}
        if kind == "sqlite":
            # SQLite has one writer: dlt's parallel load jobs (20 by default) end in "database
            # is locked" at 100 000 events. One load worker is how dlt is run against SQLite.
            env["LOAD__WORKERS"] = "1"
        m = measured(argv, env)
        if m.rc != 0:
            raise RuntimeError(f"dlt failed: {m.stdout[-1000:]} {m.stderr[-3000:]}")
        doc = json.loads(m.stdout.strip().splitlines()[-1])
        size_bytes = db.size_bytes()
        if db.path is not None:  # dlt attaches its dataset as <name>__<dataset>.sqlite3
            stem = db.path.name.removesuffix(".sqlite3")
            size_bytes = sum(p.stat().st_size for p in db.path.parent.glob(stem + "*"))
            for p in db.path.parent.glob(stem + "__*"):
                p.unlink(missing_ok=True)
        return {"wall": m.wall, "cpu_s": m.cpu_s, "load_wall": doc["wall"],
                "rss_mb": m.maxrss_kb / 1024,
                "rows": doc["rows"], "events_per_s": rate(doc["rows"], m.wall),
                "db_bytes": size_bytes}


def replay_round(kind: str, n_failures: int = 1000) -> dict[str, Any]:
    """1 000 events that fail to map (unknown status), fixed at the source, replayed."""
    events = generate_events(n_failures * 2, seed=SEED + 1)
    broken = [e["@id"] for e in events[::2]]
    good_status = {e["@id"]: e["status"] for e in events[::2]}
    for e in events[::2]:
        e["status"] = {"type": "SomethingNew"}
    with FakeSapi3(events) as fake, database(kind, "replay") as db:
        cli = Cli(write_config(OUT / f"bench-{kind}-replay.toml", fake.base_url), db.url)
        cli.upgrade()
        first = sync_row(cli.measured("sync", "--json"))
        if first["counts"]["failed"] != n_failures:
            raise RuntimeError(f"expected {n_failures} failures, got {first['counts']}")
        help_ = cli.run("failures", "replay", "--help")
        if help_.returncode != 0 or "--all-open" not in help_.stdout:
            return {"pending": "`failures replay --all-open` does not exist yet"}
        for eid in broken:
            fake.update(eid, status=good_status[eid])
        m = cli.measured("failures", "replay", "--all-open", "--refetch", "--json")
        doc = json.loads(m.stdout) if m.stdout.strip() else {}
        left = json.loads(cli.run("failures", "list", "--json").stdout)["failures"]
        return {"wall": m.wall, "rss_mb": m.maxrss_kb / 1024, "rc": m.rc,
                "per_s": rate(n_failures, m.wall), "still_open": len(left),
                "result": doc}


def digest_round(kind: str) -> dict[str, Any]:
    script = BENCH / "bench_digest.py"
    if not script.exists():
        return {"pending": "bench/bench_digest.py does not exist yet"}
    with database(kind, "digest") as db:
        env = {**os.environ, "IKDOEMEE_DATABASE_URL": db.url}
        m = measured([sys.executable, str(script), "--moderators", "300",
                      "--database-url", db.url], env)
        out: dict[str, Any] = {"wall": m.wall, "rss_mb": m.maxrss_kb / 1024, "rc": m.rc,
                               "report": m.stdout.strip().splitlines()}
        if m.rc != 0:
            out["stderr"] = m.stderr[-2000:]
        return out


def machine() -> dict[str, Any]:
    import psycopg  # from the project venv

    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    try:
        pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                             "show server_version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pg = "?"
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                if line.startswith("model name")), platform.processor())
    dlt_version = "-"
    if DLT_PYTHON.exists():
        dlt_version = subprocess.run([str(DLT_PYTHON), "-c", "import dlt;print(dlt.__version__)"],
                                     capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "postgresql": pg, "psycopg": psycopg.__version__, "dlt": dlt_version,
            "kernel": platform.release()}


def startup() -> dict[str, float]:
    """Median wall of `ikdoemee-sync --help` (imports and argument parsing only)."""
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([cli_bin(), "--help"],
                       capture_output=True, check=True)
        walls.append(time.perf_counter() - t0)
    return {"help_wall": median(walls), "python_wall": python_start()}


def python_start() -> float:
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        walls.append(time.perf_counter() - t0)
    return median(walls)


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def summarise(sample: list[dict[str, Any]], path: str) -> float:
    values = []
    for r in sample:
        v: Any = r
        for part in path.split("."):
            v = v[part]
        values.append(float(v))
    return median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size ≤ 10 000")
    parser.add_argument("--repeat-large", type=int, default=1, help="runs per larger size")
    parser.add_argument("--replay-repeat", type=int, default=1)
    parser.add_argument("--feeds", default="generated,publiq")
    parser.add_argument("--no-dlt", action="store_true")
    parser.add_argument("--no-freshness", action="store_true")
    parser.add_argument("--skip-extras", action="store_true", help="no replay / digest rows")
    parser.add_argument("--out", default=str(OUT / "results.json"))
    args = parser.parse_args()
    compile_sources()

    results: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M"),
                               "load_before": load(),
                               "fixture_avg_json_bytes": fixture_json_size(), "runs": {},
                               "startup": startup(), "avg_json_bytes": {}}
    print(json.dumps(results["machine"]), file=sys.stderr, flush=True)
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        out_path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")

    for size, feed_kind in [(int(s), f) for s in args.sizes.split(",")
                            for f in args.feeds.split(",")]:
        events = feed(feed_kind, size, SEED)
        results["avg_json_bytes"][feed_kind] = avg_json_size(events)
        repeat = args.repeat if size <= 10000 else args.repeat_large
        for kind in args.dbs.split(","):
            key = f"{feed_kind}/{kind}/{size}"
            ours, peers = [], []
            for i in range(repeat):
                print(f"[{key}] ours run {i + 1}/{repeat}", file=sys.stderr, flush=True)
                ours.append(one_round(kind, events, size))
                results["runs"][key] = {"ours": ours, "dlt": peers}
                save()
                if not args.no_dlt:
                    print(f"[{key}] dlt run {i + 1}/{repeat}", file=sys.stderr, flush=True)
                    try:
                        peer = dlt_round(kind, events, size)
                    except RuntimeError as exc:  # the peer's failure is a result, not ours
                        print(f"[{key}] {exc}", file=sys.stderr, flush=True)
                        results["runs"][key]["dlt_error"] = str(exc)[-2000:]
                        peer = None
                    if peer is not None:
                        peers.append(peer)
                results["runs"][key]["dlt"] = peers
                save()
            med = {
                "initial_wall": summarise(ours, "initial.wall"),
                "initial_cpu_s": summarise(ours, "initial.cpu_s"),
                "nochange_full_cpu_s": summarise(ours, "nochange_full.cpu_s"),
                "reconcile_cpu_s": summarise(ours, "reconcile.cpu_s"),
                "initial_events_per_s": summarise(ours, "initial.events_per_s"),
                "initial_rss_mb": summarise(ours, "initial.rss_mb"),
                "initial_db_mb": summarise(ours, "initial.db_bytes") / 1e6,
                "nochange_incremental_wall": summarise(ours, "nochange_incremental.wall"),
                "nochange_full_wall": summarise(ours, "nochange_full.wall"),
                "nochange_full_job_wall": summarise(ours, "nochange_full.job_wall"),
                "nochange_full_rss_mb": summarise(ours, "nochange_full.rss_mb"),
                "reconcile_wall": summarise(ours, "reconcile.wall"),
                "reconcile_job_wall": summarise(ours, "reconcile.job_wall"),
                "changed_1pct_wall": summarise(ours, "changed_1pct.wall"),
                "changed_1pct_rss_mb": summarise(ours, "changed_1pct.rss_mb"),
            }
            med["nochange_incremental_fraction"] = (med["nochange_incremental_wall"]
                                                    / med["initial_wall"])
            med["nochange_full_fraction"] = med["nochange_full_wall"] / med["initial_wall"]
            med["nochange_full_job_fraction"] = med["nochange_full_job_wall"] / med["initial_wall"]
            med["reconcile_fraction"] = med["reconcile_wall"] / med["initial_wall"]
            med["reconcile_job_fraction"] = med["reconcile_job_wall"] / med["initial_wall"]
            if peers:
                med["dlt_wall"] = summarise(peers, "wall")
                med["dlt_cpu_s"] = summarise(peers, "cpu_s")
                med["cpu_ratio_dlt_to_ours"] = med["dlt_cpu_s"] / med["initial_cpu_s"]
                med["dlt_events_per_s"] = summarise(peers, "events_per_s")
                med["dlt_rss_mb"] = summarise(peers, "rss_mb")
                med["dlt_db_mb"] = summarise(peers, "db_bytes") / 1e6
                med["ratio_ours_to_dlt"] = med["initial_events_per_s"] / med["dlt_events_per_s"]
            results["runs"][key]["median"] = med
            save()
            print(f"[{key}] {json.dumps(med)}", file=sys.stderr, flush=True)
    if not args.no_freshness:
        print("[freshness]", file=sys.stderr, flush=True)
        results["freshness"] = freshness(args.dbs.split(",")[0])
        save()
    if not args.skip_extras:
        for kind in args.dbs.split(","):
            print(f"[{kind}] replay", file=sys.stderr, flush=True)
            results[f"replay/{kind}"] = [replay_round(kind) for _ in range(args.replay_repeat)]
            save()
            print(f"[{kind}] digest", file=sys.stderr, flush=True)
            results[f"digest/{kind}"] = digest_round(kind)
            save()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M")
    results["load_after"] = load()
    save()
    print(table(results))
    return 0


def table(results: dict[str, Any]) -> str:
    """The side-by-side summary (Markdown), one row per feed, database and size."""
    rows = ["| feed / db / events | ours ev/s | dlt ev/s | ours/dlt | RSS ours / dlt (MB) "
            "| `--full` no change: process (weekly job in the daemon) "
            "| reconcile: process (nightly job in the daemon) | incremental no change "
            "| CPU s ours / dlt (dlt/ours) | CPU `--full` / reconcile (share) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, run in results["runs"].items():
        m = run.get("median", {})
        if not m:
            continue
        dlt = m.get("dlt_events_per_s")
        rows.append(
            f"| {key} | {m['initial_events_per_s']:.0f} | {dlt:.0f} | "
            f"{m['ratio_ours_to_dlt']:.2f}× | {m['initial_rss_mb']:.0f} / {m['dlt_rss_mb']:.0f} | "
            if dlt else
            f"| {key} | {m['initial_events_per_s']:.0f} | – | – | {m['initial_rss_mb']:.0f} / – | ")
        rows[-1] += (f"{m['nochange_full_wall']:.2f} s ({100 * m['nochange_full_fraction']:.0f} %; "
                     f"job {m.get('nochange_full_job_wall', float('nan')):.2f} s, "
                     f"{100 * m.get('nochange_full_job_fraction', float('nan')):.0f} %) "
                     f"| {m['reconcile_wall']:.2f} s ({100 * m['reconcile_fraction']:.1f} %; "
                     f"job {m.get('reconcile_job_wall', float('nan')):.2f} s, "
                     f"{100 * m.get('reconcile_job_fraction', float('nan')):.1f} %) "
                     f"| {m['nochange_incremental_wall']:.2f} s ")
        cpu = m.get("initial_cpu_s", float("nan"))
        rows[-1] += (f"| {cpu:.1f} / {m.get('dlt_cpu_s', float('nan')):.1f} "
                     f"({m.get('cpu_ratio_dlt_to_ours', float('nan')):.2f}×) "
                     f"| {100 * m.get('nochange_full_cpu_s', float('nan')) / cpu:.0f} % / "
                     f"{100 * m.get('reconcile_cpu_s', float('nan')) / cpu:.0f} % |")
    s = results.get("startup", {})
    rows.append("")
    rows.append(f"Start-up: `ikdoemee-sync --help` {s.get('help_wall', float('nan')):.2f} s "
                f"(bare `python -c pass` {s.get('python_wall', float('nan')):.2f} s). "
                f"Load average before {results.get('load_before')}, after "
                f"{results.get('load_after')}.")
    if "freshness" in results:
        rows.append(f"Freshness: {json.dumps(results['freshness'])}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
