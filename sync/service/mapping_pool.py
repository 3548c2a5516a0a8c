"""Worker processes that map the new documents of a large page while the page before it is
stored: the mapping is most of a sync's CPU, and Python runs it on one core per process."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog

from sync.domain.region import Region
from sync.service.mapping_worker import Mapper, Premapped, map_texts, ready, start

log = structlog.get_logger()

# From this many new documents in a page on, the page goes to the workers: below it the
# hand-over costs more than it saves (and an incremental run never starts a worker).
MIN_DOCUMENTS = 200


def worker_count() -> int:
    """Workers for this machine: every core but the one the sync itself runs on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(0, cores - 1)


@dataclass
class Handed:
    """The documents of one page handed to the workers, mapped as of `as_of`."""

    as_of: datetime
    indices: list[int]  # positions in the page
    futures: list[Future[list[Premapped]]]
    sizes: list[int]

    def results(self) -> dict[int, Premapped]:
        """Position in the page → what the worker made of it (waits for the workers)."""
        out: dict[int, Premapped] = {}
        start = 0
        for future, size in zip(self.futures, self.sizes, strict=True):
            try:
                chunk = future.result()
            except Exception:  # noqa: BLE001 - a broken worker: the sync maps them itself
                chunk = [None] * size
            out.update(zip(self.indices[start:start + size], chunk, strict=True))
            start += size
        return out


class MappingPool:
    """`workers` processes started at the first large page (spawned: a clean interpreter,
    nothing of the parent's threads or connections), stopped by `close`."""

    def __init__(self, mapper: Mapper, region: Region, workers: int,
                 min_documents: int = MIN_DOCUMENTS) -> None:
        self.mapper = mapper
        self.region = region
        self.workers = workers
        self.min_documents = min_documents
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        self.handed = 0  # documents handed to the workers (for the tests and the bench)

    def hand(self, records: Sequence[Any], indices: list[int], as_of: datetime,
             canonical: Sequence[bytes] | None = None) -> Handed | None:
        """Send these records (positions in the page) to the workers; None: the sync maps
        them itself (the pool is closed, or its workers are only starting). `canonical`: the
        records' canonical bytes, sent as they are (the mapping reads keys by name, so their
        order does not change what it makes)."""
        if self._closed:
            return None
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=start, initargs=(self.mapper, self.region))
            # A spawned worker needs a few tenths of a second (a fresh interpreter importing
            # the mapping) before it maps anything: the sync maps this first page meanwhile,
            # the workers the pages after it.
            try:
                for _ in range(self.workers):
                    self._executor.submit(ready)
            except BrokenProcessPool:
                self.close()
            return None
        kept, texts = [], []
        for i in indices:
            if canonical is not None:
                texts.append(canonical[i])
            else:
                try:
                    texts.append(orjson.dumps(records[i]))
                except (TypeError, orjson.JSONEncodeError):
                    continue  # beyond orjson (huge integers): mapped by the sync itself
            kept.append(i)
        step = -(-len(texts) // self.workers)
        chunks = [texts[k:k + step] for k in range(0, len(texts), step)]
        try:
            futures = [self._executor.submit(map_texts, chunk, as_of) for chunk in chunks]
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the sync maps the rest itself.
            log.warning("mapping workers broken; mapping in the sync process")
            self.close()
            return None
        self.handed += len(texts)
        return Handed(as_of, kept, futures, [len(c) for c in chunks])

    @property
    def started(self) -> bool:
        return self._executor is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the workers (the run is over); later hand-overs are refused."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
