"""Property-based tests of the public and admin APIs generated from `/openapi.json`
(schemathesis): whatever a client sends, no 500 and no answer outside the documented schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine

from sync.adapters.region_file import load_region
from sync.bootstrap import App
from sync.domain.region import Region
from sync.entrypoints.web.app import create_app
from sync.settings import EnvSettings, load_config
from tests.builders import make_event
from tests.support.apps import ROOT, approve_open, failing_for, make_app, sync_docs

# Some 1 000 generated requests: the slow lane (`make test`) runs them, `make test-fast` does not.
pytestmark = pytest.mark.slow

TOKEN = "schemathesis-admin-token-0123456789abcdef"
# Enough to find the classic faults (ranges, types, odd strings) in every operation while the
# whole run stays a few seconds per database; CI runs it on SQLite and on PostgreSQL.
EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
cases: dict[str, int] = {}


def _openapi() -> dict[str, Any]:
    """The document as served; building the app connects to nothing (the routes are static)."""
    config = load_config(ROOT / "config" / "ikdoemee.toml")
    app = App(config=config, env=EnvSettings(), engine=sa.create_engine("sqlite://"),
              region=load_region(config.region_file))
    return create_app(app).openapi()


schema = schemathesis.openapi.from_dict(_openapi()).include(path_regex=r"^/api/")


@pytest.fixture
def api(engine: Engine, region: Region, tmp_path: Path) -> Iterator[Any]:
    """The app with something in every list: published activities, runs, open failures."""
    sync_docs(engine, region, [make_event(n) for n in range(1, 4)])
    approve_open(engine)
    sync_docs(engine, region, [make_event(7), make_event(8)], failing_for(8))
    app = make_app(tmp_path, engine, region, admin_token=TOKEN)
    yield create_app(app)
    app.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_holds_its_schema(case: Any, api: Any) -> None:
    key = case.operation.label
    cases[key] = cases.get(key, 0) + 1
    case.call_and_validate(app=api, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def test_zz_schemathesis_ran_every_operation(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the property test in this module: it covered every operation, and the case
    count is reported (`pytest -s` shows it)."""
    if not cases:
        pytest.skip("run together with test_api_holds_its_schema")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # xdist spreads the operations over workers; `make test` runs them in one process.
        pytest.skip("the count needs every operation in one process (run without -n)")
    assert len(cases) >= 10 and all(n >= 1 for n in cases.values())
    with capsys.disabled():
        print(f"\nschemathesis: {sum(cases.values())} cases over {len(cases)} operations")
