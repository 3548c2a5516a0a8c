"""Coordinators' report links: signed with the server secret, expiring, and only valid while
the address is still a coordinator (so removing it from the config revokes its links)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

PATH = "/rapport"


class InvalidCoordinatorLink(Exception):
    """Forged, expired, or for an address that is no longer a coordinator."""


def coordinators(configured: Iterable[str] | None, fallback: Iterable[str]) -> list[str]:
    """`[notifications] coordinators`, or the fallback moderators when none are configured."""
    chosen = [c.strip() for c in configured or () if c.strip()]
    return chosen or [f.strip() for f in fallback if f.strip()]


def _mac(secret: bytes, payload: str) -> str:
    return hmac.new(secret, f"rapport:{payload}".encode(), hashlib.sha256).hexdigest()


def issue(secret: bytes, email: str, now: datetime, valid_days: int) -> str:
    expires = int((now + timedelta(days=valid_days)).timestamp())
    payload = f"{email.strip().casefold()}|{expires}"
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, payload)}"


def verify(secret: bytes, token: str, allowed: Iterable[str], now: datetime) -> str:
    """The coordinator's address, or InvalidCoordinatorLink (one error for every cause)."""
    try:
        encoded, mac = token.split(".", 1)
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        email, expires = payload.rsplit("|", 1)
        expires_at = datetime.fromtimestamp(int(expires), UTC)
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        raise InvalidCoordinatorLink from None
    if not hmac.compare_digest(_mac(secret, payload), mac):
        raise InvalidCoordinatorLink
    if expires_at < now or email not in {a.strip().casefold() for a in allowed}:
        raise InvalidCoordinatorLink
    return email


def url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}?sleutel={token}"
