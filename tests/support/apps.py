"""Shared test helpers: the composition root on the test database, syncing and approving."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from samplefeed.server import FakeSapi3
from sync.adapters import tables as t
from sync.bootstrap import App, map_uitdatabank
from sync.domain.activity import MappingError
from sync.domain.region import Region
from sync.service import moderators as mods
from sync.service.review import APPROVE, decide_review
from sync.service.sync_source import Mapper, SyncService, sync_source
from sync.service.unit_of_work import UnitOfWork
from sync.settings import EnvSettings, load_config
from tests.builders import Clock, StaticConnector, event_id
from tests.support.clock import NOW, clock

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "uitdatabank"


def make_app(tmp_path: Path, engine: Engine, region: Region, *, base_url: str = "http://127.0.0.1:9",
             admin_token: str | None = None, now: Callable[[], datetime] = clock) -> App:
    """The composition root as the entrypoints build it, on the test database."""
    path = tmp_path / "ikdoemee.toml"
    path.write_text("\n".join([
        f'region_file = "{ROOT / "config" / "westhoek_municipalities.json"}"',
        "[[sources]]", f'name = "{SOURCE}"', 'connector = "uitdatabank"',
        f'base_url = "{base_url}"', "limit = 50", "max_attempts = 2",
        "backoff_initial_seconds = 0", "backoff_max_seconds = 0",
        "[web]", 'base_url = "https://ikdoemee.example"',
    ]) + "\n", encoding="utf-8")
    return App(config=load_config(path),
               env=EnvSettings(database_url=str(engine.url), admin_token=admin_token),
               engine=engine, region=region, clock=now)


@dataclass
class AppWorld:
    """An App on the test database with a settable clock: what the mail and page worlds share."""

    app: App
    clock: Clock
    region: Region

    @property
    def engine(self) -> Engine:
        return self.app.engine

    def sync_pages(self, *pages: list[dict[str, Any]]) -> Any:
        service = SyncService(SOURCE, self.region, map_uitdatabank, self.clock)
        return sync_source(self.app.uow, StaticConnector(list(pages)), service)

    def moderator(self, name: str, email: str, *nis: str, notify_: str = mods.DAILY) -> int:
        with self.engine.begin() as conn:
            return mods.add(conn, name=name, email=email, municipalities=nis, notify=notify_,
                            now=self.clock()).id


def failing_for(*numbers: int) -> Any:
    """A mapper with a 'bug' for some events: stands for a mapping fixed later."""
    broken = {event_id(n) for n in numbers}

    def mapper(raw: Any, region: Region, as_of: datetime) -> Any:
        if isinstance(raw, dict) and str(raw.get("@id", "")).rsplit("/", 1)[-1] in broken:
            raise MappingError("terms[0].id", "event type has no activity type")
        return map_uitdatabank(raw, region, as_of)

    return mapper


def sync_docs(engine: Engine, region: Region, docs: list[Any],
              mapper: Mapper = map_uitdatabank) -> int:
    """One sync run over `docs` (one page); its run id."""
    service = SyncService(SOURCE, region, mapper, clock)
    return sync_source(lambda: UnitOfWork(engine), StaticConnector([docs]), service).run_id


def approve_open(engine: Engine, *numbers: int) -> None:
    """Approve the open items of the given events (all when none given)."""
    r, a = t.review_items, t.activities
    wanted = {event_id(n) for n in numbers}
    with UnitOfWork(engine) as uow:
        items = uow.connection.execute(
            sa.select(r.c.id, a.c.source_id).join(a, a.c.id == r.c.activity_id)
            .where(r.c.status == "open")).all()
        for item in items:
            if not wanted or item.source_id in wanted:
                decide_review(uow, item.id, APPROVE, moderator="mod@westhoek.be", now=NOW)
        uow.commit()


def add_moderator(engine: Engine, email: str, *nis: str, active: bool = True) -> None:
    with engine.begin() as conn:
        mid = conn.execute(t.moderators.insert().values(
            name=email, email=email, notify="daily", active=active, created_at=NOW,
            updated_at=NOW)).inserted_primary_key[0]
        for code in nis:
            conn.execute(t.moderator_municipalities.insert().values(moderator_id=mid,
                                                                     municipality_nis=code))


def feed_app(world: Any, fake: FakeSapi3) -> App:
    """The world's app reading `fake` (three per page, no pauses between retries)."""
    config = world.app.config.model_copy(update={"sources": [
        world.app.config.sources[0].model_copy(update={
            "base_url": fake.base_url, "client_id_env": None, "limit": 3,
            "backoff_initial_seconds": 0, "backoff_max_seconds": 0})]})
    return App(config=config, env=world.app.env, engine=world.engine, region=world.region,
               clock=world.clock)
