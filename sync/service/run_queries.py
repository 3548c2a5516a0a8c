"""Read rules about sync runs for the entrypoints: "completed run" (health, the daemon)."""

from __future__ import annotations

from sync.adapters.queries.runs import completed_since, last_completed_at, ping

__all__ = ["completed_since", "last_completed_at", "ping"]
