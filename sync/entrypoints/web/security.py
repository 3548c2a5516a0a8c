"""Security of the web part: headers, CSRF, same-origin checks, rate limits, redacted logs."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog
from fastapi import FastAPI, Request
from starlette.datastructures import FormData, MutableHeaders, UploadFile
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.entrypoints.web.templating import responses

log = structlog.get_logger()


CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src https: data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MODERATION_PREFIX = "/moderatie/"
# Swagger UI and ReDoc load their own scripts; they get the other headers but no CSP.
NO_CSP_PREFIXES = ("/docs", "/redoc")
_TOKEN_IN_PATH = re.compile(
    r"(/moderatie/(?:item|wachtrij|afmelden|voorkeuren|inzicht|aanvraag|adres"
    r"|aanmelden/bevestigen)/)[^/?#\s\"]+")
SECRET_ENV = "IKDOEMEE_SECRET_KEY"


# Our forms are small: a bulk approval of 1 000 items is about 16 KB.
FORM_MAX_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
ID_MAX = 2**31 - 1  # the database's integer keys
# The last path segment of a POST that acts on the page before it (`…/wachtrij/T/goedkeuren`).
_ACTIONS = frozenset({"goedkeuren", "bevestigen", "terugdraaien", "wachtrij"})


def redact(text: str) -> str:
    """Link tokens are credentials: they never reach a log line."""
    return _TOKEN_IN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """For uvicorn's own access log, should someone turn it on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(str(record.msg))
        return True


def protect_uvicorn_logs() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def load_secret(configured: str | None) -> bytes:
    """The server secret for CSRF values; a random one per process when none is configured
    (forms then stop working across a restart or between several instances)."""
    value = configured or os.environ.get(SECRET_ENV)
    if value:
        return value.encode("utf-8")
    log.warning("no IKDOEMEE_SECRET_KEY set: using a random secret for this process only")
    return secrets.token_bytes(32)


def csrf_value(secret: bytes, token: str) -> str:
    """Bound to the link: a page of one link cannot post for another."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return hmac.new(secret, f"csrf:{digest}".encode(), hashlib.sha256).hexdigest()


def check_csrf(secret: bytes, token: str, value: str | None) -> bool:
    return bool(value) and hmac.compare_digest(csrf_value(secret, token), value or "")


def same_origin(request: Request, base_url: str) -> bool:
    """A cross-site form POST is refused whatever it carries. Fetch metadata decides when the
    browser sends it: with `Referrer-Policy: no-referrer` Chromium posts forms with
    `Origin: null`, so Origin is only the fallback for older clients."""
    site = request.headers.get("sec-fetch-site", "").lower()
    if site:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # no browser metadata at all; the CSRF value still has to match
    allowed = {_origin(base_url), f"{request.url.scheme}://{request.headers.get('host', '')}"}
    return origin.rstrip("/") in allowed


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def safe_next(value: str | None, default: str) -> str:
    """Only our own relative moderation paths: never an absolute or protocol-relative URL."""
    if (not value or not value.startswith(MODERATION_PREFIX) or "//" in value or "\\" in value
            or any(ord(c) < 33 for c in value)):
        return default
    return value


class RateLimiter:
    """In-memory token bucket per client IP: `burst` at once, `per_minute` refilled."""

    def __init__(self, per_minute: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._buckets) > 50_000:  # a flood of addresses must not eat the memory
                self._buckets = {k: v for k, v in self._buckets.items()
                                 if now - v[1] < self.burst / self.rate}
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True


def form_id(value: Any) -> int | None:
    """An id or version from a form: ASCII digits in the database's range, else None (`int()`
    would also take "٣", " 3" or "3_000", and a 25-digit number overflows the column)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= ID_MAX else None


def back_path(request: Request) -> str:
    """Where "Terug" leads after a refused POST: the page that posted it."""
    path = request.url.path
    head, _, last = path.rstrip("/").rpartition("/")
    return safe_next(head if last in _ACTIONS else path, "/moderatie")


def form_refused(request: Request, status: int, tekst: str) -> Response:
    """A Dutch page with a way back, never the framework's English JSON."""
    return page(request, "bericht.html", status, titel="Dat gaat niet", tekst=tekst,
                terug=back_path(request))


async def read_body(request: Request) -> bytes | None:
    """The request body, or None past `FORM_MAX_BYTES` (read no further than that). Kept on
    the request, so a second reader sees it too."""
    kept: bytes | None = getattr(request.state, "body", None)
    if kept is not None:
        return kept
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_MAX_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            return None
    request.state.body = bytes(body)
    return request.state.body


async def read_form(request: Request) -> FormData | Response:
    """The posted form (a plain, small HTML form), or a Dutch page: 413 when too large, 415
    when not a form."""
    body = await read_body(request)
    if body is None:
        return form_refused(request, 413, "Dit formulier is te groot. Ga terug en probeer het "
                                          "opnieuw met minder tegelijk.")
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if body and kind != FORM_TYPE:
        return form_refused(request, 415, "Dit formulier kunnen we niet lezen. Ga terug en "
                                          "gebruik de knoppen op de pagina zelf.")
    try:
        fields: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return form_refused(request, 422, "Dit formulier kunnen we niet lezen. Ga terug en "
                                          "gebruik de knoppen op de pagina zelf.")
    return FormData(fields)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def page(request: Request, name: str, status: int, **context: Any) -> Response:
    return responses.TemplateResponse(request, f"moderation/{name}", context,
                                      status_code=status)


def install(web: FastAPI, limiter: RateLimiter) -> None:
    """Headers on every response; rate limit, no-store and a Dutch error page on /moderatie."""
    protect_uvicorn_logs()
    web.add_middleware(SecurityMiddleware, limiter=limiter)


class SecurityMiddleware:
    """Headers on every response, the access log (redacted), and on /moderatie the rate limit,
    no-store and a Dutch page for an unhandled error.

    Plain ASGI rather than `@app.middleware("http")`: Starlette runs each of those in a task
    of its own with a stream between them, a fifth of the CPU of a public search."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter
        self.access = structlog.get_logger("access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        moderation = path.startswith(MODERATION_PREFIX)
        status = 500
        begun = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, begun
            if message["type"] == "http.response.start":
                status, begun = message["status"], True
                headers = MutableHeaders(scope=message)
                if not path.startswith(NO_CSP_PREFIXES):
                    headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if moderation:
                    headers["Cache-Control"] = "no-store"
                    headers["Pragma"] = "no-cache"
            await send(message)

        request = Request(scope, receive) if moderation else None
        if request is not None and not self.limiter.allow(client_ip(request)):
            response = page(request, "bericht.html", 429, titel="Even geduld",
                            tekst="Je hebt op korte tijd te veel pagina's geopend. Wacht een "
                                  "minuutje en probeer het dan opnieuw.")
            response.headers["Retry-After"] = "60"
            await response(scope, receive, send_with_headers)
        else:
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception as exc:  # noqa: BLE001 - logged without the token, then a page
                if request is None or begun:
                    raise
                log.error("unhandled error", path=redact(path), error=redact(repr(exc)))
                await page(request, "bericht.html", 500, titel="Er ging iets mis",
                           tekst="Er ging bij ons iets mis. Probeer het later opnieuw; "
                                 "je beslissing is niet opgeslagen.",
                           )(scope, receive, send_with_headers)
        self.access.info("request", method=scope["method"], path=redact(path), status=status,
                         ms=round((time.perf_counter() - started) * 1000, 1))
