"""The figures /metrics exposes, read in one pass: runs, items, failures, queues, outbox."""

from __future__ import annotations

from sync.adapters.queries.metrics import Figures, figures

__all__ = ["Figures", "figures"]
