"""Named cross-process locks: PostgreSQL session advisory locks; SQLite runs single-instance."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine

log = structlog.get_logger()


def source_lock(name: str) -> str:
    """The lock every sync of source `name` holds: the daemon's jobs and the CLI alike."""
    return f"source:{name}"


def supports_locks(engine: Engine) -> bool:
    """Only PostgreSQL can coordinate several daemons; SQLite is one process by design."""
    return engine.dialect.name == "postgresql"


def lock_key(schema: str, name: str) -> int:
    """A stable signed int64 for `pg_try_advisory_lock`.

    The schema is part of the key because advisory locks are per database, not per schema:
    two deployments (or two test schemas) on one database must not block each other.
    """
    digest = hashlib.sha256(f"ikdoemee-sync:{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def try_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True when this process holds the lock `name` for the block, False when another does.

    The lock is held by a dedicated connection for the whole block, so it is released when
    the block ends or, should the process die, when PostgreSQL closes the session.
    """
    if not supports_locks(engine):
        yield True
        return
    conn = engine.connect()
    got = False
    try:
        key = _key(conn, name)
        got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one())
        # End the implicit transaction now: an idle-in-transaction session would hold snapshots.
        conn.commit()
        yield got
    finally:
        try:
            if got:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_key(conn, name))))
                conn.commit()
        except Exception as exc:  # never return a connection that may still hold the lock
            log.warning("advisory unlock failed; dropping the connection", lock=name,
                        error=repr(exc))
            conn.invalidate()
        finally:
            conn.close()


def _key(conn: Connection, name: str) -> int:
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    return lock_key(str(schema), name)
