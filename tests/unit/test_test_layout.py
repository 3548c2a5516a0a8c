"""No test module imports another: shared fixtures and helpers live in tests/support."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _is_test_module(dotted: str) -> bool:
    ours = dotted.startswith(".") or dotted.split(".")[0] == "tests"
    return ours and dotted.rsplit(".", 1)[-1].startswith("test_")


def imports_of_test_modules(source: str) -> list[str]:
    """The test modules a module's source imports, by dotted name (relative ones start with '.')."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if _is_test_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if _is_test_module(base):
                found.append(base)
                continue
            # `from tests.e2e import test_x` and `from . import test_x` name the module itself.
            joined = [base + ("." if node.module else "") + a.name for a in node.names]
            found += [name for name in joined if _is_test_module(name)]
    return found


def test_the_scanner_finds_every_way_of_importing_a_test_module() -> None:
    source = "\n".join([
        "import tests.integration.test_notify",
        "from tests.integration.test_notify import world",
        "from tests.e2e import test_moderation_browser",
        "from . import test_links",
        "from .mapping_helpers import minimal_event",
        "from tests.conftest import PG_URL_ENV",
        "from tests.support.mail import world as world",
        "import pytest",
    ])
    assert imports_of_test_modules(source) == [
        "tests.integration.test_notify", "tests.integration.test_notify",
        "tests.e2e.test_moderation_browser", ".test_links"]


def test_no_test_module_imports_another() -> None:
    offenders = {str(path.relative_to(TESTS)): found
                 for path in sorted(TESTS.rglob("test_*.py"))
                 if (found := imports_of_test_modules(path.read_text(encoding="utf-8")))}
    assert offenders == {}, "move shared fixtures and helpers to tests/support"
