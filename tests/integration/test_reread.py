"""A re-read of documents we already mapped costs no mapping; what changed is still mapped."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import Cursor
from sync.adapters import tables as t
from sync.bootstrap import map_uitdatabank
from sync.domain.activity import MappingOutcome, hash_of
from sync.domain.region import Region
from sync.service import review_view
from sync.service.sync_source import SyncService, sync_source
from tests.builders import Clock, StaticConnector, changed, make_event
from tests.support.apps import make_app


class CountingMapper:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, raw: Any, region: Region, as_of: datetime) -> MappingOutcome:
        self.calls.append(str(raw["@id"]).rsplit("/", 1)[-1])
        return map_uitdatabank(raw, region, as_of)


def service(app: Any, mapper: CountingMapper, version: str) -> SyncService:
    return SyncService(app.config.sources[0].name, app.region, mapper, app.clock,
                       mapping_version=version, review_diff=review_view.diff)


def full(app: Any, svc: SyncService, docs: list[dict[str, Any]]) -> Any:
    return sync_source(app.uow, StaticConnector([docs]), svc, kind="full",
                       start_cursor=Cursor())


def versions(engine: Engine) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(t.activity_versions)
        return int(conn.execute(query).scalar_one())


def test_a_full_reread_maps_only_what_changed_or_what_time_moved(
        engine: Engine, region: Region, tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(tmp_path, engine, region, now=clock)
    soon = make_event(1, start="2026-11-26T18:00:00+01:00", end="2026-11-26T20:00:00+01:00")
    later = make_event(2)
    third = make_event(3)
    mapper = CountingMapper()
    first = full(app, service(app, mapper, "v1"), [soon, later, third])
    assert first.counts.created == 3 and len(mapper.calls) == 3
    stored = versions(engine)

    # Nothing changed: nothing is mapped, all three count as unchanged, no new version.
    mapper.calls.clear()
    again = full(app, service(app, mapper, "v1"), [soon, later, third])
    assert mapper.calls == []
    assert again.counts.unchanged == 3 and again.counts.fetched == 3
    assert versions(engine) == stored

    # One document changed at the source: only that one is mapped (and gets a version).
    mapper.calls.clear()
    edited = changed(third, name={"nl": "Nieuwe titel"}, modified="2026-11-21T10:00:00+00:00")
    result = full(app, service(app, mapper, "v1"), [soon, later, edited])
    assert mapper.calls == [edited["@id"].rsplit("/", 1)[-1]]
    assert result.counts.updated == 1 and result.counts.unchanged == 2

    # The first event's date passed: its stored next date is behind, so it is mapped again.
    clock.advance(days=2)
    mapper.calls.clear()
    full(app, service(app, mapper, "v1"), [soon, later, edited])
    assert mapper.calls == [soon["@id"].rsplit("/", 1)[-1]]

    # A new mapping version re-maps everything once, quietly (no version where nothing a
    # moderator sees changed), and the next re-read is cheap again.
    mapper.calls.clear()
    before = versions(engine)
    bumped = full(app, service(app, mapper, "v2"), [later, edited])
    assert len(mapper.calls) == 2 and bumped.counts.unchanged == 2
    assert versions(engine) == before
    mapper.calls.clear()
    full(app, service(app, mapper, "v2"), [later, edited])
    assert mapper.calls == []


def test_orjson_hash_is_byte_identical_to_the_standard_library() -> None:
    def reference(data: dict[str, Any]) -> str:
        content = {k: v for k, v in data.items() if k not in ("modified", "next_occurrence")}
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    as_of = Clock()()
    from tests.builders import make_event as ev
    region_docs = [ev(n, title=title) for n, title in enumerate(
        ["Koffie & klap", "Ça va? Ünïcödé — 🎭", 'quote " and \\ back', "2e verdieping"])]
    samples: list[dict[str, Any]] = []
    from sync.adapters.region_file import load_region
    region = load_region(Path(__file__).resolve().parents[2] / "config"
                         / "westhoek_municipalities.json")
    for doc in region_docs:
        act = map_uitdatabank(doc, region, as_of)
        samples.append(act.to_dict())  # type: ignore[union-attr]
    samples += [
        {"price": 12.5, "z": 1, "a": [0.1, 1e16, 1e22, 123456789.123, -0.5, 3.0]},
        {"tiny": 1e-05, "tinier": 0.00012, "nested": {"b": None, "a": True, "c": "\u00e9"}},
        {"big": 2**70, "keys": {"é": 1, "e": 2, "E": 3}, "modified": "x"},
        {"ctl": "line\nbreak\ttab\u2028sep\u0001"},
    ]
    for data in samples:
        assert hash_of(data) == reference(data)
