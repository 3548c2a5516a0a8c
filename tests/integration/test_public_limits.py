"""Rate limit of the public catalogue per client address: 429 with Retry-After, Dutch or problem."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sync.bootstrap import App
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.settings import ConfigError, load_config
from tests.builders import make_event
from tests.support.apps import approve_open, make_app, sync_docs


def limited(app: App, per_minute: int, burst: int) -> App:
    web = app.config.web.model_copy(update={"public_rate_limit_per_minute": per_minute,
                                            "public_rate_limit_burst": burst})
    return replace(app, config=app.config.model_copy(update={"web": web}))


@pytest.fixture
def app(engine: Engine, region: Region, tmp_path: Path) -> App:
    sync_docs(engine, region, [make_event(1)])
    approve_open(engine)
    return make_app(tmp_path, engine, region)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    # One a minute: nothing refills while the test runs.
    with TestClient(create_app(limited(app, 1, 3))) as c:
        yield c


def test_past_the_burst_the_api_answers_429_problem_with_retry_after(client):
    assert [client.get("/api/activities").status_code for _ in range(3)] == [200, 200, 200]
    resp = client.get("/api/activities/1")
    assert resp.status_code == 429
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["title"] == "Too Many Requests"
    assert resp.headers["Retry-After"] == "60"


def test_the_page_answers_429_in_dutch_with_a_way_to_try_again(client):
    for _ in range(3):
        assert client.get("/activiteiten", params={"q": "praat"}).status_code == 200
    resp = client.get("/activiteiten", params={"q": "praat"})
    assert resp.status_code == 429 and resp.headers["content-type"].startswith("text/html")
    assert "Even geduld" in resp.text and 'href="/activiteiten?q=praat"' in resp.text
    assert int(resp.headers["Retry-After"]) >= 1


def test_health_and_other_addresses_are_not_limited(client, app):
    for _ in range(4):
        client.get("/activiteiten")
    assert client.get("/activiteiten").status_code == 429
    assert client.get("/healthz").status_code == 200
    with TestClient(client.app, client=("192.0.2.7", 4000)) as other:
        assert other.get("/activiteiten").status_code == 200


def test_zero_switches_the_limit_off(app):
    with TestClient(create_app(limited(app, 0, 1))) as c:
        assert {c.get("/api/activities").status_code for _ in range(20)} == {200}


def test_the_default_allows_a_burst_of_120(app):
    assert app.config.web.public_rate_limit_per_minute == 600
    with TestClient(create_app(app)) as c:
        codes = [c.get("/api/activities/1").status_code for _ in range(121)]
    assert codes[:120] == [200] * 120  # the 121st depends on how much refilled meanwhile


def test_the_settings_are_validated(tmp_path):
    path = tmp_path / "c.toml"
    for bad in ("public_rate_limit_per_minute = -1", "public_rate_limit_burst = 0",
                'public_rate_limit_burst = "many"'):
        path.write_text(f"[web]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="public_rate_limit"):
            load_config(path)
