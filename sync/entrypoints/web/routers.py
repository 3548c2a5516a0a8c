"""Puts a module's router on an app with the routes built once per process, not per app."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def add_router(web: FastAPI, router: APIRouter) -> None:
    """`web.include_router(router)` for our routers, without rebuilding their routes.

    `include_router` builds every route's request handling again (dependants and one pydantic
    validator per parameter) for each app: ~40 ms of CPU an app, paid by every test that makes
    one. Our routers carry all their settings on the routes themselves (prefix, tags,
    responses, include_in_schema, as FastAPI applies them when a route is declared) and nothing
    overrides dependencies, so the routes built at import serve every app unchanged.
    """
    if router.dependencies or router.callbacks or router.on_startup or router.on_shutdown:
        raise ValueError("router-level dependencies, callbacks or events need include_router")
    web.router.routes.extend(router.routes)
