"""`run` (the daemon) and `web` (the web part alone): the long-running commands."""

from __future__ import annotations

from typing import Annotated

import structlog
import typer

from sync.entrypoints.cli.common import open_app


def run_cmd(
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not serve the web part.")] = False,
) -> None:
    """Run the daemon: scheduled syncs, reconciliation, outbox relay, e-mail, web (health)."""
    # Imported here: the scheduler and web stack are heavy, and short commands don't need them.
    from sync.entrypoints.daemon import Daemon

    with open_app(live=True) as application:
        code = Daemon(application, serve_web=not no_web).run()
    raise typer.Exit(code)


def web_cmd() -> None:
    """Serve the web part alone (moderation pages, APIs, health) on [web] host and port."""
    import uvicorn

    from sync.entrypoints.web.app import create_app, server_config
    from sync.entrypoints.web.health import serve_metrics
    from sync.entrypoints.web.public import start_warm_up
    from sync.entrypoints.web.security import protect_uvicorn_logs

    with open_app(live=True) as application:
        protect_uvicorn_logs()
        web = application.config.web
        structlog.get_logger().info("web listening", url=f"http://{web.host}:{web.port}",
                                    public_url=web.base_url,
                                    moderators=f"{web.base_url.rstrip('/')}/moderatie")
        stop_metrics = serve_metrics(application)
        start_warm_up(application)
        try:
            # uvicorn's access log would print link tokens; our middleware logs redacted paths.
            uvicorn.Server(server_config(application, create_app(application))).run()
        finally:
            if stop_metrics is not None:
                stop_metrics()
