"""Builds the FastAPI application from the composition root's App."""

from __future__ import annotations

from fastapi import FastAPI

from sync.bootstrap import App
from sync.entrypoints.web import accounts, admin, health, moderation, public
from sync.entrypoints.web.problems import install_problem_handlers


def create_app(application: App) -> FastAPI:
    web = FastAPI(title="ikdoemee-sync", version="0.1.0")
    web.state.app = application
    install_problem_handlers(web)
    # Each part registers its router (health/metrics, public and admin APIs, moderation).
    for part in (health, public, admin, moderation, accounts):
        part.register(web)
    return web
