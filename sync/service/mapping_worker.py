"""The mapping workers' side of `mapping_pool`: what a spawned worker imports, and no more
(its start is paid on every run that maps a large page)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from sync.domain.activity import EncodedJson, MappingError, MappingOutcome, Skipped, hash_of
from sync.domain.catalogue import NewActivity, Provenance
from sync.domain.region import Region
from sync.domain.visibility import is_expired, visible_until

Mapper = Callable[[Any, Region, datetime], MappingOutcome]

# What a worker hands back for one document (None: map it in the sync's own process).
ERROR = "error"  # ("error", message): the mapping refused it
SKIP = "skip"  # ("skip", Skipped)
NEW = "new"  # ("new", NewActivity without its raw document, already over at `as_of`)
Premapped = tuple[Any, ...] | None

_mapper: Mapper | None = None
_region: Region | None = None


def start(mapper: Mapper, region: Region) -> None:
    """The worker's initializer: the mapping and region it maps with."""
    global _mapper, _region
    _mapper, _region = mapper, region
    # Ctrl-C reaches the whole process group: the sync stops its workers itself, after the
    # page in flight (a worker's own KeyboardInterrupt would only print a traceback).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ready() -> None:
    """Nothing: submitted to start the workers ahead of the first page they map."""


def map_texts(texts: list[bytes], as_of: datetime) -> list[Premapped]:
    """What the mapping makes of these documents (their JSON) as of `as_of`."""
    return [_map_one(text, as_of) for text in texts]


def _map_one(text: bytes, as_of: datetime) -> Premapped:
    assert _mapper is not None and _region is not None
    raw = orjson.loads(text)
    try:
        outcome = _mapper(raw, _region, as_of)
    except MappingError as exc:
        return (ERROR, str(exc))
    if isinstance(outcome, Skipped):
        return (SKIP, outcome)
    try:
        # What `to_dict` gives, and the JSON text the version column would write of it.
        blob = orjson.dumps(outcome)
    except (TypeError, orjson.JSONEncodeError):
        return None
    data = orjson.loads(blob)
    new = NewActivity.of(outcome, EncodedJson(blob.decode()), hash_of(data),
                         Provenance(visible_until=visible_until(outcome)))
    return (NEW, new, is_expired(outcome, as_of))
