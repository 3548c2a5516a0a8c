"""Canonical bytes of a page's records: one orjson call for the page gives, record for record,
what writing each record alone gives, markers in documents included."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from connectors import documents
from connectors.documents import canonical_bytes, canonical_many

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

MARKER = documents._BETWEEN

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False) | st.text(max_size=12)
    | st.sampled_from([MARKER, f',"{MARKER}",', "café", "\u2028", "},{", '"', "\\"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.just(MARKER), children, max_size=4),
    max_leaves=16,
)


@hypothesis.given(st.lists(json_values, max_size=12))
def test_one_call_for_the_page_writes_each_record_as_alone(records: list[Any]) -> None:
    assert canonical_many(records) == [canonical_bytes(r) for r in records]


@pytest.mark.parametrize("records", [
    [],
    [{"@id": "x"}],
    [MARKER],  # a record that is the marker itself
    [{"a": 1}, MARKER, {"b": [MARKER, MARKER]}, MARKER],  # markers where the cuts would be
    [{"list": [1, MARKER, 2]}, {"z": 1, "a": {"é": "ë"}}],
])
def test_markers_inside_records_do_not_move_the_cuts(records: list[Any]) -> None:
    assert canonical_many(records) == [canonical_bytes(r) for r in records]


def test_keys_keep_the_documents_order_and_text_is_utf8() -> None:
    assert canonical_many([{"b": 1, "a": {"d": "é", "c": None}}, [2, 1]]) == [
        '{"b":1,"a":{"d":"é","c":null}}'.encode(), b"[2,1]"]


def test_what_orjson_refuses_raises_as_orjson_does() -> None:
    with pytest.raises(orjson.JSONEncodeError):
        canonical_many([{"ok": 1}, {"n": 2**70}])
    deep: Any = 1
    for _ in range(254):  # 254 levels alone; in the page's array 255
        deep = [deep]
    assert canonical_bytes(deep).startswith(b"[[[")
    with pytest.raises(orjson.JSONEncodeError):
        canonical_many([deep])
