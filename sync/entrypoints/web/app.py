"""Builds the FastAPI application from the composition root's App."""

from __future__ import annotations

from fastapi import FastAPI

from sync.bootstrap import App
from sync.entrypoints.web.problems import install_problem_handlers


def create_app(application: App) -> FastAPI:
    web = FastAPI(title="ikdoemee-sync", version="0.1.0")
    web.state.app = application
    install_problem_handlers(web)
    # Each part registers its router here (health/metrics, public and admin APIs, moderation).
    for module in _parts():
        module.register(web)
    return web


def _parts() -> list:  # type: ignore[type-arg]
    parts = []
    import importlib

    for name in ("health", "public", "admin", "moderation", "report"):
        try:
            parts.append(importlib.import_module(f"sync.entrypoints.web.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"sync.entrypoints.web.{name}":
                raise
    return parts
