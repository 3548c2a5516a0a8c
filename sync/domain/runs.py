"""Sync runs and their counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNNING = "running"
SUCCEEDED = "succeeded"
PARTIAL = "partial"
FAILED = "failed"
# A completed run read the whole source (a partial one counts its bad records as failures
# separately): health and the daemon's "synced this tick already" both mean this.
COMPLETED = (SUCCEEDED, PARTIAL)

STAGE_FETCH = "fetch"
STAGE_MAP = "map"
STAGE_STORE = "store"


@dataclass(slots=True)
class RunCounts:
    """What one run did, record by record."""

    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "withdrawn": self.withdrawn,
            "skipped": dict(sorted(self.skipped.items())),
            "failed": self.failed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunCounts:
        return cls(
            fetched=data.get("fetched", 0),
            created=data.get("created", 0),
            updated=data.get("updated", 0),
            unchanged=data.get("unchanged", 0),
            withdrawn=data.get("withdrawn", 0),
            failed=data.get("failed", 0),
            skipped=dict(data.get("skipped", {})),
        )


def final_status(counts: RunCounts, error: str | None) -> str:
    """Failed when the run could not finish; partial when some records failed."""
    if error is not None:
        return FAILED
    return PARTIAL if counts.failed else SUCCEEDED
