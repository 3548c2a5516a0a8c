"""Limits at the web edge: id and day ranges, body size, absolute URLs from base_url."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field

# Ids are INTEGER columns: on PostgreSQL a larger number is not a missing row but an error.
MAX_ID = 2**31 - 1
# A day filter outside this span means nothing here, and the far ends overflow datetime
# arithmetic (9999-12-31 + 1 day) or time-zone conversion (0001-01-01 in Brussels).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
MAX_PAGE = 100_000
# Admin bodies are a list of ids or a reason: a megabyte is far more than any real one.
MAX_BODY_BYTES = 1024 * 1024

IdPath = Annotated[int, Path(ge=0, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=0, le=MAX_ID)]
# In a JSON body: a real integer (not `true`, not "1") in range.
StrictId = Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _out_of_range(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", field),
                                    "msg": message, "input": None}])


def check_days(lo: date | None, hi: date | None, names: tuple[str, str] = ("date_from", "date_to")
               ) -> None:
    """422 for a day outside FIRST_DAY..LAST_DAY, or a range that ends before it starts."""
    for name, day in zip(names, (lo, hi), strict=True):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise _out_of_range(name, f"choose a day between {FIRST_DAY} and {LAST_DAY}")
    if lo is not None and hi is not None and lo > hi:
        raise _out_of_range(names[1], f"ends before {names[0]} begins ({hi} < {lo})")


def parse_day(value: str) -> date:
    """An ISO day in FIRST_DAY..LAST_DAY; ValueError otherwise (forms show their own text)."""
    day = date.fromisoformat(value)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(value)
    return day


def absolute_url(base_url: str, request: Request, **params: Any) -> str:
    """This request's path and query with `params` changed, on `[web] base_url`: the Host
    header is the client's to choose, so it never makes a link."""
    query = dict(request.query_params)
    query.update({k: str(v) for k, v in params.items()})
    return f"{base_url.rstrip('/')}{request.url.path}?{urlencode(query)}"
