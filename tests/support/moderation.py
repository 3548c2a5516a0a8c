"""The moderation pages in tests: an App behind TestClient, with links and decisions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sync.adapters import tables as t
from sync.bootstrap import App
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.service import links
from sync.service import moderators as mods
from sync.settings import AppConfig, EnvSettings
from tests.builders import Clock
from tests.support.apps import ROOT, AppWorld

BASE_URL = "http://testserver"  # TestClient's own origin, so same-origin checks pass
FALLBACK = "regio@ikdoemee.test"


def make_config(**moderation: Any) -> AppConfig:
    return AppConfig.model_validate({
        "region_file": str(ROOT / "config" / "westhoek_municipalities.json"),
        "sources": [{"name": "uitdatabank", "connector": "uitdatabank",
                     "base_url": "http://127.0.0.1:9"}],
        "web": {"base_url": BASE_URL},
        "notifications": {"fallback_moderators": [FALLBACK]},
        "moderation": moderation,
    })


@dataclass
class World(AppWorld):
    """An App on the test database behind TestClient, with a settable clock."""

    client: TestClient

    def sync(self, *docs: dict[str, Any]) -> None:
        self.sync_pages(list(docs))

    def fallback(self) -> int:
        with self.engine.begin() as conn:
            return mods.ensure_fallback(conn, [FALLBACK], self.clock())[0].id

    def item_token(self, moderator_id: int, item_id: int, days: int = 14) -> str:
        with self.engine.begin() as conn:
            return links.issue(conn, moderator_id, links.SCOPE_ITEM, self.clock(), days,
                               review_item_id=item_id)

    def queue_token(self, moderator_id: int, days: int = 14) -> str:
        with self.engine.begin() as conn:
            return links.issue(conn, moderator_id, links.SCOPE_QUEUE, self.clock(), days)

    def items(self, status: str | None = "open") -> list[Any]:
        r, a = t.review_items, t.activities
        q = (sa.select(r, a.c.title, a.c.state.label("activity_state"))
             .join(a, a.c.id == r.c.activity_id).order_by(r.c.id))
        if status:
            q = q.where(r.c.status == status)
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def item(self, item_id: int) -> Any:
        return next(i for i in self.items(None) if i.id == item_id)

    def log(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(t.decision_log).order_by(t.decision_log.c.id)))

    def outbox(self, topic: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(t.outbox).where(t.outbox.c.topic == topic)))

    def used_at(self, token: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.link_tokens.c.used_at).where(
                t.link_tokens.c.token_hash == links.token_hash(token))).scalar_one()

    def post(self, path: str, data: dict[str, Any], **headers: str) -> Any:
        return self.client.post(path, data=data, headers=headers)

    def decide(self, path: str, action: str, item_id: int, lock: int, *, csrf: str | None = None,
               **fields: Any) -> Any:
        page = self.client.get(path)
        token = csrf if csrf is not None else hidden(page.text, "csrf")
        return self.post(path, {"csrf": token, "item_id": str(item_id), "lock_version": str(lock),
                                "action": action, **fields})


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in page"
    return found.group(1)


@pytest.fixture
def world(database_url: str, engine: Engine, region: Region) -> Iterator[World]:
    """The web world; modules that post to the pages import it (the mail world shares its name)."""
    clock = Clock()
    app = App(config=make_config(), env=EnvSettings(database_url=database_url,
                                                    secret_key="test-secret"),
              engine=engine, region=region, clock=clock)
    with TestClient(create_app(app)) as client:
        yield World(app, clock, region, client)


def item_path(token: str) -> str:
    return links.ITEM_PATH + token


def queue_path(token: str) -> str:
    return links.QUEUE_PATH + token
