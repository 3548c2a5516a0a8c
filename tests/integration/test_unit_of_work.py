"""A sync page's transaction does not wait for the disk; every other transaction does."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.service.unit_of_work import UnitOfWork


def _durability(uow: UnitOfWork) -> str:
    conn = uow.connection
    if conn.dialect.name == "sqlite":
        level = conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
        return {0: "off", 1: "normal", 2: "full", 3: "extra"}[int(level)]
    return str(conn.exec_driver_sql("SHOW synchronous_commit").scalar_one())


def test_only_a_replayable_transaction_skips_waiting_for_the_disk(engine: Engine) -> None:
    waits = "full" if engine.dialect.name == "sqlite" else "on"
    relaxed = "normal" if engine.dialect.name == "sqlite" else "off"
    with UnitOfWork(engine) as uow:
        assert _durability(uow) == waits
    for _ in range(3):  # the pooled connection comes back as it was, each time
        with UnitOfWork(engine).replayable() as uow:
            assert _durability(uow) == relaxed
            uow.connection.execute(sa.text("SELECT 1"))
            uow.commit()
        with UnitOfWork(engine) as uow:
            assert _durability(uow) == waits


def test_a_failed_replayable_transaction_restores_the_connection_too(engine: Engine) -> None:
    waits = "full" if engine.dialect.name == "sqlite" else "on"
    try:
        with UnitOfWork(engine).replayable() as uow:
            uow.connection.execute(sa.text("SELECT 1"))
            raise RuntimeError("page failed")
    except RuntimeError:
        pass
    with UnitOfWork(engine) as uow:
        assert _durability(uow) == waits
