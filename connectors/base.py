"""What every connector offers: pages of raw records, each with the cursor after it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


def source_id_of(at_id: Any) -> str | None:
    """The event id: last path segment of `@id` (works for `/event/` and `/events/`)."""
    if not isinstance(at_id, str):
        return None
    segment = at_id.rstrip("/").rsplit("/", 1)[-1]
    return segment or None


@dataclass(frozen=True, slots=True)
class Cursor:
    """Incremental position: the last `modified` second read, and the ids read at that second.

    The cursor is inclusive: the next read starts at `modified` again and skips `seen`, so
    events sharing one second are neither lost nor read twice.
    """

    modified: str | None = None
    seen: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        return {"modified": self.modified, "seen": sorted(self.seen)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Cursor:
        if not data:
            return cls()
        return cls(modified=data.get("modified"), seen=frozenset(data.get("seen") or ()))


@dataclass(frozen=True, slots=True)
class Page:
    """Raw records from one response, and the cursor to store once they are stored."""

    records: list[Any]
    cursor: Cursor
    total: int | None = None
    # The records came from strict JSON (no NaN, no integer beyond 64 bits), so writing them
    # with orjson and reading them back gives them exactly (what a worker process maps).
    reencodable: bool = False
    # The records' canonical bytes (`connectors.documents`), when the connector made them
    # already (None: the sync makes them).
    canonical: Sequence[bytes] | None = None


class Connector(Protocol):
    """A feed. `pages` yields pages after `cursor`; the caller commits each page's cursor."""

    name: str

    def pages(self, cursor: Cursor) -> Iterator[Page]: ...

    def fetch_one(self, source_id: str) -> dict[str, Any] | None: ...


class ConnectorError(Exception):
    """Base of connector errors."""


class FatalSourceError(ConnectorError):
    """Retrying will not help (401, 403, 404, bad query): the run fails with this message."""

    def __init__(self, status: int, title: str, detail: str | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        msg = f"HTTP {status}: {title}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class TransientSourceError(ConnectorError):
    """The source kept failing after all retries (timeouts, 5xx, 429, broken pages)."""


class UnreadablePage(ConnectorError):
    """The source answered with a body we refuse to read (nested too deep to be a real page).

    Retrying gives the same body: the run records it as a failure of stage `fetch` with `raw`
    (the body as text, cut at a sane length) and stops at the cursor before it."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw
