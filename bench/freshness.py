"""Freshness (`make bench` runs it; alone: `python bench/freshness.py [--db sqlite] [--samples 3]`):
with `interval_minutes = 1`, how long a change at the source takes to reach the moderator's
queue (a new open review item for it), and what an idle poll costs the source."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.common import OUT, ROOT, Cli, database, wait_until, write_config  # noqa: E402
from samplefeed.generator import generate_events  # noqa: E402
from samplefeed.server import FakeSapi3  # noqa: E402


def open_items(url: str, source_id: str) -> set[int]:
    """Ids of the open review items of one activity (a change supersedes the open one)."""
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return set(conn.execute(sa.text(
                "SELECT r.id FROM review_items r JOIN activities a ON a.id = r.activity_id "
                "WHERE a.source_id = :s AND r.status = 'open'"), {"s": source_id}).scalars())
    finally:
        eng.dispose()


def freshness(kind: str = "sqlite", samples: int = 3, n: int = 2000) -> dict[str, Any]:
    events = generate_events(n, seed=5)
    stamps: list[tuple[float, dict[str, str]]] = []
    with FakeSapi3(events) as fake, database(kind, "fresh") as db:
        path = write_config(OUT / f"bench-{kind}-fresh.toml", fake.base_url)
        text = path.read_text(encoding="utf-8").replace(
            "max_attempts = 6", "max_attempts = 6\ninterval_minutes = 1")
        path.write_text(text, encoding="utf-8")
        cli = Cli(path, db.url)
        cli.upgrade()
        if cli.run("sync", "--json").returncode not in (0, 3):
            raise RuntimeError("initial sync failed")
        fake.on_request = lambda params: stamps.append((time.monotonic(), params))
        log = (OUT / f"freshness-{kind}.log").open("w")
        daemon = subprocess.Popen(cli.argv("run", "--no-web"), env=cli.env, cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            if not wait_until(lambda: len(stamps) >= 1, 90):
                raise RuntimeError("the daemon did not poll")
            first_tick = len(stamps)
            # An idle tick: the next poll with nothing new.
            wait_until(lambda: len(stamps) > first_tick, 75)
            time.sleep(3)
            idle = stamps[first_tick:]
            idle_bytes = [len(json.dumps(fake.search(p), ensure_ascii=False).encode())
                          for _, p in idle]
            rng = random.Random(1)
            latencies = []
            for i in range(samples):
                time.sleep(rng.uniform(0, 60))  # a change lands anywhere in the interval
                eid = events[rng.randrange(n)]["@id"].rsplit("/", 1)[-1]
                current = fake.get(eid)
                before = open_items(db.url, eid)
                fake.update(eid, name={**current["name"], "nl": current["name"]["nl"] + f" {i}"})
                t0 = time.monotonic()
                if not wait_until(lambda e=eid, b=before: bool(open_items(db.url, e) - b), 180,
                                  step=0.5):
                    raise RuntimeError("the change did not reach the queue in 3 minutes")
                latencies.append(time.monotonic() - t0)
        finally:
            daemon.terminate()
            daemon.wait(60)
            log.close()
    return {"interval_minutes": 1, "samples": [round(x, 1) for x in latencies],
            "median_s": round(statistics.median(latencies), 1),
            "max_s": round(max(latencies), 1),
            "idle_poll_requests": len(idle), "idle_poll_response_bytes": idle_bytes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(freshness(args.db, args.samples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
