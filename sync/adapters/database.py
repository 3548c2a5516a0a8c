"""Creates the SQLAlchemy engine for SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url


class DatabaseUrlError(ValueError):
    """IKDOEMEE_DATABASE_URL cannot be used."""


# Execution option of a connection that only reads (the public pages): on SQLite its
# transaction begins deferred, so readers share the WAL instead of queueing for the write lock.
READ_ONLY = "ikdoemee_read_only"

HINT = "e.g. postgresql+psycopg://user:password@host:5432/ikdoemee or sqlite:///data/ikdoemee.sqlite3"


def json_text(value: Any) -> str:
    """JSON for a JSON column: orjson (the standard library costs a few percent of a sync);
    what orjson refuses (huge integers, lone surrogates) is written by the standard library."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False)


def json_value(text: str | bytes) -> Any:
    """A JSON column's value; older rows may hold what only the standard library reads
    (NaN)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


POOL_SIZE = 16


def make_engine(url: str, *, create_folder: bool = False, **kwargs: Any) -> Engine:
    """The engine for IKDOEMEE_DATABASE_URL; a URL that cannot work is refused with a hint.

    `create_folder` makes the SQLite file's folder when missing (only for the default URL: a
    typo in a configured path must not quietly start an empty database elsewhere)."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseUrlError(f"IKDOEMEE_DATABASE_URL: not a database URL: {url!r}; {HINT}"
                               ) from exc
    kwargs.setdefault("json_serializer", json_text)
    # The web part answers from a pool of threads: with SQLAlchemy's default 5 kept
    # connections, a burst of 8 public requests opens and closes extra ones on every request
    # (a new PostgreSQL backend each time; on SQLite a cold page cache), which shows as
    # the slowest answers. Connections are opened only as many as are used at once.
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("json_deserializer", json_value)
    backend = parsed.get_backend_name()
    if backend == "postgres":
        raise DatabaseUrlError("IKDOEMEE_DATABASE_URL: SQLAlchemy does not know postgres://; "
                               "write postgresql+psycopg:// instead")
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(
            f"IKDOEMEE_DATABASE_URL: {backend!r} is not supported; use sqlite or postgresql "
            f"({HINT})"
        )
    if backend == "postgresql":
        if parsed.drivername not in ("postgresql", "postgresql+psycopg"):
            raise DatabaseUrlError(
                f"IKDOEMEE_DATABASE_URL: driver {parsed.drivername!r} is not installed; "
                "write postgresql+psycopg:// (psycopg 3)")
        parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)
    _check_sqlite_path(parsed.database, parsed.query, create_folder)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
    _sqlite_proper_transactions(engine)
    return engine


def _check_sqlite_path(database: str | None, query: Any, create_folder: bool) -> None:
    if not database or database == ":memory:" or "memory" in str(query.get("mode", "")):
        # Every command is its own process: an in-memory database vanishes when it ends.
        raise DatabaseUrlError("IKDOEMEE_DATABASE_URL: an in-memory SQLite database is gone "
                               f"when the command ends; give a file, {HINT}")
    path = Path(database)
    folder = path.parent
    if path.is_dir():
        raise DatabaseUrlError(f"IKDOEMEE_DATABASE_URL: {path} is a folder; name a file in it")
    if not folder.is_dir():
        if not create_folder:
            raise DatabaseUrlError(f"IKDOEMEE_DATABASE_URL: folder {folder} does not exist; "
                                   "create it first or fix the path")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUrlError(f"IKDOEMEE_DATABASE_URL: cannot create folder {folder}: "
                                   f"{exc.strerror or exc}") from exc


def _sqlite_proper_transactions(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself
    # (the recipe from SQLAlchemy's SQLite dialect documentation).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer takes the lock at BEGIN (no deadlock between two upgrading readers); a
        # reader must not, or every page view waits for every other one.
        read_only = conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def begin_replayable(conn: Connection) -> Callable[[], None]:
    """Begin a transaction whose commit need not wait for the disk; return what restores the
    connection once its transactions are over.

    For a sync page and its cursor: committed together, so a crash of the machine that loses
    the last commits loses page and cursor together, and the next run reads the page again.
    Never corruption: SQLite's WAL with `synchronous=NORMAL` and PostgreSQL's
    `synchronous_commit=off` stay consistent. A process crash (kill -9) loses nothing on
    either. Everything else (a moderator's decision, the outbox) keeps waiting for the disk.
    """
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        # SQLite refuses to change it inside a transaction: set before BEGIN, restore after.
        before = int(raw.execute("PRAGMA synchronous").fetchone()[0])
        raw.execute("PRAGMA synchronous=NORMAL")
        conn.begin()

        def restore() -> None:
            raw.execute(f"PRAGMA synchronous={before}")

        return restore
    conn.begin()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    return lambda: None
