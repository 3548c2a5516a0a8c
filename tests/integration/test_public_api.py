"""Public catalogue API: published activities at their approved version, filters, JSON-LD."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from sync.adapters import tables as t
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from tests.builders import changed, event_id, make_event
from tests.support.apps import approve_open, make_app, sync_docs


def catalogue_events() -> list[dict[str, Any]]:
    return [
        make_event(1, title="Praatcafé Ieper"),  # Cursus, level 1, 1 Feb 2027
        make_event(2, title="Wandeling in Poperinge", postal_code="8970", locality="Poperinge",
                   event_type="0.17.0.0.0", labels=("twee taaliconen",),
                   start="2027-03-10T10:00:00+01:00", end="2027-03-10T12:00:00+01:00"),
        make_event(3, title="Kookworkshop", postal_code="8600", locality="Diksmuide",
                   event_type="0.3.1.0.1", labels=("drie taaliconen",),
                   start="2027-01-15T19:00:00+01:00", end="2027-01-15T21:00:00+01:00"),
        make_event(4, title="Nog niet beslist"),  # stays pending: never public
    ]


@pytest.fixture
def client(engine: Engine, region: Region, tmp_path: Path) -> Iterator[TestClient]:
    sync_docs(engine, region, catalogue_events())
    approve_open(engine, 1, 2, 3)
    with TestClient(create_app(make_app(tmp_path, engine, region))) as c:
        yield c


def titles(body: dict[str, Any]) -> list[str]:
    return [i["title"] for i in body["items"]]


def test_lists_only_published_activities_soonest_first(client):
    body = client.get("/api/activities").json()
    assert body["total"] == 3
    assert titles(body) == ["Kookworkshop", "Praatcafé Ieper", "Wandeling in Poperinge"]
    first = body["items"][0]
    assert first["municipality"] == {"nis": "32003", "name": "Diksmuide"}
    assert first["activity_types"] == ["Cursus", "Workshop"]
    assert first["language_levels"] == [3]
    assert first["jsonld"].endswith(f"/api/activities/{first['id']}.jsonld")


@pytest.mark.parametrize(("params", "expected"), [
    ({"municipality": "Poperinge"}, ["Wandeling in Poperinge"]),
    ({"municipality": "33011"}, ["Praatcafé Ieper"]),
    ({"activity_type": "workshop"}, ["Kookworkshop"]),
    ({"activity_type": "Sportactiviteit"}, ["Wandeling in Poperinge"]),
    # "Up to my level": level 2 finds the level-1 and level-2 activities, not level 3.
    ({"language_level": 2}, ["Praatcafé Ieper", "Wandeling in Poperinge"]),
    ({"language_level": 1}, ["Praatcafé Ieper"]),
    ({"language_level": 4}, ["Kookworkshop", "Praatcafé Ieper", "Wandeling in Poperinge"]),
    ({"date_from": "2027-02-01", "date_to": "2027-02-01"}, ["Praatcafé Ieper"]),
    ({"date_from": "2027-02-02"}, ["Wandeling in Poperinge"]),
    ({"date_to": "2027-01-31"}, ["Kookworkshop"]),
    ({"q": "praatcafé"}, ["Praatcafé Ieper"]),
    ({"q": "oefenen SESSIE 3"}, ["Kookworkshop"]),
    ({"q": "conversation 2"}, ["Wandeling in Poperinge"]),  # French title, searched too
    ({"municipality": "Diksmuide", "language_level": 2}, []),
])
def test_filters(client, params, expected):
    assert titles(client.get("/api/activities", params=params).json()) == expected


def test_pagination_with_total_and_links(client):
    one = client.get("/api/activities", params={"per_page": 2, "q": ""}).json()
    assert (one["total"], one["pages"], len(one["items"])) == (3, 2, 2)
    assert one["links"]["prev"] is None and "page=2" in one["links"]["next"]
    two = client.get(one["links"]["next"]).json()
    assert titles(two) == ["Wandeling in Poperinge"] and two["links"]["next"] is None
    assert "page=1" in two["links"]["prev"] and "page=1" in two["links"]["first"]
    beyond = client.get("/api/activities", params={"page": 9, "per_page": 2}).json()
    assert beyond["items"] == [] and beyond["total"] == 3


def test_bad_filters_are_json_problems(client):
    resp = client.get("/api/activities", params={"municipality": "Brugge"})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "unknown municipality 'Brugge'" in resp.json()["detail"]
    assert client.get("/api/activities", params={"language_level": 9}).status_code == 422
    assert client.get("/api/activities", params={"per_page": 1000}).status_code == 422
    assert client.get("/api/activities", params={"activity_type": "Fuif"}).status_code == 422


def test_language_of_texts_with_dutch_fallback(client):
    item = client.get("/api/activities", params={"lang": "fr", "q": "Ieper"}).json()["items"][0]
    assert item["title"] == "Café de conversation 1" and item["language"] == "fr"
    # No French description in the source: the Dutch one is served.
    assert item["description"] == "Kom Nederlands oefenen, sessie 1."
    assert item["translations"]["title"] == {"nl": "Praatcafé Ieper",
                                             "fr": "Café de conversation 1"}
    en = client.get(f"/api/activities/{item['id']}", params={"lang": "en"}).json()
    assert en["title"] == "Praatcafé Ieper" and en["language"] == "nl"


def test_one_activity_and_404_for_what_is_not_published(client, engine):
    listed = client.get("/api/activities").json()["items"][0]
    one = client.get(f"/api/activities/{listed['id']}").json()
    assert one == listed
    with engine.connect() as conn:
        pending_id = conn.execute(sa.select(t.activities.c.id).where(
            t.activities.c.source_id == event_id(4))).scalar_one()
    resp = client.get(f"/api/activities/{pending_id}")
    assert resp.status_code == 404 and resp.json()["title"] == "Not Found"
    assert client.get("/api/activities/99999.jsonld").status_code == 404


def test_published_activity_is_served_at_its_approved_version(client, engine, region):
    sync_docs(engine, region, [changed(make_event(1, title="Nieuwe titel, nog niet goedgekeurd"),
                                       modified="2026-11-22T10:00:00+00:00")])
    assert "Praatcafé Ieper" in titles(client.get("/api/activities").json())
    approve_open(engine, 1)
    assert "Nieuwe titel, nog niet goedgekeurd" in titles(client.get("/api/activities").json())


def test_jsonld_is_a_schema_org_event(client):
    item = client.get("/api/activities", params={"q": "Kookworkshop"}).json()["items"][0]
    resp = client.get(f"/api/activities/{item['id']}.jsonld")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith(
        "application/ld+json")
    doc = resp.json()
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Event"
    assert doc["@id"] == f"https://ikdoemee.example/api/activities/{item['id']}"
    assert doc["name"] == "Kookworkshop" and doc["inLanguage"] == "nl"
    assert doc["description"] == "Kom Nederlands oefenen, sessie 3."
    assert doc["startDate"] == "2027-01-15T18:00:00+00:00"
    assert doc["endDate"] == "2027-01-15T20:00:00+00:00"
    assert doc["eventStatus"] == "https://schema.org/EventScheduled"
    assert doc["location"] == {
        "@type": "Place", "name": "Bibliotheek",
        "address": {"@type": "PostalAddress", "streetAddress": "Weverijstraat 1",
                    "postalCode": "8600", "addressLocality": "Diksmuide",
                    "addressRegion": "Diksmuide", "addressCountry": "BE"}}
    assert doc["offers"] == {"@type": "Offer", "name": "Basistarief", "price": 0.0,
                             "priceCurrency": "EUR"}
    assert doc["organizer"] == {"@type": "Organization", "name": "Vzw Taal",
                                "identifier": "aaaa"}
    assert doc["url"] == ("https://www.uitinvlaanderen.be/agenda/e/kookworkshop/"
                          + event_id(3))
    assert doc["audience"] == {"@type": "Audience", "audienceType": "everyone"}
    assert doc["keywords"] == ["Cursus", "Workshop"]
    same = client.get(f"/api/activities/{item['id']}", params={"format": "jsonld"})
    assert same.json() == doc
    fr = client.get(f"/api/activities/{item['id']}.jsonld", params={"lang": "fr"}).json()
    assert fr["name"] == "Café de conversation 3" and fr["inLanguage"] == "fr"


def test_postponed_event_has_the_schema_org_status(engine, region, tmp_path):
    sync_docs(engine, region, [make_event(9, status="TemporarilyUnavailable")])
    approve_open(engine)
    with TestClient(create_app(make_app(tmp_path, engine, region))) as c:
        item = c.get("/api/activities").json()["items"][0]
        doc = c.get(f"/api/activities/{item['id']}.jsonld").json()
    assert doc["eventStatus"] == "https://schema.org/EventPostponed"


def test_dutch_listing_page_with_the_same_filters(client):
    page = client.get("/activiteiten")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="nl-BE">' in html and "We vonden 3 activiteiten." in html
    assert 'name="viewport"' in html and "<script" not in html and "http://" not in html.replace(
        "http://testserver", "")
    # An empty GET form sends every field empty: that is "no filter", not an error.
    empty = client.get("/activiteiten", params={"gemeente": "", "type": "", "taalniveau": "",
                                                 "van": "", "tot": "", "q": ""})
    assert "We vonden 3 activiteiten." in empty.text
    filtered = client.get("/activiteiten", params={"gemeente": "33021", "taalniveau": "2"}).text
    assert "We vonden 1 activiteit." in filtered and "Wandeling in Poperinge" in filtered
    assert '<option value="33021" selected>' in filtered
    bad = client.get("/activiteiten", params={"taalniveau": "zeven"}).text
    assert "Kies een taalniveau van 1 tot 4." in bad and "We vonden 3 activiteiten." in bad
    assert "Je begrijpt of spreekt nog weinig Nederlands." in html


def test_openapi_describes_public_and_admin_apis(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in ("/api/activities", "/api/activities/{activity_id}",
                 "/api/activities/{activity_id}.jsonld", "/api/stats", "/api/admin/runs",
                 "/api/admin/runs/{run_id}", "/api/admin/failures",
                 "/api/admin/failures/{failure_id}", "/api/admin/failures/replay",
                 "/api/admin/failures/{failure_id}/ignore", "/api/admin/outbox",
                 "/api/admin/outbox/retry"):
        assert path in paths, path
    assert "404" in paths["/api/activities/{activity_id}"]["get"]["responses"]
    assert "401" in paths["/api/admin/runs"]["get"]["responses"]
    assert "Problem" in doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    tags = {tag for p in paths.values() for op in p.values() for tag in op.get("tags", [])}
    assert {"public catalogue", "admin", "statistics"} <= tags
