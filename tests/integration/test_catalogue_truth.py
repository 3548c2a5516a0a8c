"""The public catalogue tells the truth as time passes: visibility, expiry, links, remap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from mappings.activity_types import load_type_table
from sync.adapters import tables as t
from sync.bootstrap import App
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.service.expiry import expire_and_refresh
from sync.service.remap import remap_source
from sync.service.review import APPROVE, decide_review
from sync.service.sync_source import sync_source
from tests.builders import Clock, StaticConnector, changed, event_id, make_event
from tests.support.apps import make_app

START = Clock().now  # 25 Nov 2026, 08.00 in Brussels


class World:
    def __init__(self, app: App, clock: Clock) -> None:
        self.app, self.clock = app, clock
        self.client = TestClient(create_app(app))

    def sync(self, *docs: dict[str, Any]) -> Any:
        src = self.app.config.sources[0]
        return sync_source(self.app.uow, StaticConnector([list(docs)]),
                           self.app.sync_service(src))

    def approve_all(self) -> None:
        r = t.review_items
        with self.app.uow() as uow:
            ids = uow.connection.execute(sa.select(r.c.id).where(r.c.status == "open")).scalars()
            for item_id in list(ids):
                decide_review(uow, item_id, APPROVE, moderator="mod@westhoek.be",
                              now=self.clock())
            uow.commit()

    def titles(self, **params: Any) -> list[str]:
        body = self.client.get("/api/activities", params=params).json()
        return [i["title"] for i in body["items"]]

    def states(self) -> dict[str, str]:
        a = t.activities
        with self.app.engine.connect() as conn:
            return {r.source_id: r.state for r in conn.execute(sa.select(a.c.source_id,
                                                                         a.c.state))}

    def open_items(self) -> list[tuple[str, str]]:
        r, a = t.review_items, t.activities
        with self.app.engine.connect() as conn:
            return sorted((row.source_id, row.kind) for row in conn.execute(
                sa.select(a.c.source_id, r.c.kind).join(a, a.c.id == r.c.activity_id)
                .where(r.c.status == "open")))


@pytest.fixture
def world(engine: Engine, region: Region, tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    w = World(app, clock)
    yield w
    w.client.close()


def evening(n: int, day: str, **kw: Any) -> dict[str, Any]:
    return make_event(n, start=f"{day}T19:00:00+01:00", end=f"{day}T21:00:00+01:00", **kw)


def test_an_activity_leaves_the_public_catalogue_when_its_date_passes(world: World) -> None:
    world.sync(evening(1, "2026-11-26", title="Morgen"), evening(2, "2026-12-20", title="Later"))
    world.approve_all()
    assert world.titles() == ["Morgen", "Later"]
    page = world.client.get("/activiteiten/1")
    assert page.status_code == 200 and "Morgen" in page.text

    # 26 Nov 21.00 passes: no sync ran, yet the public queries stop showing it at once.
    world.clock.now = START + timedelta(days=1, hours=13, minutes=1)
    assert world.titles() == ["Later"]
    assert world.client.get("/api/activities/1").status_code == 404
    assert world.client.get("/activiteiten/1").status_code == 404
    assert world.states()[event_id(1)] == "published"  # the transition is recorded later

    housekeeping = expire_and_refresh(world.app.uow, world.clock())
    assert housekeeping.expired == 1
    assert world.states() == {event_id(1): "expired", event_id(2): "published"}


def test_past_events_arrive_expired_with_no_review_item(world: World) -> None:
    # A first full read brings history: nobody should review last year's events.
    world.sync(evening(1, "2025-11-26"), evening(2, "2026-12-20"))
    assert world.states() == {event_id(1): "expired", event_id(2): "pending"}
    assert world.open_items() == [(event_id(2), "new")]


def test_an_open_item_closes_when_the_activity_is_over(world: World) -> None:
    world.sync(evening(1, "2026-11-26"))
    assert world.open_items() == [(event_id(1), "new")]
    world.clock.now = START + timedelta(days=2)
    expire_and_refresh(world.app.uow, world.clock())
    assert world.open_items() == []
    assert world.states()[event_id(1)] == "expired"
    # New dates bring it back to the moderator.
    world.sync(changed(evening(1, "2026-12-10"), modified="2026-11-27T10:00:00+00:00"))
    assert world.open_items() == [(event_id(1), "new")]


def test_not_public_before_available_from_and_members_only(world: World) -> None:
    world.sync(
        evening(1, "2026-12-20", title="Vanaf december") | {
            "availableFrom": "2026-12-01T00:00:00+01:00"},
        evening(2, "2026-12-21", title="Voor leden") | {"audience": {"audienceType": "members"}},
        evening(3, "2026-12-22", title="Voor iedereen"),
    )
    world.approve_all()
    assert world.titles() == ["Voor iedereen"]
    world.clock.now = START + timedelta(days=6)  # 1 December
    assert world.titles() == ["Vanaf december", "Voor iedereen"]


def test_members_only_when_the_region_says_so(engine: Engine, region: Region,
                                              tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    object.__setattr__(app.config.catalogue, "include_members_only", True)
    w = World(app, clock)
    w.sync(evening(2, "2026-12-21", title="Voor leden") | {"audience": {"audienceType": "members"}})
    w.approve_all()
    assert w.titles() == ["Voor leden"]
    assert "Alleen voor leden" in w.client.get("/activiteiten/1").text
    w.client.close()


def test_links_are_for_people_and_the_api_document_is_kept_apart(world: World) -> None:
    world.sync(evening(1, "2026-12-20", title="Praatcafé in de bib") | {
        "sameAs": ["http://www.uitinvlaanderen.be/agenda/e/praatcafe-in-de-bib/" + event_id(1)]})
    world.approve_all()
    item = world.client.get("/api/activities").json()["items"][0]
    assert item["url"] == ("https://www.uitinvlaanderen.be/agenda/e/praatcafe-in-de-bib/"
                           + event_id(1))
    assert item["source_url"] == "https://io.uitdatabank.be/event/" + event_id(1)
    assert item["page"] == "https://ikdoemee.example/activiteiten/1"
    listing = world.client.get("/activiteiten").text
    assert 'href="/activiteiten/1"' in listing
    assert "io.uitdatabank.be" not in listing
    assert "taalicoonen" not in listing and "1 taalicoon" in listing


def test_whole_day_and_period_dates_read_right(world: World) -> None:
    whole_day = make_event(1, title="Erfgoeddag", start="2026-11-29T00:00:00+01:00",
                           end="2026-11-29T23:59:59+01:00")
    period = make_event(2, title="Tentoonstelling", start="2026-11-01T00:00:00+01:00",
                        end="2027-01-31T23:59:59+01:00") | {"calendarType": "periodic"}
    world.sync(whole_day, period)
    world.approve_all()
    listing = world.client.get("/activiteiten").text
    assert "zondag 29 november 2026</span>" in listing  # no "00.00 uur"
    assert "00.00" not in listing
    assert "nog tot en met zondag 31 januari 2027" in listing  # not today's clock time
    # On its day, at 22.00, a whole-day date is still on.
    world.clock.now = START + timedelta(days=4, hours=14)
    assert "Erfgoeddag" in world.titles()


def test_remap_opens_review_items_only_where_the_moderator_sees_a_change(
        world: World, tmp_path: Path) -> None:
    world.sync(evening(1, "2026-12-20", title="Lezing", event_type="0.3.2.0.0"),
               evening(2, "2026-12-21", title="Concert", event_type="0.50.4.0.0"))
    world.approve_all()
    assert world.open_items() == []

    # Same table: nothing a moderator sees changes, nothing opens.
    src = world.app.config.sources[0]
    result = remap_source(world.app.uow, world.app.sync_service(src))
    assert result.status == "succeeded" and result.counts.fetched == 2
    assert world.open_items() == []

    # The region decides that a lecture is a course after all.
    table = Path(__file__).resolve().parents[2] / "mappings" / "activity_types.toml"
    edited = table.read_text(encoding="utf-8").replace(
        'id = "0.3.2.0.0"\nlabel = "Lezing of congres"\ntypes = ["Andere"]',
        'id = "0.3.2.0.0"\nlabel = "Lezing of congres"\ntypes = ["Cursus"]')
    own = tmp_path / "types.toml"
    own.write_text(edited, encoding="utf-8")
    world.app.types = load_type_table(own)
    result = remap_source(world.app.uow, world.app.sync_service(src))
    assert result.counts.updated == 1 and result.counts.unchanged == 1
    assert world.open_items() == [(event_id(1), "changed")]
    # The public keeps the approved version until the moderator decides.
    lezing = [i for i in world.client.get("/api/activities").json()["items"]
              if i["title"] == "Lezing"][0]
    assert lezing["activity_types"] == ["Andere"]


def test_a_new_mapping_of_an_unchanged_source_goes_in_quietly(world: World) -> None:
    doc = evening(1, "2026-12-20")
    world.sync(doc)
    world.approve_all()
    a = t.activities
    with world.app.engine.begin() as conn:
        # As stored by an older release: no raw document, an older content hash.
        conn.execute(a.update().values(content_hash="0" * 64, raw_document=None))
    world.sync(doc)  # the nightly reconciliation re-reads it, `modified` unchanged
    assert world.open_items() == []
    with world.app.engine.connect() as conn:
        row = conn.execute(sa.select(a.c.current_version_id, a.c.approved_version_id,
                                     a.c.raw_document)).one()
    assert row.current_version_id == row.approved_version_id
    assert row.raw_document is not None
    with world.app.engine.connect() as conn:  # the search index follows the approved version
        indexed = conn.execute(sa.select(t.search_documents.c.version_id)).scalar_one()
    assert indexed == row.approved_version_id
