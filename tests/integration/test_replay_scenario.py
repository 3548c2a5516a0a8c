"""Scenario: a mapping table misses an event type, the table is fixed, replay fills the queues."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mappings.activity_types import default_type_table
from samplefeed.server import FakeSapi3
from sync import bootstrap
from sync.adapters import tables as t
from sync.domain.activity import MappingError
from sync.domain.region import Region
from tests.builders import event_id, make_event
from tests.support.cli import _restore_logging, invoke  # noqa: F401 - autouse fixture

ROOT = Path(__file__).resolve().parents[2]
CONCERT = "0.50.4.0.0"
REAL_MAPPER = bootstrap.map_uitdatabank


def strict_event_types(raw: Any, region: Region, as_of: datetime) -> Any:
    """The mapping with a strict table lookup: an event type missing from the table is a
    MappingError (the shipped mapping falls back to `Andere`, so the test adds the check)."""
    if isinstance(raw, dict):
        for i, term in enumerate(raw.get("terms") or []):
            if (isinstance(term, dict) and term.get("domain") == "eventtype"
                    and term.get("id") not in default_type_table().event_types):
                raise MappingError(f"terms[{i}].id", f"event type {term.get('id')} is not in "
                                                     "the activity type table")
    return REAL_MAPPER(raw, region, as_of)


def state(engine: Engine) -> dict[str, Any]:
    r, a = t.review_items, t.activities
    with engine.connect() as conn:
        return {
            "queue": sorted(conn.execute(
                sa.select(a.c.source_id, r.c.municipality_nis, r.c.kind, r.c.status)
                .join(a, a.c.id == r.c.activity_id)).all()),
            "versions": conn.execute(
                sa.select(sa.func.count()).select_from(t.activity_versions)).scalar_one(),
            "outbox": conn.execute(sa.select(sa.func.count()).select_from(t.outbox)).scalar_one(),
            "runs": conn.execute(sa.select(sa.func.count()).select_from(t.sync_runs)).scalar_one(),
            "failures": sorted(conn.execute(
                sa.select(t.sync_failures.c.id, t.sync_failures.c.status,
                          t.sync_failures.c.attempts)).all()),
        }


def test_missing_event_type_then_fixed_table_then_replay_all_open(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = [
        make_event(1, event_type=CONCERT),  # Ieper
        make_event(2, event_type=CONCERT, postal_code="8970", locality="Poperinge"),
        make_event(3, event_type=CONCERT, postal_code="8630", locality="Veurne"),
        make_event(4, postal_code="8600", locality="Diksmuide"),  # Lessenreeks: always mapped
    ]
    with FakeSapi3(events) as feed:
        config = tmp_path / "ikdoemee.toml"
        config.write_text("\n".join([
            f'region_file = "{ROOT / "config" / "westhoek_municipalities.json"}"',
            "[[sources]]", 'name = "uitdatabank"', 'connector = "uitdatabank"',
            f'base_url = "{feed.base_url}"', "limit = 2", "max_attempts = 2",
            "backoff_initial_seconds = 0", "backoff_max_seconds = 0",
        ]) + "\n", encoding="utf-8")
        monkeypatch.setenv("IKDOEMEE_DATABASE_URL", database_url)
        monkeypatch.setattr(bootstrap, "map_uitdatabank", strict_event_types)
        cfg = ["--config", str(config)]

        with monkeypatch.context() as broken:
            broken.delitem(default_type_table().event_types, CONCERT)
            run = invoke(*cfg, "sync", "--json")
            assert run["status"] == "partial"
            assert run["counts"]["failed"] == 3 and run["counts"]["created"] == 1
            failures = invoke(*cfg, "failures", "list", "--json")["failures"]
            assert {f["source_id"] for f in failures} == {event_id(1), event_id(2), event_id(3)}
            assert all(f["stage"] == "map" and CONCERT in f["error"] for f in failures)
        # Leaving the context restores the table: the "fix" is deployed.

        report = invoke(*cfg, "failures", "replay", "--all-open", "--json")
        assert (report["resolved"], report["still_failing"]) == (3, 0)
        [replay_run] = report["runs"]
        assert replay_run["status"] == "succeeded" and replay_run["counts"]["created"] == 3
        runs = invoke(*cfg, "runs", "list", "--json")["runs"]
        assert [r["kind"] for r in runs] == ["replay", "incremental"]

        queue = invoke(*cfg, "queue", "list", "--json")["items"]
        assert sorted((i["source_id"], i["municipality"], i["kind"]) for i in queue) == [
            (event_id(1), "Ieper", "new"), (event_id(2), "Poperinge", "new"),
            (event_id(3), "Veurne", "new"), (event_id(4), "Diksmuide", "new")]
        acts = invoke(*cfg, "activities", "list", "--json")["activities"]
        assert len(acts) == 4
        assert all(f["status"] == "resolved"
                   for f in invoke(*cfg, "failures", "list", "--status", "resolved",
                                   "--json")["failures"])

        before = state(engine)
        again = invoke(*cfg, "failures", "replay", "--all-open", "--json")
        assert again == {"runs": [], "resolved": 0, "still_failing": 0, "not_open": 0,
                         "items": []}
        # An incremental sync after the replay finds nothing new either.
        assert invoke(*cfg, "sync", "--json")["counts"]["created"] == 0
        after = state(engine)
        assert after["runs"] == before["runs"] + 1  # only the sync's own run
        assert {k: v for k, v in after.items() if k != "runs"} == {
            k: v for k, v in before.items() if k != "runs"}
