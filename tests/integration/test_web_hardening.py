"""Hardening at the web edge: auth before the body, body caps, ranges, strict bodies, links."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sync.adapters.tls import tls_context
from sync.bootstrap import App
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app, server_config
from tests.builders import make_event
from tests.support.apps import approve_open, make_app, sync_docs

TOKEN = "a-long-enough-admin-token-for-the-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "https://ikdoemee.example"  # make_app's [web] base_url


@pytest.fixture
def application(engine: Engine, region: Region, tmp_path: Path) -> Iterator[App]:
    app = make_app(tmp_path, engine, region, admin_token=TOKEN)
    yield app
    app.close()


@pytest.fixture
def client(application: App) -> Iterator[TestClient]:
    with TestClient(create_app(application), raise_server_exceptions=False) as c:
        yield c


def is_problem(resp: Any, status: int) -> bool:
    return (resp.status_code == status
            and resp.headers["content-type"].startswith("application/problem+json")
            and resp.json()["status"] == status and bool(resp.json()["detail"]))


# 1 ---------------------------------------------------------------------------- auth, body caps

def asgi_post(web: Any, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """POST through the ASGI app with a body that counts how often it was read."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b'{"all_open": true}', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(web(scope, receive, send))
    return sent[0]["status"], reads


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": "Basic eDp5"}, 401)])
def test_admin_token_is_checked_before_the_body_is_read(application, headers, status):
    web = create_app(application)
    got, reads = asgi_post(web, "/api/admin/failures/replay",
                           {"content-type": "application/json", "content-length": "18", **headers})
    assert (got, reads) == (status, 0)
    # With the token the same request is read and handled.
    assert asgi_post(web, "/api/admin/failures/replay",
                     {"content-type": "application/json", "content-length": "18", **AUTH}
                     ) == (200, 1)


def test_bad_json_without_a_token_is_401_and_with_one_a_400_problem(client):
    bad = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    assert is_problem(client.post("/api/admin/failures/replay", **bad), 401)
    with_token = client.post("/api/admin/failures/replay", content=b"{not json",
                             headers={"content-type": "application/json", **AUTH})
    assert is_problem(with_token, 400) and "not valid JSON" in with_token.json()["detail"]


def test_bodies_over_the_cap_get_a_413_problem(client):
    big = b'{"ids": [' + b"1," * 600_000 + b"1]}"
    assert is_problem(client.post("/api/admin/failures/replay", content=big,
                                  headers={"content-type": "application/json", **AUTH}), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
        yield b'{"reason": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    streamed = client.post("/api/admin/failures/1/ignore", content=chunks(),
                           headers={"content-type": "application/json", **AUTH})
    assert is_problem(streamed, 413)


# 5 ------------------------------------------------------------------------- out-of-range values

@pytest.mark.parametrize("path", [
    "/api/activities/9223372036854775808",
    "/api/activities/9223372036854775808.jsonld",
    "/api/activities/2147483648",
    "/api/activities?date_to=9999-12-31",
    "/api/activities?date_from=0001-01-01",
    "/api/activities?page=99999999999999999999",
    "/api/admin/runs?since=0001-01-01",
    "/api/admin/runs?until=9999-12-31",
    "/api/admin/runs/9223372036854775808",
    "/api/admin/failures/9223372036854775808",
    "/api/admin/failures?run_id=1234567890123456789012345",
])
def test_out_of_range_values_are_422_problems(client, engine, region, path):
    sync_docs(engine, region, [make_event(1)])  # something published to filter
    approve_open(engine)
    assert is_problem(client.get(path, headers=AUTH), 422)


@pytest.mark.parametrize("body", [{"ids": [9223372036854775808]}, {"ids": [2**31]},
                                  {"run_id": 10**25}])
def test_out_of_range_ids_in_admin_bodies_are_422(client, body):
    assert is_problem(client.post("/api/admin/failures/replay", json=body, headers=AUTH), 422)
    if "ids" in body:
        assert is_problem(client.post("/api/admin/outbox/retry", json=body, headers=AUTH), 422)


def test_listing_page_with_25_digit_fields_and_far_dates_is_a_dutch_page(client, engine,
                                                                          region):
    sync_docs(engine, region, [make_event(1)])
    approve_open(engine)
    digits = "1234567890123456789012345"
    page = client.get("/activiteiten", params={"pagina": digits, "taalniveau": digits,
                                               "tot": "9999-12-31", "van": "0001-01-01"})
    assert page.status_code == 200
    assert "De einddatum is geen geldige datum." in page.text
    assert "De begindatum is geen geldige datum." in page.text
    assert "Kies een taalniveau van 1 tot 4." in page.text


@contextmanager
def served(web: Any, config: uvicorn.Config | None = None) -> Iterator[int]:
    """The app on a real uvicorn on loopback (the connection handling is uvicorn's)."""
    server = uvicorn.Server(config or uvicorn.Config(web, host="127.0.0.1", port=0,
                                                     log_config=None, access_log=False,
                                                     lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1000):  # up to 20 s on a busy machine
        if server.started:
            break
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def exchange(sock: socket.socket, path: str) -> bytes:
    """One HTTP/1.1 request on a kept-alive socket; the response head, b"" when closed."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH['Authorization']}"
                 "\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


@pytest.mark.parametrize("path", ["/api/activities/9223372036854775808",
                                  "/api/admin/runs?since=0001-01-01"])
def test_the_keep_alive_connection_survives_a_bad_value(application, path):
    with served(create_app(application)) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert exchange(sock, path).startswith(b"HTTP/1.1 422")
        second = exchange(sock, "/api/activities")
        assert second.startswith(b"HTTP/1.1 200"), second


def test_the_keep_alive_connection_survives_a_bug(application):
    def broken_clock() -> Any:
        raise RuntimeError("a bug")

    application.clock = broken_clock
    with served(create_app(application)) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert exchange(sock, "/api/activities").startswith(b"HTTP/1.1 500")
        assert exchange(sock, "/healthz").startswith(b"HTTP/1.1 ")


# 12 ----------------------------------------------------------------------- refused, not guessed

def test_date_from_after_date_to_is_refused(client):
    resp = client.get("/api/activities", params={"date_from": "2027-02-01",
                                                 "date_to": "2027-01-01"})
    assert is_problem(resp, 422) and "date_to" in resp.json()["detail"]
    page = client.get("/activiteiten", params={"van": "2027-02-01", "tot": "2027-01-01"})
    assert page.status_code == 200 and "De einddatum ligt voor de begindatum." in page.text


@pytest.mark.parametrize("body", [{"all_open": "yes"}, {"all_open": 1}, {"ids": [True]},
                                  {"ids": ["1"]}, {"ids": [1.5]}, {"run_id": "1"},
                                  {"ids": [1], "unknown": True}])
def test_admin_bodies_are_strictly_typed(client, body):
    resp = client.post("/api/admin/failures/replay", json=body, headers=AUTH)
    assert is_problem(resp, 422)


def test_outbox_retry_and_ignore_are_strict_too(client):
    assert is_problem(client.post("/api/admin/outbox/retry", json={"all_dead": "true"},
                                  headers=AUTH), 422)
    assert is_problem(client.post("/api/admin/failures/1/ignore", json={"reason": 5},
                                  headers=AUTH), 422)


# 10 ----------------------------------------------------------------------- links from base_url

def test_links_come_from_base_url_never_from_the_host_header(client, engine, region):
    sync_docs(engine, region, [make_event(n) for n in range(1, 4)])
    approve_open(engine)
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    body = client.get("/api/activities", params={"per_page": 1, "page": 2}, headers=evil).json()
    links = body["links"]
    assert links["next"] == f"{BASE}/api/activities?per_page=1&page=3"
    assert all(v.startswith(BASE + "/") for v in links.values() if v)
    assert all(item["jsonld"].startswith(BASE + "/") for item in body["items"])
    page = client.get("/activiteiten", params={"pagina": 1}, headers=evil)
    assert "evil.example" not in page.text


# 14 ------------------------------------------------------------------- X-Forwarded-For trusted

async def echo_client(scope: Any, receive: Any, send: Any) -> None:
    """What the app sees as the client address (the rate limits count by it)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["client"][0].encode()})


@pytest.mark.parametrize(("trusted", "seen"), [
    ([], "127.0.0.1"), (["10.0.0.0/8"], "127.0.0.1"), (["127.0.0.1"], "203.0.113.9")])
def test_forwarded_for_counts_only_from_forwarded_allow_ips(application, trusted, seen):
    web = application.config.web.model_copy(update={"forwarded_allow_ips": trusted,
                                                    "host": "127.0.0.1", "port": 0})
    app = dataclasses.replace(application,
                              config=application.config.model_copy(update={"web": web}))
    with served(None, server_config(app, echo_client, lifespan="off")) as port:
        got = httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.9"},
                        verify=tls_context())
    assert got.text == seen


def test_a_bug_on_a_moderation_page_is_a_dutch_page_that_is_not_stored(application):
    def broken_clock() -> Any:
        raise RuntimeError("a bug")

    application.clock = broken_clock
    with TestClient(create_app(application), raise_server_exceptions=False) as c:
        resp = c.get("/moderatie/wachtrij/" + "x" * 43)
    assert resp.status_code == 500
    assert "Er ging bij ons iets mis" in resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in resp.headers["content-security-policy"]
