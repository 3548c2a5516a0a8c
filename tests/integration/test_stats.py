"""Statistics over the published catalogue and moderation, as the annual report counts them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sync.adapters import tables as t
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.service import stats
from tests.builders import make_event
from tests.support.apps import add_moderator, approve_open, make_app, sync_docs
from tests.support.clock import NOW


@pytest.mark.parametrize(("part", "whole", "expected"), [
    (121, 223, 54.26),  # the annual report's own example
    (1, 800, 0.13),  # 0.125: half up, not to even
    (1, 3, 33.33),
    (2, 3, 66.67),
    (5, 5, 100.0),
    (0, 0, 0.0),
])
def test_percentage_rounds_half_up_to_two_decimals(part, whole, expected):
    assert stats.percentage(part, whole) == expected


@pytest.fixture
def catalogue(engine: Engine, region: Region) -> Engine:
    docs = [
        make_event(1),  # Ieper, Cursus, level 1, organiser "aaaa"
        make_event(2, event_type="0.3.1.0.1", labels=("twee taaliconen",)),  # Cursus + Workshop
        make_event(3, postal_code="8970", locality="Poperinge", event_type="0.17.0.0.0",
                   labels=("één taalicoon", "drie taaliconen")),  # Sport + Uitstap, 2 levels
        make_event(4, postal_code="8600", locality="Diksmuide"),  # stays in the queue
    ]
    docs[2]["organizer"] = {"name": {"nl": "Sportdienst Poperinge"}}  # no id: counted by name
    sync_docs(engine, region, docs)
    approve_open(engine, 1, 2, 3)
    # Decided 2, 4 and 6 hours after the items were created: the median is 4.
    r = t.review_items
    with engine.begin() as conn:
        decided = conn.execute(sa.select(r.c.id, r.c.created_at).where(
            r.c.status == "approved").order_by(r.c.id)).all()
        for hours, item in zip((2, 6, 4), decided, strict=True):
            conn.execute(r.update().where(r.c.id == item.id).values(
                decided_at=item.created_at + timedelta(hours=hours)))
    add_moderator(engine, "ieper@westhoek.be", "33011")
    add_moderator(engine, "noord@westhoek.be", "32003", "33021")
    add_moderator(engine, "oud@westhoek.be", "38025", active=False)
    return engine


def test_statistics_of_the_catalogue(catalogue, region):
    with catalogue.connect() as conn:
        result = stats.compute(conn, region, NOW)
    assert result.total == 3
    types = {s.key: (s.count, s.percentage) for s in result.activity_types}
    assert list(types) == ["Buddywerking", "Culturele activiteit", "Cursus", "Ontmoeting",
                           "Sportactiviteit", "Uitstap", "Vereniging", "Vrijwilligerswerk",
                           "Workshop", "Andere"]
    assert types["Cursus"] == (2, 66.67) and types["Workshop"] == (1, 33.33)
    assert types["Sportactiviteit"] == (1, 33.33) and types["Uitstap"] == (1, 33.33)
    assert types["Andere"] == (0, 0.0)
    # Several types per activity: the shares add up to more than 100%.
    assert sum(p for _, p in types.values()) > 100
    levels = {s.key: s.count for s in result.language_levels}
    assert levels == {"1": 2, "2": 1, "3": 1, "4": 0}
    places = {s.label: s.count for s in result.municipalities}
    assert len(places) == 17 and places["Ieper"] == 2 and places["Poperinge"] == 1
    assert places["Diksmuide"] == 0  # pending is not published
    assert result.organisations == 2
    assert result.with_moderator == ["Diksmuide", "Ieper", "Poperinge"]
    assert len(result.without_moderator) == 14 and "Veurne" in result.without_moderator
    queues = {s.label: s.count for s in result.queues}
    assert len(queues) == 17 and queues["Diksmuide"] == 1 and sum(queues.values()) == 1
    assert result.median_hours_to_decision == 4.0 and result.decided_items == 3


def test_stats_endpoint_and_csv(catalogue, region, tmp_path: Path):
    with TestClient(create_app(make_app(tmp_path, catalogue, region))) as client:
        body = client.get("/api/stats").json()
    assert body["published_activities"] == 3
    cursus = next(s for s in body["activity_types"] if s["key"] == "Cursus")
    assert cursus == {"key": "Cursus", "label": "Cursus", "count": 2, "percentage": 66.67}
    assert body["moderation"]["median_hours_to_decision"] == 4.0
    assert body["moderation"]["open_items"] == 1
    with catalogue.connect() as conn:
        csv_text = stats.to_csv(stats.compute(conn, region, NOW))
    lines = csv_text.splitlines()
    assert lines[0] == "section,key,label,count,percentage"
    assert "activity_type,Cursus,Cursus,2,66.67" in lines
    assert "municipality,38025,Veurne,0,0.00" in lines


def test_empty_catalogue_has_zeros_not_errors(engine, region):
    with engine.connect() as conn:
        result = stats.compute(conn, region, NOW)
    assert result.total == 0 and result.median_hours_to_decision is None
    assert all(s.percentage == 0.0 for s in result.activity_types)
    assert len(result.without_moderator) == 17
