"""CLI commands of the moderation pages: `web` (serve them alone) and `audit list`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

import structlog
import typer

from sync.bootstrap import App
from sync.entrypoints.terminal import clean
from sync.service import review as rv

audit_app = typer.Typer(no_args_is_help=True, help="The moderators' decision log.")

_open_app: Callable[..., AbstractContextManager[App]] | None = None
_emit_json: Callable[[Any], None] | None = None


def register(app: typer.Typer, open_app: Callable[..., AbstractContextManager[App]],
             emit_json: Callable[[Any], None]) -> None:
    global _open_app, _emit_json
    _open_app, _emit_json = open_app, emit_json
    app.command("web")(web_cmd)
    app.add_typer(audit_app, name="audit")


def web_cmd() -> None:
    """Serve the web part alone (moderation pages, APIs, health) on [web] host and port."""
    import uvicorn

    from sync.entrypoints.web.app import create_app, server_config
    from sync.entrypoints.web.health import serve_metrics
    from sync.entrypoints.web.security import protect_uvicorn_logs

    assert _open_app is not None
    with _open_app(live=True) as application:
        protect_uvicorn_logs()
        web = application.config.web
        structlog.get_logger().info("web listening", url=f"http://{web.host}:{web.port}",
                                    public_url=web.base_url,
                                    moderators=f"{web.base_url.rstrip('/')}/moderatie")
        stop_metrics = serve_metrics(application)
        try:
            # uvicorn's access log would print link tokens; our middleware logs redacted paths.
            uvicorn.Server(server_config(application, create_app(application))).run()
        finally:
            if stop_metrics is not None:
                stop_metrics()


@audit_app.command("list")
def audit_list(
    item: Annotated[int | None, typer.Option("--item", help="Only this review item.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Decisions, newest first: who, via which link or page, scope, before/after, reason."""
    assert _open_app is not None and _emit_json is not None
    with _open_app() as application, application.engine.connect() as conn:
        rows = rv.audit_rows(conn, limit=limit, item_id=item)
    if as_json:
        _emit_json({"decisions": rows})
        return
    for r in rows:
        # The reason is a moderator's free text: escaped, so it cannot fake a line or colour.
        reason = f" · {clean(r['reason'])}" if r["reason"] else ""
        typer.echo(f"{r['at']:%Y-%m-%d %H:%M:%S} #{r['id']} item {r['review_item_id']} "
                   f"{r['decision']} by {clean(r['moderator_email'])} via {r['via']} "
                   f"({r['scope_used']}) {r['before_state']}→{r['after_state']}{reason}")
    if not rows:
        typer.echo("no decisions yet")
