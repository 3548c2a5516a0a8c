"""`outbox list|retry`: messages to deliver (e-mail, webhooks) and their delivery status."""

from __future__ import annotations

from typing import Annotated

import typer

from sync.entrypoints.cli.common import (
    JsonOpt,
    emit_json,
    fail,
    local,
    open_app,
    parse_ids,
    table,
    usage_or_failure,
)
from sync.service import outbox_admin
from sync.service.errors import AdminError

outbox_app = typer.Typer(no_args_is_help=True, help="Messages to deliver (e-mail, webhooks).")


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option(
        "--status", help="pending, delivered or dead.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 200,
    as_json: JsonOpt = False,
) -> None:
    """List outbox messages, oldest first, with their delivery status."""
    if status is not None and status not in outbox_admin.STATUSES:
        raise fail(f"--status: unknown status {status!r}; use pending, delivered or dead")
    with open_app() as application, application.uow() as uow:
        rows = outbox_admin.list_messages(uow.connection, status, limit)
        totals = outbox_admin.counts(uow.connection)
    if as_json:
        emit_json({"messages": rows, "counts": totals})
        return
    table([[r["id"], r["topic"], r["status"], r["attempts"], local(r["created_at"]),
            local(r["available_at"]), local(r["delivered_at"]), r["last_error"] or ""]
           for r in rows],
          ["id", "topic", "status", "attempts", "created", "next try", "delivered", "error"])
    typer.echo("")
    typer.echo(", ".join(f"{k} {v}" for k, v in totals.items()))


@outbox_app.command("retry")
def outbox_retry(
    message_ids: Annotated[list[str] | None, typer.Argument(help="Message ids.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead message.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make messages deliverable again now, with a fresh attempt budget."""
    ids = parse_ids(message_ids, "message id")
    if bool(ids) == all_dead:
        raise fail("give message ids or --all-dead")
    with open_app() as application, application.uow() as uow:
        try:
            done = outbox_admin.retry(uow.connection, application.clock(), ids, all_dead)
        except AdminError as exc:
            raise usage_or_failure(exc) from None
        uow.commit()
    skipped = sorted(set(ids) - set(done))
    if as_json:
        emit_json({"retried": done, "already_delivered": skipped})
        return
    typer.echo(f"{len(done)} message(s) will be retried"
               + (f"; already delivered: {', '.join(map(str, skipped))}" if skipped else ""))
