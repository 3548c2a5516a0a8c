"""Serve generated sample events: `python -m samplefeed --port 8765 --events 300 --seed 1`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, date, datetime, time, timedelta

from samplefeed.generator import generate_edge_events, generate_events
from samplefeed.server import FakeSapi3


def _day(value: str) -> datetime:
    return datetime.combine(date.fromisoformat(value), time(8, 0), tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samplefeed", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ties", type=int, default=5, help="average events per modified second")
    parser.add_argument("--edge-cases", action="store_true", help="also serve the edge-case events")
    parser.add_argument(
        "--start", type=_day, default=None,
        help="first `modified` day, YYYY-MM-DD (default: 30 days ago, so dates lie ahead)")
    parser.add_argument(
        "--client-id",
        action="append",
        default=None,
        help="require this x-client-id (repeatable); default: no check",
    )
    args = parser.parse_args(argv)

    start = args.start or (datetime.now(UTC) - timedelta(days=30)).replace(
        hour=8, minute=0, second=0, microsecond=0)
    events = generate_events(args.events, seed=args.seed, ties=args.ties, start=start)
    if args.edge_cases:
        events += list(generate_edge_events(seed=args.seed + 1, start=start).values())
    fake = FakeSapi3(events, client_ids=args.client_id, host=args.host, port=args.port)
    stopped = threading.Event()
    # SIGTERM (docker, make) must end the process as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    base_url = fake.start()
    print(base_url, flush=True)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
