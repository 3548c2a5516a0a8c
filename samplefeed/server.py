"""An in-memory fake of SAPI3 `GET /events` over real HTTP, with mutations and fault injection."""

from __future__ import annotations

import bisect
import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from samplefeed.json_copy import json_copy

HYDRA_CONTEXT = "http://www.w3.org/ns/hydra/context.jsonld"
DEFAULT_WORKFLOW_STATUSES = ("APPROVED", "READY_FOR_VALIDATION")
MAX_LIMIT = 2000
WINDOW = 10000

# Parameters this fake implements; SAPI3 answers unknown ones with 404, and silently ignoring
# a real-but-unimplemented one here would make tests pass for the wrong reason.
KNOWN_PARAMS = frozenset(
    {
        "q",
        "embed",
        "embedUitpasPrices",
        "start",
        "limit",
        "sort[modified]",
        "sort[created]",
        "modifiedFrom",
        "modifiedTo",
        "createdFrom",
        "createdTo",
        "workflowStatus",
        "availableFrom",
        "availableTo",
        "addressCountry",
        "audienceType",
        "disableDefaultFilters",
        "id",
        "clientId",
        "apiKey",
    }
)


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, consumed by one request."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    truncate: bool = False
    reset: bool = False
    empty_page: bool = False
    repeat_previous: bool = False
    body: bytes | None = None  # raw body for `status` faults (default: problem+json)
    content_type: str | None = None


class ProblemError(Exception):
    """An RFC 7807 answer."""

    def __init__(self, status: int, title: str, detail: str, type_: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_

    def body(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }


def parse_datetime(value: str) -> datetime:
    """ISO 8601 with offset (or `Z`) to an aware datetime; naive values are taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event_id(event: dict[str, Any]) -> str:
    return str(event.get("@id", "")).rstrip("/").rsplit("/", 1)[-1]


def _modified_of(event: dict[str, Any]) -> datetime:
    # SAPI3: "If the result has never been modified, the created date-time will be used".
    value = event.get("modified") or event.get("created")
    try:
        return parse_datetime(value) if isinstance(value, str) else datetime.min.replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _postal_codes(event: dict[str, Any]) -> set[str]:
    location = event.get("location")
    if not isinstance(location, dict):
        return set()
    address = location.get("address")
    if not isinstance(address, dict):
        return set()
    if "postalCode" in address:  # legacy flat address
        return {str(address["postalCode"])}
    return {
        str(value["postalCode"])
        for value in address.values()
        if isinstance(value, dict) and "postalCode" in value
    }


def _countries(event: dict[str, Any]) -> set[str]:
    location = event.get("location")
    address = location.get("address") if isinstance(location, dict) else None
    if not isinstance(address, dict):
        return set()
    if "addressCountry" in address:
        return {str(address["addressCountry"])}
    return {
        str(value["addressCountry"])
        for value in address.values()
        if isinstance(value, dict) and "addressCountry" in value
    }


# ------------------------------------------------------------------------------ q parsing

_CLAUSE = re.compile(r"^\s*(?P<field>[A-Za-z@.\\*]+)\s*:\s*(?P<value>.+?)\s*$", re.S)


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on ` AND `/` OR ` outside quotes and parentheses."""
    parts: list[str] = []
    depth, in_quote, current, i = 0, False, [], 0
    token = f" {separator} "
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote and ch == "(":
            depth += 1
        elif not in_quote and ch == ")":
            depth -= 1
        if not in_quote and depth == 0 and text.startswith(token, i):
            parts.append("".join(current))
            current = []
            i += len(token)
            continue
        current.append(ch)
        i += 1
    if in_quote or depth != 0:
        raise ValueError("unbalanced quotes or parentheses")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _values(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    values = []
    for part in _split_top_level(text, "OR"):
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] == '"':
            part = part[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values.append(part)
    if not values:
        raise ValueError("empty value list")
    return values


Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class _Clause:
    """One top-level AND clause of `q`: its field, its values and its predicate."""

    field: str  # labels | postal | id
    values: frozenset[str]
    predicate: Predicate


@functools.lru_cache(maxsize=32)
def _parsed_q(q: str) -> tuple[_Clause, ...]:
    # A paging pass sends the same `q` on every request; parsing it each time cost the
    # paging tests seconds.
    return tuple(_clause(text) for text in _split_top_level(q, "AND"))


def _all_labels(event: dict[str, Any]) -> list[Any]:
    """An event's labels and hidden labels, as a `labels:` query sees them."""
    return [*(event.get("labels") or []), *(event.get("hiddenLabels") or [])]


@functools.lru_cache(maxsize=256)
def _clause(text: str) -> _Clause:
    """One clause, the same object for the same text: the reconciliation's per-postal-code
    queries share their labels clause, whose verdicts the fake keeps per event."""
    match = _CLAUSE.match(text)
    if not match:
        raise ValueError(f"unsupported clause {text!r}")
    field, values = match["field"], _values(match["value"])
    if field == "labels":
        # Case-insensitive but accent-sensitive, like SAPI3's keyword normaliser.
        wanted = {v.casefold() for v in values}
        return _Clause("labels", frozenset(wanted), lambda e, w=wanted: any(  # type: ignore[misc]
            isinstance(label, str) and label.casefold() in w for label in _all_labels(e)))
    if field in (r"address.\*.postalCode", "address.*.postalCode"):
        codes = set(values)
        return _Clause("postal", frozenset(codes),
                       lambda e, c=codes: bool(_postal_codes(e) & c))  # type: ignore[misc]
    if field == "id":
        ids = set(values)
        return _Clause("id", frozenset(ids),
                       lambda e, i=ids: event_id(e) in i)  # type: ignore[misc]
    raise ValueError(f"field {field!r} is not supported by the fake")


def parse_q(q: str) -> list[Predicate]:
    """The subset of SAPI3's Lucene `q` the connector sends: labels, postal code and id."""
    return [clause.predicate for clause in _parsed_q(q)]


@dataclass(frozen=True, slots=True)
class _Facts:
    """What queries ask of one stored event, derived when it is stored (as a search index
    does at indexing time), so that a query costs the fake little."""

    created: float  # the `sort[created]` key
    modified: datetime
    postal_codes: frozenset[str]
    labels: frozenset[str] | None  # casefolded labels and hidden labels; None: not a list
    id_member: bytes  # the member of an id-only page

    @classmethod
    def of(cls, event: dict[str, Any]) -> _Facts:
        value = event.get("created")
        try:
            created = parse_datetime(value).timestamp() if isinstance(value, str) else 0.0
        except ValueError:
            created = 0.0
        labels: frozenset[str] | None = None
        if all(isinstance(event.get(name) or [], list) for name in ("labels", "hiddenLabels")):
            labels = frozenset(label.casefold() for label in _all_labels(event)
                               if isinstance(label, str))
        member = json.dumps({"@id": event.get("@id"), "@type": "Event"}, ensure_ascii=False)
        return cls(created, _modified_of(event), frozenset(_postal_codes(event)), labels,
                   member.encode())


# ------------------------------------------------------------------------------ server


class FakeSapi3:
    """SAPI3 `/events` in memory, served on 127.0.0.1 by a background ThreadingHTTPServer."""

    def __init__(
        self,
        events: Iterable[dict[str, Any]] = (),
        *,
        client_ids: Iterable[str] | None = None,
        blocked_client_ids: Iterable[str] = (),
        now: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        window: int = WINDOW,
    ) -> None:
        self.client_ids = set(client_ids) if client_ids is not None else None
        self.blocked_client_ids = set(blocked_client_ids)
        self.now = now  # None: the real clock, for the availability default filters
        self.window = window
        self.faults: list[Fault] = []
        self.on_request: Callable[[dict[str, str]], None] | None = None
        self.requests: list[dict[str, str]] = []
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._events: dict[str, dict[str, Any]] = {}
        # Index order: ES has no tie-breaker for equal `modified`; we keep re-indexing order,
        # which is stable between requests and moves a re-indexed document to the end.
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        self._previous_body: bytes | None = None
        # A benchmark's pages must cost the fake little, as SAPI3's answer in milliseconds:
        # what a query asks of an event is derived when it is stored, each member is encoded
        # once per version, and the filtered, sorted lists of the last queries are kept until
        # the data changes.
        self._version = 0
        self._encoded: dict[tuple[str, bool, bool], bytes] = {}
        self._facts: dict[str, _Facts] = {}
        # Inverted indexes, as a search engine keeps them: postal code (casefolded label) to
        # the keys of the events that have it.
        self._postal_index: dict[str, set[str]] = {}
        self._label_index: dict[str, set[str]] = {}
        self._odd_labels: set[str] = set()  # labels not a list: the clause's predicate decides
        self._label_hits: dict[_Clause, tuple[tuple[int, int], set[str]]] = {}
        self._rekeyed = False  # an update changed an event's `@id`: its key is not its id
        # The sort keys of each order (ties keep index order), by key.
        self._sort_keys: dict[tuple[str, str], dict[str, tuple[Any, int]]] = {
            (field, direction): {} for field in ("created", "modified")
            for direction in ("asc", "desc")}
        self._selections: dict[tuple[tuple[str, str], ...], _Selection] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.add(events)

    # -------------------------------------------------------------- data

    def add(self, events: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for event in events:
                eid = event_id(event)
                self._events[eid] = json_copy(event)
                self._seq[eid] = self._next_seq
                self._next_seq += 1
                self._changed(eid)

    def encode_members(self, *, uitpas_prices: bool = True) -> None:
        """Encode every event's embedded member now, as a search index has its documents
        ready: a benchmark then measures its client, not this fake's first encoding."""
        with self._lock:
            for eid, event in self._events.items():
                key = (eid, True, uitpas_prices)
                if key not in self._encoded:
                    self._encoded[key] = _encode(_embedded(event, uitpas_prices))

    def _changed(self, eid: str) -> None:
        self._version += 1
        for embed in (False, True):
            for uitpas in (False, True):
                self._encoded.pop((eid, embed, uitpas), None)
        old = self._facts.pop(eid, None)
        if old is not None:
            for code in old.postal_codes:
                self._postal_index[code].discard(eid)
            for label in old.labels or ():
                self._label_index[label].discard(eid)
            self._odd_labels.discard(eid)
        event = self._events.get(eid)
        if event is not None:
            self._facts_of(eid)
            self._rekeyed = self._rekeyed or event_id(event) != eid

    def _facts_of(self, eid: str) -> _Facts:
        """An event's facts; every stored event has them from `_changed` on (after its
        sequence number is set)."""
        facts = self._facts.get(eid)
        if facts is None:
            facts = self._facts[eid] = _Facts.of(self._events[eid])
            for code in facts.postal_codes:
                self._postal_index.setdefault(code, set()).add(eid)
            if facts.labels is None:
                self._odd_labels.add(eid)
            for label in facts.labels or ():
                self._label_index.setdefault(label, set()).add(eid)
            seq, keys = self._seq[eid], self._sort_keys
            keys["created", "asc"][eid] = (facts.created, seq)
            keys["created", "desc"][eid] = (-facts.created, seq)
            keys["modified", "asc"][eid] = (facts.modified, seq)
            keys["modified", "desc"][eid] = (-facts.modified.timestamp(), seq)
        return facts

    def get(self, event_id_: str) -> dict[str, Any]:
        with self._lock:
            return json_copy(self._events[self._key(event_id_)])

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json_copy(e) for e in self._sorted(list(self._events.values()), "asc")]

    def update(
        self, event_id_: str, *, modified: str | datetime | None = None, **changes: Any
    ) -> dict[str, Any]:
        """Change top-level fields and bump `modified` (given, or one second after the newest)."""
        with self._lock:
            eid = self._key(event_id_)
            event = self._events[eid]
            event.update(json_copy(changes))
            if isinstance(modified, datetime):
                event["modified"] = modified.astimezone(UTC).isoformat()
            elif isinstance(modified, str):
                event["modified"] = modified
            else:
                newest = max(self._facts_of(key).modified for key in self._events)
                event["modified"] = (newest + timedelta(seconds=1)).astimezone(UTC).isoformat()
            self._seq[eid] = self._next_seq
            self._next_seq += 1
            self._changed(eid)
            return json_copy(event)

    def delete(self, event_id_: str, *, modified: str | datetime | None = None) -> dict[str, Any]:
        """Soft delete, as UiTdatabank does: workflowStatus DELETED and a new `modified`."""
        return self.update(event_id_, modified=modified, workflowStatus="DELETED")

    def _key(self, event_id_: str) -> str:
        return event_id_.rstrip("/").rsplit("/", 1)[-1]

    # -------------------------------------------------------------- lifecycle

    def start(self) -> str:
        """Serve in a background thread; return the base URL."""
        fake = self

        class Handler(_Handler):
            sapi = fake

        self._stopping.clear()
        server = _Server((self._host, self._port), Handler)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-sapi3", daemon=True
        )
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def transport(self) -> httpx.MockTransport:
        """The same answers (faults included) in process, without a socket or a thread: for
        tests that page a lot. A connection reset becomes httpx's RemoteProtocolError."""

        def answer(request: httpx.Request) -> httpx.Response:
            params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
            got = self._handle(request.url.path, params, dict(request.headers))
            if got.reset:
                raise httpx.RemoteProtocolError("the fake closed the connection", request=request)
            headers = {"Content-Type": got.content_type, **(got.headers or {})}
            return httpx.Response(got.status, content=got.body, headers=headers)

        return httpx.MockTransport(answer)

    def __enter__(self) -> FakeSapi3:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -------------------------------------------------------------- answering

    def _sorted(self, events: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
        if direction == "desc":
            # Descending by modified; ties keep index order, as a single-shard ES would.
            return sorted(
                events, key=lambda e: (-_modified_of(e).timestamp(), self._seq[event_id(e)])
            )
        return sorted(events, key=lambda e: (_modified_of(e), self._seq[event_id(e)]))

    def search(
        self, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Answer one `/events` query (raises ProblemError); usable without HTTP too."""
        _, page, total, limit, embed, uitpas = self._select(params, headers)
        return self._collection(limit, total, [
            _embedded(e, uitpas) if embed else {"@id": e.get("@id"), "@type": "Event"}
            for e in page
        ])

    @staticmethod
    def _collection(limit: int, total: int, members: list[Any]) -> dict[str, Any]:
        return {
            "@context": HYDRA_CONTEXT,
            "@type": "PagedCollection",
            "itemsPerPage": limit,
            "totalItems": total,
            "member": members,
        }

    def _encoded_page(self, params: dict[str, str], headers: dict[str, str]) -> bytes:
        """The body `search` would give, as bytes, from members encoded once."""
        keys, page, total, limit, embed, uitpas = self._select(params, headers)
        with self._lock:
            if not embed:
                facts = self._facts
                return _with_members(self._collection(limit, total, []),
                                     [facts[eid].id_member for eid in keys])
            parts = []
            for eid, e in zip(keys, page, strict=True):
                key = (eid, embed, uitpas)
                raw = self._encoded.get(key)
                if raw is None:
                    raw = self._encoded[key] = _encode(_embedded(e, uitpas))
                parts.append(raw)
        return _with_members(self._collection(limit, total, []), parts)

    def _select(
        self, params: dict[str, str], headers: dict[str, str] | None
    ) -> tuple[list[str], list[dict[str, Any]], int, int, bool, bool]:
        """The page of events a query asks for (their keys and documents), its total, limit
        and embed options."""
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        self._authorise(params, headers)
        unknown = sorted(set(params) - KNOWN_PARAMS)
        if unknown:
            raise ProblemError(
                404,
                "Not Found",
                f"Unknown query parameter(s): {', '.join(unknown)}",
                "https://api.publiq.be/probs/url/not-found",
            )
        start = _int_param(params, "start", 0)
        limit = _int_param(params, "limit", 30)
        if start < 0 or limit < 0 or limit > MAX_LIMIT:
            raise _invalid(f"limit must be between 0 and {MAX_LIMIT}, start must be >= 0")
        if start + limit > self.window:
            raise _invalid(
                f"The sum of start and limit must be less than or equal to {self.window}"
                f" (got start={start}, limit={limit})"
            )
        # The `modified` bounds are applied to the sorted selection of everything else.
        base = {k: v for k, v in params.items() if k not in _PAGE_PARAMS}
        clauses, predicates = self._predicates(base)
        bounds = {name: _date_param(params, name) for name in ("modifiedFrom", "modifiedTo")
                  if name in params}
        direction = params.get("sort[modified]", "asc")
        if direction not in ("asc", "desc"):
            raise _invalid("sort[modified] must be asc or desc")
        embed = params.get("embed", "false").lower() == "true"
        uitpas = params.get("embedUitpasPrices", "false").lower() == "true"
        with self._lock:
            selection = self._selection(base, clauses, predicates, direction)
            keys = selection.keys
            if "sort[modified]" in params and direction == "asc":
                modified = selection.modified()
                low = (bisect.bisect_left(modified, bounds["modifiedFrom"])
                       if "modifiedFrom" in bounds else 0)
                high = (bisect.bisect_right(modified, bounds["modifiedTo"])
                        if "modifiedTo" in bounds else len(keys))
                matched: Sequence[int] = range(low, max(low, high))
            elif bounds:
                low_b, high_b = bounds.get("modifiedFrom"), bounds.get("modifiedTo")
                matched = [i for i, m in enumerate(selection.modified())
                           if (low_b is None or m >= low_b) and (high_b is None or m <= high_b)]
            else:
                matched = range(len(keys))
            page = [keys[i] for i in matched[start : start + limit]]
            return page, [self._events[k] for k in page], len(matched), limit, embed, uitpas

    def _selection(
        self, base: dict[str, str], clauses: tuple[_Clause, ...], predicates: list[Predicate],
        direction: str,
    ) -> _Selection:
        """The keys of the events matching `base`, in the asked order; kept while the data
        does not change (unless a default filter depends on the clock)."""
        disabled = base.get("disableDefaultFilters", "false").lower() == "true"
        on_the_clock = self.now is None and any(
            base.get(name, "*" if disabled else "now") == "now"
            for name in ("availableFrom", "availableTo"))
        key = tuple(sorted(base.items()))
        state = (self._version, len(self._events))
        cached = None if on_the_clock else self._selections.get(key)
        if cached is not None and cached.state == state:
            return cached
        events, facts = self._events, self._facts
        matched, rest = self._pool(clauses)
        for clause in rest:
            matched = self._holding(clause, matched, state)
        if predicates:
            matched = {k for k in matched if all(p(events[k]) for p in predicates)}
        if "sort[modified]" in base:
            # Descending by modified: ties keep index order, as a single-shard ES would.
            ordered = sorted(matched, key=self._sort_keys["modified", direction].__getitem__)
        elif "sort[created]" in base:
            if base["sort[created]"] not in ("asc", "desc"):
                raise _invalid("sort[created] must be asc or desc")
            ordered = sorted(matched,
                             key=self._sort_keys["created", base["sort[created]"]].__getitem__)
        else:
            ordered = sorted(matched, key=self._seq.__getitem__)
        selection = _Selection(state, ordered, facts)
        if not on_the_clock:
            # A few queries at a time (the reconciliation's whole region, then postal code
            # by postal code; a sync's pages meanwhile); none of another version.
            kept = {k: v for k, v in self._selections.items() if v.state == state}
            kept[key] = selection
            self._selections = dict(list(kept.items())[-_SELECTIONS_KEPT:])
        return selection

    def _pool(self, clauses: tuple[_Clause, ...]) -> tuple[set[str], list[_Clause]]:
        """The keys of the events a query's first postal code (or else id) clause allows,
        through the indexes, and the clauses left to check: a query in a few postal codes
        or of a few ids need not look at every event."""
        for i, clause in enumerate(clauses):
            if clause.field == "postal":
                index = self._postal_index
                keys: set[str] = set().union(*(index.get(code, ()) for code in clause.values))
                # The index holds what `_postal_codes` found: the clause holds for each.
                return keys & self._events.keys(), [*clauses[:i], *clauses[i + 1:]]
        for clause in clauses:
            if clause.field == "id" and not self._rekeyed:
                # Every key is its event's id: only these can match (the clause still checks).
                return set(clause.values) & self._events.keys(), list(clauses)
        return set(self._events), list(clauses)

    def _holding(self, clause: _Clause, keys: set[str], state: tuple[int, int]) -> set[str]:
        """The keys whose events satisfy the clause."""
        events = self._events
        if clause.field != "labels":
            return {k for k in keys if clause.predicate(events[k])}
        cached = self._label_hits.get(clause)
        if cached is None or cached[0] != state:
            index = self._label_index
            hits: set[str] = set().union(*(index.get(label, ()) for label in clause.values))
            self._label_hits = {c: v for c, v in self._label_hits.items() if v[0] == state}
            self._label_hits[clause] = cached = (state, hits)
        odd = keys & self._odd_labels
        return (keys & cached[1]) | {k for k in odd if clause.predicate(events[k])}

    def _authorise(self, params: dict[str, str], headers: dict[str, str]) -> None:
        if self.client_ids is None:
            return
        client_id = headers.get("x-client-id") or params.get("clientId")
        if client_id and client_id in self.blocked_client_ids:
            raise ProblemError(
                403,
                "Forbidden",
                "This client is blocked from using the Search API.",
                "https://api.publiq.be/probs/auth/forbidden",
            )
        if not client_id or client_id not in self.client_ids:
            raise ProblemError(
                401,
                "Unauthorized",
                "The provided client id is missing or invalid.",
                "https://api.publiq.be/probs/auth/unauthorized",
            )

    def _predicates(self, params: dict[str, str]) -> tuple[tuple[_Clause, ...], list[Predicate]]:
        """The clauses of `q`, and the predicates of every other parameter."""
        clauses: tuple[_Clause, ...] = ()
        predicates: list[Predicate] = []
        if "q" in params:
            try:
                clauses = _parsed_q(params["q"])
            except ValueError as exc:
                raise _invalid(f"Invalid q: {exc}") from exc
        if "id" in params:
            predicates.append(lambda e, i=params["id"]: event_id(e) == i)  # type: ignore[misc]
        for name, op in (("modifiedFrom", "ge"), ("modifiedTo", "le")):
            if name in params:
                bound = _date_param(params, name)
                if op == "ge":
                    predicates.append(lambda e, b=bound: _modified_of(e) >= b)  # type: ignore[misc]
                else:
                    predicates.append(lambda e, b=bound: _modified_of(e) <= b)  # type: ignore[misc]
        for name, field, op in (("createdFrom", "created", "ge"), ("createdTo", "created", "le")):
            if name in params:
                bound = _date_param(params, name)
                predicates.append(_date_predicate(field, op, bound))

        disabled = params.get("disableDefaultFilters", "false").lower() == "true"
        now = self.now or datetime.now(UTC)

        def effective(name: str, default: str) -> str:
            return params.get(name, "*" if disabled else default)

        statuses = effective("workflowStatus", ",".join(DEFAULT_WORKFLOW_STATUSES))
        if statuses != "*":
            wanted = {s.strip() for s in statuses.split(",") if s.strip()}
            predicates.append(lambda e, w=wanted: e.get("workflowStatus") in w)  # type: ignore[misc]
        available_from = effective("availableFrom", "now")
        if available_from != "*":
            bound = now if available_from == "now" else _date_param(params, "availableFrom")
            # Visible after `bound`: availableTo has not passed yet.
            predicates.append(_date_predicate("availableTo", "ge", bound))
        available_to = effective("availableTo", "now")
        if available_to != "*":
            bound = now if available_to == "now" else _date_param(params, "availableTo")
            predicates.append(_date_predicate("availableFrom", "le", bound))
        country = effective("addressCountry", "BE")
        if country != "*":
            predicates.append(lambda e, c=country: c in _countries(e))  # type: ignore[misc]
        audience = effective("audienceType", "everyone")
        if audience != "*":
            predicates.append(
                lambda e, a=audience: (
                    (  # type: ignore[misc]
                        (e.get("audience") or {}).get("audienceType") or "everyone"
                    )
                    == a
                )
            )
        return clauses, predicates

    # Called by the handler thread.
    def _handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> _Answer:
        with self._lock:
            self.requests.append(dict(params))
            fault = self.faults.pop(0) if self.faults else None
        if self.on_request is not None:
            self.on_request(dict(params))
        if fault is not None and fault.delay:
            # Interruptible, so stop() does not hang on a sleeping handler.
            self._stopping.wait(fault.delay)
        if fault is not None and fault.reset:
            return _Answer(reset=True)
        if fault is not None and fault.status is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if fault.body is not None:
                return _Answer(fault.status, fault.body, fault.content_type or "text/html", extra)
            problem = ProblemError(
                fault.status,
                _REASONS.get(fault.status, "Error"),
                f"Injected fault {fault.status}",
                "about:blank",
            )
            return _problem_answer(problem, extra)
        if fault is not None and fault.repeat_previous and self._previous_body is not None:
            return _Answer(200, self._previous_body, "application/json")
        if path.rstrip("/") != "/events":
            return _problem_answer(
                ProblemError(404, "Not Found", f"No route for {path}", "about:blank"), {}
            )
        try:
            if fault is not None and fault.empty_page:
                body = self.search(params, headers)
                body["member"] = []
                raw = json.dumps(body, ensure_ascii=False).encode()
            else:
                raw = self._encoded_page(params, headers)
        except ProblemError as problem:
            return _problem_answer(problem, {})
        with self._lock:
            self._previous_body = raw
        if fault is not None and fault.truncate:
            return _Answer(200, raw[: len(raw) // 2], "application/json")
        return _Answer(200, raw, "application/json")


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _invalid(detail: str) -> ProblemError:
    return ProblemError(
        400, "Bad Request", detail, "https://api.publiq.be/probs/url/query-parameters-invalid"
    )


# How many queries' selections the fake keeps.
_SELECTIONS_KEPT = 8


class _Selection:
    """The keys a query matches, in its order, at one state of the data; their `modified`
    when a page asks for bounds (the reconciliation's id pages do not)."""

    __slots__ = ("state", "keys", "_facts", "_modified")

    def __init__(self, state: tuple[int, int], keys: list[str],
                 facts: dict[str, _Facts]) -> None:
        self.state = state  # (version, number of events)
        self.keys = keys
        self._facts = facts
        self._modified: list[datetime] | None = None

    def modified(self) -> list[datetime]:
        if self._modified is None:
            self._modified = [self._facts[k].modified for k in self.keys]
        return self._modified


# Parameters that choose the page and its form, not which events match.
_PAGE_PARAMS = frozenset({"start", "limit", "embed", "embedUitpasPrices", "modifiedFrom",
                          "modifiedTo"})


def _with_members(collection: dict[str, Any], members: list[bytes]) -> bytes:
    """`json.dumps(collection with these members, ensure_ascii=False)`, byte for byte."""
    head = json.dumps(collection, ensure_ascii=False).encode()
    assert head.endswith(b"[]}")
    return head[:-3] + b"[" + b", ".join(members) + b"]}"


def _encode(member: dict[str, Any]) -> bytes:
    return json.dumps(member, ensure_ascii=False).encode()


def _embedded(event: dict[str, Any], uitpas_prices: bool) -> dict[str, Any]:
    """The full document; like SAPI3, UiTPAS prices only with `embedUitpasPrices=true`."""
    doc = json_copy(event)
    prices = doc.get("priceInfo")
    if not uitpas_prices and isinstance(prices, list):
        doc["priceInfo"] = [p for p in prices
                            if not (isinstance(p, dict) and p.get("category") == "uitpas")]
    return doc


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError as exc:
        raise _invalid(f"{name} must be an integer") from exc


def _date_param(params: dict[str, str], name: str) -> datetime:
    try:
        return parse_datetime(params[name])
    except ValueError as exc:
        raise _invalid(f"{name} must be an ISO 8601 date-time with offset") from exc


def _date_predicate(field: str, op: str, bound: datetime) -> Predicate:
    def check(event: dict[str, Any]) -> bool:
        value = event.get(field)
        if not isinstance(value, str):
            return True  # no bound on the event: it is not limited in that direction
        try:
            moment = parse_datetime(value)
        except ValueError:
            return True
        return moment >= bound if op == "ge" else moment <= bound

    return check


@dataclass
class _Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] | None = None
    reset: bool = False


def _problem_answer(problem: ProblemError, extra: dict[str, str]) -> _Answer:
    raw = json.dumps(problem.body()).encode()
    return _Answer(problem.status, raw, "application/problem+json", extra)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out close their socket under a sleeping handler; that is the test.
        pass


class _Handler(BaseHTTPRequestHandler):
    sapi: FakeSapi3
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each response waits ~40 ms for
    # the client's delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k: v for k, v in self.headers.items()}
        answer = self.sapi._handle(split.path, params, headers)
        if answer.reset:
            self.close_connection = True
            return
        self.send_response(answer.status, _REASONS.get(answer.status))
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in (answer.headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass
