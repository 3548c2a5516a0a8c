"""`moderators add|list|update|remove` and `moderators requests list|approve|deny`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sync.domain.region import Region
from sync.entrypoints.cli.common import JsonOpt, emit_json, fail, names, nis_list, open_app
from sync.entrypoints.terminal import clean
from sync.service import accounts
from sync.service import moderators as mods

moderators_app = typer.Typer(no_args_is_help=True, help="Moderators and their municipalities.")
requests_app = typer.Typer(no_args_is_help=True,
                           help="Requests to become a moderator (/moderatie/aanmelden).")
moderators_app.add_typer(requests_app, name="requests")

MunicipalityOpt = Annotated[
    list[str] | None,
    typer.Option("--municipality", help="Name or NIS code; repeat for several."),
]
NotifyOpt = Annotated[str | None, typer.Option("--notify",
                                               help="immediate, daily, weekly or off.")]


def _describe(region: Region, m: mods.Moderator) -> dict[str, Any]:
    by_nis = names(region)
    doc = m.to_json()
    doc["municipality_names"] = [by_nis.get(n, n) for n in m.municipalities]
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
    with open_app() as application, application.engine.begin() as conn:
        nis = nis_list(application.region, municipality or [])
        try:
            m = mods.add(conn, name=name, email=email, municipalities=nis,
                         notify=notify_ or mods.DAILY, active=active, now=application.clock())
        except mods.ModeratorError as exc:
            raise fail(str(exc)) from None
        doc = _describe(application.region, m)
    if as_json:
        emit_json({"moderator": doc})
    else:
        typer.echo(f"moderator {m.id} added: {m.name} <{m.email}>, "
                   f"{', '.join(doc['municipality_names']) or 'no municipality'}, {m.notify}")


@moderators_app.command("list")
def moderators_list(as_json: JsonOpt = False) -> None:
    """List moderators, and which municipalities fall back to the regional moderators."""
    with open_app() as application, application.engine.begin() as conn:
        region = application.region
        docs = [_describe(region, m) for m in mods.list_all(conn)]
        covered = mods.covered(conn, application.clock())  # active and not away
        fallback = [m.name for m in region.municipalities if m.nis not in covered]
        fallback_emails = list(application.config.notifications.fallback_moderators)
    if as_json:
        emit_json({"moderators": docs, "fallback_municipalities": fallback,
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
    with open_app() as application, application.engine.begin() as conn:
        nis = nis_list(application.region, municipality) if municipality else None
        try:
            m = mods.update(conn, moderator, now=application.clock(), name=name, email=email,
                            municipalities=nis, notify=notify_, active=active)
        except mods.ModeratorError as exc:
            raise fail(str(exc)) from None
        doc = _describe(application.region, m)
    if as_json:
        emit_json({"moderator": doc})
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
    with open_app() as application, application.engine.begin() as conn:
        try:
            m = mods.remove(conn, moderator, application.clock())
        except mods.ModeratorError as exc:
            raise fail(str(exc)) from None
    if as_json:
        emit_json({"removed": m.to_json()})
    else:
        typer.echo(f"moderator {m.id} removed: {m.name} <{m.email}>")


@requests_app.command("list")
def requests_list(as_json: JsonOpt = False) -> None:
    """Requests to become a moderator, newest first, with their status."""
    with open_app() as application, application.engine.connect() as conn:
        now = application.clock()
        docs = [r.to_json(now, names(application.region)) for r in accounts.list_requests(conn)]
    if as_json:
        emit_json({"requests": docs})
        return
    for d in docs:
        typer.echo(f"{d['id']:>4}  {d['status']:<11}  {d['created_at']:%Y-%m-%d}  {d['name']} "
                   f"<{d['email']}>  {', '.join(d['municipality_names'])}  "
                   f"({d['organisation']})")
    if not docs:
        typer.echo("no requests")


def _decide_request(request_id: int, approve: bool, reason: str | None, as_json: bool) -> None:
    with open_app() as application:
        now = application.clock()
        try:
            done = accounts.decide(application.engine, application.notify_settings(),
                                   request_id, approve=approve, by="cli", now=now,
                                   reason=reason)
        except accounts.AccountError as exc:
            raise fail(str(exc)) from None
        by_nis = names(application.region)
    if as_json:
        emit_json({"request": done.to_json(now, by_nis)})
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
