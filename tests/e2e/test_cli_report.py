"""`report`, `stats snapshot|coverage` and `report outreach|link` as subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow


def test_snapshot_report_and_coverage(cli, feed, tmp_path: Path):  # noqa: F811
    cli.json("sync")
    first = cli.json("stats", "snapshot")["snapshot"]
    assert first["totals"]["pending"] == 40 and first["public"] == 0
    day = first["day"]
    doc = json.loads(cli("report", "--from", day, "--to", day, "--format", "json").stdout)
    assert doc["activities"] == 0 and doc["period"] == {"from": day, "to": day}
    out = tmp_path / "rapport.html"
    cli("report", "--from", day, "--to", day, "--format", "html", "-o", str(out))
    assert "<svg" in out.read_text(encoding="utf-8")
    feed.requests.clear()
    coverage = cli.json("stats", "coverage")["coverage"]
    assert coverage["requests"] == 34 == len(feed.requests)
    assert coverage["with_taalicoon"] == coverage["upcoming_events"] == 40
    listing = cli.json("report", "outreach", "--refresh")
    assert listing["organizers"] == []  # every organizer of the feed has taaliconen
    # `stats` itself still prints the statistics (it became a group for `snapshot`).
    assert cli("stats", "--format", "csv").stdout.startswith("section,key,label")


def test_report_usage_errors(cli):  # noqa: F811
    assert "give the period" in cli("report", check=2).stderr
    assert "before it starts" in cli("report", "--from", "2026-02-01", "--to", "2026-01-01",
                                     check=2).stderr
    assert "not a coordinator" in cli("report", "link", "x@y.be", check=2).stderr
