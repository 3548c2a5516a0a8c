"""Shared fixtures: a real database per test (SQLite, or PostgreSQL when asked), the region."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from sync.adapters import migrate
from sync.adapters.database import make_engine
from sync.adapters.region_file import load_region
from sync.domain.region import Region

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PG_URL_ENV = "IKDOEMEE_TEST_DATABASE_URL"


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(PG_URL_ENV)
    if url:
        return f"database: PostgreSQL {url}"
    return f"database: SQLite (set {PG_URL_ENV} for PostgreSQL)"


@pytest.fixture(scope="session")
def region() -> Region:
    return load_region(ROOT / "config" / "westhoek_municipalities.json")


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or its own schema on the PostgreSQL server."""
    pg = os.environ.get(PG_URL_ENV)
    if not pg:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
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
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database."""
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()
