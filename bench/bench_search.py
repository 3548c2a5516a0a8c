"""Public search under load: 10 000 published activities, `ikdoemee-sync web`, 8 clients."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.common import OUT, cli_bin, database  # noqa: E402
from samplefeed.generator import generate_events  # noqa: E402
from sync.adapters import migrate, search_index  # noqa: E402
from sync.adapters import tables as t  # noqa: E402
from sync.adapters.database import make_engine  # noqa: E402
from sync.adapters.region_file import load_region  # noqa: E402
from sync.bootstrap import App, map_uitdatabank  # noqa: E402
from sync.service import catalogue_query as cq  # noqa: E402
from sync.service.sync_source import SyncService, sync_source  # noqa: E402
from sync.settings import AppConfig, EnvSettings  # noqa: E402
from tests.builders import StaticConnector  # noqa: E402

REGION_FILE = ROOT / "config" / "westhoek_municipalities.json"
# What newcomers type (titles of the generated feed, with and without accents, prefixes,
# two words) and the filters they combine it with.
QUERIES: list[dict[str, str]] = [
    {"q": "taalcafe"}, {"q": "Taalcafé"}, {"q": "praat"}, {"q": "koken"},
    {"q": "wandeling"}, {"q": "nederlands"}, {"q": "fietsles"}, {"q": "repair"},
    {"q": "breicafe ieper"}, {"q": "conversatie"}, {"q": "voorlees"}, {"q": "expo westhoek"},
    {"q": "zwemmen"}, {"q": "spel"}, {"q": "petanque"}, {"q": "rondleiding eenvoudig"},
    {"q": "taal", "gemeente": "Ieper"}, {"q": "café", "taalniveau": "2"},
    {"q": "samen", "gemeente": "Poperinge"}, {"q": "nieuwkomers"},
]
API_NAMES = {"gemeente": "municipality", "taalniveau": "language_level", "pagina": "page"}
# --distinct: every request its own search (word starts of these, one or two, a town, a
# page), so the result caches rarely help and the index does the work.
VOCABULARY = (
    "taalcafé", "conversatietafel", "nederlands", "babbelwandeling", "samen", "koken",
    "wereldkeuken", "voorleesuurtje", "makkelijk", "fietsles", "volwassenen", "breicafé",
    "repair", "café", "petanque", "iedereen", "zwemmen", "vrouwen", "rondleiding", "eenvoudig",
    "spelletjesnamiddag", "wereldconcert", "expo", "thuis", "westhoek", "moestuinieren",
    "buren", "ieper", "poperinge", "diksmuide", "veurne", "nieuwkomers", "oefenen",
    "bibliotheek", "ontmoeting",
)
TOWNS = ("Ieper", "Poperinge", "Diksmuide", "Veurne", "Zonnebeke", "Heuvelland")


def now() -> datetime:
    return datetime.now(UTC)


def fill(url: str, n: int) -> tuple[float, float]:
    """Sync `n` generated events and publish them all; (sync seconds, publish seconds)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    region = load_region(REGION_FILE)
    docs = generate_events(n, seed=7)
    app = App(config=_config(), env=EnvSettings(database_url=url), engine=engine, region=region)
    started = time.perf_counter()
    service = SyncService("uitdatabank", region, map_uitdatabank, now)
    sync_source(app.uow, StaticConnector([docs[i:i + 1000] for i in range(0, n, 1000)]),
                service)
    synced = time.perf_counter() - started
    # Publishing 10 000 one decision at a time says nothing about search: approve in bulk,
    # then index the way every decision does (index_activities).
    started = time.perf_counter()
    a, r = t.activities, t.review_items
    with engine.begin() as conn:
        conn.execute(a.update().where(a.c.state == "pending")
                     .values(state="published", approved_version_id=a.c.current_version_id,
                             updated_at=now()))
        conn.execute(r.update().where(r.c.status == "open")
                     .values(status="approved", decided_at=now(), decided_by="bench"))
        ids = list(conn.execute(sa.select(a.c.id).where(a.c.state == "published")).scalars())
        search_index.index_activities(conn, ids)
    published = time.perf_counter() - started
    engine.dispose()
    return synced, published


def _config(port: int = 9, rate: int = 0) -> AppConfig:
    return AppConfig.model_validate({
        "region_file": str(REGION_FILE),
        "sources": [{"name": "uitdatabank", "connector": "uitdatabank",
                     "base_url": "http://127.0.0.1:9"}],
        "web": {"port": port, "base_url": f"http://127.0.0.1:{port}",
                "public_rate_limit_per_minute": rate}})


def search_only(url: str, rounds: int) -> dict[str, Any]:
    """cq.search in-process, as a request calls it: the first (cold: parses every published
    version), then distinct searches (the index's work), then repeated ones (cached)."""
    engine = make_engine(url)
    app = App(config=_config(), env=EnvSettings(database_url=url), engine=engine,
              region=load_region(REGION_FILE))
    rng = random.Random(3)

    def one(params: dict[str, str]) -> float:
        f = cq.Filters(
            municipality_nis=cq.municipality_nis(app.region, params["gemeente"])
            if "gemeente" in params else None,
            language_level=int(params["taalniveau"]) if "taalniveau" in params else None,
            q=params["q"])
        started = time.perf_counter()
        with app.reading() as conn:
            cq.search(conn, f, int(params.get("pagina", "1")), 20, now(), False, app.catalogue)
        return (time.perf_counter() - started) * 1000

    cold = one(QUERIES[0])
    distinct = [one(distinct_query(rng)) for _ in range(rounds * len(QUERIES))]
    repeated = [one(q) for _ in range(rounds) for q in QUERIES]
    engine.dispose()
    return {"cold_ms": round(cold, 1), "distinct": _stats(distinct),
            "repeated": _stats(repeated)}


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
            "max_ms": round(ordered[-1], 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Load:
    seconds: float
    clients: int
    port: int
    distinct: bool = False
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"html": [], "api": []})
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def path_of(kind: str, params: dict[str, str]) -> str:
    if kind == "html":
        return "/activiteiten?" + urlencode(params)
    return "/api/activities?" + urlencode({API_NAMES.get(k, k): v for k, v in params.items()})


def distinct_query(rng: random.Random) -> dict[str, str]:
    chosen = rng.sample(VOCABULARY, rng.choice((1, 1, 2)))
    params = {"q": " ".join(w[:rng.randint(3, len(w))] for w in chosen)}
    if rng.random() < 0.3:
        params["gemeente"] = rng.choice(TOWNS)
    if rng.random() < 0.3:
        params["pagina"] = str(rng.randint(2, 3))
    return params


def client(load: Load, number: int, stop: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", load.port, timeout=30)
    i = number * 7
    rng = random.Random(number)
    mine: dict[str, list[float]] = {"html": [], "api": []}
    while time.perf_counter() < stop:
        kind = "html" if i % 2 == 0 else "api"
        params = distinct_query(rng) if load.distinct else QUERIES[i % len(QUERIES)]
        started = time.perf_counter()
        try:
            conn.request("GET", path_of(kind, params))
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                with load.lock:
                    load.errors.append(f"{resp.status} {kind}")
        except OSError as exc:
            with load.lock:
                load.errors.append(repr(exc))
            conn = http.client.HTTPConnection("127.0.0.1", load.port, timeout=30)
        mine[kind].append((time.perf_counter() - started) * 1000)
        i += 1
    with load.lock:
        for kind, values in mine.items():
            load.latencies[kind].extend(values)


def serve(url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    config = workdir / "search.toml"
    config.write_text("\n".join([
        f'region_file = "{REGION_FILE}"', "[[sources]]", 'name = "uitdatabank"',
        'connector = "uitdatabank"', 'base_url = "http://127.0.0.1:9"', "[web]",
        f"port = {port}", f'base_url = "http://127.0.0.1:{port}"',
        # All clients share one address here: the limit would measure itself.
        "public_rate_limit_per_minute = 0"]) + "\n", encoding="utf-8")
    env = {**os.environ, "IKDOEMEE_DATABASE_URL": url,
           "IKDOEMEE_SECRET_KEY": "bench-secret-key-0123456789abcdef-xyz"}
    log = (workdir / f"web-{port}.log").open("wb")
    proc = subprocess.Popen([cli_bin(), "--config", str(config), "web"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            c.getresponse().read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"web exited: see {log.name}") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("web did not start")


def over_http(url: str, seconds: float, clients: int, distinct: bool) -> dict[str, Any]:
    port = free_port()
    proc = serve(url, port, OUT)
    try:
        warm = Load(seconds, 1, port)
        started = time.perf_counter()
        client(warm, 0, time.perf_counter() + 0.001)  # the first request builds the catalogue
        first_ms = round((time.perf_counter() - started) * 1000, 1)
        for kind in ("html", "api"):
            for params in QUERIES:
                client_once(port, path_of(kind, params))
        load = Load(seconds, clients, port, distinct)
        stop = time.perf_counter() + seconds
        threads = [threading.Thread(target=client, args=(load, n, stop))
                   for n in range(clients)]
        started = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - started
        load1 = os.getloadavg()[0]
        everything = load.latencies["html"] + load.latencies["api"]
        return {"first_request_ms": first_ms, "clients": clients, "distinct": distinct,
                "seconds": round(wall, 1),
                "requests": len(everything), "req_per_s": round(len(everything) / wall, 1),
                "all": _stats(everything), "html": _stats(load.latencies["html"]),
                "api": _stats(load.latencies["api"]), "errors": load.errors[:5],
                "error_count": len(load.errors), "load_avg_1m_after": round(load1, 2)}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def client_once(port: int, path: str) -> None:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    resp = c.getresponse()
    resp.read()
    assert resp.status == 200, (path, resp.status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--modes", default="repeated,distinct",
                        help="repeated: 20 common searches; distinct: every request its own")
    parser.add_argument("--out", default=str(OUT / "search.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {"events": args.events, "cpus": os.cpu_count(),
                               "load_avg_before": [round(x, 2) for x in os.getloadavg()]}
    for kind in args.db.split(","):
        with database(kind, "search") as db:
            synced, published = fill(db.url, args.events)
            with make_engine(db.url).connect() as conn:
                n = conn.execute(sa.select(sa.func.count()).select_from(t.search_documents)
                                 ).scalar_one()
            results[kind] = {"sync_s": round(synced, 1), "publish_and_index_s": round(published, 1),
                             "indexed": n, "search_only": search_only(db.url, 10)}
            for mode in args.modes.split(","):
                results[kind][f"http_{mode}"] = over_http(db.url, args.seconds, args.clients,
                                                          mode == "distinct")
            print(json.dumps({kind: results[kind]}, indent=1), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
