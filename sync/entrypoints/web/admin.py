"""Admin HTTP API: runs, failures, replay and ignore, the outbox; bearer token protected."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.bootstrap import App
from sync.entrypoints.web.guards import (
    MAX_BODY_BYTES,
    IdPath,
    IdQuery,
    StrictId,
    check_days,
)
from sync.entrypoints.web.problems import (
    ApiProblem,
    install_api_problems,
    problem,
    problem_responses,
)
from sync.entrypoints.web.routers import add_router
from sync.service import outbox_admin, replay
from sync.service.errors import AdminError, NotFound, NotOpen
from sync.settings import ConfigError

router_prefix = "/api/admin"
_bearer = HTTPBearer(auto_error=False, scheme_name="adminToken",
                     description="The value of IKDOEMEE_ADMIN_TOKEN.")


def token_problem(expected: str | None, authorization: str | None) -> ApiProblem | None:
    """Why this Authorization header does not open the admin API, or None when it does."""
    if not expected:
        return ApiProblem(503, "Service Unavailable",
                          "The admin API is off: set IKDOEMEE_ADMIN_TOKEN to turn it on.")
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return ApiProblem(401, "Unauthorized",
                          "Send the admin token as `Authorization: Bearer <token>`.",
                          {"WWW-Authenticate": 'Bearer realm="ikdoemee-admin"'})
    # Constant time: how far a guess matches must not show in the response time.
    if not secrets.compare_digest(credentials.strip().encode(), expected.encode()):
        return ApiProblem(403, "Forbidden", "The admin token is not valid.")
    return None


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> App:
    application: App = request.app.state.app
    refused = token_problem(application.env.admin_token, request.headers.get("authorization"))
    if refused is not None:
        raise refused
    return application


def _render(exc: ApiProblem) -> JSONResponse:
    resp = problem(exc.status, exc.title, exc.detail)
    resp.headers.update(exc.headers or {})
    return resp


class AdminGuard:
    """The admin API's door: the token is checked before anything reads the body (FastAPI
    parses the body before it runs dependencies), then the body is read up to MAX_BODY_BYTES
    and handed on, or refused with a 413 problem. (FastAPI's own `max_body_size` answers
    in plain text, and an error raised while the app reads comes out of Starlette's
    middleware wrapped as a 400.)"""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = (router_prefix,),
                 max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.prefixes, self.max_bytes = app, prefixes, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        application: App = scope["app"].state.app
        headers = Headers(scope=scope)
        refused = token_problem(application.env.admin_token, headers.get("authorization"))
        if refused is None:
            length = headers.get("content-length", "0")
            if not length.isdigit() or int(length) > self.max_bytes:
                refused = self._too_large()
        if refused is not None:
            await _render(refused)(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await _render(self._too_large())(scope, receive, send)
                return
        handed = False

        async def read_body() -> Message:
            nonlocal handed
            if handed:
                return await receive()  # e.g. a disconnect
            handed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, read_body, send)

    def _too_large(self) -> ApiProblem:
        return ApiProblem(413, "Content Too Large",
                          f"The request body is larger than {self.max_bytes} bytes.")


Admin = Annotated[App, Depends(require_admin)]

router = APIRouter(prefix=router_prefix, tags=["admin"],
                   responses=problem_responses(400, 401, 403, 413, 422, 503))


class _Body(BaseModel):
    # Strict: `"yes"` is not a boolean and `true` not an id; an unknown field is a mistake.
    model_config = ConfigDict(strict=True, extra="forbid")


class RunOut(BaseModel):
    id: int
    source: str
    kind: str = Field(description="incremental, full, since or replay.")
    status: str = Field(description="running, succeeded, partial or failed.")
    started_at: datetime
    ended_at: datetime | None
    cursor_before: dict[str, Any] | None
    cursor_after: dict[str, Any] | None
    counts: dict[str, Any]
    error: str | None


class RunDetail(RunOut):
    failures: dict[str, int] = Field(description="Failures of this run per status.")


class RunList(BaseModel):
    runs: list[RunOut]


class FailureOut(BaseModel):
    id: int
    run_id: int
    source: str
    source_id: str | None
    stage: str = Field(description="fetch, map or store.")
    error: str
    status: str = Field(description="open, resolved or ignored.")
    attempts: int
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class FailureDetail(FailureOut):
    raw_payload: str | None = Field(description="The record as received, verbatim.")
    payload: Any = Field(description="The raw payload parsed as JSON, when it is JSON.")


class FailureList(BaseModel):
    failures: list[FailureOut]


class ReplayRequest(_Body):
    ids: list[StrictId] = Field(default_factory=list, max_length=10_000,
                                description="Failures to replay.")
    run_id: StrictId | None = Field(default=None,
                                    description="Replay the open failures of a run.")
    all_open: bool = Field(default=False, description="Replay every open failure.")
    source: str | None = Field(default=None, description="Only failures of this source.")
    refetch: bool = Field(default=False,
                          description="Fetch each record again from the source first.")


class ReplayedItemOut(BaseModel):
    failure_id: int
    source: str
    source_id: str | None
    outcome: str = Field(description="created, updated, unchanged, withdrawn, skipped, failed "
                                     "or not_open.")
    error: str | None


class ReplayRunOut(BaseModel):
    run_id: int
    source: str
    status: str
    counts: dict[str, Any]


class ReplayOut(BaseModel):
    runs: list[ReplayRunOut]
    resolved: int
    still_failing: int
    not_open: int
    items: list[ReplayedItemOut]


class IgnoreRequest(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class OutboxMessage(BaseModel):
    id: int
    topic: str
    payload: dict[str, Any]
    status: str = Field(description="pending, delivered or dead.")
    attempts: int
    created_at: datetime
    available_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class OutboxList(BaseModel):
    messages: list[OutboxMessage]
    counts: dict[str, int]


class RetryRequest(_Body):
    ids: list[StrictId] = Field(default_factory=list, max_length=10_000)
    all_dead: bool = False


class RetryOut(BaseModel):
    retried: list[int]
    already_delivered: list[int]


def _raise(exc: AdminError) -> ApiProblem:
    if isinstance(exc, NotFound):
        return ApiProblem(404, "Not Found", str(exc))
    if isinstance(exc, NotOpen):
        return ApiProblem(409, "Conflict", str(exc))
    return ApiProblem(422, "Invalid request", str(exc))


@router.get("/runs", response_model=RunList, summary="Sync runs, newest first")
def list_runs(
    app: Admin,
    source: str | None = None,
    status: Literal["running", "succeeded", "partial", "failed"] | None = None,
    kind: Literal["incremental", "full", "since", "replay"] | None = None,
    since: Annotated[date | None, Query(description="Started on or after this day.")] = None,
    until: Annotated[date | None, Query(description="Started on or before this day.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:
    check_days(since, until, ("since", "until"))
    lo, hi = replay.day_bounds(since, until)
    with app.uow() as uow:
        return {"runs": replay.list_runs(uow.connection, source=source, status=status,
                                         kind=kind, since=lo, until=hi, limit=limit)}


@router.get("/runs/{run_id:int}", response_model=RunDetail, responses=problem_responses(404),
            summary="One run")
def get_run(app: Admin, run_id: IdPath) -> Any:
    with app.uow() as uow:
        try:
            return replay.get_run(uow.connection, run_id)
        except AdminError as exc:
            raise _raise(exc) from None


@router.get("/failures", response_model=FailureList, summary="Recorded failures")
def list_failures(
    app: Admin,
    source: str | None = None,
    run_id: IdQuery = None,
    stage: Literal["fetch", "map", "store"] | None = None,
    status: Literal["open", "resolved", "ignored"] | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Any:
    with app.uow() as uow:
        return {"failures": replay.list_failures(uow.connection, source=source, run_id=run_id,
                                                 stage=stage, status=status, limit=limit)}


@router.get("/failures/{failure_id:int}", response_model=FailureDetail,
            responses=problem_responses(404), summary="One failure with its raw payload")
def get_failure(app: Admin, failure_id: IdPath) -> Any:
    with app.uow() as uow:
        try:
            return replay.get_failure(uow.connection, failure_id)
        except AdminError as exc:
            raise _raise(exc) from None


@router.post("/failures/replay", response_model=ReplayOut, responses=problem_responses(404),
             summary="Replay failures in a run of kind `replay`")
def replay_failures(app: Admin, body: ReplayRequest) -> Any:
    """Same semantics as `ikdoemee-sync failures replay`: the stored payload is mapped again
    (or fetched again with `refetch`); resolved failures are closed, others stay open with
    one more attempt."""
    with app.uow() as uow:
        try:
            chosen = replay.select_failures(uow.connection, ids=body.ids, run_id=body.run_id,
                                            all_open=body.all_open, source=body.source)
        except AdminError as exc:
            raise _raise(exc) from None
    try:
        sources = {f["source"]: app.config.source(f["source"]) for f in chosen}
    except ConfigError as exc:
        raise ApiProblem(409, "Conflict", str(exc)) from None
    services = {n: app.sync_service(s) for n, s in sources.items()}
    connectors = {n: app.connector(s) for n, s in sources.items()} if body.refetch else None
    return replay.replay_failures(app.uow, chosen, services, connectors=connectors).to_json()


@router.post("/failures/{failure_id:int}/ignore", response_model=FailureOut,
             responses=problem_responses(404, 409), summary="Close a failure deliberately")
def ignore_failure(app: Admin, failure_id: IdPath, body: IgnoreRequest) -> Any:
    with app.uow() as uow:
        try:
            doc = replay.ignore_failure(uow, failure_id, body.reason, app.clock())
        except AdminError as exc:
            raise _raise(exc) from None
        uow.commit()
    return doc


@router.get("/outbox", response_model=OutboxList, summary="Outbox messages, oldest first")
def list_outbox(
    app: Admin,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Any:
    with app.uow() as uow:
        return {"messages": outbox_admin.list_messages(uow.connection, status, limit),
                "counts": outbox_admin.counts(uow.connection)}


@router.post("/outbox/retry", response_model=RetryOut, responses=problem_responses(404),
             summary="Deliver messages again, with a fresh attempt budget")
def retry_outbox(app: Admin, body: RetryRequest) -> Any:
    with app.uow() as uow:
        try:
            done = outbox_admin.retry(uow.connection, app.clock(), body.ids, body.all_dead)
        except AdminError as exc:
            raise _raise(exc) from None
        uow.commit()
    return {"retried": done, "already_delivered": sorted(set(body.ids) - set(done))}


def register(web: FastAPI) -> None:
    install_api_problems(web)
    add_router(web, router)
    web.add_middleware(AdminGuard)
