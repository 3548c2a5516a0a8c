"""Moderator mail: one template environment, and writing a rendered mail to the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.engine import Connection

from sync.adapters.mailer import OutgoingMail, new_message_id
from sync.adapters.moderation import MailOutbox

# Mail templates belong to the service that writes mail; the web pages have their own.
TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"

# Plain text must not be HTML-escaped; the HTML part is.
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """The text and HTML parts of template `name` (`name.txt`, `name.html`)."""
    return (_env.get_template(f"{name}.txt").render(context),
            _env.get_template(f"{name}.html").render(context))


def sender_address(sender: str) -> str | None:
    return parseaddr(sender)[1] or None


def compose(*, sender: str, to: str, to_name: str, subject: str, template: str,
            context: dict[str, Any], unsubscribe_url: str | None = None) -> OutgoingMail:
    text, html = render(template, context)
    return OutgoingMail(
        to=to, to_name=to_name, subject=subject, text=text, html=html,
        message_id=new_message_id(sender), unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=sender_address(sender) if unsubscribe_url else None)


def queue(conn: Connection, mail: OutgoingMail, now: datetime, kind: str,
          moderator_id: int | None = None, review_item_ids: Sequence[int] = ()) -> int:
    """Write the mail to the outbox in the caller's transaction; the relay sends it."""
    return MailOutbox(conn).add({**mail.to_payload(), "kind": kind, "moderator_id": moderator_id,
                                 "review_item_ids": list(review_item_ids)}, now)
