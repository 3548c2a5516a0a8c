"""A feed record as the catalogue keeps it: canonical JSON (compact, the source's key order)
and its fingerprint."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import orjson


def canonical_text(raw: Any) -> str:
    """A raw document as stored (and fingerprinted): compact JSON in the source's key order.
    A re-read of the same document gives the same text (SAPI3 serves a document as it was
    indexed). Not sorted: sorting every object's keys cost a page three times the writing, and
    a source that did reorder a document's keys would only have it mapped once more (the
    content hash of what is mapped decides whether anything changed)."""
    try:
        return orjson.dumps(raw).decode()
    except (TypeError, orjson.JSONEncodeError):
        pass  # huge ints, lone surrogates, nesting orjson refuses: the standard library tries
    try:
        return json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(raw)[:100_000]


def canonical_bytes(raw: Any) -> bytes:
    """`canonical_text(raw)` as UTF-8 (lone surrogates kept), without making a str first."""
    try:
        return orjson.dumps(raw)
    except (TypeError, orjson.JSONEncodeError):
        return canonical_text(raw).encode("utf-8", "surrogatepass")


def fingerprint_of(blob: bytes) -> str:
    """The fingerprint of a document's `canonical_bytes`."""
    return hashlib.sha256(blob).hexdigest()


# Between two records in `canonical_many`: a string no document holds (random per process;
# that it is not in a document is checked, not assumed).
_BETWEEN = "ikdoemee-" + uuid.uuid4().hex
_SPLIT = b',"' + _BETWEEN.encode() + b'",'


def canonical_many(records: list[Any]) -> list[bytes]:
    """`canonical_bytes` of each record, made by one orjson call: a call per record of ~2 kB
    cost three times as much (each call's output buffer is grown and copied, and that is
    most of a small document's time). The records are written as one array with a marker
    between them and cut at the markers; were a marker inside a record, the pieces would not
    be one per record, and each is written on its own. Raises orjson.JSONEncodeError as
    orjson does (for a record nested 254 levels deep, in the array: 255 levels)."""
    if not records:
        return []
    spaced: list[Any] = [_BETWEEN] * (2 * len(records) - 1)
    spaced[0::2] = records
    pieces = orjson.dumps(spaced)[1:-1].split(_SPLIT)
    if len(pieces) == len(records):
        return pieces
    return [orjson.dumps(r) for r in records]
