"""Shared fixtures: a real database per test (SQLite, or PostgreSQL when asked), the region."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.engine import Engine, make_url

from sync.adapters import migrate
from sync.adapters.database import make_engine
from sync.adapters.region_file import load_region
from sync.domain.region import Region

if TYPE_CHECKING:
    from tests.support.mail import SmtpSink

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PG_URL_ENV = "IKDOEMEE_TEST_DATABASE_URL"
# Modules whose every test is `slow`: the fast lane (`-m "not slow"`) does not even import them
# (browsers, subprocesses, schemathesis' generated cases cost seconds to collect).
SLOW_ONLY = (ROOT / "tests" / "e2e", ROOT / "tests" / "integration" / "test_api_schemathesis.py")


# `make test-fast` runs property tests with fewer examples (`--hypothesis-profile=fast`).
settings.register_profile("fast", max_examples=20)


def _fast_lane(config: pytest.Config) -> bool:
    return str(config.getoption("markexpr", "")).strip() == "not slow"


def _slow_only(path: Path) -> bool:
    return any(path == slow or slow in path.parents for slow in SLOW_ONLY)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _fast_lane(config) and _slow_only(collection_path):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Keeps SLOW_ONLY honest: a test there without the marker would silently leave the fast lane.
    unmarked = [item.nodeid for item in items
                if _slow_only(item.path) and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError(f"tests in SLOW_ONLY modules must be marked slow: {unmarked[:5]}")


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(PG_URL_ENV)
    if url:
        return f"database: PostgreSQL {url}"
    return f"database: SQLite (set {PG_URL_ENV} for PostgreSQL)"


@pytest.fixture(scope="session")
def region() -> Region:
    return load_region(ROOT / "config" / "westhoek_municipalities.json")


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback that keeps every message it receives."""
    # Imported here: xdist's controller loads this file too but runs no test, and the mail
    # support (aiosmtpd, the App) costs it ~1 s of CPU.
    from tests.support.mail import smtp_sink

    yield from smtp_sink()


@pytest.fixture(scope="session")
def sqlite_folder() -> Iterator[Path]:
    """Where this session's SQLite files live: in memory (/dev/shm) when the machine has it."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="ikdoemee-tests-",
                                   dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_sqlite(sqlite_folder: Path) -> Path:
    """One SQLite file migrated to head per session (per worker); each test gets a copy."""
    path = sqlite_folder / "migrated.sqlite3"
    eng = make_engine(f"sqlite:///{path}")
    migrate.upgrade(eng)
    eng.dispose()  # the last connection checkpoints the WAL: the file alone is the database
    return path


def _sqlite_files(path: Path) -> tuple[Path, Path, Path]:
    return path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


@pytest.fixture(scope="session")
def sqlite_path(sqlite_folder: Path) -> Path:
    """Where each SQLite test's database lives, one test after the other (per worker)."""
    return sqlite_folder / "test.sqlite3"


@pytest.fixture(scope="session")
def sqlite_engine(sqlite_path: Path) -> Iterator[Engine]:
    """One engine for every SQLite test of the session (per worker), disposed after each test.

    A fresh engine has a fresh dialect, and SQLAlchemy keeps its compiled statements and type
    processors per dialect: every test would compile its SQL again (about a tenth of the fast
    lane's CPU). The database file under it is still new for each test (`engine`).
    """
    eng = make_engine(f"sqlite:///{sqlite_path}")
    yield eng
    eng.dispose()


@pytest.fixture
def database_url(sqlite_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or its own schema on the PostgreSQL server."""
    pg = os.environ.get(PG_URL_ENV)
    if not pg:
        for leftover in _sqlite_files(sqlite_path):
            leftover.unlink(missing_ok=True)
        yield f"sqlite:///{sqlite_path}"
        for leftover in _sqlite_files(sqlite_path):
            leftover.unlink(missing_ok=True)
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(pg)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database (on SQLite a copy of the session's migrated file under the shared
    engine: same schema)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), url.database)
        eng: Engine = request.getfixturevalue("sqlite_engine")
    else:
        eng = make_engine(database_url)
        migrate.upgrade(eng)
    yield eng
    eng.dispose()  # the shared SQLite engine keeps its caches, not its connections to this file
