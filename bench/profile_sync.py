"""Profile one `ikdoemee-sync sync` in-process with cProfile: where does the time go?

    .venv/bin/python bench/profile_sync.py --events 10000 [--database-url URL] [--top 30]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, Cli, database, write_config  # noqa: E402
from samplefeed.generator import generate_events  # noqa: E402
from samplefeed.server import FakeSapi3  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    events = generate_events(args.events, seed=7)
    with FakeSapi3(events) as fake, database(args.db, "prof") as db:
        cli = Cli(write_config(OUT / "prof.toml", fake.base_url), db.url)
        cli.upgrade()
        import os

        os.environ.update(cli.env)
        from sync.entrypoints.cli import app

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            app(["--config", str(cli.config), "--log-level", "WARNING", "sync", "--json"],
                standalone_mode=False)
        finally:
            profiler.disable()
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats(args.sort).print_stats(args.top)
    print(buf.getvalue(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
