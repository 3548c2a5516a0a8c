"""`audit list`: the moderators' decision log, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from sync.entrypoints.cli.common import emit_json, open_app
from sync.entrypoints.terminal import clean
from sync.service import review as rv

audit_app = typer.Typer(no_args_is_help=True, help="The moderators' decision log.")


@audit_app.command("list")
def audit_list(
    item: Annotated[int | None, typer.Option("--item", help="Only this review item.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Decisions, newest first: who, via which link or page, scope, before/after, reason."""
    with open_app() as application, application.engine.connect() as conn:
        rows = rv.audit_rows(conn, limit=limit, item_id=item)
    if as_json:
        emit_json({"decisions": rows})
        return
    for r in rows:
        # The reason is a moderator's free text: escaped, so it cannot fake a line or colour.
        reason = f" · {clean(r['reason'])}" if r["reason"] else ""
        typer.echo(f"{r['at']:%Y-%m-%d %H:%M:%S} #{r['id']} item {r['review_item_id']} "
                   f"{r['decision']} by {clean(r['moderator_email'])} via {r['via']} "
                   f"({r['scope_used']}) {r['before_state']}→{r['after_state']}{reason}")
    if not rows:
        typer.echo("no decisions yet")
