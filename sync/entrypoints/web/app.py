"""Builds the FastAPI application from the composition root's App."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from sync.bootstrap import App
from sync.entrypoints.web import accounts, admin, health, moderation, public, report
from sync.entrypoints.web.problems import install_problem_handlers


def create_app(application: App) -> FastAPI:
    web = FastAPI(title="ikdoemee-sync", version="0.1.0")
    web.state.app = application
    install_problem_handlers(web)
    # Each part registers its router (health/metrics, public and admin APIs, moderation).
    for part in (health, public, admin, moderation, accounts, report):
        part.register(web)
    return web


def server_config(application: App, asgi: Any, **overrides: Any) -> uvicorn.Config:
    """How `web` and `run` serve the app. X-Forwarded-* count only from `[web]
    forwarded_allow_ips` (uvicorn alone trusts any loopback peer, so a local process or a
    proxy that passes the header on could pick the client address the rate limits see)."""
    web = application.config.web
    trusted = ",".join(web.forwarded_allow_ips)
    options: dict[str, Any] = {
        "host": web.host, "port": web.port, "log_config": None, "access_log": False,
        "server_header": False, "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None, **overrides}
    return uvicorn.Config(asgi, **options)
