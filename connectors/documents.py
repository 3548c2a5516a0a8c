"""A feed record as the catalogue keeps it: canonical JSON (sorted keys) and its fingerprint."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson


def canonical_text(raw: Any) -> str:
    """A raw document as stored (and fingerprinted): sorted keys, so a re-read of the same
    document gives the same text."""
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        pass  # huge ints, lone surrogates, nesting orjson refuses: the standard library tries
    try:
        return json.dumps(raw, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return repr(raw)[:100_000]


def canonical_bytes(raw: Any) -> bytes:
    """`canonical_text(raw)` as UTF-8 (lone surrogates kept), without making a str first."""
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return canonical_text(raw).encode("utf-8", "surrogatepass")


def fingerprint_of(blob: bytes) -> str:
    """The fingerprint of a document's `canonical_bytes`."""
    return hashlib.sha256(blob).hexdigest()
