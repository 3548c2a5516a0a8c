"""SMTP mailer: builds multipart text+HTML messages safely and sends them with smtplib."""

from __future__ import annotations

import email.policy
import os
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Protocol

from sync.settings import SmtpConfig


class MailError(Exception):
    """The message could not be handed to the SMTP server."""


def clean_header(value: str) -> str:
    """One line, no control characters: nothing taken from a feed can start a new header."""
    return " ".join("".join(ch if ch >= " " and ch != "\x7f" else " " for ch in value).split())


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A rendered message as stored in an `email.send` outbox row."""

    to: str
    to_name: str
    subject: str
    text: str
    html: str
    message_id: str
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {"to": self.to, "to_name": self.to_name, "subject": self.subject,
                "text": self.text, "html": self.html, "message_id": self.message_id,
                "unsubscribe_url": self.unsubscribe_url,
                "unsubscribe_mailto": self.unsubscribe_mailto}

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> OutgoingMail:
        return cls(to=data["to"], to_name=data.get("to_name") or "", subject=data["subject"],
                   text=data["text"], html=data["html"], message_id=data["message_id"],
                   unsubscribe_url=data.get("unsubscribe_url"),
                   unsubscribe_mailto=data.get("unsubscribe_mailto"))


def new_message_id(sender: str) -> str:
    """Made when the mail is written, so a resend after a crash carries the same id."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ikdoemee.local"
    return make_msgid(domain=clean_header(domain))


def _address(display: str, email: str) -> Address:
    local, _, domain = clean_header(email).rpartition("@")
    if not local or not domain:
        raise MailError(f"not an e-mail address: {email!r}")
    return Address(display_name=clean_header(display), username=local, domain=domain)


# `refold_source="none"`: headers set raw (List-Unsubscribe) go out as written; every other
# header is a registry object that folds itself as usual.
_POLICY = email.policy.default.clone(refold_source="none")


def build_message(sender: str, mail: OutgoingMail) -> EmailMessage:
    """Headers go through the email package's header registry; values are single-line."""
    msg = EmailMessage(policy=_POLICY)
    sender_name, sender_email = parseaddr(sender)
    msg["From"] = _address(sender_name, sender_email)
    msg["To"] = _address(mail.to_name, mail.to)
    msg["Subject"] = clean_header(mail.subject)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = clean_header(mail.message_id)
    msg["Auto-Submitted"] = "auto-generated"
    unsubscribe = []
    if mail.unsubscribe_url:
        unsubscribe.append(f"<{clean_header(mail.unsubscribe_url)}>")
    if mail.unsubscribe_mailto:
        unsubscribe.append(f"<mailto:{clean_header(mail.unsubscribe_mailto)}?subject=afmelden>")
    if unsubscribe:
        # Raw, one URL per folded line: the registry would RFC 2047-encode a long URL, and mail
        # programs then do not see the header at all (RFC 2369 wants the bare <URL>s).
        msg.set_raw("List-Unsubscribe", ",\n ".join(unsubscribe))
        if mail.unsubscribe_url and mail.unsubscribe_url.startswith("https://"):
            # RFC 8058 one-click needs an HTTPS URL that accepts the POST.
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(mail.text, charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    return msg


class MailSession(Protocol):
    def send(self, mail: OutgoingMail) -> None: ...


class Mailer(Protocol):
    def session(self) -> Any: ...  # a context manager yielding a MailSession


class SmtpMailer:
    """Real SMTP; one connection per relay pass, opened when the first message goes out."""

    def __init__(self, config: SmtpConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self._env = env if env is not None else os.environ

    def _credentials(self) -> tuple[str, str] | None:
        user = self._env.get(self.config.username_env) if self.config.username_env else None
        password = self._env.get(self.config.password_env) if self.config.password_env else None
        return (user, password) if user and password else None

    def connect(self) -> smtplib.SMTP:
        c = self.config
        try:
            smtp: smtplib.SMTP
            if c.ssl:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_seconds,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            creds = self._credentials()
            if creds:
                smtp.login(*creds)
            return smtp
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP {c.host}:{c.port}: {type(exc).__name__}: {exc}") from exc

    @contextmanager
    def session(self) -> Iterator[_SmtpSession]:
        s = _SmtpSession(self)
        try:
            yield s
        finally:
            s.close()


class _SmtpSession:
    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer
        self._smtp: smtplib.SMTP | None = None

    def send(self, mail: OutgoingMail) -> None:
        msg = build_message(self._mailer.config.sender, mail)
        envelope_from = parseaddr(self._mailer.config.sender)[1]
        try:
            if self._smtp is None:
                self._smtp = self._mailer.connect()
            # Explicit recipients: the envelope never takes addresses from headers.
            self._smtp.send_message(msg, from_addr=envelope_from, to_addrs=[mail.to])
        except (OSError, smtplib.SMTPException) as exc:
            self.close()  # a broken connection is not reused
            raise MailError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None
