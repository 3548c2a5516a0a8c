"""Pure mapping of one UiTdatabank SAPI3 JSON-LD event to a NormalisedActivity or a Skipped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mappings.activity_types import TypeTable, default_type_table
from mappings.uitdatabank.assembly import Mapper
from mappings.uitdatabank.html import plain_text, sanitise_html
from sync.domain.activity import MappingError, NormalisedActivity, Skipped
from sync.domain.region import Region

__all__ = ["MAPPING_VERSION", "DocumentMapper", "mapping_version", "plain_text",
           "sanitise_html", "to_activity"]

# Bump when the code's output changes for the same input; the type table has its own version.
# Together they say whether a stored activity was mapped by today's rules.
MAPPING_VERSION = "3"  # 3: language maps in language order (not the document's key order)


def mapping_version(types: TypeTable | None = None) -> str:
    return f"{MAPPING_VERSION}.{(types or default_type_table()).version}"


def to_activity(
    doc: Mapping[str, Any], region: Region, *, as_of: datetime, types: TypeTable | None = None
) -> NormalisedActivity | Skipped:
    """Normalise one SAPI3 event document; raises only MappingError (with the field path)."""
    mapper = Mapper(region, types or default_type_table())
    try:
        return mapper.run(doc, as_of)
    except MappingError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sync records a failure, it must never crash
        raise MappingError(mapper.at, f"unexpected {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class DocumentMapper:
    """`to_activity` with a type table, called as the sync calls a mapper; a plain class of
    this package, so a worker process receives it without loading the application."""

    types: TypeTable | None = None

    def __call__(self, doc: Mapping[str, Any], region: Region,
                 as_of: datetime) -> NormalisedActivity | Skipped:
        return to_activity(doc, region, as_of=as_of, types=self.types)
