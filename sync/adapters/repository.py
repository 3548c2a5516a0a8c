"""Repositories over one SQLAlchemy connection: catalogue, queues, runs, failures, outbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from sync.adapters import tables as t
from sync.adapters.database import json_text, json_value
from sync.adapters.search_index import index_activities
from sync.domain import catalogue as cat
from sync.domain.activity import EncodedJson, NormalisedActivity, Skipped, hash_of
from sync.domain.catalogue import NO_PROVENANCE, Provenance
from sync.domain.events import DomainEvent
from sync.domain.runs import RUNNING, RunCounts


def read_version_data(conn: Connection, version_id: int | None) -> dict[str, Any] | None:
    """The stored data of one activity version; None when there is no such version."""
    if version_id is None:
        return None
    v = t.activity_versions
    data = conn.execute(sa.select(v.c.data).where(v.c.id == version_id)).scalar_one_or_none()
    return None if data is None else dict(data)


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just made."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


# Built once: rebuilding `insert().values(...)` per row costs more than the INSERT itself.
_INSERT_ACTIVITY = t.activities.insert()
_INSERT_VERSION = t.activity_versions.insert()
_INSERT_ITEM = t.review_items.insert()
_INSERT_OUTBOX = t.outbox.insert()
_SET_CURRENT_VERSION = (
    t.activities.update()
    .where(t.activities.c.id == sa.bindparam("aid"))
    .values(current_version_id=sa.bindparam("vid"))
)


# A changed activity's row, for a page's changed activities at once (bind names must differ
# from column names in a SET clause).
_UPDATE_ACTIVITY = (
    t.activities.update()
    .where(t.activities.c.id == sa.bindparam("b_id"))
    .values(
        state=sa.bindparam("b_state"),
        municipality_nis=sa.bindparam("b_nis"),
        title=sa.bindparam("b_title"),
        next_occurrence=sa.bindparam("b_next", type_=t.UTCDateTime()),
        content_hash=sa.bindparam("b_hash"),
        source_modified=sa.bindparam("b_modified"),
        current_version_id=sa.bindparam("b_version"),
        approved_version_id=sa.func.coalesce(sa.bindparam("b_approved", type_=sa.Integer),
                                             t.activities.c.approved_version_id),
        withdrawn_reason=None,
        updated_at=sa.bindparam("b_now", type_=t.UTCDateTime()),
        raw_document=sa.bindparam("b_raw"),
        raw_fingerprint=sa.bindparam("b_fingerprint"),
        mapping_version=sa.bindparam("b_mapping"),
        visible_until=sa.bindparam("b_until", type_=t.UTCDateTime()),
        next_occurrence_over=sa.bindparam("b_over", type_=t.UTCDateTime()),
    )
)
_SUPERSEDE = (
    t.review_items.update()
    .where(t.review_items.c.activity_id == sa.bindparam("b_activity"),
           t.review_items.c.status == cat.ITEM_OPEN,
           t.review_items.c.id != sa.bindparam("b_item"))
    .values(status=cat.ITEM_SUPERSEDED, superseded_by_id=sa.bindparam("b_item"),
            lock_version=t.review_items.c.lock_version + 1)
)


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A new version of an activity already in the catalogue, as the sync decided it."""

    activity_id: int
    act: NormalisedActivity
    state: str
    data: dict[str, Any]
    digest: str
    prov: Provenance
    review_kind: str | None  # the review item it opens (superseding the open one), if any
    approve: bool = False  # nothing for a moderator to see: it becomes the approved version


def _utc_of(value: datetime | str | None) -> datetime | None:
    """A `UTCDateTime` column as the driver returns it (SQLite: text; PostgreSQL: a naive
    datetime), as the column type would: aware, UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            # One parse with the offset: `replace(tzinfo=...)` costs five times the parse,
            # and a re-read converts three times per activity.
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


# From this many values on, SQLite gets them as one JSON array (below it placeholders are as
# cheap).
_JSON_LIST_FROM = 32


def _among(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """`column IN (values)`, however many. PostgreSQL gets one array parameter (`= ANY`):
    the statement is then the same for a page of 2 000 ids as for one, compiled once,
    prepared by the driver and parsed by the server without 2 000 placeholders (a fifth of a
    page's lookup)."""
    if conn.dialect.name == "postgresql":
        # Strings as text[], not as the column's varchar(n)[]: that cast would cut a longer
        # value to n characters, and it would match the stored value it begins with.
        element = sa.Text() if isinstance(column.type, sa.String) else column.type
        return column == sa.any_(sa.bindparam(None, list(values),
                                              type_=postgresql.ARRAY(element)))
    if len(values) >= _JSON_LIST_FROM and (all(type(v) is str for v in values)
                                           or all(type(v) is int for v in values)):
        # SQLite: one JSON array parameter read by `json_each`, for the same reasons (the
        # expansion of 2 000 placeholders cost as much as the query).
        listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(
            sa.func.json_each(sa.bindparam(None, orjson.dumps(list(values)).decode())))
        return column.in_(listed)
    return column.in_(values)


def _all_rows(conn: Connection, query: sa.Select[Any]) -> Sequence[Sequence[Any]]:
    """A query's rows as the driver returns them, in one go (SQLAlchemy's row by row
    processing cost more than the query). SQLite's rows come in one step, as one JSON array
    it builds: its driver lets go of the GIL around each row it steps to, and while the
    reading thread parsed a page each of 2 000 rows waited for the GIL again (3/5 of a
    re-read's storing; 9 ms a page alone). For columns SQLite gives as numbers or text."""
    if conn.dialect.name == "sqlite":
        rows = query.subquery()
        as_json = sa.select(sa.func.json_group_array(sa.func.json_array(*rows.c)))
        return orjson.loads(conn.execute(as_json).scalar_one())  # type: ignore[no-any-return]
    result = conn.execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _iso_to_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# From this many rows on, PostgreSQL gets COPY: two round trips, no statement per row. Below
# it one INSERT is as cheap.
_COPY_FROM = 16


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys) in one go."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_FROM:
        _copy(conn, table, rows)
    elif conn.dialect.name == "sqlite" and len(rows) >= _COPY_FROM:
        _executemany(conn, table, rows)
    else:
        # SQLAlchemy writes JSON columns itself: JSON text goes back to its value first.
        encoded = [c.name for c in table.c if isinstance(c.type, sa.JSON) and c.name in rows[0]]
        conn.execute(table.insert(), [
            {**row, **{c: json_value(row[c]) for c in encoded
                       if isinstance(row[c], EncodedJson)}} if encoded else row
            for row in rows])


def _executemany(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """SQLite: one prepared INSERT for all rows, values converted a column at a time by the
    columns' own bind processors. SQLAlchemy's executemany builds a parameter dict per row
    and runs every processor through it: a tenth of an initial sync."""
    columns = list(rows[0])
    convert = [_bind_value(table.c[name].type, conn.dialect) for name in columns]
    quote = conn.dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
                 f"VALUES ({', '.join('?' * len(columns))})")
    conn.exec_driver_sql(statement, list(zip(*_columns(rows, columns, convert), strict=True)))


def _columns(rows: Sequence[dict[str, Any]], columns: list[str],
             convert: list[Any]) -> list[list[Any]]:
    """The rows' values a column at a time, each converted by its column's function (None:
    as it is); a value seen before in its column is converted once (a page's rows share
    their timestamps)."""
    out = []
    for name, f in zip(columns, convert, strict=True):
        values = [row[name] for row in rows]
        if f in _TIMES:
            seen: dict[Any, Any] = {}
            values = [seen[v] if v in seen else seen.setdefault(v, f(v)) for v in values]
        elif f is not None:
            values = [f(v) for v in values]
        out.append(values)
    return out


def _bind_value(column_type: Any, dialect: Any) -> Any:
    """How a value of this column type is bound: the type's own processor, except for our
    UTC timestamps, written as SQLAlchemy's SQLite DATETIME writes them (naive UTC,
    `YYYY-MM-DD HH:MM:SS.ffffff`) without its two calls and string formatting per value."""
    if isinstance(column_type, t.UTCDateTime):
        return _sqlite_utc
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, sa.JSON) and process is not None:
        return lambda v: v if isinstance(v, EncodedJson) else process(v)
    return process


def _naive_utc(value: datetime | None) -> datetime | None:
    """What `UTCDateTime` binds: naive UTC; a naive value is refused as it refuses it."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None)


def _sqlite_utc(value: datetime | None) -> str | None:
    naive = _naive_utc(value)
    return None if naive is None else naive.isoformat(" ", "microseconds")


def new_ids(conn: Connection, table: sa.Table, n: int) -> list[int]:
    """Ids for `n` new rows of `table`, taken before the rows are written: rows of several
    tables can then name each other, and COPY needs no RETURNING."""
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(conn.execute(
            sa.text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                    "FROM generate_series(1, :n)"), {"t": table.name, "n": n}).scalars())
    # SQLite: the ids SQLite would choose (after the highest). The transaction began
    # IMMEDIATE, so it holds the write lock and no other writer can take them meanwhile.
    last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return list(range(last + 1, last + 1 + n))


def insert_returning_ids(conn: Connection, table: sa.Table,
                         rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows (all with the same keys) in one go; their new ids, in order. (SQLite
    cannot say in which order a multi-row INSERT ... RETURNING made its ids, so SQLAlchemy
    would insert row by row: the ids are taken first instead.)"""
    ids = new_ids(conn, table, len(rows))
    insert_rows(conn, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids


def _copy(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL COPY of rows, converted as the columns' types would bind them."""
    from psycopg import sql

    columns = list(rows[0])
    convert = [_copy_value(table.c[name].type) for name in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur, cur.copy(statement) as copy:
        for row in zip(*_columns(rows, columns, convert), strict=True):
            copy.write_row(row)


def _copy_value(column_type: Any) -> Any:
    if isinstance(column_type, t.UTCDateTime):
        return _naive_utc
    if isinstance(column_type, sa.JSON):
        # COPY's text format is jsonb input; None is JSON null, as SQLAlchemy binds it.
        return lambda v: v if isinstance(v, EncodedJson) else json_text(v)
    return None


# The conversions of our UTC timestamps, worth remembering per value.
_TIMES = (_naive_utc, _sqlite_utc)



def open_soonest_first(*columns: Any) -> sa.Select[Any]:
    """The one home of "open review items, soonest activity first" (undated ones last):
    `columns` of the item, its activity and its version."""
    r, a, v = t.review_items, t.activities, t.activity_versions
    return (sa.select(*columns).select_from(r)
            .join(a, a.c.id == r.c.activity_id).join(v, v.c.id == r.c.version_id)
            .where(r.c.status == cat.ITEM_OPEN)
            .order_by(a.c.next_occurrence.asc().nulls_last(), r.c.id))


class CatalogueRepository:
    """Activities, their versions and the review items of their municipality's queue."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def entries(self, source: str, source_ids: Iterable[str]) -> dict[str, cat.CatalogueEntry]:
        ids = list(set(source_ids))
        if not ids:
            return {}
        a = t.activities
        # A page's worth, every re-read: times are converted here.
        rows = _all_rows(self.conn, sa.select(
            a.c.id, a.c.source_id, a.c.state, a.c.content_hash, a.c.approved_version_id,
            a.c.next_occurrence, a.c.current_version_id, a.c.source_modified,
            a.c.raw_fingerprint, a.c.mapping_version, a.c.visible_until,
            a.c.next_occurrence_over, a.c.raw_document.is_not(None).label("has_raw"))
            .where(a.c.source == source, _among(self.conn, a.c.source_id, ids)))
        entries = {}
        for (id_, source_id, state, digest, approved, nxt, current, modified, fingerprint,
             version, until, over, has_raw) in rows:
            nxt = _utc_of(nxt)
            entries[source_id] = cat.CatalogueEntry(
                id_, state, digest, approved, nxt.isoformat() if nxt else None, current,
                modified,
                # Without its raw document a fingerprint proves nothing: the next read maps
                # the document again and stores it (remap needs it).
                fingerprint if has_raw else None, version, _utc_of(until), _utc_of(over))
        return entries

    def refresh(self, activity_id: int, next_occurrence: str | None,
                next_occurrence_over: str | None, prov: Provenance | None) -> None:
        """An unchanged activity re-read: keep its sort key and raw document current."""
        values: dict[str, Any] = {"next_occurrence": _iso_to_dt(next_occurrence),
                                  "next_occurrence_over": _iso_to_dt(next_occurrence_over)}
        if prov is not None and prov.raw_document is not None:
            values.update(prov.columns())
        self.conn.execute(t.activities.update().where(t.activities.c.id == activity_id)
                          .values(**values))

    def expire(self, activity_ids: Sequence[int], now: datetime) -> None:
        """Out of the catalogue by date: state `expired`, open items closed undecided."""
        if not activity_ids:
            return
        a, r = t.activities, t.review_items
        self.conn.execute(a.update().where(a.c.id.in_(activity_ids))
                          .values(state=cat.EXPIRED, updated_at=now))
        self.conn.execute(
            r.update().where(r.c.activity_id.in_(activity_ids), r.c.status == cat.ITEM_OPEN)
            .values(status=cat.ITEM_EXPIRED, decided_at=now, lock_version=r.c.lock_version + 1))
        index_activities(self.conn, activity_ids)

    def due_to_expire(self, now: datetime, limit: int = 1000) -> list[int]:
        """Pending or published activities whose current version is shown no longer."""
        a = t.activities
        return list(self.conn.execute(
            sa.select(a.c.id).where(a.c.state.in_((cat.PENDING, cat.PUBLISHED)),
                                    a.c.visible_until.is_not(None), a.c.visible_until <= now)
            .order_by(a.c.id).limit(limit)).scalars())

    def stale_next_occurrences(self, now: datetime, limit: int = 1000) -> list[tuple[int, int]]:
        """(activity id, current version id) of live activities whose next date is over."""
        a = t.activities
        live = a.c.state.in_((cat.PENDING, cat.PUBLISHED))
        # Over: the next date moves on. Not known (rows written without it, a period without
        # end): once it began, as before the column existed. Two selects, each a range of
        # `ix_activities_state_next` (an OR of both would read every live row).
        over = sa.select(a.c.id, a.c.current_version_id).where(
            live, a.c.next_occurrence.is_not(None), a.c.next_occurrence_over <= now)
        began = sa.select(a.c.id, a.c.current_version_id).where(
            live, a.c.next_occurrence_over.is_(None), a.c.next_occurrence < now)
        union = sa.union_all(over, began).subquery()
        rows = self.conn.execute(sa.select(union).order_by(union.c.id).limit(limit))
        return [(r.id, r.current_version_id) for r in rows]

    def raw_documents(self, source: str, after_id: int,
                      limit: int) -> list[tuple[int, str | None]]:
        """(activity id, raw document) of a source in id order, for `remap`."""
        a = t.activities
        rows = self.conn.execute(
            sa.select(a.c.id, a.c.raw_document)
            .where(a.c.source == source, a.c.id > after_id).order_by(a.c.id).limit(limit))
        return [(r.id, r.raw_document) for r in rows]

    def approve_quietly(self, activity_id: int, version_id: int) -> None:
        """A new version the moderator would see no difference in becomes the approved one."""
        self.conn.execute(t.activities.update().where(t.activities.c.id == activity_id)
                          .values(approved_version_id=version_id))
        index_activities(self.conn, [activity_id])

    def create(
        self, source: str, act: NormalisedActivity, state: str, now: datetime,
        run_id: int | None, data: dict[str, Any] | None = None, digest: str | None = None,
        prov: Provenance = NO_PROVENANCE,
    ) -> tuple[int, int]:
        """Insert an activity and its first version; `data`/`digest` when already computed."""
        data = data if data is not None else act.to_dict()
        digest = digest or hash_of(data)
        activity_id = new_id(self.conn.execute(_INSERT_ACTIVITY, {
            **prov.columns(),
            "source": source,
            "source_id": act.source_id,
            "state": state,
            "municipality_nis": act.place.nis,
            "title": act.display_title,
            "next_occurrence": _iso_to_dt(act.next_occurrence),
            "next_occurrence_over": _iso_to_dt(act.next_occurrence_over),
            "content_hash": digest,
            "source_modified": act.modified,
            "created_at": now,
            "updated_at": now,
        }))
        version_id = self._add_version(activity_id, 1, act, data, digest, now, run_id)
        self.conn.execute(_SET_CURRENT_VERSION, {"aid": activity_id, "vid": version_id})
        return activity_id, version_id

    def create_many(
        self, source: str,
        new: Sequence[cat.NewActivity], state: str, now: datetime, run_id: int | None,
    ) -> list[tuple[int, int]]:
        """Insert activities, their first versions and their review items in a few batched
        statements (COPY on PostgreSQL); return (activity id, review item id) per activity,
        in order. The bulk write path of new activities: what must happen for every new
        activity of a sync belongs here."""
        a, v, r = t.activities, t.activity_versions, t.review_items
        # Ids first, so an activity names its current version as it is written.
        activity_ids, version_ids, item_ids = (new_ids(self.conn, table, len(new))
                                               for table in (a, v, r))
        insert_rows(self.conn, a, [{
            "id": aid, "source": source, "source_id": n.source_id, "state": state,
            "municipality_nis": n.nis, "title": n.title,
            "next_occurrence": _iso_to_dt(n.next_occurrence),
            "next_occurrence_over": _iso_to_dt(n.next_occurrence_over), "content_hash": n.digest,
            "source_modified": n.modified, "current_version_id": vid, "created_at": now,
            "updated_at": now, **n.prov.columns(),
        } for aid, vid, n in zip(activity_ids, version_ids, new, strict=True)])
        insert_rows(self.conn, v, [{
            "id": vid, "activity_id": aid, "number": 1, "content_hash": n.digest,
            "data": n.data, "source_modified": n.modified, "run_id": run_id, "created_at": now,
        } for aid, vid, n in zip(activity_ids, version_ids, new, strict=True)])
        insert_rows(self.conn, r, [{
            "id": iid, "activity_id": aid, "version_id": vid, "municipality_nis": n.nis,
            "kind": cat.KIND_NEW, "status": cat.ITEM_OPEN, "reason": None, "created_at": now,
        } for aid, vid, iid, n in zip(activity_ids, version_ids, item_ids, new, strict=True)])
        return list(zip(activity_ids, item_ids, strict=True))

    def update(
        self, activity_id: int, act: NormalisedActivity, state: str, now: datetime,
        run_id: int | None, data: dict[str, Any] | None = None, digest: str | None = None,
        prov: Provenance = NO_PROVENANCE,
    ) -> int:
        data = data if data is not None else act.to_dict()
        digest = digest or hash_of(data)
        number = self.conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(t.activity_versions.c.number), 0)).where(
                t.activity_versions.c.activity_id == activity_id
            )
        ).scalar_one()
        version_id = self._add_version(activity_id, number + 1, act, data, digest, now, run_id)
        self.conn.execute(
            t.activities.update()
            .where(t.activities.c.id == activity_id)
            .values(
                state=state,
                municipality_nis=act.place.nis,
                title=act.display_title,
                next_occurrence=_iso_to_dt(act.next_occurrence),
                next_occurrence_over=_iso_to_dt(act.next_occurrence_over),
                content_hash=digest,
                source_modified=act.modified,
                current_version_id=version_id,
                withdrawn_reason=None,
                updated_at=now,
                **({} if prov is NO_PROVENANCE else prov.columns()),
            )
        )
        return version_id

    def update_many(self, changes: Sequence[NewVersion], now: datetime,
                    run_id: int | None) -> list[tuple[int, int | None]]:
        """Store new versions of several activities (each at most once) in a few batched
        statements: versions, activity rows, review items (superseding the open ones), and
        expiry of what is over. (version id, review item id or None) per change, in order.
        The bulk write path of changed activities: what must happen for every changed
        activity of a sync belongs here."""
        if not changes:
            return []
        v, r = t.activity_versions, t.review_items
        ids = [c.activity_id for c in changes]
        numbers: dict[int, int] = {aid: n for aid, n in self.conn.execute(
            sa.select(v.c.activity_id, sa.func.max(v.c.number))
            .where(_among(self.conn, v.c.activity_id, ids)).group_by(v.c.activity_id))}
        version_ids = insert_returning_ids(self.conn, v, [{
            "activity_id": c.activity_id, "number": numbers.get(c.activity_id, 0) + 1,
            "content_hash": c.digest, "data": c.data, "source_modified": c.act.modified,
            "run_id": run_id, "created_at": now,
        } for c in changes])
        self.conn.execute(_UPDATE_ACTIVITY, [{
            "b_id": c.activity_id, "b_state": c.state, "b_nis": c.act.place.nis,
            "b_title": c.act.display_title, "b_next": _iso_to_dt(c.act.next_occurrence),
            "b_hash": c.digest, "b_modified": c.act.modified, "b_version": vid,
            "b_approved": vid if c.approve else None, "b_now": now,
            "b_raw": c.prov.raw_document, "b_fingerprint": c.prov.raw_fingerprint,
            "b_mapping": c.prov.mapping_version, "b_until": c.prov.visible_until,
            "b_over": _iso_to_dt(c.act.next_occurrence_over),
        } for c, vid in zip(changes, version_ids, strict=True)])
        reviewed = [(c, vid) for c, vid in zip(changes, version_ids, strict=True)
                    if c.review_kind is not None]
        item_ids = insert_returning_ids(self.conn, r, [{
            "activity_id": c.activity_id, "version_id": vid, "municipality_nis": c.act.place.nis,
            "kind": c.review_kind, "status": cat.ITEM_OPEN, "reason": None, "created_at": now,
        } for c, vid in reviewed])
        if item_ids:
            self.conn.execute(_SUPERSEDE, [
                {"b_activity": c.activity_id, "b_item": iid}
                for (c, _), iid in zip(reviewed, item_ids, strict=True)])
        # Over without review: what was still open for it closes (as `expire` does).
        self.expire([c.activity_id for c in changes
                     if c.review_kind is None and c.state == cat.EXPIRED], now)
        # A quietly approved version is what the public sees now (as `approve_quietly`).
        index_activities(self.conn, [c.activity_id for c in changes if c.approve])
        items = dict(zip((c.activity_id for c, _ in reviewed), item_ids, strict=True))
        return [(vid, items.get(c.activity_id)) for c, vid in zip(changes, version_ids,
                                                                   strict=True)]

    def withdraw(self, activity_id: int, reason: str, now: datetime) -> Any:
        a = t.activities
        self.conn.execute(
            a.update()
            .where(a.c.id == activity_id)
            .values(state=cat.WITHDRAWN, withdrawn_reason=reason, updated_at=now)
        )
        index_activities(self.conn, [activity_id])
        return self.conn.execute(
            sa.select(a.c.current_version_id, a.c.municipality_nis, a.c.title, a.c.source_id)
            .where(a.c.id == activity_id)
        ).one()

    def _add_version(
        self, activity_id: int, number: int, act: NormalisedActivity, data: dict[str, Any],
        digest: str, now: datetime, run_id: int | None,
    ) -> int:
        return new_id(self.conn.execute(_INSERT_VERSION, {
            "activity_id": activity_id,
            "number": number,
            "content_hash": digest,
            "data": data,
            "source_modified": act.modified,
            "run_id": run_id,
            "created_at": now,
        }))

    def open_review_item(
        self, activity_id: int, version_id: int, municipality_nis: str, kind: str,
        now: datetime, reason: str | None = None, supersede: bool = True,
    ) -> int:
        """Open a review item; any open item of the activity is superseded by it."""
        r = t.review_items
        item_id = new_id(self.conn.execute(_INSERT_ITEM, {
            "activity_id": activity_id,
            "version_id": version_id,
            "municipality_nis": municipality_nis,
            "kind": kind,
            "status": cat.ITEM_OPEN,
            "reason": reason,
            "created_at": now,
        }))
        if not supersede:  # a brand-new activity has no other item
            return item_id
        self.conn.execute(
            r.update()
            .where(r.c.activity_id == activity_id, r.c.status == cat.ITEM_OPEN, r.c.id != item_id)
            .values(
                status=cat.ITEM_SUPERSEDED,
                superseded_by_id=item_id,
                lock_version=r.c.lock_version + 1,
            )
        )
        return item_id

    def record_skipped(self, source: str, skipped: Sequence[Skipped],
                       mapping_version: str | None, now: datetime,
                       prints: Mapping[str, str] | None = None) -> None:
        """Remember events the mapping left out (the last word per event counts), with the
        fingerprint of the document read (`prints`, by id) when known."""
        last = {s.source_id: s for s in skipped}
        if not last:
            return
        k = t.skipped_events
        # Delete and insert: one portable upsert for SQLite and PostgreSQL.
        self.conn.execute(k.delete().where(k.c.source == source,
                                           _among(self.conn, k.c.source_id, list(last))))
        self.conn.execute(k.insert(), [{
            "source": source, "source_id": sid, "reason": s.reason, "modified": s.modified,
            "mapping_version": mapping_version, "recorded_at": now,
            "raw_fingerprint": (prints or {}).get(sid),
        } for sid, s in last.items()])

    def refresh_statistics(self) -> None:
        """PostgreSQL: fresh planner statistics for the lookups every page makes (an event's
        row by source and id). After a bulk load they are missing or describe a small table
        (autovacuum analyses a minute later at best, and some servers run without it): the
        planner then read every row of the source for each page's 2 000 ids (25 against
        13 ms a page at 100 000 activities, and growing with the catalogue). SQLite plans
        these lookups by the index alone."""
        if self.conn.dialect.name != "postgresql":
            return
        # A VACUUM or an index build holding the table is not worth waiting for.
        self.conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        quote = self.conn.dialect.identifier_preparer.quote
        a, k = t.activities, t.skipped_events
        for table, columns in ((a, (a.c.source, a.c.source_id)),
                               (k, (k.c.source, k.c.source_id, k.c.mapping_version))):
            self.conn.execute(sa.text(f"ANALYZE {quote(table.name)} "
                                      f"({', '.join(quote(c.name) for c in columns)})"))

    def skipped_fingerprints(self, source: str, source_ids: Sequence[str],
                             mapping_version: str) -> dict[str, tuple[str, str]]:
        """Id → (fingerprint, reason) of these events, where this mapping version left out
        the document with that fingerprint."""
        if not source_ids:
            return {}
        k = t.skipped_events
        return {sid: (print_, reason) for sid, print_, reason in _all_rows(
            self.conn, sa.select(k.c.source_id, k.c.raw_fingerprint, k.c.reason)
            .where(k.c.source == source, k.c.mapping_version == mapping_version,
                   k.c.raw_fingerprint.is_not(None),
                   _among(self.conn, k.c.source_id, source_ids)))}

    def known_ids(self, source: str, source_ids: Sequence[str]) -> set[str]:
        """Which of these ids the catalogue holds."""
        if not source_ids:
            return set()
        a = t.activities
        return self._strings(sa.select(a.c.source_id).where(
            a.c.source == source, _among(self.conn, a.c.source_id, source_ids)))

    def source_ids(self, source: str, live_only: bool = False) -> set[str]:
        """Ids of the source's activities in the catalogue (`live_only`: not withdrawn)."""
        a = t.activities
        ids = self._strings(sa.select(a.c.source_id).where(a.c.source == source))
        if live_only:
            # All ids through the (source, source_id) index, less the withdrawn ones through
            # the state index: filtering on state made SQLite read every row, raw document
            # and all (0.2 s at 100 000 activities, 4 times the index's).
            ids -= self._strings(sa.select(a.c.source_id).where(a.c.source == source,
                                                                a.c.state == cat.WITHDRAWN))
        return ids

    def skipped_ids(self, source: str, mapping_version: str) -> set[str]:
        """Ids of the events this mapping version left out when it last read them."""
        k = t.skipped_events
        return self._strings(sa.select(k.c.source_id).where(
            k.c.source == source, k.c.mapping_version == mapping_version))

    def forget_skipped(self, source: str, keep: set[str]) -> int:
        """Drop the skipped events the source no longer returns; how many went."""
        k = t.skipped_events
        gone = sorted(self._strings(sa.select(k.c.source_id).where(k.c.source == source))
                      - keep)
        if gone:
            self.conn.execute(k.delete().where(k.c.source == source,
                                               _among(self.conn, k.c.source_id, gone)))
        return len(gone)

    def _strings(self, query: sa.Select[tuple[str]]) -> set[str]:
        """One string column's values (`_all_rows`: a string needs no conversion)."""
        return {value for (value,) in _all_rows(self.conn, query)}

    def list_activities(
        self, municipality_nis: str | None = None, state: str | None = None
    ) -> list[sa.Row[Any]]:
        a = t.activities
        # The raw document is for remap, not for listings (kilobytes per row).
        q = (sa.select(*[c for c in a.c if c.name != "raw_document"])
             .order_by(a.c.next_occurrence.asc().nulls_last(), a.c.id))
        if municipality_nis:
            q = q.where(a.c.municipality_nis == municipality_nis)
        if state:
            q = q.where(a.c.state == state)
        return list(self.conn.execute(q))

    def queue(self, municipality_nis: str | None = None) -> list[sa.Row[Any]]:
        """Open review items, soonest activity first."""
        r, a = t.review_items, t.activities
        q = open_soonest_first(
            r.c.id, r.c.kind, r.c.reason, r.c.municipality_nis, r.c.created_at,
            r.c.activity_id, r.c.version_id, r.c.lock_version, a.c.source_id, a.c.title,
            a.c.state, a.c.next_occurrence,
        )
        if municipality_nis:
            q = q.where(r.c.municipality_nis == municipality_nis)
        return list(self.conn.execute(q))

    def version_data(self, version_id: int) -> dict[str, Any]:
        found = read_version_data(self.conn, version_id)
        if found is None:
            raise LookupError(f"no activity version {version_id}")
        return found


class OutboxRepository:
    """Messages to deliver after commit; written in the transaction of the change."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, events: Sequence[DomainEvent], now: datetime) -> None:
        insert_rows(self.conn, t.outbox, [{
            "topic": e.topic, "payload": e.payload(), "created_at": now, "available_at": now,
        } for e in events])

    def add(self, event: DomainEvent, now: datetime) -> None:
        self.conn.execute(_INSERT_OUTBOX, {
            "topic": event.topic, "payload": event.payload(), "created_at": now,
            "available_at": now,
        })


class RunRepository:
    """Sync runs, source cursors and recorded failures."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def cursor(self, source: str) -> dict[str, Any] | None:
        s = t.source_state
        return self.conn.execute(
            sa.select(s.c.cursor).where(s.c.source == source)
        ).scalar_one_or_none()

    def save_cursor(self, source: str, cursor: dict[str, Any], now: datetime) -> None:
        s = t.source_state
        done = self.conn.execute(
            s.update().where(s.c.source == source).values(cursor=cursor, updated_at=now)
        )
        if done.rowcount == 0:
            self.conn.execute(s.insert().values(source=source, cursor=cursor, updated_at=now))

    def start(
        self, source: str, kind: str, cursor: dict[str, Any] | None, now: datetime
    ) -> int:
        return new_id(
            self.conn.execute(
                t.sync_runs.insert().values(
                    source=source, kind=kind, status=RUNNING, started_at=now,
                    cursor_before=cursor, counts=RunCounts().to_json(),
                )
            )
        )

    def progress(self, run_id: int, counts: RunCounts, cursor: dict[str, Any] | None) -> None:
        self.conn.execute(
            t.sync_runs.update()
            .where(t.sync_runs.c.id == run_id)
            .values(counts=counts.to_json(), cursor_after=cursor)
        )

    def finish(
        self, run_id: int, status: str, counts: RunCounts, error: str | None, now: datetime
    ) -> None:
        self.conn.execute(
            t.sync_runs.update()
            .where(t.sync_runs.c.id == run_id)
            .values(status=status, counts=counts.to_json(), error=error, ended_at=now)
        )

    def interrupted(self, source: str, now: datetime) -> list[int]:
        """Close runs of `source` left `running` by a process that died."""
        r = t.sync_runs
        ids = list(
            self.conn.execute(
                # A replay runs beside syncs; only a sync holding the source's lock calls this.
                sa.select(r.c.id).where(r.c.source == source, r.c.status == RUNNING,
                                        r.c.kind != "replay")
            ).scalars()
        )
        if ids:
            self.conn.execute(
                r.update()
                .where(r.c.id.in_(ids))
                .values(status="failed", ended_at=now,
                        error="interrupted: the process stopped before the run ended")
            )
        return ids

    def get(self, run_id: int) -> sa.Row[Any] | None:
        return self.conn.execute(
            sa.select(t.sync_runs).where(t.sync_runs.c.id == run_id)
        ).one_or_none()

    def list(
        self, source: str | None = None, status: str | None = None, limit: int = 50, *,
        kind: str | None = None, since: datetime | None = None, until: datetime | None = None,
    ) -> list[sa.Row[Any]]:
        """Runs newest first; `since`/`until` bound `started_at` (until exclusive)."""
        r = t.sync_runs
        q = sa.select(r).order_by(r.c.id.desc()).limit(limit)
        for col, val in ((r.c.source, source), (r.c.status, status), (r.c.kind, kind)):
            if val is not None:
                q = q.where(col == val)
        if since is not None:
            q = q.where(r.c.started_at >= since)
        if until is not None:
            q = q.where(r.c.started_at < until)
        return list(self.conn.execute(q))

    def add_failure(
        self, run_id: int, source: str, source_id: str | None, stage: str, error: str,
        raw_payload: str | None, now: datetime,
    ) -> int:
        return new_id(
            self.conn.execute(
                t.sync_failures.insert().values(
                    run_id=run_id, source=source, source_id=source_id, stage=stage,
                    error=error, raw_payload=raw_payload, status="open", attempts=1,
                    created_at=now,
                )
            )
        )

    def failures(
        self, source: str | None = None, run_id: int | None = None,
        status: str | None = None, stage: str | None = None, limit: int = 200,
    ) -> Sequence[sa.Row[Any]]:
        f = t.sync_failures
        q = sa.select(f).order_by(f.c.id).limit(limit)
        for col, val in ((f.c.source, source), (f.c.run_id, run_id), (f.c.status, status),
                         (f.c.stage, stage)):
            if val is not None:
                q = q.where(col == val)
        return list(self.conn.execute(q))
