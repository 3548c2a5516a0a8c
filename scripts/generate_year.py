"""A generated year for the coordinator's report: the real sync, moderators' decisions, daily
snapshots, daily coverage and a weekly outreach list, day by day against the fake SAPI3 server.

    .venv/bin/python scripts/generate_year.py --database sqlite:///data/year.sqlite3
    IKDOEMEE_DATABASE_URL=sqlite:///data/year.sqlite3 .venv/bin/ikdoemee-sync \
        report --from 2026-01-01 --to 2026-12-31 --format html -o data/rapport-2026.html
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from mappings.taaliconen import QUERY_LABELS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.uitdatabank import UitdatabankConnector  # noqa: E402
from samplefeed.generator import generate_uit_offer  # noqa: E402
from samplefeed.server import FakeSapi3  # noqa: E402
from sync.adapters import migrate  # noqa: E402
from sync.adapters import tables as t  # noqa: E402
from sync.adapters.database import make_engine  # noqa: E402
from sync.adapters.region_file import load_region  # noqa: E402
from sync.bootstrap import map_uitdatabank  # noqa: E402
from sync.logs import configure_logging  # noqa: E402
from sync.service import coverage, history  # noqa: E402
from sync.service import moderators as mods  # noqa: E402
from sync.service.review import APPROVE, CONFIRM, REJECT, decide_review  # noqa: E402
from sync.service.sync_source import SyncService, sync_source  # noqa: E402
from sync.service.unit_of_work import UnitOfWork  # noqa: E402

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T")
MODERATED = ("Ieper", "Poperinge", "Diksmuide", "Veurne", "Koksijde", "De Panne", "Nieuwpoort",
             "Heuvelland", "Zonnebeke")


def _shift(value: Any, delta: timedelta) -> Any:
    """Every ISO date-time in the document moves by `delta` (calendar, availability, stamps)."""
    if isinstance(value, dict):
        return {k: _shift(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    if isinstance(value, str) and _DATE.match(value) and not value.startswith("2100"):
        try:
            return (datetime.fromisoformat(value) + delta).isoformat()
        except ValueError:
            return value
    return value


def retimed_offer(n: int, seed: int, year: int) -> list[tuple[date, dict[str, Any]]]:
    """The offer, each event entered on a day of the year and happening 1–120 days later."""
    rng = random.Random(seed)
    out = []
    for event in generate_uit_offer(n, seed=seed, taalicoon_share=0.45, never_share=0.3):
        entered = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        # The generator plans activities from 15 November 2026 on; bring each one to a few
        # weeks after the day it is entered (whole days, so local times stay as they were).
        anchor = datetime(2026, 11, 15, tzinfo=UTC)
        first = event.get("startDate") or event.get("availableFrom")
        start = datetime.fromisoformat(first) if first else anchor
        target = datetime.combine(entered, start.timetz()) + timedelta(days=rng.randint(7, 120))
        moved = _shift(event, timedelta(days=(target - start).days))
        stamp = datetime.combine(entered, datetime.min.time(), UTC) + timedelta(
            hours=8, seconds=rng.randrange(30000))
        moved["created"] = moved["modified"] = stamp.isoformat()
        moved["availableFrom"] = stamp.isoformat()
        out.append((entered, moved))
    out.sort(key=lambda x: x[1]["modified"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite:///data/year.sqlite3")
    parser.add_argument("--events", type=int, default=900)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    configure_logging("WARNING")
    started = time.perf_counter()
    if args.database.startswith("sqlite:///"):
        Path(args.database.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(args.database)
    migrate.upgrade(engine)
    region = load_region(ROOT / "config" / "westhoek_municipalities.json")
    rng = random.Random(args.seed)
    offer = retimed_offer(args.events, args.seed, args.year)
    clock = {"now": datetime(args.year, 1, 1, 7, tzinfo=UTC)}

    def now() -> datetime:
        return clock["now"]

    with engine.begin() as conn:
        for name in MODERATED:
            m = region.find(name)
            assert m is not None
            if not conn.execute(sa.select(t.moderators.c.id).where(
                    t.moderators.c.email == f"moderator@{m.nis}.be")).first():
                mods.add(conn, name=f"Moderator {name}", email=f"moderator@{m.nis}.be",
                         municipalities=[m.nis], notify="daily", now=now())
    requests = {"coverage": [], "outreach": []}
    with FakeSapi3([], now=now()) as fake, httpx.Client(base_url=fake.base_url,
                                                         timeout=10) as client:
        connector = UitdatabankConnector(client, name="uitdatabank",
                                         postal_codes=region.postal_codes, labels=QUERY_LABELS,
                                         limit=200)
        service = SyncService("uitdatabank", region, map_uitdatabank, now)
        day = date(args.year, 1, 1)
        pending = list(offer)
        while day.year == args.year:
            clock["now"] = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=16)
            fake.now = now()
            fake.add([e for d, e in pending if d == day])
            pending = [(d, e) for d, e in pending if d != day]
            # Now and then an organizer deletes an event that has not happened yet.
            for e in fake.events():
                if e.get("workflowStatus") != "DELETED" and rng.random() < 0.0008:
                    fake.delete(e["@id"], modified=now() - timedelta(hours=1))
            sync_source(lambda: UnitOfWork(engine), connector, service)
            _moderate(engine, rng, now())
            # The daily jobs late in the Belgian evening (22:45 or 23:45 local time).
            clock["now"] = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=21,
                                                                                   minutes=45)
            history.run_snapshot(engine, now())
            requests["coverage"].append(
                coverage.run_coverage(engine, connector, region, now()).requests)
            if day.weekday() == 0:
                requests["outreach"].append(
                    coverage.run_outreach(engine, connector, region, now())[1])
            day += timedelta(days=1)
    with engine.connect() as conn:
        totals = dict(conn.execute(sa.select(t.activities.c.state, sa.func.count())
                                   .group_by(t.activities.c.state)).all())
    print(f"generated {args.year}: {len(offer)} UiT events, activities per state {totals}; "
          f"coverage runs {len(requests['coverage'])} × {requests['coverage'][0]} requests, "
          f"outreach runs {len(requests['outreach'])} × ~{max(requests['outreach'])} requests; "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


def _moderate(engine: sa.Engine, rng: random.Random, now: datetime) -> None:
    """Moderators decide most items within a few days; some reject, withdrawals confirmed."""
    r = t.review_items
    with UnitOfWork(engine) as uow:
        items = uow.connection.execute(sa.select(r.c.id, r.c.kind, r.c.created_at)
                                       .where(r.c.status == "open")).all()
        for item in items:
            if item.kind == "withdrawn":
                decision = CONFIRM
            elif now - item.created_at < timedelta(days=rng.randint(0, 4)):
                continue
            else:
                decision = REJECT if rng.random() < 0.06 else APPROVE
            decide_review(uow, item.id, decision, moderator="moderator@westhoek.be", now=now,
                          reason_code=None,
                          reason="Geen taalactiviteit." if decision == REJECT else None)
        uow.commit()


if __name__ == "__main__":
    sys.exit(main())
