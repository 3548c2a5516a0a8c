"""`notify digest|reminders`: moderator e-mail on demand (the daemon also writes them)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sync.entrypoints.cli.common import JsonOpt, emit_json, open_app
from sync.service import notify

notify_app = typer.Typer(no_args_is_help=True, help="Moderator e-mail on demand.")


@notify_app.command("digest")
def notify_digest(
    now: Annotated[bool, typer.Option("--now", help="Also send them now, not at the relay's "
                                                    "next pass.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write each moderator's digest of what is new in their queue (none when nothing is)."""
    with open_app() as application:
        report = notify.build_digests(application.engine, application.notify_settings(),
                                      application.clock())
        doc: dict[str, Any] = {"digests": report.to_json()}
        if now:
            # Mail only, so the count is what went out by SMTP, not internal events.
            relayed = application.relay().run_once(mail_only=True)
            doc["sent"] = {"delivered": relayed.mails, "failed": relayed.failed}
    if as_json:
        emit_json(doc)
    else:
        typer.echo(f"{report.mails} digests with {report.items} items written"
                   + (f"; {doc['sent']['delivered']} e-mails sent, {doc['sent']['failed']} "
                      f"failed" if now else "; the daemon's relay sends them"))


@notify_app.command("reminders")
def notify_reminders(as_json: JsonOpt = False) -> None:
    """Write reminders and escalations for items open too long."""
    with open_app() as application:
        s, clock = application.notify_settings(), application.clock()
        reminders = notify.build_reminders(application.engine, s, clock)
        escalations = notify.build_escalations(application.engine, s, clock)
    doc = {"reminders": reminders.to_json(), "escalations": escalations.to_json()}
    if as_json:
        emit_json(doc)
    else:
        typer.echo(f"{reminders.mails} reminders, {escalations.mails} escalations written")
