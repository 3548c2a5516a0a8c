"""The catalogue commands in-process: remap with an own type table, queue approve, --state."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from samplefeed.server import FakeSapi3
from sync.entrypoints.cli import app as cli_app
from tests.builders import event_id, make_event
from tests.support.cli import _restore_logging, invoke  # noqa: F401 - autouse fixture

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "mappings" / "activity_types.toml"



def write_config(tmp_path: Path, base_url: str, types_file: str | None = None) -> Path:
    lines = [
        f'region_file = "{ROOT / "config" / "westhoek_municipalities.json"}"',
        "[[sources]]", 'name = "uitdatabank"', 'connector = "uitdatabank"',
        f'base_url = "{base_url}"', "limit = 5", "max_attempts = 2",
        "backoff_initial_seconds = 0", "backoff_max_seconds = 0",
    ]
    if types_file:
        lines += ["[catalogue]", f'activity_types_file = "{types_file}"']
    path = tmp_path / "ikdoemee.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_remap_with_an_own_table_then_approve_from_the_terminal(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IKDOEMEE_DATABASE_URL", database_url)
    docs = [make_event(1, event_type="0.3.2.0.0", title="Lezing over de Westhoek"),
            make_event(2, event_type="0.50.4.0.0", title="Concert"),
            make_event(3, title="Vorig jaar", start="2025-02-01T18:00:00+01:00",
                       end="2025-02-01T20:00:00+01:00")]
    with FakeSapi3(docs) as feed:
        cfg = ["--config", str(write_config(tmp_path, feed.base_url))]
        invoke(*cfg, "db", "upgrade")
        run = invoke(*cfg, "sync", "--json")
        assert run["counts"]["created"] == 3
    assert {a["source_id"] for a in invoke(*cfg, "activities", "list", "--state", "expired",
                                           "--json")["activities"]} == {event_id(3)}
    queue = invoke(*cfg, "queue", "list", "--json")["items"]
    assert sorted(i["source_id"] for i in queue) == [event_id(1), event_id(2)]
    done = invoke(*cfg, "queue", "approve", "--all", "--as", "regio@westhoek.be", "--json")
    assert len(done["decided"]) == 2 and done["skipped"] == []
    assert invoke(*cfg, "queue", "list", "--json")["items"] == []

    # The region's own table: a lecture counts as a course. Only that activity changes.
    own = tmp_path / "types.toml"
    own.write_text(TABLE.read_text(encoding="utf-8").replace(
        'label = "Lezing of congres"\ntypes = ["Andere"]',
        'label = "Lezing of congres"\ntypes = ["Cursus"]'), encoding="utf-8")
    cfg = ["--config", str(write_config(tmp_path, "http://127.0.0.1:9", str(own)))]
    remap = invoke(*cfg, "remap", "--json")
    assert remap["status"] == "succeeded"
    assert (remap["counts"]["updated"], remap["counts"]["unchanged"]) == (1, 2)
    queue = invoke(*cfg, "queue", "list", "--json")["items"]
    assert [(i["source_id"], i["kind"]) for i in queue] == [(event_id(1), "changed")]
    # A second remap finds nothing new to show.
    again = invoke(*cfg, "remap", "--json")
    assert again["counts"]["updated"] == 0
    # Approving an item that is not open says so and fails.
    invoke(*cfg, "queue", "approve", "999", code=1)


def test_a_broken_type_table_stops_the_program_with_the_key(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IKDOEMEE_DATABASE_URL", database_url)
    bad = tmp_path / "types.toml"
    bad.write_text('[[eventtype]]\nid = "0.3.2.0.0"\ntypes = ["Lezing"]\nreason = "x"\n',
                   encoding="utf-8")
    cfg = ["--config", str(write_config(tmp_path, "http://127.0.0.1:9", str(bad)))]
    result = CliRunner().invoke(cli_app, [*cfg, "activities", "list"])
    assert result.exit_code == 2
    assert "catalogue.activity_types_file" in result.stderr
    assert "unknown activity type 'Lezing'" in result.stderr
