"""Moderator mail in tests: a real SMTP server on loopback and an App that sends to it."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from sync.adapters.mailer import SmtpMailer
from sync.bootstrap import App
from sync.domain.region import Region
from sync.service import notify
from sync.settings import AppConfig, EnvSettings
from tests.builders import Clock
from tests.support.apps import ROOT, AppWorld
from tests.support.web import free_port

BASE_URL = "https://moderatie.ikdoemee.test"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class SmtpSink:
    """aiosmtpd on a fixed loopback port, so it can be stopped and started again (an outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message received, oldest first."""
        return [r.message for r in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]


def smtp_sink() -> Iterator[SmtpSink]:
    """The body of the `smtp` fixture (tests/conftest.py): a started sink, stopped afterwards."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@dataclass
class World(AppWorld):
    """An App wired to the test database and the SMTP sink, with a settable clock."""

    feed: list[list[dict[str, Any]]] = field(default_factory=list)

    def sync(self, *pages: list[dict[str, Any]]) -> Any:
        return self.sync_pages(*pages)

    def relay(self) -> Any:
        return self.app.relay().run_once()

    def digest(self) -> notify.Report:
        return notify.build_digests(self.engine, self.app.notify_settings(), self.clock())


def make_config(smtp_port: int, **notifications: Any) -> AppConfig:
    return AppConfig.model_validate({
        "region_file": str(ROOT / "config" / "westhoek_municipalities.json"),
        "sources": [{"name": "uitdatabank", "connector": "uitdatabank",
                     "base_url": "http://127.0.0.1:9"}],
        "web": {"base_url": BASE_URL},
        "smtp": {"host": "127.0.0.1", "port": smtp_port,
                 "sender": "ikdoemee Westhoek <noreply@ikdoemee.test>", "timeout_seconds": 5},
        "notifications": {"fallback_moderators": ["regio@ikdoemee.test"],
                          "reminder_after_days": 3, "escalate_after_days": 7, **notifications},
        "daemon": {"outbox_backoff_initial_seconds": 60, "outbox_backoff_max_seconds": 600},
    })


@pytest.fixture
def world(database_url: str, engine: Engine, region: Region, smtp: SmtpSink) -> Iterator[World]:
    """The mail world; modules that send mail import it (the web world shares its name)."""
    config = make_config(smtp.port)
    clock = Clock()
    app = App(config=config, env=EnvSettings(database_url=database_url),
              engine=engine, region=region, clock=clock,
              mailer=SmtpMailer(config.smtp, env={}))
    yield World(app, clock, region)


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None, "multipart text + HTML"
    return (text.get_content().replace("\r\n", "\n"),
            html.get_content().replace("\r\n", "\n"))


def html_body(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())
