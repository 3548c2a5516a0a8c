"""Profile the re-reads after an initial sync (`sync --full`, the nightly reconcile, a no-change
incremental run; `weekly`: the daemon's weekly full re-read as a job), each as its own process
under cProfile, the fake server in this process.

    .venv/bin/python bench/profile_rerun.py --feed publiq --events 100000 --db sqlite \
        --steps [initial,]full,weekly,reconcile,incremental [--top 25] [--spy]
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH, OUT, Cli, compile_sources, database, write_config  # noqa: E402
from bench.feeds import feed  # noqa: E402
from samplefeed.server import FakeSapi3  # noqa: E402

STEPS = {
    "initial": ["sync", "--json"],
    "full": ["sync", "--full", "--json"],
    "incremental": ["sync", "--json"],
}


def _busy() -> float:
    """Seconds of CPU the whole machine has spent busy (not idle or waiting for I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _cpu() -> tuple[float, float]:
    """CPU seconds of the finished commands (with their workers) and of this process."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return child.ru_utime + child.ru_stime, own.ru_utime + own.ru_stime


def summarise(path: Path, top: int) -> str:
    """Samples per thread, and the functions most often on top of a thread's stack (self)
    and anywhere on it (inclusive), from py-spy's collapsed stacks."""
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        # py-spy 0.4 with --subprocesses: `process N:"argv";[process M:"argv";]thread (T): name`.
        at = next((i for i, f in enumerate(frames) if f.startswith("thread (")), 0)
        pids = [f.split(":")[0] for f in frames[:at]]
        thread = " / ".join([pids[-1], frames[at]] if pids else [frames[at]])
        threads[thread] += n
        names = [re.sub(r" \((?:/.*/)?([^/]+)\)$", r" (\1)", f) for f in frames[at + 1:]]
        if names:
            own[f"{thread[:40]} | {names[-1]}"] += n
        for name in set(names):
            inclusive[name] += n
    total = sum(threads.values()) or 1
    lines = ["threads: " + ", ".join(f"{k} {v / total:.0%}" for k, v in threads.most_common())]
    lines += ["self:"] + [f"  {v / total:6.1%}  {k}" for k, v in own.most_common(top)]
    lines += ["inclusive:"] + [f"  {v / total:6.1%}  {k}" for k, v in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feed", default="publiq", choices=["generated", "publiq"])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--steps", default="full,reconcile,incremental")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--plain", action="store_true", help="no profiler: walls only")
    parser.add_argument("--workers", type=int, default=None,
                        help="[catalogue] mapping_workers (default: unset, every core but one)")
    parser.add_argument("--spy", action="store_true",
                        help="sample every thread with py-spy (in .venv only) instead of "
                             "cProfile, which sees the main thread only")
    parser.add_argument("--idle", action="store_true",
                        help="with --spy: sample waiting threads too (where the sync waits)")
    parser.add_argument("--gil", action="store_true",
                        help="with --spy: only the thread holding the GIL (what serialises "
                             "the reading thread and the sync)")
    args = parser.parse_args()
    compile_sources()
    events = feed(args.feed, args.events, seed=7)
    with FakeSapi3(events) as fake, database(args.db, "rerun") as db:
        fake.encode_members()
        config = write_config(OUT / "rerun.toml", fake.base_url)
        if args.workers is not None:
            with config.open("a", encoding="utf-8") as f:
                f.write(f"\n[catalogue]\nmapping_workers = {args.workers}\n")
        cli = Cli(config, db.url)
        cli.upgrade()
        steps = args.steps.split(",")
        initial = 0.0
        if "initial" not in steps:
            began = time.perf_counter()
            proc = cli.run("sync", "--json")
            initial = time.perf_counter() - began
            print(f"initial sync: {initial:.2f} s (rc {proc.returncode})", file=sys.stderr)
        for step in steps:
            out = OUT / f"rerun-{step}.{'txt' if args.spy else 'prof'}"
            command = ([sys.executable, str(BENCH / "reconcile_once.py"), "--config",
                        str(cli.config), *(["--full"] if step == "weekly" else [])]
                       if step in ("reconcile", "weekly") else cli.argv(*STEPS[step]))
            if args.plain:
                argv = command
            elif args.spy:
                # --subprocesses: the mapping workers too, each under its own process line.
                argv = [str(Path(sys.executable).parent / "py-spy"), "record", "--threads",
                        "--subprocesses", *(["--idle"] if args.idle else []),
                        *(["--gil"] if args.gil else []),
                        "--format", "raw", "--rate", "250", "-o", str(out), "--", *command]
            else:
                # cProfile runs a script: not the interpreter the reconcile step starts with.
                script = command[1:] if command[0] == sys.executable else command
                argv = [sys.executable, "-m", "cProfile", "-o", str(out), *script]
            busy_before, own_before = _busy(), _cpu()
            began = time.perf_counter()
            proc = subprocess.run(argv, env=cli.env, capture_output=True, text=True)
            wall = time.perf_counter() - began
            busy, own = _busy() - busy_before, [a - b for a, b in zip(_cpu(), own_before,
                                                                     strict=True)]
            print(f"CPU during {step}: machine {busy:.1f} s ({busy / wall:.2f} of "
                  f"{os.cpu_count()} cores); the command {own[0]:.1f} s, this process (fake "
                  f"server) {own[1]:.1f} s, the rest (database, others) "
                  f"{busy - sum(own):.1f} s", file=sys.stderr)
            initial = initial or wall
            print(f"\n=== {step}: {wall:.2f} s wall ({wall / initial:.0%} of the initial), "
                  f"rc {proc.returncode}; {proc.stdout.strip()[-600:]}",
                  file=sys.stderr)
            if proc.returncode != 0:
                print(proc.stderr.strip()[-2000:], file=sys.stderr)
                continue
            if args.plain:
                continue
            if args.spy:
                print(summarise(out, args.top), file=sys.stderr)
                continue
            buf = io.StringIO()
            pstats.Stats(str(out), stream=buf).sort_stats(args.sort).print_stats(args.top)
            print(buf.getvalue(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
