"""Errors as JSON problems (RFC 9457): a message for every 4xx/5xx, never a traceback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = structlog.get_logger()

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, **extra: object) -> JSONResponse:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


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
        log.error("unhandled error", path=request.url.path, error=repr(exc))
        return problem(500, "Internal Server Error", "Something went wrong on our side.")

    @app.middleware("http")
    async def _contain(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Starlette answers an unhandled error and then raises it again for the server, and
        # uvicorn then drops the keep-alive connection: the client's next request is reset.
        # Answered here, the error stops here. The moderation pages render their own.
        try:
            return await call_next(request)
        except Exception as exc:
            if request.url.path.startswith("/moderatie/"):
                raise
            return await _crash(request, exc)
