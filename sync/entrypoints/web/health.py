"""`GET /healthz` (database, last successful run per source) and Prometheus `/metrics`: behind
the admin token on the web port, or alone on `[web] metrics_host`/`metrics_port`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from sync.bootstrap import App
from sync.entrypoints.web.admin import require_admin
from sync.entrypoints.web.problems import problem_responses
from sync.service.metrics_query import figures
from sync.service.run_queries import last_completed_at, ping

log = structlog.get_logger()

def max_age_minutes(application: App, interval_minutes: int) -> int:
    configured = application.config.health.max_age_minutes
    return configured if configured is not None else 3 * interval_minutes


def health(application: App) -> tuple[int, dict[str, Any]]:
    now = application.clock()
    doc: dict[str, Any] = {"status": "ok", "checked_at": now.isoformat(),
                           "database": {"reachable": True}, "sources": []}
    try:
        with application.engine.connect() as conn:
            ping(conn)
            last = last_completed_at(conn)
    except Exception as exc:
        log.warning("health: database unreachable", error=repr(exc))
        doc["status"] = "failing"
        doc["database"] = {"reachable": False, "error": type(exc).__name__}
        return 503, doc
    healthy = True
    for src in application.config.sources:
        if not src.enabled:
            continue
        limit = max_age_minutes(application, src.interval_minutes)
        at = last.get(src.name)
        age = None if at is None else int((now - at).total_seconds())
        ok = age is not None and age <= limit * 60
        healthy &= ok
        doc["sources"].append({
            "name": src.name, "last_success_at": at.isoformat() if at else None,
            "age_seconds": age, "max_age_seconds": limit * 60,
            "status": "ok" if ok else ("never" if at is None else "stale"),
        })
    if not healthy:
        doc["status"] = "failing"
    return (200 if healthy else 503), doc


class DatabaseCollector(Collector):
    """Reads the numbers from the database at scrape time, so every instance reports the same."""

    def __init__(self, engine: Engine, municipality_names: dict[str, str]) -> None:
        self.engine = engine
        self.names = municipality_names

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("ikdoemee_database_up", "1 when the database answered the scrape")
        try:
            families = self._families()
        except Exception as exc:
            log.warning("metrics: database unreachable", error=repr(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list[Any]:
        runs = CounterMetricFamily("ikdoemee_sync_runs", "Sync runs by source and status",
                                   labels=["source", "status"])
        items = CounterMetricFamily("ikdoemee_sync_items",
                                    "Records handled by all runs, by outcome",
                                    labels=["source", "outcome"])
        failures = GaugeMetricFamily("ikdoemee_sync_failures_open", "Open recorded failures",
                                     labels=["source", "stage"])
        queue = GaugeMetricFamily("ikdoemee_review_queue_open",
                                  "Open review items per municipality",
                                  labels=["municipality", "nis", "kind"])
        backlog = GaugeMetricFamily("ikdoemee_outbox_backlog",
                                    "Undelivered outbox messages (dead: gave up)",
                                    labels=["topic", "state"])
        last = GaugeMetricFamily("ikdoemee_sync_last_success_timestamp_seconds",
                                 "End of the last successful run", labels=["source"])
        with self.engine.connect() as conn:
            got = figures(conn)
        for src, status, n in got.runs:
            runs.add_metric([src, status], n)
        for src, outcome, n in got.items:
            items.add_metric([src, outcome], n)
        for src, stage, n in got.failures_open:
            failures.add_metric([src, stage], n)
        for nis, kind, n in got.queue_open:
            queue.add_metric([self.names.get(nis, nis), nis, kind], n)
        for topic, st, n in got.outbox_backlog:
            backlog.add_metric([topic, st], n)
        for src, at in got.last_completed.items():
            last.add_metric([src], at.timestamp())
        return [runs, items, failures, queue, backlog, last]


def metrics_registry(application: App) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(
        application.engine, {m.nis: m.name for m in application.region.municipalities}))
    return registry


def serve_metrics(application: App) -> Callable[[], None] | None:
    """With `[web] metrics_port`, /metrics has a listener of its own (for a network only
    Prometheus reaches); returns what stops it. None when the web port serves it."""
    web = application.config.web
    if web.metrics_port is None:
        return None
    server, thread = start_http_server(web.metrics_port, addr=web.metrics_host,
                                       registry=metrics_registry(application))
    log.info("metrics listening", host=web.metrics_host, port=web.metrics_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def register(web: FastAPI) -> None:
    application: App = web.state.app

    @web.get("/healthz", tags=["health"])
    def healthz(request: Request) -> JSONResponse:
        status, doc = health(request.app.state.app)
        return JSONResponse(doc, status_code=status, headers={"Cache-Control": "no-store"})

    if application.config.web.metrics_port is not None:
        return  # served on its own port by serve_metrics
    registry = metrics_registry(application)

    # Queue sizes per municipality, backlog and failures are not for everyone to read.
    @web.get("/metrics", tags=["health"], responses=problem_responses(401, 403, 503),
             response_class=Response,
             summary="Prometheus metrics (admin token; or `[web] metrics_port`)")
    def metrics(_: Annotated[App, Depends(require_admin)]) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
