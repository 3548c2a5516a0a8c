"""Unit of work: one database transaction; rolled back unless committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.engine import Connection, Engine

from sync.adapters.database import READ_ONLY, begin_replayable
from sync.adapters.moderation import LinkRepository, ModeratorRepository, ReviewRepository
from sync.adapters.repository import CatalogueRepository, OutboxRepository, RunRepository


class UnitOfWork:
    """`with uow:` opens a transaction; leaving without `commit()` rolls it back."""

    catalogue: CatalogueRepository
    outbox: OutboxRepository
    runs: RunRepository
    reviews: ReviewRepository
    moderators: ModeratorRepository
    links: LinkRepository

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._replayable = False
        self._read_only = False
        self._restore: Callable[[], None] | None = None

    def read_only(self) -> UnitOfWork:
        """The transaction only reads: on SQLite it takes no write lock (plain BEGIN), so it
        neither waits for nor holds up the writer."""
        self._read_only = True
        return self

    def replayable(self) -> UnitOfWork:
        """The transaction holds only what reading the source again restores (a sync page
        with its cursor): its commit need not wait for the disk (`begin_replayable`)."""
        self._replayable = True
        return self

    def __enter__(self) -> UnitOfWork:
        self._conn = self.engine.connect()
        if self._read_only:
            self._conn.execution_options(**{READ_ONLY: True})
        if self._replayable:
            self._restore = begin_replayable(self._conn)
        else:
            self._conn.begin()
        self.catalogue = CatalogueRepository(self._conn)
        self.outbox = OutboxRepository(self._conn)
        self.runs = RunRepository(self._conn)
        self.reviews = ReviewRepository(self._conn)
        self.moderators = ModeratorRepository(self._conn)
        self.links = LinkRepository(self._conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
            if self._restore is not None:
                self._restore()
        except BaseException:
            if self._restore is not None:
                self._conn.invalidate()  # never back into the pool still relaxed
            raise
        finally:
            self._restore = None
            self._conn.close()
            self._conn = None

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside `with`"
        return self._conn

    def commit(self) -> None:
        self.connection.commit()
        self.connection.begin()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Roll back only this block on error (one record), keeping the page's transaction."""
        nested = self.connection.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            raise
        else:
            nested.commit()
