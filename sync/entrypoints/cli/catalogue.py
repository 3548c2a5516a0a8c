"""`activities list` and `queue list|approve`: the catalogue and its review queues."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sync.entrypoints.cli.common import (
    EXIT_FAILED,
    JsonOpt,
    emit_json,
    fail,
    local,
    municipality,
    names,
    open_app,
    row,
    table,
)
from sync.service import review

activities_app = typer.Typer(no_args_is_help=True, help="The catalogue.")
queue_app = typer.Typer(no_args_is_help=True, help="Review queues per municipality.")

STATES = ("pending", "published", "rejected", "withdrawn", "expired")
MunicipalityOpt = Annotated[str | None, typer.Option("--municipality", help="Name or NIS.")]


@activities_app.command("list")
def activities_list(
    municipality_: MunicipalityOpt = None,
    state_: Annotated[
        str | None, typer.Option(
            "--state", help="pending, published, rejected, withdrawn, expired")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List catalogue activities, soonest first (expired ones too: admins see everything)."""
    if state_ and state_ not in STATES:
        raise fail(f"--state: unknown state {state_!r}; use {', '.join(STATES)}")
    with open_app() as application, application.uow() as uow:
        nis = municipality(application.region, municipality_)
        rows = [row(r) for r in uow.catalogue.list_activities(nis, state_)]
        by_nis = names(application.region)
    for r in rows:
        r["municipality"] = by_nis.get(r["municipality_nis"], r["municipality_nis"])
    if as_json:
        emit_json({"activities": rows})
        return
    table([[r["id"], r["state"], r["municipality"], local(r["next_occurrence"]), r["title"]]
           for r in rows], ["id", "state", "municipality", "next", "title"])


@queue_app.command("list")
def queue_list(
    municipality_: MunicipalityOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List open review items per municipality, soonest activity first."""
    with open_app() as application, application.uow() as uow:
        nis = municipality(application.region, municipality_)
        rows = [row(r) for r in uow.catalogue.queue(nis)]
        by_nis = names(application.region)
    for r in rows:
        r["municipality"] = by_nis.get(r["municipality_nis"], r["municipality_nis"])
    if as_json:
        emit_json({"items": rows})
        return
    per: dict[str, int] = {}
    for r in rows:
        per[r["municipality"]] = per.get(r["municipality"], 0) + 1
    table([[r["id"], r["municipality"], r["kind"], r["reason"] or "", local(r["next_occurrence"]),
            r["title"]] for r in rows], ["item", "municipality", "kind", "why", "next", "title"])
    typer.echo("")
    typer.echo("open per municipality: " + (", ".join(f"{k} {v}" for k, v in sorted(per.items()))
                                            or "none"))


@queue_app.command("approve")
def queue_approve(
    ids: Annotated[list[int] | None, typer.Argument(help="Review item ids.")] = None,
    all_open: Annotated[bool, typer.Option("--all", help="Every open item (of --municipality).")]
    = False,
    municipality_: MunicipalityOpt = None,
    moderator: Annotated[str, typer.Option("--as", help="Who decides (e-mail), for the audit log.")]
    = "admin",
    as_json: JsonOpt = False,
) -> None:
    """Approve open items from the terminal (withdrawals are confirmed); logged as `cli`."""
    if bool(ids) == all_open:
        raise fail("give item ids, or --all")
    now_decided: list[int] = []
    skipped: list[dict[str, Any]] = []
    with open_app() as application, application.uow() as uow:
        nis = municipality(application.region, municipality_)
        open_items = {r.id: r.kind for r in uow.catalogue.queue(nis)}
        wanted = list(open_items) if all_open else list(ids or [])
        for item_id in wanted:
            kind = open_items.get(item_id)
            if kind is None:
                skipped.append({"id": item_id, "why": "not an open item"})
                continue
            decision = review.CONFIRM if kind == "withdrawn" else review.APPROVE
            try:
                with uow.savepoint():
                    review.decide_review(uow, item_id, decision, moderator=moderator,
                                         now=application.clock())
            except review.ReviewError as exc:
                skipped.append({"id": item_id, "why": str(exc)})
                continue
            now_decided.append(item_id)
        uow.commit()
    if as_json:
        emit_json({"decided": now_decided, "skipped": skipped})
        return
    typer.echo(f"{len(now_decided)} decided, {len(skipped)} skipped")
    for s in skipped:
        typer.echo(f"  item {s['id']}: {s['why']}", err=True)
    if skipped and not now_decided:
        raise typer.Exit(EXIT_FAILED)
