"""Public search: accents and Unicode forms, prefix AND, caps, and an index kept in step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sync.adapters import migrate
from sync.adapters import tables as t
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.service import review as rv
from sync.service.unit_of_work import UnitOfWork
from tests.builders import changed, event_id, make_event
from tests.support.apps import NOW, approve_open, make_app, sync_docs


def events() -> list[dict[str, Any]]:
    return [
        make_event(1, title="Taalcafé in de bibliotheek"),
        make_event(2, title="Wandeling langs de IJzer", postal_code="8600", locality="Diksmuide"),
        make_event(3, title="Kookcafé voor nieuwkomers"),
    ]


@pytest.fixture
def client(engine: Engine, region: Region, tmp_path: Path) -> Iterator[TestClient]:
    sync_docs(engine, region, events())
    approve_open(engine)
    with TestClient(create_app(make_app(tmp_path, engine, region))) as c:
        yield c


def found(client: TestClient, q: str) -> list[str]:
    resp = client.get("/api/activities", params={"q": q})
    assert resp.status_code == 200, resp.text
    return sorted(i["title"] for i in resp.json()["items"])


def activity_id(engine: Engine, n: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(t.activities.c.id)
                                .where(t.activities.c.source_id == event_id(n))).scalar_one())


def index_row(engine: Engine, n: int) -> Any:
    d = t.search_documents
    with engine.connect() as conn:
        return conn.execute(sa.select(d).where(d.c.activity_id == activity_id(engine, n))
                            ).one_or_none()


def test_accents_case_and_a_decomposed_e_find_the_same_activity(client):
    wanted = ["Taalcafé in de bibliotheek"]
    assert found(client, "Taalcafe") == wanted
    assert found(client, "TAALCAFÉ") == wanted
    assert found(client, "Taalcafe\u0301") == wanted  # e + combining acute
    page = client.get("/activiteiten", params={"q": "taalcafe"})
    assert page.status_code == 200 and "Taalcafé in de bibliotheek" in page.text
    assert "Kookcafé" not in page.text


def test_words_are_prefixes_and_all_are_required(client):
    assert found(client, "taal biblio") == ["Taalcafé in de bibliotheek"]
    assert found(client, "taal poperinge") == []
    assert found(client, "ijzer wandel") == ["Wandeling langs de IJzer"]
    assert found(client, "nederlands") == sorted(e["name"]["nl"] for e in events())
    assert found(client, "afe") == []  # a word's start, not any part of it


def test_a_query_of_only_punctuation_filters_nothing(client):
    assert len(found(client, "?!")) == 3


def test_api_refuses_more_than_ten_words_or_200_characters(client):
    for q in (" ".join(["taal"] * 11), "x" * 201):
        resp = client.get("/api/activities", params={"q": q})
        assert resp.status_code == 422
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["title"] == "Invalid request"
    assert client.get("/api/activities", params={"q": " ".join(["taal"] * 10)}).status_code == 200


def test_page_answers_a_long_query_in_dutch_with_a_way_back(client):
    resp = client.get("/activiteiten", params={"q": "woord " * 11, "gemeente": "Ieper"})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("text/html")
    assert "Je zoekopdracht is te lang" in resp.text
    assert 'href="/activiteiten?gemeente=Ieper"' in resp.text
    assert client.get("/activiteiten", params={"q": "x" * 5000}).status_code == 422


def test_a_changed_activity_is_found_by_its_approved_words_only(client, engine, region):
    sync_docs(engine, region, [changed(make_event(1, title="Praattafel aan de Menenpoort"),
                                       modified="2026-11-22T10:00:00+00:00")])
    assert found(client, "menenpoort") == []  # not approved yet: the catalogue shows the old
    assert found(client, "taalcafe") == ["Taalcafé in de bibliotheek"]
    approve_open(engine, 1)
    assert found(client, "menenpoort") == ["Praattafel aan de Menenpoort"]
    assert found(client, "taalcafe") == []


def test_correction_undo_and_withdrawal_keep_the_index_in_step(client, engine, region):
    sync_docs(engine, region, [changed(make_event(3, title="Kookcafé, nu met dessert"),
                                       modified="2026-11-22T10:00:00+00:00")])
    kook = activity_id(engine, 3)
    with UnitOfWork(engine) as uow:
        item = uow.connection.execute(sa.select(t.review_items.c.id).where(
            t.review_items.c.activity_id == kook,
            t.review_items.c.status == "open")).scalar_one()
        outcome = rv.decide_review(uow, item, rv.APPROVE, moderator="mod@westhoek.be", now=NOW,
                                   corrections=rv.Corrections(("Workshop",)))
        uow.commit()
    approved = _approved_version(engine, 3)
    assert index_row(engine, 3).version_id == approved  # the corrected version's words
    assert found(client, "dessert") == ["Kookcafé, nu met dessert"]

    with UnitOfWork(engine) as uow:
        rv.undo_decision(uow, outcome.decision_id, actor=rv.Actor(email="mod@westhoek.be"),
                         now=NOW, window=timedelta(minutes=10))
        uow.commit()
    assert found(client, "dessert") == []
    assert found(client, "kookcafe") == ["Kookcafé voor nieuwkomers"]

    sync_docs(engine, region, [changed(make_event(2), workflowStatus="DELETED",
                                       modified="2026-11-23T10:00:00+00:00")])
    assert index_row(engine, 2) is None
    assert found(client, "wandeling") == []


def _approved_version(engine: Engine, n: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(t.activities.c.approved_version_id)
                                .where(t.activities.c.id == activity_id(engine, n))
                                ).scalar_one())


def test_an_activity_a_write_path_forgot_is_still_found(client, engine):
    # A stand-in for a future write path that does not call index_activities.
    with engine.begin() as conn:
        conn.execute(t.search_documents.delete())
        conn.execute(t.activities.update().values(updated_at=NOW + timedelta(seconds=1)))
    assert found(client, "taalcafe") == ["Taalcafé in de bibliotheek"]


def test_a_stale_index_row_neither_hides_nor_invents_a_match(client, engine):
    d, first = t.search_documents, activity_id(engine, 1)
    with engine.begin() as conn:  # as if the row were left from an earlier version
        conn.execute(d.update().where(d.c.activity_id == first)
                     .values(body="oude tekst", version_id=d.c.version_id - 1))
        conn.execute(t.activities.update().values(updated_at=NOW + timedelta(seconds=1)))
    assert found(client, "oude") == []
    assert found(client, "taalcafe") == ["Taalcafé in de bibliotheek"]


def test_migration_0009_indexes_what_was_published_before_it(engine, region):
    sync_docs(engine, region, events())
    approve_open(engine, 1, 2)
    _downgrade(engine, "0008")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.search_documents.c.activity_id,
                                      t.search_documents.c.body)).all()
    assert sorted(r.activity_id for r in rows) == [activity_id(engine, 1), activity_id(engine, 2)]
    assert any("taalcafe in de bibliotheek" in r.body for r in rows)


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_the_in_memory_facts_agree_with_the_whole_activity(engine, region):
    from samplefeed.generator import generate_events
    from sync.domain.visibility import visible_from, visible_until
    from sync.service import catalogue_query as cq

    sync_docs(engine, region, generate_events(150, seed=5))
    approve_open(engine)
    catalogue = cq.new_catalogue()
    with engine.connect() as conn:
        snap = catalogue.snapshot(conn)
        published = list(cq.iter_published(conn))
    assert len(published) > 100 and set(snap.facts) == {p.id for p in published}
    for p in published:
        x, act = snap.facts[p.id], p.activity
        assert (x.nis, x.types, x.lowest_level, x.audience) == (
            act.place.nis, frozenset(act.activity_types),
            act.lowest_level if act.language_levels else None, act.audience)
        assert (x.shown_from, x.shown_until) == (visible_from(act), visible_until(act))
        assert x.calendar == act.calendar and list(x.spans) == cq._spans(act.calendar)


def test_the_listing_json_is_what_the_response_model_makes(client):
    from sync.entrypoints.web.public import ActivityPage

    body = client.get("/api/activities", params={"per_page": 2, "page": 2}).json()
    assert ActivityPage.model_validate(body).model_dump(mode="json", by_alias=True) == body
    assert body["links"]["prev"].startswith("https://ikdoemee.example/api/activities?")
    one = client.get(f"/api/activities/{body['items'][0]['id']}").json()
    assert one == body["items"][0]


def test_the_warm_up_loads_the_catalogue_and_takes_it_out_of_the_collectors_way(
        engine, region, tmp_path):
    import gc

    from sync.entrypoints.web.public import start_warm_up

    sync_docs(engine, region, events())
    approve_open(engine)
    app = make_app(tmp_path, engine, region)
    gc.unfreeze()
    try:
        start_warm_up(app).join(timeout=60)
        snap = app.catalogue._snapshot
        assert snap is not None and len(snap.facts) == 3
        # Frozen: a full collection no longer walks the facts (nor anything loaded before).
        fact = next(iter(snap.facts.values()))
        assert gc.is_tracked(fact) and gc.get_freeze_count() > 0
        assert id(fact) not in {id(x) for x in gc.get_objects()}
    finally:
        gc.unfreeze()
        app.close()


def test_who_is_shown_follows_availability_to_the_second(engine, region, tmp_path):
    at = [NOW]
    leaving = make_event(1, title="Taalcafé dat stopt",
                         start=(NOW - timedelta(hours=1)).isoformat(),
                         end=(NOW + timedelta(seconds=30)).isoformat())
    arriving = changed(make_event(2, title="Taalcafé dat komt"),
                       availableFrom=(NOW + timedelta(seconds=20)).isoformat())
    sync_docs(engine, region, [leaving, arriving, make_event(3, title="Taalcafé altijd")])
    approve_open(engine)
    with TestClient(create_app(make_app(tmp_path, engine, region, now=lambda: at[0]))) as c:
        def shown(q: str | None = None) -> set[str]:
            items = c.get("/api/activities", params={"q": q} if q else {}).json()["items"]
            return {item["title"] for item in items}

        for q in ("taalcafe", None):  # through the index, and the whole listing
            at[0] = NOW
            assert shown(q) == {"Taalcafé dat stopt", "Taalcafé altijd"}
            at[0] = NOW + timedelta(seconds=25)  # the same minute: both
            assert shown(q) == {"Taalcafé dat stopt", "Taalcafé dat komt", "Taalcafé altijd"}
            at[0] = NOW + timedelta(seconds=31)
            assert shown(q) == {"Taalcafé dat komt", "Taalcafé altijd"}
