"""Median server time of the moderation queue page with 1000 open items (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from sync.adapters import migrate  # noqa: E402
from sync.adapters.database import make_engine  # noqa: E402
from sync.adapters.region_file import load_region  # noqa: E402
from sync.bootstrap import App, map_uitdatabank  # noqa: E402
from sync.entrypoints.web.app import create_app  # noqa: E402
from sync.service import links  # noqa: E402
from sync.service import moderators as mods  # noqa: E402
from sync.service.sync_source import SyncService, sync_source  # noqa: E402
from sync.settings import AppConfig, EnvSettings  # noqa: E402
from tests.builders import StaticConnector, make_event  # noqa: E402

N = int(os.environ.get("BENCH_ITEMS", "1000"))
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def main() -> None:
    url = os.environ.get("IKDOEMEE_BENCH_DATABASE_URL") or \
        f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    engine = make_engine(url)
    migrate.upgrade(engine)
    region = load_region(ROOT / "config" / "westhoek_municipalities.json")
    config = AppConfig.model_validate({
        "region_file": str(ROOT / "config" / "westhoek_municipalities.json"),
        "sources": [{"name": "uitdatabank", "connector": "uitdatabank",
                     "base_url": "http://127.0.0.1:9"}],
        "moderation": {"rate_limit_burst": 100000, "rate_limit_per_minute": 100000}})
    app = App(config=config, env=EnvSettings(database_url=url, secret_key="bench"),
              engine=engine, region=region, clock=lambda: NOW)
    docs = [make_event(n, modified=f"2026-11-20T{10 + n // 3600:02d}:{n // 60 % 60:02d}:"
                                   f"{n % 60:02d}+00:00",
                       start=f"2027-{1 + n % 12:02d}-{1 + n % 28:02d}T18:00:00+01:00",
                       end=f"2027-{1 + n % 12:02d}-{1 + n % 28:02d}T20:00:00+01:00")
            for n in range(1, N + 1)]
    service = SyncService("uitdatabank", region, map_uitdatabank, lambda: NOW)
    sync_source(app.uow, StaticConnector([docs[i:i + 200] for i in range(0, N, 200)]), service)
    with engine.begin() as conn:
        mid = mods.add(conn, name="Ann", email="ann@ieper.test", municipalities=["33011"],
                       now=NOW).id
        token = links.issue(conn, mid, links.SCOPE_QUEUE, NOW, 14)
    client = TestClient(create_app(app))
    path = links.QUEUE_PATH + token
    first = client.get(path)
    assert first.status_code == 200 and first.text.count('name="item"') == N, "not all listed"
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{engine.dialect.name}: queue page with {N} open items: median "
          f"{statistics.median(samples):.1f} ms, p90 "
          f"{sorted(samples)[int(RUNS * 0.9) - 1]:.1f} ms over {RUNS} requests; "
          f"{len(first.content) // 1024} KiB")


if __name__ == "__main__":
    main()
