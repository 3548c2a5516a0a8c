"""The outbox relay: claims undelivered messages, delivers them, records every failed attempt."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.engine import Connection, Engine

from sync.adapters import outbox_store
from sync.adapters.mailer import Mailer, MailError, MailSession, OutgoingMail
from sync.domain.events import TOPIC_EMAIL
from sync.domain.outbox import OUTBOX_MAX_ATTEMPTS

log = structlog.get_logger()


class _LazySession:
    """Opens the SMTP connection only when a pass actually has mail to send."""

    def __init__(self, mailer: Mailer | None, stack: ExitStack) -> None:
        self._mailer = mailer
        self._stack = stack
        self._session: MailSession | None = None

    def send(self, mail: OutgoingMail) -> None:
        if self._mailer is None:
            raise MailError("no mailer configured")
        if self._session is None:
            self._session = self._stack.enter_context(self._mailer.session())
        self._session.send(mail)


@dataclass(slots=True)
class Delivery:
    """One claimed message, handed to its topic's handler inside the claiming transaction."""

    conn: Connection
    outbox_id: int
    topic: str
    payload: dict[str, Any]
    now: datetime
    mail: _LazySession


Handler = Callable[[Delivery], None]


def send_email(d: Delivery) -> None:
    d.mail.send(OutgoingMail.from_payload(d.payload))


def no_subscriber(d: Delivery) -> None:
    """Topics nobody listens to (yet) are done once relayed."""


@dataclass(slots=True)
class RelayResult:
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0
    mails: int = 0  # delivered e-mails (of `delivered`)
    ids: list[int] = field(default_factory=list)  # delivered ids, in order


def backoff_seconds(attempts: int, initial: float, maximum: float) -> float:
    """Exponential: initial, 2×, 4× … capped; `attempts` counts the failed ones so far."""
    return float(min(maximum, initial * 2 ** max(0, attempts - 1)))


class OutboxRelay:
    """Delivers each message once. On PostgreSQL the claimed row stays locked (`FOR UPDATE
    SKIP LOCKED`) until its delivery is recorded, so a second relay skips it; on SQLite the
    write transaction serialises relays (and the daemon runs single-instance there)."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        *,
        mailer: Mailer | None = None,
        handlers: Mapping[str, Handler] | None = None,
        batch_size: int = 200,
        backoff_initial: float = 30.0,
        backoff_max: float = 3600.0,
        max_attempts: int = OUTBOX_MAX_ATTEMPTS,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.mailer = mailer
        self.handlers: dict[str, Handler] = {TOPIC_EMAIL: send_email, **(handlers or {})}
        self.batch_size = batch_size
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_attempts = max_attempts
        self._skip_locked = engine.dialect.name == "postgresql"

    def run_once(self, mail_only: bool = False) -> RelayResult:
        """One pass over what is due; each message in its own transaction. E-mail goes first:
        a sync writes hundreds of internal activity events, and a digest must not wait behind
        them for later passes. `mail_only` delivers e-mail and leaves the rest for the daemon."""
        result = RelayResult()
        tried: list[int] = []
        mail_down = False
        with ExitStack() as stack:
            session = _LazySession(self.mailer, stack)
            while len(tried) < self.batch_size:
                with self.engine.connect() as conn, conn.begin():
                    row = self._claim(conn, self.clock(), tried, skip_email=mail_down,
                                      mail_only=mail_only)
                    if row is None:
                        break
                    tried.append(row.id)
                    error = self._deliver(conn, row, session, result)
                if error is not None and row.topic == TOPIC_EMAIL:
                    # The SMTP server is down: the rest waits for the next pass, untouched,
                    # instead of each message waiting for its own connection timeout.
                    mail_down = True
        if result.delivered or result.failed:
            log.info("outbox relayed", delivered=result.delivered, failed=result.failed,
                     gave_up=result.gave_up)
        return result

    def _claim(self, conn: Connection, now: datetime, tried: list[int],
               skip_email: bool, mail_only: bool = False) -> Any:
        return outbox_store.claim(conn, now, max_attempts=self.max_attempts, tried=tried,
                                  skip_email=skip_email, mail_only=mail_only,
                                  skip_locked=self._skip_locked)

    def _deliver(self, conn: Connection, row: Any, session: _LazySession,
                 result: RelayResult) -> str | None:
        now = self.clock()
        handler = self.handlers.get(row.topic, no_subscriber)
        payload = dict(row.payload)
        try:
            # A handler's own writes (mails it queues) roll back alone if it fails.
            with conn.begin_nested():
                handler(Delivery(conn, row.id, row.topic, payload, now, session))
        except Exception as exc:
            attempts = row.attempts + 1
            error = f"{type(exc).__name__}: {exc}"[:2000]
            wait = backoff_seconds(attempts, self.backoff_initial, self.backoff_max)
            outbox_store.update(conn, row.id, attempts=attempts, last_error=error,
                                available_at=now + timedelta(seconds=wait))
            result.failed += 1
            if attempts >= self.max_attempts:
                result.gave_up += 1
                log.error("outbox message gave up; see `ikdoemee-sync outbox list`",
                          outbox_id=row.id, topic=row.topic, attempts=attempts, error=error)
            else:
                log.warning("outbox delivery failed", outbox_id=row.id, topic=row.topic,
                            attempts=attempts, retry_in_seconds=wait, error=error)
            return error
        values: dict[str, Any] = {"delivered_at": now, "attempts": row.attempts + 1}
        if row.topic == TOPIC_EMAIL:
            # The body and the unsubscribe URL hold live link tokens; once sent, the database
            # need not keep them (only their hashes stay, in the token tables).
            values["payload"] = {**payload, "text": "", "html": "", "unsubscribe_url": None,
                                 "body_removed": True}
        outbox_store.update(conn, row.id, **values)
        result.delivered += 1
        result.mails += row.topic == TOPIC_EMAIL
        result.ids.append(row.id)
        return None
