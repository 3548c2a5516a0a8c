"""CLI commands of the daemon: `run`, `moderators add|list|update|remove`, `notify digest`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from sync.bootstrap import App
from sync.domain.region import Region
from sync.entrypoints.terminal import clean
from sync.service import accounts, notify
from sync.service import moderators as mods

moderators_app = typer.Typer(no_args_is_help=True, help="Moderators and their municipalities.")
notify_app = typer.Typer(no_args_is_help=True, help="Moderator e-mail on demand.")
requests_app = typer.Typer(no_args_is_help=True,
                           help="Requests to become a moderator (/moderatie/aanmelden).")
moderators_app.add_typer(requests_app, name="requests")


@dataclass
class _Host:
    """What the main CLI lends us (its module may run as __main__, so it is passed in)."""

    open_app: Callable[..., AbstractContextManager[App]]
    fail: Callable[..., typer.Exit]
    emit_json: Callable[[Any], None]


_host: _Host | None = None


def host() -> _Host:
    assert _host is not None, "cli_daemon.register() was not called"
    return _host


def register(app: typer.Typer, open_app: Callable[..., AbstractContextManager[App]],
             fail: Callable[..., typer.Exit], emit_json: Callable[[Any], None]) -> None:
    global _host
    _host = _Host(open_app, fail, emit_json)
    app.command("run")(run_cmd)
    app.add_typer(moderators_app, name="moderators")
    app.add_typer(notify_app, name="notify")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
MunicipalityOpt = Annotated[
    list[str] | None,
    typer.Option("--municipality", help="Name or NIS code; repeat for several."),
]
NotifyOpt = Annotated[str | None, typer.Option("--notify",
                                               help="immediate, daily, weekly or off.")]


def run_cmd(
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not serve the web part.")] = False,
) -> None:
    """Run the daemon: scheduled syncs, reconciliation, outbox relay, e-mail, web (health)."""
    from sync.entrypoints.daemon import Daemon

    with host().open_app(live=True) as application:
        code = Daemon(application, serve_web=not no_web).run()
    raise typer.Exit(code)


def _nis_list(region: Region, values: list[str]) -> list[str]:
    out = []
    for value in values:
        m = region.find(value)
        if m is None:
            names = ", ".join(x.name for x in region.municipalities)
            raise host().fail(f"--municipality: unknown municipality {value!r}; known: {names}")
        out.append(m.nis)
    return out


def _describe(region: Region, m: mods.Moderator) -> dict[str, Any]:
    names = {x.nis: x.name for x in region.municipalities}
    doc = m.to_json()
    doc["municipality_names"] = [names.get(n, n) for n in m.municipalities]
    return doc


@moderators_app.command("add")
def moderators_add(
    name: Annotated[str, typer.Option("--name", help="Full name (the mail greets the first).")],
    email: Annotated[str, typer.Option("--email")],
    municipality: MunicipalityOpt = None,
    notify_: NotifyOpt = mods.DAILY,
    active: Annotated[bool, typer.Option("--active/--inactive")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Register a moderator for one or more municipalities."""
    h = host()
    with h.open_app() as application, application.engine.begin() as conn:
        nis = _nis_list(application.region, municipality or [])
        try:
            m = mods.add(conn, name=name, email=email, municipalities=nis,
                         notify=notify_ or mods.DAILY, active=active, now=application.clock())
        except mods.ModeratorError as exc:
            raise h.fail(str(exc)) from None
        doc = _describe(application.region, m)
    if as_json:
        h.emit_json({"moderator": doc})
    else:
        typer.echo(f"moderator {m.id} added: {m.name} <{m.email}>, "
                   f"{', '.join(doc['municipality_names']) or 'no municipality'}, {m.notify}")


@moderators_app.command("list")
def moderators_list(as_json: JsonOpt = False) -> None:
    """List moderators, and which municipalities fall back to the regional moderators."""
    h = host()
    with h.open_app() as application, application.engine.begin() as conn:
        region = application.region
        docs = [_describe(region, m) for m in mods.list_all(conn)]
        covered = mods.covered(conn, application.clock())  # active and not away
        fallback = [m.name for m in region.municipalities if m.nis not in covered]
        fallback_emails = list(application.config.notifications.fallback_moderators)
    if as_json:
        h.emit_json({"moderators": docs, "fallback_municipalities": fallback,
                     "fallback_moderators": fallback_emails})
        return
    for d in docs:
        typer.echo(f"{d['id']:>4}  {'active  ' if d['active'] else 'inactive'}  {d['notify']:<9}  "
                   f"{clean(d['name'])} <{clean(d['email'])}>  "
                   f"{', '.join(d['municipality_names']) or '-'}")
    typer.echo(f"\nto the fallback moderators ({', '.join(fallback_emails) or 'none configured'}): "
               f"{', '.join(fallback) or 'none'}")


@moderators_app.command("update")
def moderators_update(
    moderator: Annotated[str, typer.Argument(help="E-mail address or id.")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    municipality: MunicipalityOpt = None,
    notify_: NotifyOpt = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a moderator; `--municipality` replaces the whole list. Links for municipalities
    taken away (all links, when made inactive) stop working."""
    h = host()
    with h.open_app() as application, application.engine.begin() as conn:
        nis = _nis_list(application.region, municipality) if municipality else None
        try:
            m = mods.update(conn, moderator, now=application.clock(), name=name, email=email,
                            municipalities=nis, notify=notify_, active=active)
        except mods.ModeratorError as exc:
            raise h.fail(str(exc)) from None
        doc = _describe(application.region, m)
    if as_json:
        h.emit_json({"moderator": doc})
    else:
        typer.echo(f"moderator {m.id} updated: {m.name} <{m.email}>, "
                   f"{', '.join(doc['municipality_names']) or 'no municipality'}, {m.notify}, "
                   f"{'active' if m.active else 'inactive'}")


@moderators_app.command("remove")
def moderators_remove(
    moderator: Annotated[str, typer.Argument(help="E-mail address or id.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a moderator; their e-mail links stop working at once."""
    h = host()
    with h.open_app() as application, application.engine.begin() as conn:
        try:
            m = mods.remove(conn, moderator, application.clock())
        except mods.ModeratorError as exc:
            raise h.fail(str(exc)) from None
    if as_json:
        h.emit_json({"removed": m.to_json()})
    else:
        typer.echo(f"moderator {m.id} removed: {m.name} <{m.email}>")


@notify_app.command("digest")
def notify_digest(
    now: Annotated[bool, typer.Option("--now", help="Also send them now, not at the relay's "
                                                    "next pass.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write each moderator's digest of what is new in their queue (none when nothing is)."""
    h = host()
    with h.open_app() as application:
        report = notify.build_digests(application.engine, application.notify_settings(),
                                      application.clock())
        doc: dict[str, Any] = {"digests": report.to_json()}
        if now:
            # Mail only, so the count is what went out by SMTP, not internal events.
            relayed = application.relay().run_once(mail_only=True)
            doc["sent"] = {"delivered": relayed.mails, "failed": relayed.failed}
    if as_json:
        h.emit_json(doc)
    else:
        typer.echo(f"{report.mails} digests with {report.items} items written"
                   + (f"; {doc['sent']['delivered']} e-mails sent, {doc['sent']['failed']} "
                      f"failed" if now else "; the daemon's relay sends them"))


@notify_app.command("reminders")
def notify_reminders(as_json: JsonOpt = False) -> None:
    """Write reminders and escalations for items open too long."""
    h = host()
    with h.open_app() as application:
        s, clock = application.notify_settings(), application.clock()
        reminders = notify.build_reminders(application.engine, s, clock)
        escalations = notify.build_escalations(application.engine, s, clock)
    doc = {"reminders": reminders.to_json(), "escalations": escalations.to_json()}
    if as_json:
        h.emit_json(doc)
    else:
        typer.echo(f"{reminders.mails} reminders, {escalations.mails} escalations written")


@requests_app.command("list")
def requests_list(as_json: JsonOpt = False) -> None:
    """Requests to become a moderator, newest first, with their status."""
    h = host()
    with h.open_app() as application, application.engine.connect() as conn:
        now = application.clock()
        names = {m.nis: m.name for m in application.region.municipalities}
        docs = [r.to_json(now, names) for r in accounts.list_requests(conn)]
    if as_json:
        h.emit_json({"requests": docs})
        return
    for d in docs:
        typer.echo(f"{d['id']:>4}  {d['status']:<11}  {d['created_at']:%Y-%m-%d}  {d['name']} "
                   f"<{d['email']}>  {', '.join(d['municipality_names'])}  "
                   f"({d['organisation']})")
    if not docs:
        typer.echo("no requests")


def _decide_request(request_id: int, approve: bool, reason: str | None, as_json: bool) -> None:
    h = host()
    with h.open_app() as application:
        now = application.clock()
        try:
            done = accounts.decide(application.engine, application.notify_settings(),
                                   request_id, approve=approve, by="cli", now=now,
                                   reason=reason)
        except accounts.AccountError as exc:
            raise h.fail(str(exc)) from None
        names = {m.nis: m.name for m in application.region.municipalities}
    if as_json:
        h.emit_json({"request": done.to_json(now, names)})
    else:
        typer.echo(f"request {done.id} {done.status}: {done.name} <{done.email}>"
                   + (f", moderator {done.moderator_id}" if done.moderator_id else "")
                   + "; the mail goes out with the relay")


@requests_app.command("approve")
def requests_approve(request_id: Annotated[int, typer.Argument(help="Request id.")],
                     as_json: JsonOpt = False) -> None:
    """Approve a confirmed request: the moderator exists (daily digest) and gets a welcome."""
    _decide_request(request_id, True, None, as_json)


@requests_app.command("deny")
def requests_deny(
    request_id: Annotated[int, typer.Argument(help="Request id.")],
    reason: Annotated[str, typer.Option("--reason", help="Told to the requester.")],
    as_json: JsonOpt = False,
) -> None:
    """Deny a confirmed request; the requester gets a polite mail with the reason."""
    _decide_request(request_id, False, reason, as_json)
