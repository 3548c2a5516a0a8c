"""Property-based robustness: hypothesis mutates a rich event; the mapping never crashes."""

from __future__ import annotations

from typing import Any

import pytest

from .mapping_helpers import RICH_EVENT as BASE
from .mapping_helpers import robust_outcome as outcome
from .mapping_helpers import set_path

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

# `make test-fast` loads the "fast" profile (tests/conftest.py): a fifth of the examples.
SCALE = hypothesis.settings().max_examples / 100

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["2030-03-02T19:00:00+01:00", "één taalicoon", "8900", "0000",
                       "Unavailable", "multiple", "monday", "09:00", "base"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.sampled_from(list(BASE)), children, max_size=4),
    max_leaves=12,
)


def all_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += all_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            paths += all_paths(child, (*prefix, i))
    return paths


BASE_PATHS = all_paths(BASE)


@hypothesis.settings(max_examples=round(300 * SCALE), deadline=None)
@hypothesis.given(
    replacements=st.lists(st.tuples(st.sampled_from(BASE_PATHS), json_values), max_size=4)
)
def test_hypothesis_mutations(replacements: list[tuple[tuple[Any, ...], Any]]) -> None:
    doc: Any = BASE
    for path, value in replacements:
        try:
            doc = set_path(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed the path
    outcome(doc)


@hypothesis.settings(max_examples=round(200 * SCALE), deadline=None)
@hypothesis.given(doc=st.dictionaries(st.sampled_from(list(BASE)), json_values, max_size=12))
def test_hypothesis_random_documents(doc: dict[str, Any]) -> None:
    outcome(doc)
