"""Westhoek municipalities the moderation tests use, and events in them."""

from __future__ import annotations

from typing import Any

from tests.builders import make_event

IEPER, POPERINGE, DIKSMUIDE = "33011", "33021", "32003"


def ieper(n: int, **kw: Any) -> dict[str, Any]:
    return make_event(n, postal_code="8900", locality="Ieper", **kw)


def poperinge(n: int, **kw: Any) -> dict[str, Any]:
    return make_event(n, postal_code="8970", locality="Poperinge", **kw)
