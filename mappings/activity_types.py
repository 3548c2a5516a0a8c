"""The term → activity type table (data in activity_types.toml), read once and kept immutable."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sync.domain.activity import ACTIVITY_TYPES

FALLBACK_ACTIVITY_TYPE = "Andere"
_KNOWN_MAX = 4096  # remembered combinations of event type and themes, per table
DEFAULT_FILE = "activity_types.toml"


class TypeTableError(ValueError):
    """The table file is unusable; the message names the row and the problem."""


@dataclass(frozen=True, slots=True)
class TermRow:
    id: str
    label: str
    types: tuple[str, ...]
    generic: bool
    reason: str


@dataclass(frozen=True, slots=True)
class TypeTable:
    """Event types and themes → catalogue types, facility names, and a version of it all."""

    event_types: Mapping[str, TermRow]
    themes: Mapping[str, TermRow]
    facilities: Mapping[str, str]
    version: str  # changes whenever the table's content changes
    # Answers of `activity_types` by its arguments: a feed has few combinations of event type
    # and themes, and the table never changes.
    _known: dict[tuple[str | None, tuple[str, ...]], tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def activity_types(self, event_type_id: str | None,
                       theme_ids: Iterable[str]) -> tuple[str, ...]:
        """Catalogue types in ACTIVITY_TYPES order; ("Andere",) when nothing matches.

        Themes add a type only to a generic event type (or to an event without one): a
        lecture about creativity is no workshop.
        """
        key = (event_type_id, tuple(theme_ids))
        found = self._known.get(key)
        if found is None:
            found = self._activity_types(*key)
            if len(self._known) < _KNOWN_MAX:
                self._known[key] = found
        return found

    def _activity_types(self, event_type_id: str | None,
                        theme_ids: tuple[str, ...]) -> tuple[str, ...]:
        row = self.event_types.get(event_type_id) if event_type_id else None
        found = set(row.types) if row else set()
        if row is None or row.generic:
            added = {t for tid in theme_ids if (th := self.themes.get(tid)) for t in th.types}
            if added:
                found = (found - {FALLBACK_ACTIVITY_TYPE}) | added
        if not found:
            return (FALLBACK_ACTIVITY_TYPE,)
        return tuple(t for t in ACTIVITY_TYPES if t in found)

    def event_type_label(self, event_type_id: str | None) -> str | None:
        row = self.event_types.get(event_type_id) if event_type_id else None
        return row.label if row else None


def _rows(data: dict[str, Any], key: str, origin: str) -> dict[str, TermRow]:
    out: dict[str, TermRow] = {}
    for i, raw in enumerate(data.get(key, [])):
        where = f"{origin}: {key}[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise TypeTableError(f"{where}: needs an `id`")
        types = raw.get("types")
        if not isinstance(types, list) or not types:
            raise TypeTableError(f"{where} ({raw['id']}): needs a non-empty `types` list")
        unknown = [t for t in types if t not in ACTIVITY_TYPES]
        if unknown:
            raise TypeTableError(f"{where} ({raw['id']}): unknown activity type "
                                 f"{unknown[0]!r}; known: {', '.join(ACTIVITY_TYPES)}")
        if not str(raw.get("reason") or "").strip():
            raise TypeTableError(f"{where} ({raw['id']}): say why, in `reason`")
        if raw["id"] in out:
            raise TypeTableError(f"{where}: {raw['id']} appears twice")
        out[raw["id"]] = TermRow(raw["id"], str(raw.get("label") or raw["id"]),
                                 tuple(types), bool(raw.get("generic", False)),
                                 str(raw["reason"]))
    return out


def parse_type_table(content: bytes, origin: str) -> TypeTable:
    """A table from the bytes of a TOML file; `origin` names it in errors."""
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TypeTableError(f"{origin}: {exc}") from exc
    facilities = {str(f["id"]): str(f["label"]) for f in data.get("facility", [])
                  if isinstance(f, dict) and "id" in f and "label" in f}
    return TypeTable(
        event_types=_rows(data, "eventtype", origin),
        themes=_rows(data, "theme", origin),
        facilities=facilities,
        version=hashlib.sha256(content).hexdigest()[:16],
    )


def load_type_table(path: Path | None = None) -> TypeTable:
    """The table from `path`, or the one shipped with the package."""
    if path is None:
        return default_type_table()
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise TypeTableError(f"{path}: {exc.strerror or exc}") from exc
    return parse_type_table(content, str(path))


@cache
def default_type_table() -> TypeTable:
    content = resources.files("mappings").joinpath(DEFAULT_FILE).read_bytes()
    return parse_type_table(content, DEFAULT_FILE)
