"""`python bench/reconcile_once.py --config X [--full]`: one reconciliation of the first source,
as the daemon's nightly job runs it; the last stdout line is its result as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.bootstrap import bootstrap  # noqa: E402
from sync.logs import configure_logging  # noqa: E402
from sync.service.reconcile import reconcile_source  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING")
    app = bootstrap(Path(args.config))
    try:
        src = app.config.sources[0]
        connector, service = app.connector(src), app.sync_service(src)
        # The job itself, as the daemon runs it (already started): the process' wall and CPU
        # add Python's start-up and our imports, which the nightly job does not pay.
        wall, cpu = time.perf_counter(), time.process_time()
        result = reconcile_source(app.uow, connector, service, full=args.full)
        job = {"job_wall": time.perf_counter() - wall, "job_cpu_s": time.process_time() - cpu}
    finally:
        app.close()
    print(json.dumps({"status": result.run.status, "counts": result.run.counts.to_json(),
                      "missing": result.missing, "withdrawn": result.withdrawn, **job}))
    return 0 if result.run.status in ("succeeded", "partial") else 1


if __name__ == "__main__":
    sys.exit(main())
