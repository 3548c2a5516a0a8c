"""The daemon: scheduled syncs and reconciliations, outbox relay, notifications, and the web."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.uitdatabank import UitdatabankConnector
from sync.bootstrap import App
from sync.domain.calendar import BRUSSELS
from sync.service import coverage, history, notify
from sync.service.expiry import expire_and_refresh
from sync.service.moderators import ensure_fallback
from sync.service.outbox import OutboxRelay
from sync.service.reconcile import reconcile_source
from sync.service.run_queries import completed_since
from sync.service.sync_source import sync_source

log = structlog.get_logger()

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NOTIFY_LOCK = "notify"


class Daemon:
    """Owns the scheduler, the web server thread and the stop flag."""

    def __init__(self, application: App, *, stop: threading.Event | None = None,
                 serve_web: bool = True) -> None:
        self.app = application
        self.stop = stop or threading.Event()
        self.serve_web = serve_web
        self.scheduler = BackgroundScheduler(timezone=BRUSSELS)
        self._relay: OutboxRelay | None = None
        self._server: uvicorn.Server | None = None
        self._web_thread: threading.Thread | None = None
        self._stop_metrics: Callable[[], None] | None = None

    # ------------------------------------------------------------------ jobs

    def register_jobs(self, scheduler: BaseScheduler) -> None:
        """One interval sync and one cron reconciliation per enabled source, the relay, the
        digest and the daily reminders; never two instances of a job, missed ticks coalesced."""
        cfg = self.app.config
        common: dict[str, Any] = {"coalesce": True, "max_instances": 1,
                                  "misfire_grace_time": cfg.daemon.misfire_grace_seconds,
                                  "replace_existing": True}
        for src in cfg.sources:
            if not src.enabled:
                continue
            scheduler.add_job(
                self.sync_job, IntervalTrigger(minutes=src.interval_minutes, timezone=BRUSSELS),
                args=[src.name], id=f"sync:{src.name}", name=f"sync {src.name}",
                next_run_time=datetime.now(BRUSSELS), **common)
            scheduler.add_job(
                self.reconcile_job, CronTrigger.from_crontab(src.reconcile_cron, timezone=BRUSSELS),
                args=[src.name], id=f"reconcile:{src.name}", name=f"reconcile {src.name}",
                **common)
        scheduler.add_job(
            self.relay_job, IntervalTrigger(seconds=cfg.daemon.relay_interval_seconds,
                                            timezone=BRUSSELS),
            id="outbox:relay", name="outbox relay", **common)
        n = cfg.notifications
        digest: IntervalTrigger | CronTrigger
        if n.digest_interval_seconds:
            digest = IntervalTrigger(seconds=n.digest_interval_seconds, timezone=BRUSSELS)
        else:
            digest = CronTrigger(hour=n.digest_hour, minute=0, timezone=BRUSSELS)
        scheduler.add_job(self.digest_job, digest, id="notify:digest", name="digest", **common)
        scheduler.add_job(
            self.reminders_job, CronTrigger(hour=n.digest_hour, minute=15, timezone=BRUSSELS),
            id="notify:reminders", name="reminders and escalation", **common)
        # Dates pass without any feed change: expire what is over, move next dates on.
        scheduler.add_job(
            self.housekeeping_job, IntervalTrigger(minutes=15, timezone=BRUSSELS),
            id="catalogue:housekeeping", name="catalogue housekeeping",
            next_run_time=datetime.now(BRUSSELS), **common)
        # The coordinator's history: the day's snapshot late in the day, coverage daily and
        # the outreach list weekly at night, when SAPI3 is quiet.
        scheduler.add_job(
            self.snapshot_job, CronTrigger(hour=23, minute=45, timezone=BRUSSELS),
            id="history:snapshot", name="daily snapshot", **common)
        scheduler.add_job(
            self.coverage_job, CronTrigger(hour=4, minute=30, timezone=BRUSSELS),
            id="history:coverage", name="coverage of UiT", **common)
        scheduler.add_job(
            self.outreach_job, CronTrigger(day_of_week="mon", hour=5, timezone=BRUSSELS),
            id="history:outreach", name="outreach list", **common)

    def _guarded(self, job: str, fn: Callable[[], Any]) -> Any:
        """A job's error is logged and the daemon goes on; the next tick tries again."""
        if self.stop.is_set():
            return None
        try:
            return fn()
        except Exception as exc:
            log.exception("job failed", job=job, error=repr(exc))
            return None

    def sync_job(self, source_name: str) -> None:
        self._guarded(f"sync:{source_name}", lambda: self._sync(source_name))

    def _sync(self, source_name: str) -> None:
        src = self.app.config.source(source_name)
        with self.app.source_lock(src.name) as mine:
            if not mine:
                log.info("another instance is syncing this source; skipping the tick",
                         source=src.name)
                return
            if self._synced_recently(src.name, src.interval_minutes):
                log.info("another instance synced this source this tick; skipping",
                         source=src.name)
                return
            sync_source(self.app.uow, self.app.connector(src), self.app.sync_service(src),
                        stop=self.stop)

    def _synced_recently(self, source: str, interval_minutes: int) -> bool:
        """Several daemons tick at about the same time: the first completed run counts."""
        since = self.app.clock() - timedelta(minutes=interval_minutes) / 2
        with self.app.engine.connect() as conn:
            return completed_since(conn, source, since)

    def housekeeping_job(self) -> None:
        self._guarded("catalogue:housekeeping",
                      lambda: expire_and_refresh(self.app.uow, self.app.clock()))

    def reconcile_job(self, source_name: str) -> None:
        self._guarded(f"reconcile:{source_name}", lambda: self._reconcile(source_name))

    def _reconcile(self, source_name: str) -> None:
        src = self.app.config.source(source_name)
        with self.app.source_lock(src.name) as mine:
            if not mine:
                log.info("another instance holds the source; reconciliation skipped",
                         source=src.name)
                return
            day = _DAYS[self.app.clock().astimezone(BRUSSELS).weekday()]
            full = src.full_reconcile_day in ("daily", day)
            reconcile_source(self.app.uow, self.app.connector(src), self.app.sync_service(src),
                             stop=self.stop, full=full)

    @property
    def relay(self) -> OutboxRelay:
        if self._relay is None:
            self._relay = self.app.relay()
        return self._relay

    def relay_job(self) -> None:
        self._guarded("outbox:relay", self.relay.run_once)

    def digest_job(self) -> None:
        self._guarded("notify:digest", lambda: self._notify(notify.build_digests))

    def reminders_job(self) -> None:
        def both() -> None:
            self._notify(notify.build_reminders)
            self._notify(notify.build_escalations)

        self._guarded("notify:reminders", both)

    def snapshot_job(self) -> None:
        self._guarded("history:snapshot", lambda: self._once(
            "history:snapshot", lambda: history.run_snapshot(self.app.engine, self.app.clock())))

    def coverage_job(self) -> None:
        self._guarded("history:coverage", lambda: self._once(
            "history:coverage", lambda: coverage.run_coverage(
                self.app.engine, self._uit(), self.app.region, self.app.clock())))

    def outreach_job(self) -> None:
        self._guarded("history:outreach", lambda: self._once(
            "history:outreach", lambda: coverage.run_outreach(
                self.app.engine, self._uit(), self.app.region, self.app.clock())))

    def _uit(self) -> UitdatabankConnector:
        """Coverage reads the first enabled source: the region's UiT database."""
        src = next(s for s in self.app.config.sources if s.enabled)
        return self.app.connector(src)

    def _once(self, lock: str, fn: Callable[[], Any]) -> None:
        with self.app.lock(lock) as mine:
            if mine:
                fn()
            else:
                log.info("another instance runs this job; skipped", job=lock)

    def _notify(self, build: Callable[..., notify.Report]) -> None:
        with self.app.lock(NOTIFY_LOCK) as mine:
            if mine:
                build(self.app.engine, self.app.notify_settings(), self.app.clock())
            else:
                log.info("another instance is writing notifications; skipped")

    # ------------------------------------------------------------------ lifecycle

    def _start_web(self) -> None:
        from sync.entrypoints.web.app import create_app, server_config
        from sync.entrypoints.web.health import serve_metrics
        from sync.entrypoints.web.public import start_warm_up

        web = self.app.config.web
        self._server = uvicorn.Server(server_config(self.app, create_app(self.app),
                                                    lifespan="off"))
        self._stop_metrics = serve_metrics(self.app)
        start_warm_up(self.app)
        # In a thread uvicorn installs no signal handlers: the daemon owns SIGTERM/SIGINT.
        self._web_thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._web_thread.start()
        log.info("web listening", host=web.host, port=web.port,
                 url=f"http://{web.host}:{web.port}", public_url=web.base_url)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum: int, _frame: Any) -> None:
            log.info("stop requested", signal=signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> int:
        """Block until SIGTERM/SIGINT (or `stop`), then stop cleanly: a sync in progress ends
        after its current page is committed, and running jobs are waited for."""
        engine = self.app.engine
        if self.app.several_instances:
            log.info("daemon starting", database="postgresql", instances="several allowed")
        else:
            log.warning("daemon starting on SQLite: runs as a single instance; use PostgreSQL "
                        "to run several daemons")
        self._install_signals()
        with engine.begin() as conn:
            ensure_fallback(conn, self.app.config.notifications.fallback_moderators,
                            self.app.clock())
        self.register_jobs(self.scheduler)
        self.scheduler.start()
        if self.serve_web:
            self._start_web()
        log.info("daemon ready", jobs=[j.id for j in self.scheduler.get_jobs()])
        try:
            while not self.stop.wait(0.5):
                pass
        finally:
            self.stop.set()
            log.info("daemon stopping: waiting for running jobs")
            self.scheduler.shutdown(wait=True)
            if self._server is not None and self._web_thread is not None:
                self._server.should_exit = True
                self._web_thread.join(timeout=10)
            if self._stop_metrics is not None:
                self._stop_metrics()
            log.info("daemon stopped")
        return 0
