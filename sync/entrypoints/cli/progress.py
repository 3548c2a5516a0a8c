"""A progress bar on stderr for a person at a terminal, and a connector that advances it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from connectors.base import Cursor, Page

Advance = Callable[[int, int | None], None]


class _Feed(Protocol):
    name: str

    def pages(self, cursor: Cursor) -> Iterator[Page]: ...

    def fetch_one(self, source_id: str) -> Any: ...


def show_progress(as_json: bool) -> bool:
    """A bar only for a person at a terminal: never in --json mode or into a pipe."""
    return not as_json and sys.stdout.isatty()


def _no_progress(n: int, total: int | None = None) -> None:
    return None


@contextmanager
def progress_bar(enabled: bool, description: str, total: int | None = None) -> Iterator[Advance]:
    """Yields advance(n, total): drawn on stderr with rich, or a no-op when not enabled."""
    if not enabled:
        yield _no_progress
        return
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int, new_total: int | None = None) -> None:
            bar.advance(task, n)
            done = bar.tasks[0].completed
            if new_total is not None or (bar.tasks[0].total or 0) < done:
                # Totals from the source are estimates per query: never let the bar run over.
                bar.update(task, total=max(done, new_total or 0, bar.tasks[0].total or 0))

        yield advance


class ProgressConnector:
    """Wraps a connector so each page stored advances the bar (the generator resumes only
    after the sync engine committed the page)."""

    def __init__(self, inner: _Feed, advance: Advance) -> None:
        self.inner = inner
        self.name = inner.name
        self._advance = advance
        self._total: int | None = None

    def pages(self, cursor: Cursor) -> Iterator[Page]:
        for page in self.inner.pages(cursor):
            yield page
            if self._total is None and page.total is not None:
                self._total = page.total
                self._advance(len(page.records), page.total)
            else:
                self._advance(len(page.records), None)

    def fetch_one(self, source_id: str) -> Any:
        return self.inner.fetch_one(source_id)
