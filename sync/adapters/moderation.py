"""Repositories of the moderation side: link tokens, moderators, review decisions, mail rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from sync.adapters import tables as t
from sync.adapters.repository import new_id, open_soonest_first, read_version_data
from sync.adapters.search_index import index_activities
from sync.domain import catalogue as cat
from sync.domain.events import TOPIC_EMAIL

# A token hash that matches nothing: a malformed token costs the same lookup as any other.
NO_HASH = "0" * 64


class LinkRepository:
    """Hashes of e-mail link tokens: review links (`link_tokens`) and one-purpose links
    (`action_tokens`). Only hashes come in; tokens themselves never reach the database."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, token_hash: str, moderator_id: int, scope: str, review_item_id: int | None,
            now: datetime, expires_at: datetime) -> None:
        self.conn.execute(t.link_tokens.insert().values(
            token_hash=token_hash, moderator_id=moderator_id, scope=scope,
            review_item_id=review_item_id, created_at=now, expires_at=expires_at))

    def add_items(self, moderator_id: int, scope: str, hashes: Sequence[tuple[str, int]],
                  now: datetime, expires_at: datetime) -> None:
        """One item link per (hash, review item), in a single multi-row insert (a digest)."""
        if hashes:
            self.conn.execute(t.link_tokens.insert(), [
                {"token_hash": h, "moderator_id": moderator_id, "scope": scope,
                 "review_item_id": item_id, "created_at": now, "expires_at": expires_at,
                 "used_at": None, "revoked_at": None}
                for h, item_id in hashes])

    def revoke(self, moderator_id: int, now: datetime, scope: str | None = None) -> int:
        """Revoke the moderator's live links (of one scope, or all)."""
        lt = t.link_tokens
        q = lt.update().where(lt.c.moderator_id == moderator_id, lt.c.revoked_at.is_(None))
        if scope is not None:
            q = q.where(lt.c.scope == scope)
        return self.conn.execute(q.values(revoked_at=now)).rowcount

    def revoke_items_in(self, moderator_id: int, scope: str, municipality_nis: Sequence[str],
                        now: datetime) -> int:
        """Revoke the moderator's item links for items of these municipalities."""
        lt, r = t.link_tokens, t.review_items
        items = sa.select(r.c.id).where(r.c.municipality_nis.in_(list(municipality_nis)))
        return self.conn.execute(
            lt.update()
            .where(lt.c.moderator_id == moderator_id, lt.c.scope == scope,
                   lt.c.revoked_at.is_(None), lt.c.review_item_id.in_(items))
            .values(revoked_at=now)).rowcount

    def find(self, token_hash: str | None) -> Any:
        """The link row of a hash with its moderator's `active`, or None."""
        lt, m = t.link_tokens, t.moderators
        return self.conn.execute(
            sa.select(lt, m.c.active).join(m, m.c.id == lt.c.moderator_id)
            .where(lt.c.token_hash == (token_hash or NO_HASH))).one_or_none()

    def mark_used(self, token_id: int, now: datetime) -> bool:
        """True for the caller that used it first."""
        lt = t.link_tokens
        return self.conn.execute(
            lt.update().where(lt.c.id == token_id, lt.c.used_at.is_(None)).values(used_at=now)
        ).rowcount == 1

    def unuse(self, token_id: int, scope: str) -> None:
        """A link of `scope` works again (its decision was undone)."""
        lt = t.link_tokens
        self.conn.execute(lt.update().where(lt.c.id == token_id, lt.c.scope == scope)
                          .values(used_at=None))

    def add_action(self, token_hash: str, purpose: str, email: str, now: datetime,
                   expires_at: datetime, request_id: int | None,
                   moderator_id: int | None) -> None:
        self.conn.execute(t.action_tokens.insert().values(
            token_hash=token_hash, purpose=purpose, email=email, request_id=request_id,
            moderator_id=moderator_id, created_at=now, expires_at=expires_at))

    def find_action(self, token_hash: str | None) -> Any:
        at = t.action_tokens
        return self.conn.execute(sa.select(at).where(
            at.c.token_hash == (token_hash or NO_HASH))).one_or_none()

    def use_action(self, token_id: int, now: datetime) -> bool:
        at = t.action_tokens
        return self.conn.execute(at.update().where(at.c.id == token_id, at.c.used_at.is_(None))
                                 .values(used_at=now)).rowcount == 1

    def use_request_actions(self, request_id: int, now: datetime) -> None:
        at = t.action_tokens
        self.conn.execute(at.update().where(at.c.request_id == request_id,
                                            at.c.used_at.is_(None)).values(used_at=now))


class ModeratorRepository:
    """Moderators and their municipalities."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def id_of(self, email: str, *, active_only: bool = False,
              other_than: int | None = None) -> int | None:
        m = t.moderators
        q = sa.select(m.c.id).where(m.c.email == email)
        if active_only:
            q = q.where(m.c.active.is_(True))
        if other_than is not None:
            q = q.where(m.c.id != other_than)
        row = self.conn.execute(q).first()
        return None if row is None else int(row.id)

    def exists(self, moderator_id: int) -> bool:
        m = t.moderators
        return self.conn.execute(sa.select(m.c.id).where(m.c.id == moderator_id)).first() \
            is not None

    def add(self, *, name: str, email: str, notify: str, active: bool, now: datetime) -> int:
        return new_id(self.conn.execute(t.moderators.insert().values(
            name=name, email=email, notify=notify, active=active, created_at=now,
            updated_at=now)))

    def add_unless_there(self, *, name: str, email: str, notify: str,
                         now: datetime) -> bool:
        """Insert unless another process registered the address at the same moment."""
        try:
            with self.conn.begin_nested():
                self.add(name=name, email=email, notify=notify, active=True, now=now)
        except IntegrityError:
            return False
        return True

    def set_municipalities(self, moderator_id: int, nis: Iterable[str]) -> None:
        mm = t.moderator_municipalities
        self.conn.execute(mm.delete().where(mm.c.moderator_id == moderator_id))
        wanted = sorted(set(nis))
        if wanted:
            self.conn.execute(mm.insert(), [{"moderator_id": moderator_id, "municipality_nis": n}
                                            for n in wanted])

    def rows(self, ids: Sequence[int] | None = None, active_only: bool = False) -> list[Any]:
        """Moderator rows by name, each with `municipalities` (a sorted tuple of NIS codes)."""
        m, mm = t.moderators, t.moderator_municipalities
        q = sa.select(m).order_by(m.c.name, m.c.id)
        if ids is not None:
            q = q.where(m.c.id.in_(list(ids)))
        if active_only:
            q = q.where(m.c.active.is_(True))
        rows = list(self.conn.execute(q))
        per: dict[int, list[str]] = {}
        mq = sa.select(mm.c.moderator_id, mm.c.municipality_nis)
        if ids is not None:
            mq = mq.where(mm.c.moderator_id.in_(list(ids)))
        for mid, nis in self.conn.execute(mq):
            per.setdefault(mid, []).append(nis)
        return [(row, tuple(sorted(per.get(row.id, [])))) for row in rows]

    def change(self, moderator_id: int, values: dict[str, Any]) -> None:
        m = t.moderators
        self.conn.execute(m.update().where(m.c.id == moderator_id).values(**values))

    def delete(self, moderator_id: int) -> None:
        m = t.moderators
        self.conn.execute(m.delete().where(m.c.id == moderator_id))

    def lock(self, moderator_id: int) -> None:
        """Hold the moderator's row until the transaction ends (PostgreSQL; SQLite's write
        transaction serialises anyway)."""
        m = t.moderators
        self.conn.execute(sa.select(m.c.id).where(m.c.id == moderator_id).with_for_update()
                          ).first()


def _open_soonest_first(*columns: Any) -> sa.Select[Any]:
    """Open items with their kind, reason, municipality and age, the activity's title and
    next date, and `columns`."""
    r, a = t.review_items, t.activities
    return open_soonest_first(r.c.id, r.c.kind, r.c.reason, r.c.municipality_nis,
                              r.c.created_at, a.c.title, a.c.next_occurrence, *columns)


class ReviewRepository:
    """Review items, the decisions on them (the append-only log) and who was told of them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # ------------------------------------------------------------ items and their activity

    def item(self, item_id: int) -> Any:
        r = t.review_items
        return self.conn.execute(sa.select(r).where(r.c.id == item_id)).one_or_none()

    def kinds(self, item_ids: Sequence[int]) -> dict[int, str]:
        r = t.review_items
        return dict(self.conn.execute(sa.select(r.c.id, r.c.kind)
                                      .where(r.c.id.in_(list(item_ids)))).all())

    def activity(self, activity_id: int) -> Any:
        """The activity's `state` and `approved_version_id`."""
        a = t.activities
        return self.conn.execute(sa.select(a.c.state, a.c.approved_version_id)
                                 .where(a.c.id == activity_id)).one()

    def version_data(self, version_id: int) -> dict[str, Any]:
        found = read_version_data(self.conn, version_id)
        if found is None:
            raise LookupError(f"no activity version {version_id}")
        return found

    def add_version_like(self, version_id: int, data: dict[str, Any], content_hash: str,
                         now: datetime) -> int:
        """A new version of the same activity with `data`, numbered after the newest."""
        v = t.activity_versions
        base = self.conn.execute(sa.select(v).where(v.c.id == version_id)).one()
        number = self.conn.execute(sa.select(sa.func.max(v.c.number))
                                   .where(v.c.activity_id == base.activity_id)).scalar_one()
        return new_id(self.conn.execute(v.insert().values(
            activity_id=base.activity_id, number=int(number or 0) + 1,
            content_hash=content_hash, data=data, source_modified=base.source_modified,
            run_id=None, created_at=now)))

    def close(self, item_id: int, lock_version: int, *, status: str, now: datetime,
              decided_by: str, reason: str | None, new_lock: int) -> bool:
        """Decide an open item; the version check is in the UPDATE itself, so two deciders
        cannot both win. False when someone else did first."""
        r = t.review_items
        return self.conn.execute(
            r.update().where(r.c.id == item_id, r.c.status == cat.ITEM_OPEN,
                             r.c.lock_version == lock_version)
            .values(status=status, decided_at=now, decided_by=decided_by,
                    decision_reason=reason, lock_version=new_lock)).rowcount == 1

    def reopen(self, item_id: int, lock_version: int) -> bool:
        r = t.review_items
        return self.conn.execute(
            r.update().where(r.c.id == item_id, r.c.lock_version == lock_version)
            .values(status=cat.ITEM_OPEN, decided_at=None, decided_by=None,
                    decision_reason=None, lock_version=lock_version + 1)).rowcount == 1

    def has_open(self, activity_id: int) -> bool:
        r = t.review_items
        return self.conn.execute(sa.select(r.c.id).where(
            r.c.activity_id == activity_id, r.c.status == cat.ITEM_OPEN)).first() is not None

    def set_activity(self, activity_id: int, now: datetime, **values: Any) -> None:
        """Change an activity's state or approved version; the public search index follows."""
        a = t.activities
        self.conn.execute(a.update().where(a.c.id == activity_id)
                          .values(updated_at=now, **values))
        index_activities(self.conn, [activity_id])

    def version_data_or_none(self, version_id: int | None) -> dict[str, Any] | None:
        return read_version_data(self.conn, version_id)

    def versions_data(self, version_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        v = t.activity_versions
        return {i: dict(d) for i, d in self.conn.execute(
            sa.select(v.c.id, v.c.data).where(v.c.id.in_(list(version_ids))))}

    def item_with_activity(self, item_id: int) -> Any:
        """The item with its activity's `activity_state` and `approved_version_id`."""
        r, a = t.review_items, t.activities
        return self.conn.execute(
            sa.select(r, a.c.state.label("activity_state"),
                      a.c.approved_version_id.label("approved_version_id"))
            .join(a, a.c.id == r.c.activity_id).where(r.c.id == item_id)).one_or_none()

    def newest_open(self, activity_id: int) -> Any:
        r = t.review_items
        return self.conn.execute(sa.select(r).where(r.c.activity_id == activity_id,
                                                    r.c.status == cat.ITEM_OPEN)
                                 .order_by(r.c.id.desc()).limit(1)).one_or_none()

    def titles(self, item_ids: Iterable[int]) -> dict[int, str]:
        r, a = t.review_items, t.activities
        return dict(self.conn.execute(
            sa.select(r.c.id, a.c.title).join(a, a.c.id == r.c.activity_id)
            .where(r.c.id.in_(list(item_ids)))).all())

    def decided_by(self, item_ids: Iterable[int]) -> dict[int, str | None]:
        r = t.review_items
        return dict(self.conn.execute(sa.select(r.c.id, r.c.decided_by)
                                      .where(r.c.id.in_(list(item_ids)))).all())

    # ------------------------------------------------------------ the decision log

    def decisions_of(self, moderator_id: int, decision_ids: Sequence[int]) -> list[Any]:
        """The moderator's own decisions (not undos) among these, with the activity's title."""
        d, a = t.decision_log, t.activities
        return list(self.conn.execute(
            sa.select(d.c.id, d.c.review_item_id, d.c.decision, a.c.title)
            .join(a, a.c.id == d.c.activity_id)
            .where(d.c.id.in_(list(decision_ids)), d.c.moderator_id == moderator_id,
                   d.c.undo_of_id.is_(None))
            .order_by(d.c.id)))

    def undone(self, decision_ids: Sequence[int]) -> set[int]:
        """Which of these decisions were taken back."""
        d = t.decision_log
        return set(self.conn.execute(sa.select(d.c.undo_of_id)
                                     .where(d.c.undo_of_id.in_(list(decision_ids)))).scalars())


    def log(self, **values: Any) -> int:
        return new_id(self.conn.execute(t.decision_log.insert().values(**values)))

    def decision(self, decision_id: int) -> Any:
        d = t.decision_log
        return self.conn.execute(sa.select(d).where(d.c.id == decision_id)).one_or_none()

    def audit(self, limit: int, item_id: int | None = None) -> list[dict[str, Any]]:
        """The decision log, newest first."""
        d = t.decision_log
        q = sa.select(d).order_by(d.c.id.desc()).limit(limit)
        if item_id is not None:
            q = q.where(d.c.review_item_id == item_id)
        return [dict(row._mapping) for row in self.conn.execute(q)]

    # ------------------------------------------------------------ open items and mail

    def open_items(self, ids: Sequence[int] | None = None) -> list[Any]:
        """Open items for mail: each with its activity's title and next date and its
        version's data."""
        v = t.activity_versions
        q = _open_soonest_first(v.c.data)
        if ids is not None:
            q = q.where(t.review_items.c.id.in_(list(ids)))
        return list(self.conn.execute(q))

    def queue_rows(self, municipality_nis: Iterable[str]) -> list[Any]:
        """Open items of these municipalities for the queue page: only the few fields a row
        shows are read from the stored versions (a fallback queue holds hundreds of items)."""
        r, a, v = t.review_items, t.activities, t.activity_versions
        q = _open_soonest_first(
            r.c.lock_version, r.c.version_id, a.c.approved_version_id,
            v.c.data["language_levels"].label("levels"),
            v.c.data["activity_types"].label("types"),
            v.c.data[("organizer", "name")].label("organizer"),
            v.c.data["main_language"].label("main_language"),
            v.c.data["calendar"].label("calendar"))
        return list(self.conn.execute(q.where(r.c.municipality_nis.in_(list(municipality_nis)))))

    def open_count(self, municipality_nis: Iterable[str]) -> int:
        r = t.review_items
        return int(self.conn.execute(
            sa.select(sa.func.count()).select_from(r)
            .where(r.c.status == cat.ITEM_OPEN, r.c.municipality_nis.in_(list(municipality_nis)))
        ).scalar_one())

    def notified(self, kinds: Sequence[str]) -> set[tuple[int, int]]:
        """(moderator, open review item) pairs already mailed in one of `kinds`."""
        n, r = t.notifications, t.review_items
        rows = self.conn.execute(
            sa.select(n.c.moderator_id, n.c.review_item_id)
            .join(r, r.c.id == n.c.review_item_id)
            .where(n.c.kind.in_(list(kinds)), r.c.status == cat.ITEM_OPEN))
        return {(m, i) for m, i in rows}

    def told(self, moderator_id: int, kinds: Sequence[str], item_ids: Sequence[int]) -> set[int]:
        """Which of these items were mailed to the moderator in one of `kinds` (decided or
        not since)."""
        n = t.notifications
        return set(self.conn.execute(
            sa.select(n.c.review_item_id).where(n.c.moderator_id == moderator_id,
                                                n.c.kind.in_(list(kinds)),
                                                n.c.review_item_id.in_(list(item_ids)))
        ).scalars())

    def record_notified(self, moderator_id: int, item_ids: Sequence[int], kind: str,
                        outbox_id: int, now: datetime) -> None:
        """Unique per moderator, item and kind: a second writer fails with IntegrityError."""
        if item_ids:
            self.conn.execute(t.notifications.insert(), [
                {"moderator_id": moderator_id, "review_item_id": i, "kind": kind,
                 "outbox_id": outbox_id, "created_at": now} for i in item_ids])


class MailOutbox:
    """Rendered mails in the outbox (topic `email.send`): the relay sends them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, payload: dict[str, Any], now: datetime) -> int:
        return new_id(self.conn.execute(t.outbox.insert().values(
            topic=TOPIC_EMAIL, created_at=now, available_at=now, payload=payload)))

    def count(self, kind: str, moderator_id: int, since: datetime) -> int:
        """Mails of `kind` written for a moderator since `since`, whatever process wrote them."""
        o = t.outbox
        return int(self.conn.execute(
            sa.select(sa.func.count()).select_from(o)
            .where(o.c.topic == TOPIC_EMAIL, o.c.created_at > since,
                   o.c.payload["kind"].as_string() == kind,
                   o.c.payload["moderator_id"].as_integer() == moderator_id)).scalar_one())


class RequestRepository:
    """Requests to become a moderator (`moderator_requests`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, request_id: int) -> Any:
        q = t.moderator_requests
        return self.conn.execute(sa.select(q).where(q.c.id == request_id)).one_or_none()

    def newest_first(self) -> list[Any]:
        q = t.moderator_requests
        return list(self.conn.execute(sa.select(q).order_by(q.c.id.desc())))

    def count_since(self, since: datetime, *, email: str | None = None,
                    ip: str | None = None) -> int:
        """Requests from this address (or network) since `since`."""
        q = t.moderator_requests
        who = q.c.email == email if email is not None else q.c.ip == ip
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(q)
                                     .where(who, q.c.created_at > since)).scalar_one())

    def add(self, **values: Any) -> int:
        return new_id(self.conn.execute(t.moderator_requests.insert().values(**values)))

    def change(self, request_id: int, *, only_if_status: str | None = None,
               **values: Any) -> bool:
        """False when `only_if_status` is given and the request is no longer in it."""
        q = t.moderator_requests
        where = [q.c.id == request_id]
        if only_if_status is not None:
            where.append(q.c.status == only_if_status)
        return self.conn.execute(q.update().where(*where).values(**values)).rowcount == 1
