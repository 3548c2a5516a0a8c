"""E-mail link tokens: random, stored only as a SHA-256 hash, bound to a moderator and a scope."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from sync.adapters.moderation import LinkRepository

SCOPE_ITEM = "item"  # one review item
SCOPE_QUEUE = "queue"  # the moderator's whole queue
# Only stops mail: the List-Unsubscribe header and the footer link carry this one, so a mail
# (or a mail provider that follows the header) never holds a token that opens the queue.
SCOPE_UNSUBSCRIBE = "unsubscribe"
SCOPES = (SCOPE_ITEM, SCOPE_QUEUE, SCOPE_UNSUBSCRIBE)
UNSUBSCRIBE_VALID_DAYS = 60

ITEM_PATH = "/moderatie/item/"
QUEUE_PATH = "/moderatie/wachtrij/"
UNSUBSCRIBE_PATH = "/moderatie/afmelden/"  # an unsubscribe token (or a queue token)
PREFERENCES_PATH = "/moderatie/voorkeuren/"  # takes a queue token
INSIGHT_PATH = "/moderatie/inzicht/"  # takes a queue token


class InvalidLink(Exception):
    """Unknown, expired, used or revoked: one error, so a caller cannot tell which."""


@dataclass(frozen=True, slots=True)
class LinkGrant:
    """What a valid token allows."""

    token_id: int
    moderator_id: int
    scope: str
    review_item_id: int | None
    expires_at: datetime
    used: bool = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(
    conn: Connection, moderator_id: int, scope: str, now: datetime, valid_days: int,
    review_item_id: int | None = None,
) -> str:
    """Store a new token's hash and return the token itself (256 random bits, URL-safe)."""
    if scope == SCOPE_ITEM and review_item_id is None:
        raise ValueError("an item link needs a review item")
    if scope not in SCOPES:
        raise ValueError(f"unknown link scope {scope!r}")
    token = secrets.token_urlsafe(32)
    repo = LinkRepository(conn)
    if scope == SCOPE_QUEUE:
        # One live queue link per moderator: a new one retires the older ones, so asking for
        # links again and again leaves one working link, not a pile of them.
        repo.revoke(moderator_id, now, SCOPE_QUEUE)
    repo.add(token_hash(token), moderator_id, scope,
             review_item_id if scope == SCOPE_ITEM else None, now,
             now + timedelta(days=valid_days))
    return token


def issue_items(
    conn: Connection, moderator_id: int, review_item_ids: Sequence[int], now: datetime,
    valid_days: int,
) -> list[str]:
    """One item token per review item, stored in a single multi-row insert (a digest)."""
    tokens = [secrets.token_urlsafe(32) for _ in review_item_ids]
    LinkRepository(conn).add_items(
        moderator_id, SCOPE_ITEM,
        [(token_hash(tok), item_id) for tok, item_id in zip(tokens, review_item_ids, strict=True)],
        now, now + timedelta(days=valid_days))
    return tokens


def item_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + ITEM_PATH + token


def queue_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + QUEUE_PATH + token


def unsubscribe_url(base_url: str, unsubscribe_token: str) -> str:
    return base_url.rstrip("/") + UNSUBSCRIBE_PATH + unsubscribe_token


def preferences_url(base_url: str, queue_token: str) -> str:
    return base_url.rstrip("/") + PREFERENCES_PATH + queue_token


def insight_url(base_url: str, queue_token: str) -> str:
    return base_url.rstrip("/") + INSIGHT_PATH + queue_token


def resolve(conn: Connection, token: str, now: datetime, allow_used: bool = False) -> LinkGrant:
    """The grant of a valid token; `InvalidLink` for anything else (also an inactive moderator).

    `allow_used`: a POST may see a used item link, so a replayed decision can be answered with
    what was decided (security cases 6 and 7). A malformed token costs the same lookup as any
    other, so the answer's timing does not tell which part was wrong.
    """
    row = LinkRepository(conn).find(_hash_if_plausible(token))
    if (
        row is None
        or row.revoked_at is not None
        or (row.used_at is not None and not allow_used)
        or row.expires_at <= now
        or not row.active
    ):
        raise InvalidLink("invalid link")
    return LinkGrant(row.id, row.moderator_id, row.scope, row.review_item_id, row.expires_at,
                     row.used_at is not None)


def _hash_if_plausible(token: str) -> str | None:
    """None for a token of impossible length; the lookup still runs (with a hash that
    matches nothing), so the answer's timing does not tell which part was wrong."""
    return token_hash(token) if 0 < len(token) <= 200 else None


def mark_used(conn: Connection, token_id: int, now: datetime) -> bool:
    """Single use: True for the caller that used it first."""
    return LinkRepository(conn).mark_used(token_id, now)


def unuse_item_link(conn: Connection, token_id: int) -> None:
    """An item link works again: the decision taken through it was undone."""
    LinkRepository(conn).unuse(token_id, SCOPE_ITEM)


def revoke_moderator(conn: Connection, moderator_id: int, now: datetime) -> int:
    """Revoke every live token of a moderator (removed or made inactive)."""
    return LinkRepository(conn).revoke(moderator_id, now)


def revoke_municipalities(
    conn: Connection, moderator_id: int, municipality_nis: Iterable[str], now: datetime
) -> int:
    """Revoke the moderator's item tokens for items of municipalities taken away from them."""
    nis = list(municipality_nis)
    if not nis:
        return 0
    return LinkRepository(conn).revoke_items_in(moderator_id, SCOPE_ITEM, nis, now)


# ---------------------------------------------------------------- one-purpose tokens
# Joining, a coordinator's decision and a new address use the same rules as the review links
# (256 random bits, only the hash stored, expiring, single use) in their own table, since they
# belong to a request or an address rather than to a moderator's queue.

PURPOSE_CONFIRM = "confirm"  # the requester confirms their address
PURPOSE_COORDINATE = "coordinate"  # a coordinator approves or denies a request
PURPOSE_EMAIL = "email"  # a moderator confirms a new address
CONFIRM_PATH = "/moderatie/aanmelden/bevestigen/"
COORDINATE_PATH = "/moderatie/aanvraag/"
EMAIL_PATH = "/moderatie/adres/"


@dataclass(frozen=True, slots=True)
class ActionGrant:
    token_id: int
    purpose: str
    email: str
    request_id: int | None
    moderator_id: int | None
    used: bool


def issue_action(conn: Connection, purpose: str, email: str, now: datetime, valid_days: int,
                 *, request_id: int | None = None, moderator_id: int | None = None) -> str:
    token = secrets.token_urlsafe(32)
    LinkRepository(conn).add_action(token_hash(token), purpose, email, now,
                                    now + timedelta(days=valid_days), request_id, moderator_id)
    return token


def resolve_action(conn: Connection, token: str, purpose: str, now: datetime,
                   allow_used: bool = False) -> ActionGrant:
    """Like `resolve`: one `InvalidLink` for unknown, other purpose, expired or used."""
    row = LinkRepository(conn).find_action(_hash_if_plausible(token))
    if (row is None or row.purpose != purpose or row.expires_at <= now
            or (row.used_at is not None and not allow_used)):
        raise InvalidLink("invalid link")
    return ActionGrant(row.id, row.purpose, row.email, row.request_id, row.moderator_id,
                       row.used_at is not None)


def use_action(conn: Connection, token_id: int, now: datetime) -> bool:
    """Single use: True for the caller that used it first."""
    return LinkRepository(conn).use_action(token_id, now)


def use_request_tokens(conn: Connection, request_id: int, now: datetime) -> None:
    """A decided request: every coordinator's link is used up at once."""
    LinkRepository(conn).use_request_actions(request_id, now)


def action_url(base_url: str, path: str, token: str) -> str:
    return base_url.rstrip("/") + path + token
