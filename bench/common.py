"""Shared helpers for the benchmarks and drills: feed, config, databases, measured runs."""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
OUT = BENCH / "out"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLIENT_ID = "bench-client"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def compile_sources() -> None:
    """Byte-compile our packages, as installing them does (`pip install .` compiles what it
    installs, dlt's site-packages included): with PYTHONDONTWRITEBYTECODE set, as on this
    machine, every measured command would otherwise compile them again (0.1 s a start)."""
    for package in ("sync", "connectors", "mappings", "samplefeed"):
        compileall.compile_dir(ROOT / package, quiet=1)


def cli_bin() -> str:
    """Our console script from the project's own venv (dlt never enters it)."""
    for candidate in (ROOT / ".venv" / "bin" / "ikdoemee-sync",
                      Path(sys.executable).parent / "ikdoemee-sync"):
        if candidate.exists():
            return str(candidate)
    return "ikdoemee-sync"


def write_config(path: Path, base_url: str, *, limit: int = 2000, timeout: float = 30,
                 max_attempts: int = 6) -> Path:
    template = (BENCH / "bench.toml").read_text(encoding="utf-8")
    text = (template
            .replace('"../config/', f'"{ROOT / "config"}/')
            .replace("http://127.0.0.1:8765", base_url)
            .replace("limit = 2000", f"limit = {limit}")
            .replace("timeout_seconds = 30", f"timeout_seconds = {timeout}")
            .replace("max_attempts = 6", f"max_attempts = {max_attempts}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- databases

@dataclass
class Database:
    kind: str  # sqlite | postgresql
    url: str
    path: Path | None = None  # SQLite file
    name: str | None = None  # PostgreSQL database
    schema: str | None = None  # PostgreSQL schema (test mode: inside an existing database)

    def size_bytes(self) -> int:
        if self.path is not None:
            return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        eng = sa.create_engine(self.url)
        try:
            with eng.connect() as conn:
                if self.schema:
                    return int(conn.execute(sa.text(
                        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :s AND c.relkind IN ('r', 'm')"),
                        {"s": self.schema}).scalar_one())
                return int(conn.execute(sa.text(
                    "SELECT pg_database_size(current_database())")).scalar_one())
        finally:
            eng.dispose()


@contextmanager
def database(kind: str, tag: str, *, base_url: str | None = None,
             keep: bool = False) -> Iterator[Database]:
    """A fresh empty database: a SQLite file under bench/out, or `CREATE DATABASE bench_…`.

    With `base_url` (a PostgreSQL URL, as the tests' fixture gives) a schema inside that
    database is used instead of a new database.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    token = f"{tag}_{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        directory = Path(base_url) if base_url else OUT
        path = directory / f"{token}.sqlite3"
        try:
            yield Database("sqlite", f"sqlite:///{path}", path=path)
        finally:
            if not keep:
                for p in path.parent.glob(path.name + "*"):
                    p.unlink(missing_ok=True)
        return
    if base_url:
        schema = f"d_{token}".lower()
        admin = sa.create_engine(base_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield Database("postgresql", url.render_as_string(hide_password=False), schema=schema)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        return
    name = f"bench_{token}".lower()
    # pre-ping: a drill may restart the server while the database is in use; the pooled admin
    # connection from CREATE DATABASE is dead then, and DROP DATABASE must not fail on it.
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield Database("postgresql", url, name=name)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --------------------------------------------------------------------------- measured runs

@dataclass
class Measured:
    rc: int
    wall: float
    maxrss_kb: int
    stdout: str
    stderr: str
    cpu_s: float = float("nan")  # user + system CPU of the command (not of a database server)

    def json(self) -> Any:
        return json.loads(self.stdout)


def measured(argv: list[str], env: dict[str, str], *, timeout: float = 1800) -> Measured:
    """Run argv under a fresh wrapper process, so RUSAGE_CHILDREN is this child's alone."""
    wrapper = [sys.executable, str(BENCH / "measure.py"), "--", *argv]
    proc = subprocess.run(wrapper, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    try:
        meta = json.loads(proc.stderr.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"measure wrapper failed: {proc.stderr[-2000:]}") from None
    stderr = "\n".join(proc.stderr.strip().splitlines()[:-1])
    return Measured(meta["rc"], meta["wall"], meta["maxrss_kb"], proc.stdout, stderr,
                    meta.get("cpu_s", float("nan")))


class Cli:
    """`ikdoemee-sync` against one database and one config."""

    def __init__(self, config: Path, db_url: str) -> None:
        self.config = config
        self.env = {**os.environ, "IKDOEMEE_DATABASE_URL": db_url,
                    "BENCH_SAPI_CLIENT_ID": CLIENT_ID}

    def argv(self, *args: str) -> list[str]:
        return [cli_bin(), "--config", str(self.config), *args]

    def run(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)

    def upgrade(self) -> None:
        proc = self.run("db", "upgrade")
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)

    def measured(self, *args: str) -> Measured:
        return measured(self.argv(*args), self.env)


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
