"""UiTdatabank Search API v3 connector: taalicoon events in the region, paged by `modified`."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx
import orjson
import structlog
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from connectors.base import (
    Cursor,
    FatalSourceError,
    Page,
    TransientSourceError,
    UnreadablePage,
    source_id_of,
)
from connectors.documents import canonical_many
from connectors.paging import KeysetPaging, Request

# Every default filter is overridden: deletions, rejections, drafts, availability changes,
# foreign addresses and member-only audiences must all reach us so we can withdraw activities.
DEFAULT_FILTER_OVERRIDES: dict[str, str] = {
    "workflowStatus": "*",
    "availableFrom": "*",
    "availableTo": "*",
    "addressCountry": "*",
    "audienceType": "*",
}
# SAPI3 leaves UiTPAS and kansentarief prices out of `priceInfo` unless asked.
EMBED_PARAMS: dict[str, str] = {"embed": "true", "embedUitpasPrices": "true"}

# A SAPI3 page nests about ten levels (page, member, event, calendar, subEvent, ...); a body far
# deeper is hostile or broken, and deep JSON ends in a RecursionError wherever it is walked.
# orjson writes up to 254 levels and refuses deeper: a page whose member list it writes (as the
# sync needs them anyway, `connectors.documents`) is at most 255 deep, checked at no extra cost.
MAX_JSON_DEPTH = 255
# What of such a body a failure row keeps: enough to see what came, not a flood.
MAX_RAW_BYTES = 1_000_000

# Id-only pages (no `embed`) are small; SAPI3's largest page.
_ID_PAGE_LIMIT = 2000
# Events fetched in full per request when the reconciliation found them new.
_FETCH_BATCH = 50

log = structlog.get_logger()


class _RetryableResponse(Exception):
    """A response worth retrying (5xx, 429, broken body); carries what the log and error need."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def parse_modified(value: Any) -> datetime | None:
    """Parse a SAPI3 date-time to an aware UTC datetime truncated to the second, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # SAPI3 always sends an offset; a naive value is most likely UTC from a test double.
        parsed = parsed.replace(tzinfo=UTC)
    elif parsed.utcoffset() or parsed.tzinfo is not UTC:
        parsed = parsed.astimezone(UTC)
    # The server compares at second precision, so a fractional part belongs to its second.
    # (Each member's key goes through here: no new object when none is needed.)
    return parsed.replace(microsecond=0) if parsed.microsecond else parsed


def format_modified(value: datetime) -> str:
    """The one cursor form: UTC, second precision, `+00:00` offset (also what we send)."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def normalise_modified(value: str) -> str:
    """Normalise a stored cursor value; raise ValueError for garbage so a bad cursor is loud."""
    parsed = parse_modified(value)
    if parsed is None:
        raise ValueError(f"cursor.modified is not an ISO 8601 date-time: {value!r}")
    return format_modified(parsed)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def postal_query(postal_codes: Sequence[str]) -> str:
    """The Lucene `q` clause: located in one of these postal codes."""
    return r"address.\*.postalCode:(" + " OR ".join(postal_codes) + ")"


def build_query(labels: Sequence[str], postal_codes: Sequence[str]) -> str:
    """The Lucene `q`: any taalicoon label AND a postal code of the region."""
    label_clause = "labels:(" + " OR ".join(_quote(label) for label in labels) + ")"
    return f"{label_clause} AND {postal_query(postal_codes)}"


def _retry_after_seconds(header: str | None) -> float | None:
    if not header:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def written(body: Any, members: bool) -> tuple[bool, list[bytes] | None]:
    """Whether a parsed body nests deeper than MAX_JSON_DEPTH, and (`members`) the canonical
    bytes of its members. orjson writes a value up to 254 levels deep: when it writes the
    members (as one array) and the rest of the body, the body is at most 255 deep, and
    walking it is not needed. What it refuses (too deep, a lone surrogate) is measured."""
    found = body.get("member") if members and isinstance(body, dict) else None
    try:
        if not isinstance(found, list):
            orjson.dumps(body)
            return False, None
        blobs = canonical_many(found)
        orjson.dumps({key: value for key, value in body.items() if key != "member"})
    except orjson.JSONEncodeError:
        return nested_deeper(body, MAX_JSON_DEPTH), None
    return False, blobs


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether JSON nests more than `limit` arrays/objects deep (iterative: no recursion).

    Level by level, looking only at containers: every page passes through here, and a page
    holds some 200 000 values (a stack of every value took 27 ms a page, this 7). Parsed
    JSON holds plain dicts and lists only, hence `type` rather than `isinstance`.
    """
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1  # of the containers in `level`
        if depth > limit:
            return True
        inner: list[Any] = []
        append = inner.append
        for node in level:
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    append(child)
        level = inner
    return False


class UitdatabankConnector:
    """Reads SAPI3 `/events` in `modified` order with an inclusive keyset cursor."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        name: str,
        postal_codes: Sequence[str],
        labels: Sequence[str],
        limit: int = 200,
        window: int = 10000,
        max_attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not postal_codes:
            raise ValueError("postal_codes must not be empty")
        if not labels:
            raise ValueError("labels must not be empty")
        if limit < 1 or limit > window:
            raise ValueError(f"limit must be between 1 and window ({window}), got {limit}")
        self.name = name
        self._client = client
        self._postal_codes = tuple(postal_codes)
        self._labels = tuple(labels)
        self._limit = limit
        self._window = window
        self._max_attempts = max_attempts
        self._backoff = wait_random_exponential(multiplier=backoff_initial, max=backoff_max)
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._retry_after_max = retry_after_max
        self._sleep = sleep
        self._query = build_query(self._labels, self._postal_codes)
        # HTTP requests sent (retries included): what a measurement costs the source.
        self.request_count = 0
        # Whether the last body was strict JSON (see `Page.reencodable`).
        self.strict_json = False

    # ---------------------------------------------------------------- public API

    def pages(self, cursor: Cursor) -> Iterator[Page]:
        """Yield pages of new records after `cursor`; each page carries the cursor after it."""
        return _Pass(self, cursor).run()

    def fetch_one(self, source_id: str) -> dict[str, Any] | None:
        """The current document of one event (whatever its status), or None when unknown."""
        params: dict[str, str | int] = {
            **DEFAULT_FILTER_OVERRIDES,
            "q": f"id:{source_id}",
            **EMBED_PARAMS,
            "limit": 1,
        }
        body = self.get_collection(params)
        for member in body["member"]:
            if isinstance(member, dict) and source_id_of(member.get("@id")) == source_id:
                return member
        return None

    def ids(self, expected: int | None = None) -> set[str]:
        """Every event id the query returns now (whatever its status), from id-only pages:
        without `embed` SAPI3 answers `@id`s, about 100 bytes a member. One query while the
        result fits the window, else one per postal code; a postal code beyond the window
        raises FatalSourceError (the caller then falls back to a full read).

        `expected`: how many ids the caller expects (the catalogue's count, say). Beyond the
        window it goes to the postal codes at once: the whole query's first page would be
        thrown away (2 000 ids, and a search over the whole region). The postal codes' ids
        together are the whole query's, so a wrong guess costs requests, not ids."""
        if expected is None or expected <= self._window:
            found = self._ids(self._query)
            if found is not None:
                return found
        result: set[str] = set()
        for postal_code in self._postal_codes:
            part = self._ids(build_query(self._labels, [postal_code]))
            if part is None:
                raise FatalSourceError(0, "Result window exceeded",
                                       f"{self.name}: more than {self._window} events in "
                                       f"postal code {postal_code}")
            result |= part
        return result

    def _ids(self, query: str) -> set[str] | None:
        """The ids of one query, or None when it holds more than the window allows."""
        found: set[str] = set()
        start = 0
        while True:
            limit = min(_ID_PAGE_LIMIT, self._window - start)
            # Creation order does not shift while we page (unlike `modified`).
            body = self.get_collection({"q": query, **DEFAULT_FILTER_OVERRIDES,
                                        "sort[created]": "asc", "start": start, "limit": limit})
            total = body.get("totalItems") if isinstance(body.get("totalItems"), int) else None
            if total is not None and total > self._window:
                return None
            members = body["member"]
            for member in members:
                sid = source_id_of(member.get("@id")) if isinstance(member, dict) else None
                if sid is not None:
                    found.add(sid)
            start += len(members)
            if not members or len(members) < limit or (total is not None and start >= total):
                return found
            if start >= self._window:
                return None

    def fetch_many(self, source_ids: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
        """The current documents of these events, a batch per request (`id:(a OR b …)`);
        ids the source no longer knows are left out."""
        for i in range(0, len(source_ids), _FETCH_BATCH):
            batch = list(source_ids[i:i + _FETCH_BATCH])
            params: dict[str, str | int] = {
                **DEFAULT_FILTER_OVERRIDES,
                "q": "id:(" + " OR ".join(batch) + ")",
                **EMBED_PARAMS,
                "start": 0,
                "limit": len(batch),
            }
            body = self.get_collection(params)
            wanted = set(batch)
            yield [m for m in body["member"]
                   if isinstance(m, dict) and source_id_of(m.get("@id")) in wanted]

    @property
    def labels(self) -> tuple[str, ...]:
        """The taalicoon labels this connector asks for."""
        return self._labels

    def count(self, postal_codes: Sequence[str], *, with_labels: bool) -> int:
        """How many events UiT shows now in these postal codes (with a taalicoon label when
        `with_labels`): `totalItems` of a `limit=0` request, so no document is transferred.
        SAPI3's default filters stay on on purpose: approved, available now, in Belgium,
        for everyone, which is the upcoming public offer."""
        query = (build_query(self._labels, postal_codes) if with_labels
                 else postal_query(postal_codes))
        body = self.get_collection({"q": query, "start": 0, "limit": 0})
        total = body.get("totalItems")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise TransientSourceError(f"{self.name}: a count answered without a usable "
                                       f"totalItems ({total!r})")
        return total

    def browse(self, postal_codes: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every event UiT shows now in these postal codes, embedded, oldest created first
        (creation order does not shift while we page, unlike `modified`)."""
        query = postal_query(postal_codes)
        start = 0
        while True:
            limit = min(self._limit, self._window - start)
            if limit <= 0:
                raise FatalSourceError(0, "Result window exceeded",
                                       f"{self.name}: more than {self._window} events in "
                                       f"postal codes {', '.join(postal_codes)}")
            body = self.get_collection({"q": query, "embed": "true", "sort[created]": "asc",
                                        "start": start, "limit": limit})
            members = body["member"]
            yield from (m for m in members if isinstance(m, dict))
            total = body.get("totalItems") if isinstance(body.get("totalItems"), int) else None
            if not members or len(members) < limit or (
                    total is not None and start + len(members) >= total):
                return
            start += len(members)

    # ---------------------------------------------------------------- HTTP

    def search_params(
        self,
        *,
        start: int,
        limit: int,
        modified_from: str | None,
        modified_to: str | None = None,
        postal_codes: Sequence[str] | None = None,
    ) -> dict[str, str | int]:
        """Query parameters of one `/events` page."""
        query = self._query if postal_codes is None else build_query(self._labels, postal_codes)
        params: dict[str, str | int] = {
            "q": query,
            **EMBED_PARAMS,
            "sort[modified]": "asc",
            **DEFAULT_FILTER_OVERRIDES,
            "start": start,
            "limit": limit,
        }
        if modified_from is not None:
            params["modifiedFrom"] = modified_from
        if modified_to is not None:
            params["modifiedTo"] = modified_to
        return params

    def get_collection(self, params: dict[str, str | int]) -> dict[str, Any]:
        """GET /events with retries; return a PagedCollection body or raise a ConnectorError."""
        return self._get(params).body

    def _get(self, params: dict[str, str | int], *, canonical: bool = False) -> _Response:
        """`get_collection`; `canonical`: with its members' canonical bytes (for a page)."""
        retrying = Retrying(
            retry=retry_if_exception_type(
                (
                    httpx.TimeoutException,
                    httpx.TransportError,
                    httpx.DecodingError,
                    _RetryableResponse,
                )
            ),
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=False,
        )
        try:
            return retrying(self._get_once, params, canonical)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise TransientSourceError(
                f"{self.name}: GET /events failed after {self._max_attempts} attempts "
                f"(start={params.get('start')}, modifiedFrom={params.get('modifiedFrom')}); "
                f"last error: {_describe(last)}"
            ) from last

    def _get_once(self, params: dict[str, str | int], canonical: bool = False) -> _Response:
        self.request_count += 1
        response = self._client.get("/events", params=params)
        content = response.content
        # The response and its stream refer to each other, so the body (megabytes) would
        # wait for the garbage collector; without the cycle it goes as soon as it is parsed.
        response.stream = httpx.ByteStream(b"")
        status = response.status_code
        if status == 429 or status >= 500:
            raise _RetryableResponse(
                f"HTTP {status} {response.reason_phrase}".strip(),
                status=status,
                retry_after=_retry_after_seconds(response.headers.get("retry-after")),
            )
        if status >= 300:
            title, detail = _problem(response)
            raise FatalSourceError(status, title, detail)
        try:
            body, self.strict_json = _loads(content)
        except RecursionError:
            body = None  # deeper than the interpreter's stack: too deep, by far
        except (ValueError, UnicodeDecodeError) as exc:
            raise _RetryableResponse(
                f"unparseable JSON body ({len(content)} bytes): {exc}", status=status
            ) from exc
        deep, blobs = (True, None) if body is None else written(body, canonical)
        if deep:
            raise UnreadablePage(
                f"{self.name}: GET /events answered JSON nested deeper than {MAX_JSON_DEPTH} "
                f"levels ({len(content)} bytes; start={params.get('start')}, "
                f"modifiedFrom={params.get('modifiedFrom')}); the page is recorded as a "
                "failure and the next run reads it again",
                content[:MAX_RAW_BYTES].decode("utf-8", errors="replace"))
        if not isinstance(body, dict) or not isinstance(body.get("member"), list):
            raise _RetryableResponse("body is not a PagedCollection (no member list)", status)
        if body.get("@type", "PagedCollection") != "PagedCollection":
            raise _RetryableResponse(f"body @type is {body.get('@type')!r}", status)
        return _Response(body, blobs)

    def _wait(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _RetryableResponse) and exc.retry_after is not None:
            # The server told us when; backing off less would be rude, more would be slow.
            return min(exc.retry_after, self._retry_after_max)
        return float(self._backoff(retry_state))

    def _log_retry(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else None
        params = retry_state.args[0] if retry_state.args else {}
        log.warning(
            "sapi3.retry",
            source=self.name,
            attempt=retry_state.attempt_number,
            max_attempts=self._max_attempts,
            wait_seconds=round(wait, 3) if wait is not None else None,
            error=_describe(exc),
            start=params.get("start"),
            modified_from=params.get("modifiedFrom"),
        )


class _Response(NamedTuple):
    body: dict[str, Any]
    canonical: list[bytes] | None  # of its members, when asked for and orjson wrote them


def _loads(content: bytes) -> tuple[Any, bool]:
    """A response body, and whether it was strict JSON: orjson (several times faster on big
    pages); what it refuses (NaN, integers beyond 64 bits) goes to the standard library,
    which decides as before."""
    try:
        return orjson.loads(content), True
    except orjson.JSONDecodeError:
        return json.loads(content), False


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown"
    if isinstance(exc, _RetryableResponse):
        return exc.reason
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _problem(response: httpx.Response) -> tuple[str, str | None]:
    """`title` and `detail` of a problem+json body; the reason phrase when it is not JSON."""
    reason = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return reason, None
    if not isinstance(body, dict):
        return reason, None
    title = body.get("title") if isinstance(body.get("title"), str) else reason
    detail = body.get("detail") if isinstance(body.get("detail"), str) else None
    return title or reason, detail


class _Pass:
    """One `pages()` pass: the connector's requests, steered by a KeysetPaging policy."""

    def __init__(self, connector: UitdatabankConnector, cursor: Cursor) -> None:
        self.c = connector
        modified = normalise_modified(cursor.modified) if cursor.modified else None
        self.paging = KeysetPaging(
            parse_modified(modified) if modified else None, cursor.seen, key=_key,
            limit=connector._limit, window=connector._window, name=connector.name,
            show=format_modified)

    def cursor(self) -> Cursor:
        modified = self.paging.modified
        return Cursor(modified=format_modified(modified) if modified else None,
                      seen=frozenset(self.paging.seen))

    def run(self) -> Iterator[Page]:
        c, paging = self.c, self.paging
        if paging.tie_too_large():
            yield from self.split_second()
        while True:
            request = paging.next_request()
            if request is None:
                yield from self.split_second()
                continue
            response, total, params = self.fetch(request)
            members = response.body["member"]
            if not paging.lines_up(members):
                paging.rescan()
                log.info("sapi3.rescan", source=c.name, start=request.start,
                         modified_from=params.get("modifiedFrom"))
                continue
            records, behind = paging.take(members)
            for sid, modified in behind:
                log.warning("sapi3.out_of_order", source=c.name, id=sid,
                            modified=format_modified(modified))
            if records:
                yield self.page(records, total, response)
            step = paging.advance(request, members, total)
            got = len(members)
            # Not kept while the next page is read: the sync may have let go of them already.
            del response, members, records
            if step.short:
                log.info("sapi3.short_page", source=c.name, start=request.start,
                         got=got, total=total)
                c._sleep(min(c._backoff_max, c._backoff_initial * 2 ** step.short))
            if step.done:
                return

    def fetch(self, request: Request) -> tuple[_Response, int | None, dict[str, str | int]]:
        """The response and `totalItems` of one request, and the parameters it was sent with."""
        params = self.c.search_params(
            start=request.start,
            limit=request.limit,
            modified_from=format_modified(request.modified_from) if request.modified_from else None,
        )
        response = self.c._get(params, canonical=True)
        body = response.body
        total = body.get("totalItems") if isinstance(body.get("totalItems"), int) else None
        return response, total, params

    def page(self, records: list[Any], total: int | None, response: _Response) -> Page:
        """A page of these records (taken from the response's members)."""
        blobs = response.canonical
        if blobs is not None:
            at = {id(member): i for i, member in enumerate(response.body["member"])}
            blobs = [blobs[at[id(record)]] for record in records]
        return Page(records=records, cursor=self.cursor(), total=total,
                    reencodable=self.c.strict_json, canonical=blobs)

    def split_second(self) -> Iterator[Page]:
        """Read the whole cursor second one postal code at a time (each must fit the window)."""
        c = self.c
        assert self.paging.modified is not None
        second = format_modified(self.paging.modified)
        log.info("sapi3.split_second", source=c.name, modified=second, seen=len(self.paging.seen))
        for postal_code in c._postal_codes:
            start = 0
            while True:
                limit = min(c._limit, c._window - start)
                if limit <= 0:
                    raise FatalSourceError(
                        0,
                        "Result window exceeded",
                        f"{c.name}: more than {c._window} events modified at {second} in "
                        f"postal code {postal_code}; SAPI3 cannot page past {c._window}",
                    )
                params = c.search_params(
                    start=start,
                    limit=limit,
                    modified_from=second,
                    modified_to=second,
                    postal_codes=[postal_code],
                )
                response = c._get(params, canonical=True)
                body = response.body
                members = body["member"]
                total = body.get("totalItems") if isinstance(body.get("totalItems"), int) else None
                if total is not None and total > c._window:
                    raise FatalSourceError(
                        0,
                        "Result window exceeded",
                        f"{c.name}: {total} events modified at {second} in postal code "
                        f"{postal_code}; SAPI3 cannot page past {c._window}",
                    )
                records = self.paging.take_in_second(members)
                if records:
                    yield self.page(records, total, response)
                if not members or len(members) < limit:
                    break
                if total is not None and start + len(members) >= total:
                    break
                start += len(members)
        self.paging.second_read()


def _key(member: Any) -> tuple[str, datetime] | None:
    """A SAPI3 member's (event id, `modified`), None when either is missing or unreadable."""
    if not isinstance(member, dict):
        return None
    sid = source_id_of(member.get("@id"))
    modified = parse_modified(member.get("modified"))
    if sid is None or modified is None:
        return None
    return sid, modified
