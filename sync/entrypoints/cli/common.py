"""What every command shares: the --config state, --json, exit codes, output and look-ups."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from sync.bootstrap import STARTUP_ERRORS, App, bootstrap
from sync.domain.calendar import BRUSSELS
from sync.domain.region import Region
from sync.entrypoints.terminal import clean, json_safe
from sync.service.errors import AdminError
from sync.settings import DEFAULT_CONFIG_PATH

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

EXIT_FAILED = 1
EXIT_USAGE = 2


class _State:
    """Set by the root callback (`--config`) before any command runs."""

    config_path: Path = DEFAULT_CONFIG_PATH


state = _State()


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"ikdoemee-sync: {message}", err=True)
    return typer.Exit(code)


def usage_or_failure(exc: AdminError) -> typer.Exit:
    """An admin error exits 2 when the request was wrong, 1 when the data said no."""
    return fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(doc: Any) -> None:
    text = json.dumps(doc, default=_json_default, ensure_ascii=False, indent=2)
    sys.stdout.write(json_safe(text) + "\n")


def row(r: Any) -> dict[str, Any]:
    return dict(r._mapping)


@contextmanager
def open_app(check_schema: bool = True, live: bool = False) -> Iterator[App]:
    """The composition root for a command; `live` (web, run) also refuses weak secrets."""
    try:
        application = bootstrap(state.config_path)
    except STARTUP_ERRORS as exc:
        raise fail(str(exc)) from None
    weak = application.env.weak_secrets() if live else []
    if weak:
        application.close()
        raise fail("\n".join(weak))
    try:
        if check_schema:
            gap = application.schema_gap()
            if gap is not None:
                have, head = gap
                raise fail(
                    f"the database is at schema {have or 'none'}, this version needs {head}: "
                    "run `ikdoemee-sync db upgrade` first"
                )
        yield application
    finally:
        application.close()


def municipality(region: Region, value: str | None) -> str | None:
    """The NIS code of a `--municipality` (name or NIS); an unknown one is a usage error."""
    if value is None:
        return None
    return nis_list(region, [value])[0]


def nis_list(region: Region, values: list[str]) -> list[str]:
    out = []
    for value in values:
        m = region.find(value)
        if m is None:
            names = ", ".join(x.name for x in region.municipalities)
            raise fail(f"--municipality: unknown municipality {value!r}; known: {names}")
        out.append(m.nis)
    return out


def names(region: Region) -> dict[str, str]:
    return {m.nis: m.name for m in region.municipalities}


def table(rows: list[list[Any]], headers: list[str]) -> None:
    # Titles, errors and reasons come from the feed or from people: shown, never obeyed.
    cells = [[clean(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    widths = [min(w, 60) for w in widths]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for r in cells:
        typer.echo("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)))


def local(dt: datetime | None) -> str:
    """A moment as Brussels wall-clock time for a table cell; `-` for none."""
    if dt is None:
        return "-"
    return dt.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M")


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


def parse_ids(values: list[str] | None, what: str) -> list[int]:
    ids: list[int] = []
    for v in values or []:
        try:
            ids.append(int(v))
        except ValueError:
            raise fail(f"{what}: not an id: {v!r}") from None
    return ids
