"""Short mode of the fault drills (`bench/drills.py`; `make drills` runs the full ones).

kill -9 at random moments during a sync, then finish it: the catalogue, queues and outbox equal
one clean sync, with no orphans and no doubled open items. A slice of the HTTP fault matrix:
every case ends with the clean catalogue (or fails clearly and the next run resumes).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.drills import http_drill, kill_drill
from tests.conftest import PG_URL_ENV

# End to end (subprocesses, browsers, servers): outside `make test-fast`.
pytestmark = pytest.mark.slow


def _where(database_url: str, tmp_path: Path) -> tuple[str, str]:
    if database_url.startswith("sqlite"):
        return "sqlite", str(tmp_path)
    return "postgresql", os.environ[PG_URL_ENV]


def test_kill_9_at_random_moments_then_finish_equals_one_clean_sync(database_url, tmp_path):
    kind, base = _where(database_url, tmp_path)
    result = kill_drill(kind, 2000, 3, limit=50, max_delay=1.0, base_url=base, seed=5)
    assert result["final_rc"] == 0 and result["final_status"] == "succeeded", result
    assert result["integrity"] == dict.fromkeys(result["integrity"], 0), result["integrity"]
    assert result["equal"], result["diff"]
    assert result["kills_mid_sync"] >= 1, result["attempts"]


def test_http_fault_slice_ends_with_the_clean_catalogue(database_url, tmp_path):
    kind, base = _where(database_url, tmp_path)
    # No timeout case in this slice: a generous client timeout keeps a busy CI machine from
    # turning a slow answer into a fault the case did not inject.
    result = http_drill(kind, 200, limit=40, base_url=base, timeout=15.0, only=[
        "truncated_json", "repeated_previous_page", "burst_503_beyond_retries"])
    for name, case in result["cases"].items():
        assert case["ok"], (name, case)
    burst = result["cases"]["burst_503_beyond_retries"]
    assert burst["runs"][0]["status"] == "failed" and "503" in burst["runs"][0]["error"]
    assert burst["outcome"].startswith("failed clearly")
