"""Errors as JSON problems (RFC 9457): a message for every 4xx/5xx, never a traceback.

The one home of `ApiProblem` (raised by the API handlers), its OpenAPI description and the
handlers that render every error as `application/problem+json`.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger()

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, **extra: object) -> JSONResponse:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class ApiProblem(Exception):
    """Raised by handlers; rendered as an RFC 9457 problem with a proper title."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers


class Problem(BaseModel):
    """An error: `title` says what kind, `detail` what to do about it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    texts = {400: "Bad request", 401: "Missing or malformed bearer token",
             403: "Wrong bearer token", 404: "Not found", 409: "Conflict with the current state",
             413: "Body too large", 422: "Invalid parameters",
             429: "Too many requests from this address (see Retry-After)",
             503: "Not configured"}
    return {s: {"model": Problem, "description": texts[s],
                "content": {"application/problem+json": {}}} for s in statuses}


def install_api_problems(web: FastAPI) -> None:
    """Render ApiProblem as a JSON problem; both API modules call it (idempotent)."""

    async def _problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        resp = problem(exc.status, exc.title, exc.detail)
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    web.add_exception_handler(ApiProblem, _problem)


def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """An HTTP error (404, 405 …) as a JSON problem."""
    detail = exc.detail if isinstance(exc.detail, str) else None
    title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
             405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
             422: "Invalid request", 429: "Too Many Requests"}.get(exc.status_code, "Error")
    resp = problem(exc.status_code, title, detail)
    if exc.headers:
        resp.headers.update(exc.headers)
    return resp


def server_error(path: str, exc: Exception) -> JSONResponse:
    """An unhandled error: logged, and a 500 problem that says no more than that."""
    log.error("unhandled error", path=path, error=repr(exc))
    return problem(500, "Internal Server Error", "Something went wrong on our side.")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        broken = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if broken:
            why = (broken[0].get("ctx") or {}).get("error", "")
            return problem(400, "Bad Request", f"The body is not valid JSON: {why}".rstrip(": "))
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p not in ("query", "body", "path")),
             "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return server_error(request.url.path, exc)

    app.add_middleware(ContainErrors)


class ContainErrors:
    """Starlette answers an unhandled error and then raises it again for the server, and
    uvicorn then drops the keep-alive connection: the client's next request is reset.
    Answered here (a 500 problem), the error stops here. The moderation pages render their
    own (security.SecurityMiddleware). Plain ASGI: see there why."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/moderatie/"):
            await self.app(scope, receive, send)
            return
        begun = False

        async def watch(message: Message) -> None:
            nonlocal begun
            begun = begun or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if begun:
                raise
            await server_error(scope["path"], exc)(scope, receive, send)
