"""Time to build and send digests for 300 moderators × 20 items to a local aiosmtpd server."""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from sync.adapters import migrate
from sync.adapters import tables as t
from sync.adapters.database import make_engine
from sync.adapters.mailer import SmtpMailer
from sync.service.moderators import add
from sync.service.notify import NotifySettings, build_digests
from sync.service.outbox import OutboxRelay
from sync.settings import SmtpConfig

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        self.bytes += len(envelope.content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(engine: Any, moderators: int, items: int) -> None:
    """Each moderator gets their own (synthetic) municipality with `items` open items."""
    with engine.begin() as conn:
        for m in range(moderators):
            add(conn, name=f"Moderator {m}", email=f"mod{m}@bench.test",
                municipalities=[f"B{m:05d}"], now=NOW)
        acts, versions, review = [], [], []
        n = 0
        for m in range(moderators):
            for i in range(items):
                n += 1
                when = NOW + timedelta(days=(i * 7) % 60, hours=i)
                acts.append({"id": n, "source": "bench", "source_id": f"ev-{n}", "state": "pending",
                             "municipality_nis": f"B{m:05d}", "title": f"Praatcafé {n}",
                             "next_occurrence": when, "content_hash": "x" * 64,
                             "current_version_id": n, "created_at": NOW, "updated_at": NOW})
                versions.append({"id": n, "activity_id": n, "number": 1, "content_hash": "x" * 64,
                                 "data": {}, "created_at": NOW})
                review.append({"id": n, "activity_id": n, "version_id": n,
                               "municipality_nis": f"B{m:05d}", "kind": "new", "status": "open",
                               "created_at": NOW})
        conn.execute(t.activities.insert(), acts)
        conn.execute(t.activity_versions.insert(), versions)
        conn.execute(t.review_items.insert(), review)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moderators", type=int, default=300)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("IKDOEMEE_BENCH_DATABASE_URL"),
                        help="an empty database (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        seed(engine, args.moderators, args.items)
        sink = Sink()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            settings = NotifySettings(
                base_url="https://moderatie.ikdoemee.test", sender="ikdoemee <noreply@bench.test>",
                link_valid_days=14, fallback_emails=(), reminder_after_days=3,
                escalate_after_days=7)
            t0 = time.perf_counter()
            report = build_digests(engine, settings, NOW)
            t1 = time.perf_counter()
            relay = OutboxRelay(engine, lambda: NOW, batch_size=100_000,
                                mailer=SmtpMailer(SmtpConfig(host="127.0.0.1", port=port)))
            sent = relay.run_once()
            t2 = time.perf_counter()
        finally:
            controller.stop()
        engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"database: {backend}")
    print(f"digests built: {report.mails} mails, {report.items} items, "
          f"{report.items * 1 + report.mails} link tokens: {t1 - t0:.2f} s "
          f"({(t1 - t0) / max(report.mails, 1) * 1000:.1f} ms per digest)")
    print(f"digests sent:  {sent.delivered} delivered, {sent.failed} failed, "
          f"{sink.count} received ({sink.bytes / 1e6:.1f} MB): {t2 - t1:.2f} s "
          f"({(t2 - t1) / max(sent.delivered, 1) * 1000:.1f} ms per mail)")
    print(f"total: {t2 - t0:.2f} s")


if __name__ == "__main__":
    main()
